/* tests/test_file.c - the weight file (docs/FORMAT.md): round trips of every
   layer kind, loading in place, broken files, a host-independent writer,
   atomic saves, checkpoints that resume bit for bit, metadata and .npy,
   load options (the allocator context, limits), shape checks that never
   overflow, and the fuzzing corpus replayed. */

/* A model with every layer kind (conv part then dense part), trained a few
   steps so that nothing is at its initial value. */
static dst_model *t_file_model(int train)
{
    dst_layer_desc L[16];
    dst_model_desc d = dst_model_desc_default();
    dst_model *m;
    int n = 0;
    L[n++] = dst_conv2d(4, 3, 1, 1);
    L[n] = dst_conv2d(6, 3, 2, 1); L[n].kernel_w = 2; L[n].dilation_h = 2; L[n].groups = 2; L[n].pad_w = 0; n++;
    L[n++] = dst_batchnorm();
    L[n++] = dst_relu();
    L[n++] = dst_depthwise_conv2d(6, 3, 1, 1);
    L[n++] = dst_maxpool2d(2, 0, 0);
    L[n++] = dst_dropout2d(0.25f);
    L[n++] = dst_avgpool2d(3, 1, 1);
    L[n++] = dst_leaky_relu(0.05f);
    L[n++] = dst_flatten();
    L[n] = dst_dense(12); L[n].init = DST_INIT_HE_NORMAL; n++;
    L[n++] = dst_gelu();
    L[n++] = dst_dropout(0.1f);
    L[n++] = dst_tanh();
    L[n] = dst_dense(5); L[n].no_bias = 1; n++;
    L[n++] = dst_sigmoid();
    d.input_c = 2; d.input_h = 9; d.input_w = 8;
    d.layers = L; d.layer_count = n; d.seed = 7;
    if (dst_model_create(&m, &d, NULL) != DST_OK) return NULL;
    if (train) {
        float x[4 * 2 * 9 * 8];
        int y[4] = { 0, 1, 2, 3 }, s;
        dst_optimizer_config o = dst_optimizer_default(DST_ADAM);
        t_fill(x, sizeof x / sizeof x[0], 1);
        dst_model_set_optimizer(m, &o);
        for (s = 0; s < 3; ++s) dst_model_train_step(m, x, y, 4, NULL, 0, 0, NULL);
    }
    return m;
}

static dst_model *t_file_model_global_softmax(void)
{
    dst_layer_desc L[4];
    dst_model_desc d = dst_model_desc_default();
    dst_model *m;
    L[0] = dst_conv2d(3, 1, 1, 0);
    L[1] = dst_global_avgpool();
    L[2] = dst_dense(4);
    L[3] = dst_softmax_layer();
    d.input_c = 2; d.input_h = 5; d.input_w = 5; d.layers = L; d.layer_count = 4;
    return dst_model_create(&m, &d, NULL) == DST_OK ? m : NULL;
}

/* Same descriptions, parameters and buffers, bit for bit. */
static int t_same_model(dst_model *a, dst_model *b)
{
    int i;
    T_CHECK(dst_model_layer_count(a) == dst_model_layer_count(b));
    T_CHECK(dst_model_param_count(a) == dst_model_param_count(b));
    T_CHECK(dst_model_buffer_count(a) == dst_model_buffer_count(b));
    T_CHECK(dst_model_input_size(a) == dst_model_input_size(b));
    for (i = 0; i < dst_model_layer_count(a); ++i) {
        dst_layer_info x, y;
        memset(&x, 0, sizeof x); /* the padding too: the structs are compared whole */
        memset(&y, 0, sizeof y);
        T_CHECK(dst_model_layer(a, i, &x) == DST_OK && dst_model_layer(b, i, &y) == DST_OK);
        T_CHECK_MSG(memcmp(&x, &y, sizeof x) == 0, "layer %d differs", i);
        T_CHECK(memcmp(dst_model_params(a) + x.param_offset, dst_model_params(b) + y.param_offset,
                       (x.weight_count + x.bias_count) * sizeof(float)) == 0);
    }
    if (dst_model_buffer_count(a))
        T_CHECK(memcmp(dst_model_buffers(a), dst_model_buffers(b), dst_model_buffer_count(a) * sizeof(float)) == 0);
    return 0;
}

/* Both models' inference outputs on the same input, bit for bit. */
static int t_same_outputs(dst_model *a, dst_model *b)
{
    float x[3 * 2 * 9 * 8];
    const float *ya, *yb;
    float keep[3 * 16];
    size_t n = dst_model_input_size(a), k = dst_model_output_size(a);
    T_CHECK(n * 3 <= sizeof x / sizeof x[0] && k * 3 <= sizeof keep / sizeof keep[0]);
    t_fill(x, n * 3, 2);
    T_CHECK(dst_model_forward(a, x, 3, 0, &ya) == DST_OK);
    memcpy(keep, ya, k * 3 * sizeof(float));
    T_CHECK(dst_model_forward(b, x, 3, 0, &yb) == DST_OK);
    T_CHECK(memcmp(keep, yb, k * 3 * sizeof(float)) == 0);
    return 0;
}

static int test_file_round_trip_every_layer_kind(void)
{
    dst_model *m = t_file_model(1), *g = t_file_model_global_softmax(), *l = NULL;
    unsigned char *buf = NULL;
    size_t len;
    dst_error e;
    int bad = 0;
    T_CHECK(m && g);
    T_CHECK(dst_model_meta_set_string(m, "classes", "a,b,c,d,e") == DST_OK);
    T_CHECK(dst_model_meta_set_number(m, "temperature", 4.5) == DST_OK);
    T_CHECK(dst_model_write_memory(m, &buf, &len, &e) == DST_OK);
    T_CHECK_MSG(dst_model_parse(&l, buf, len, &e) == DST_OK, "%s", e.message);
    bad = t_same_model(m, l) || t_same_outputs(m, l);
    if (!bad) {
        double t = 0;
        bad = !(dst_model_meta_count(l) == 2 && strcmp(dst_model_meta_key(l, 0), "classes") == 0 &&
                strcmp(dst_model_meta_string(l, "classes"), "a,b,c,d,e") == 0 &&
                dst_model_meta_number(l, "temperature", &t) == 1 && t == 4.5 &&
                dst_model_meta_string(l, "temperature") == NULL && dst_model_meta_number(l, "classes", &t) == 0);
    }
    dst_model_free(l);
    dst_free(buf);
    buf = NULL;
    l = NULL;
    if (!bad && dst_model_write_memory(g, &buf, &len, &e) == DST_OK && dst_model_parse(&l, buf, len, &e) == DST_OK)
        bad = t_same_model(g, l) || t_same_outputs(g, l);
    else
        bad = 1;
    dst_model_free(l);
    dst_free(buf);
    dst_model_free(m);
    dst_model_free(g);
    return bad;
}

static int test_file_save_load_path(void)
{
    const char *path = "build/test_file_model.dst";
    dst_model *m = t_file_model(1), *l = NULL;
    dst_error e;
    int bad;
    T_CHECK(m);
    T_CHECK_MSG(dst_model_save(m, path, &e) == DST_OK, "%s", e.message);
    T_CHECK_MSG(dst_model_load(&l, path, &e) == DST_OK, "%s", e.message);
    bad = t_same_model(m, l) || t_same_outputs(m, l);
    dst_model_free(l);
    dst_model_free(m);
    remove(path);
    T_CHECK(dst_model_load(&l, path, &e) == DST_ERR_IO && l == NULL);
    return bad;
}


/* ---- a host-independent writer: every byte spelled out little-endian ---- */

typedef struct t_w { unsigned char b[2048]; size_t n; } t_w;
static void t_w8(t_w *w, unsigned v) { w->b[w->n++] = (unsigned char)v; }
static void t_w16(t_w *w, unsigned v) { t_w8(w, v & 255); t_w8(w, (v >> 8) & 255); }
static void t_w32(t_w *w, unsigned long v) { t_w16(w, (unsigned)(v & 0xFFFF)); t_w16(w, (unsigned)((v >> 16) & 0xFFFF)); }
static void t_w64(t_w *w, unsigned long long v) { t_w32(w, (unsigned long)(v & 0xFFFFFFFFu)); t_w32(w, (unsigned long)(v >> 32)); }
static void t_wstr(t_w *w, const char *s) { while (*s) t_w8(w, (unsigned char)*s++); }
static void t_wpad(t_w *w, size_t to) { while (w->n % to) t_w8(w, 0); }
/* a float from its IEEE-754 bits, so the test never reinterprets host memory to write */
static void t_wf32bits(t_w *w, unsigned long bits) { t_w32(w, bits); }
static void t_p32(unsigned char *p, unsigned long v) { p[0] = v & 255; p[1] = (v >> 8) & 255; p[2] = (v >> 16) & 255; p[3] = (v >> 24) & 255; }

/* Recomputes both CRCs after a deliberate change, so the change itself is what the loader meets. */
static void t_fix_crc(unsigned char *b, size_t len)
{
    t_p32(b + 24, dst_crc32(0, b + 32, len - 32));
    t_p32(b + 28, dst_crc32(0, b, 28));
}

/* The bits of the value k/8 - 1 (exact in float): the test's parameter values. */
static unsigned long t_bits(int k)
{
    float f = (float)k / 8.0f - 1.0f;
    unsigned long u;
    unsigned int x;
    memcpy(&x, &f, 4);
    u = x;
    return u;
}

/* docs/FORMAT.md by hand: input 2; dense(3), batchnorm, relu, dense(2, no bias);
   metadata temperature = 2. Returns the file length (856). Offsets are written
   as literal numbers worked out from the spec. */
static size_t t_handmade_file(t_w *w)
{
    static const char *names[7] = { "0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "1.running_mean", "1.running_var" };
    static const int ndims[7] = { 2, 1, 1, 1, 2, 1, 1 };
    static const unsigned dims[7][2] = { { 3, 2 }, { 3, 0 }, { 3, 0 }, { 3, 0 }, { 2, 3 }, { 3, 0 }, { 3, 0 } };
    static const unsigned offs[7] = { 640, 664, 704, 716, 768, 832, 844 };
    static const unsigned counts[7] = { 6, 3, 3, 3, 6, 3, 3 };
    int i, k, v = 0;
    memset(w, 0, sizeof *w);
    /* header; CRCs filled at the end */
    t_w8(w, 0x89); t_wstr(w, "DST\r\n"); t_w8(w, 0x1A); t_w8(w, '\n');
    t_w16(w, 1); t_w16(w, 0); t_w32(w, 3); t_w64(w, 856); t_w32(w, 0); t_w32(w, 0);
    /* ARCH: 32 + 4 x 64 bytes */
    t_wstr(w, "ARCH"); t_w32(w, 1); t_w64(w, 32 + 4 * 64);
    t_w32(w, 2); t_w32(w, 1); t_w32(w, 1); t_w32(w, 4); t_w64(w, 1); t_w32(w, 64); t_w32(w, 0);
    for (i = 0; i < 4; ++i) {
        static const unsigned kinds[4] = { 0, 12, 1, 0 };
        size_t start = w->n;
        t_w32(w, kinds[i]);
        t_w32(w, i == 0 ? 3 : i == 3 ? 2 : 0);          /* units */
        t_w32(w, i == 3);                                  /* no_bias */
        t_w32(w, 0);                                       /* init */
        t_wf32bits(w, i == 1 ? 0x3DCCCCCDul : 0);          /* param: batch norm momentum 0.1f */
        for (k = 0; k < 9; ++k) t_w32(w, 0);               /* kernel .. groups */
        t_wf32bits(w, i == 1 ? 0x3727C5ACul : 0);          /* eps 1e-5f */
        while (w->n < start + 64) t_w8(w, 0);
    }
    /* TENS */
    t_wstr(w, "TENS"); t_w32(w, 1); t_w64(w, 227);
    t_w32(w, 7); t_w32(w, 0);
    for (i = 0; i < 7; ++i) {
        t_w16(w, (unsigned)strlen(names[i])); t_wstr(w, names[i]);
        t_w8(w, 1); t_w8(w, (unsigned)ndims[i]);
        for (k = 0; k < ndims[i]; ++k) t_w64(w, dims[i][k]);
        t_w64(w, offs[i]);
    }
    t_wpad(w, 8);
    /* META */
    t_wstr(w, "META"); t_w32(w, 1); t_w64(w, 29);
    t_w32(w, 1); t_w32(w, 0);
    t_w8(w, 2); t_w8(w, 11); t_wstr(w, "temperature"); t_w64(w, 0x4000000000000000ull); /* 2.0 */
    t_wpad(w, 8);
    /* data */
    t_wpad(w, 64);
    if (w->n != 640) return 0;
    for (i = 0; i < 7; ++i) {
        while (w->n < offs[i]) t_w8(w, 0);
        for (k = 0; k < (int)counts[i]; ++k) t_wf32bits(w, i == 6 ? t_bits(16 + k) : t_bits(v++)); /* variances > 0 */
    }
    if (w->n != 856) return 0;
    t_fix_crc(w->b, w->n);
    return w->n;
}

static int test_file_handmade_little_endian_bytes(void)
{
    t_w w;
    size_t len = t_handmade_file(&w), mine_len, i;
    dst_model *m = NULL, *built;
    dst_layer_desc L[4];
    dst_model_desc d = dst_model_desc_default();
    unsigned char *mine;
    dst_error e;
    double t;
    float *p, *b;
    int v = 0, bad;
    T_CHECK(len == 856);
    T_CHECK_MSG(dst_model_parse(&m, w.b, len, &e) == DST_OK, "%s", e.message);
    /* every value read back from its little-endian bytes, whatever the host */
    p = dst_model_params(m);
    b = dst_model_buffers(m);
    T_CHECK(dst_model_param_count(m) == 48 && dst_model_buffer_count(m) == 6);
    for (i = 0; i < 9; ++i) T_CHECK(p[i] == (float)v++ / 8 - 1);
    for (i = 16; i < 22; ++i) T_CHECK(p[i] == (float)v++ / 8 - 1);
    for (i = 32; i < 38; ++i) T_CHECK(p[i] == (float)v++ / 8 - 1);
    for (i = 0; i < 3; ++i) T_CHECK(b[i] == (float)v++ / 8 - 1 && b[3 + i] == (float)(16 + (int)i) / 8 - 1);
    T_CHECK(dst_model_meta_number(m, "temperature", &t) && t == 2.0);
    /* the library writes exactly these bytes for the same model */
    L[0] = dst_dense(3); L[1] = dst_batchnorm(); L[2] = dst_relu(); L[3] = dst_dense(2); L[3].no_bias = 1;
    d.input_c = 2; d.layers = L; d.layer_count = 4;
    T_CHECK(dst_model_create(&built, &d, NULL) == DST_OK);
    memcpy(dst_model_params(built), p, 48 * sizeof(float));
    memcpy(dst_model_buffers(built), b, 6 * sizeof(float));
    dst_model_meta_set_number(built, "temperature", 2.0);
    bad = dst_model_write_memory(built, &mine, &mine_len, &e) != DST_OK;
    if (!bad) {
        bad = mine_len != len || memcmp(mine, w.b, len) != 0;
        for (i = 0; bad && i < len && i < mine_len; ++i)
            if (mine[i] != w.b[i]) { printf("    first difference at byte %lu\n", (unsigned long)i); break; }
        dst_free(mine);
    }
    dst_model_free(built);
    dst_model_free(m);
    return bad;
}

/* Loads a broken buffer: must fail with code, no model, and a message with a byte offset. */
static int t_expect_broken(const unsigned char *b, size_t len, dst_result code, const char *words)
{
    dst_model *m = (dst_model *)&m;
    dst_error e;
    dst_result r = dst_model_parse(&m, b, len, &e);
    T_CHECK_MSG(r == code, "got %s (%s), expected %s", dst_result_string(r), e.message, dst_result_string(code));
    T_CHECK(m == NULL);
    T_CHECK_MSG(strstr(e.message, "byte") != NULL, "no byte offset in: %s", e.message);
    T_CHECK_MSG(!words || strstr(e.message, words), "'%s' not in: %s", words, e.message);
    return 0;
}

/* Offset of the n-th record field we patch, from the handmade layout. */
#define T_ARCH 48            /* ARCH payload */
#define T_LAYER(i) (T_ARCH + 32 + 64 * (i))
#define T_TENS 352           /* TENS payload */
#define T_TREC1 (T_TENS + 8 + 36) /* the record of 0.bias */

static int test_file_broken_files(void)
{
    t_w w;
    unsigned char b[2048];
    size_t len = t_handmade_file(&w), i;
    int bit;
    dst_model *m;
    dst_error e;
    T_CHECK(len == 856);
    /* every truncation, every single-bit flip */
    for (i = 0; i < len; ++i)
        if (t_expect_broken(w.b, i, DST_ERR_FORMAT, NULL)) { printf("    truncated to %lu\n", (unsigned long)i); return 1; }
    for (i = 0; i < len; ++i)
        for (bit = 0; bit < 8; ++bit) {
            memcpy(b, w.b, len);
            b[i] ^= (unsigned char)(1 << bit);
            if (t_expect_broken(b, len, DST_ERR_FORMAT, NULL)) { printf("    bit %d of byte %lu\n", bit, (unsigned long)i); return 1; }
        }
    memcpy(b, w.b, len); b[1] = 'X';
    T_CHECK(!t_expect_broken(b, len, DST_ERR_FORMAT, "magic"));
    memcpy(b, w.b, len); b[len] = 0;
    T_CHECK(!t_expect_broken(b, len + 1, DST_ERR_FORMAT, "after the end"));
    /* the rest are well-formed files (CRCs fixed) that say something impossible */
#define T_CASE(patch, code, words) do { memcpy(b, w.b, len); patch; t_fix_crc(b, len); \
        if (t_expect_broken(b, len, code, words)) { printf("    case: %s\n", #patch); return 1; } } while (0)
    T_CASE(t_p32(b + 8, 2), DST_ERR_UNSUPPORTED, "version 2.0");
    T_CASE(t_p32(b + 12, 0xFFFFFFFFu), DST_ERR_FORMAT, "chunks");
    T_CASE(t_p32(b + 12, 1), DST_ERR_FORMAT, "no TENS");
    T_CASE(memcpy(b + 32, "ZZZZ", 4), DST_ERR_FORMAT, "'ZZZZ' (version 1.0) is required");
    T_CASE(t_p32(b + 40, 0xFFFFFFF0u), DST_ERR_FORMAT, "claims");              /* ARCH size */
    T_CASE(t_p32(b + T_ARCH, 0), DST_ERR_FORMAT, "input dimension 0");
    T_CASE(t_p32(b + T_ARCH + 12, 0xFFFFFFFFu), DST_ERR_FORMAT, "layers");
    T_CASE(t_p32(b + T_ARCH + 12, 5), DST_ERR_FORMAT, "need");
    T_CASE(t_p32(b + T_ARCH + 24, 60), DST_ERR_FORMAT, "layer records");
    T_CASE(t_p32(b + T_LAYER(2), 99), DST_ERR_FORMAT, "unknown layer kind 99");
    T_CASE(t_p32(b + T_LAYER(0) + 4, 0x7FFFFFFF), DST_ERR_FORMAT, "DST_MAX_ACTIVATION_FLOATS");
    T_CASE(t_p32(b + T_ARCH + 4, 0x4000); t_p32(b + T_ARCH + 8, 0x4000), DST_ERR_FORMAT, "input 2 x 16384 x 16384");
    T_CASE(t_p32(b + T_LAYER(0) + 4, 0x100000), DST_ERR_FORMAT, "more parameters than");
    T_CASE(t_p32(b + T_LAYER(0) + 4, 0), DST_ERR_FORMAT, "units 0");
    T_CASE(t_p32(b + T_LAYER(0) + 8, 2), DST_ERR_FORMAT, "no_bias");
    T_CASE(t_p32(b + T_LAYER(1) + 56, 0xBF800000u), DST_ERR_FORMAT, "eps");
    T_CASE(b[T_LAYER(3) + 63] = 1, DST_ERR_FORMAT, "newer minor");
    T_CASE(t_p32(b + T_TENS, 0xFFFFFFFFu), DST_ERR_FORMAT, "tensors");
    T_CASE(t_p32(b + T_TENS, 6), DST_ERR_FORMAT, "after the last tensor");
    T_CASE(b[T_TREC1 + 2 + 5] = 'x', DST_ERR_FORMAT, "not a name");                 /* "0.biax" */
    T_CASE(b[T_TREC1 + 2] = '1', DST_ERR_FORMAT, "appears twice");                  /* "1.bias" again */
    T_CASE(b[T_TREC1 + 2] = '2', DST_ERR_FORMAT, "relu) has no bias");              /* "2.bias" */
    T_CASE(b[T_TREC1 + 8] = 2, DST_ERR_UNSUPPORTED, "float16");                     /* dtype */
    T_CASE(b[T_TREC1 + 8] = 9, DST_ERR_FORMAT, "unknown dtype");
    T_CASE(b[T_TREC1 + 9] = 2, DST_ERR_FORMAT, NULL);                               /* ndim */
    T_CASE(b[T_TREC1 + 10] = 4, DST_ERR_FORMAT, "architecture gives 3");            /* dims[0] */
    T_CASE(t_p32(b + T_TREC1 + 18, 640 + 4), DST_ERR_FORMAT, "overlap");           /* offset */
    T_CASE(t_p32(b + T_TREC1 + 18, 666), DST_ERR_FORMAT, "multiple of 4");
    T_CASE(t_p32(b + T_TREC1 + 18, 852), DST_ERR_FORMAT, "outside");
    T_CASE(t_p32(b + T_TREC1 + 22, 1), DST_ERR_FORMAT, "outside");                 /* offset >= 2^32 */
    T_CASE(t_p32(b + T_TREC1 + 18, 16), DST_ERR_FORMAT, "outside");                /* inside the chunks */
    T_CASE(t_p32(b + 600, 0xFFFFFFFFu), DST_ERR_FORMAT, "metadata");               /* META count */
    T_CASE(b[608] = 3, DST_ERR_FORMAT, "unknown type 3");
    T_CASE(b[609] = 200, DST_ERR_FORMAT, "key of 200");
    T_CASE(b[612] = 0, DST_ERR_FORMAT, "NUL");
#undef T_CASE
    /* what a reader must accept: a newer minor version, an unknown optional chunk */
    memcpy(b, w.b, len); t_p32(b + 8, 1 | (7ul << 16)); t_fix_crc(b, len);
    T_CHECK_MSG(dst_model_parse(&m, b, len, &e) == DST_OK, "%s", e.message);
    dst_model_free(m);
    memcpy(b, w.b, len); memcpy(b + 584, "note", 4); t_p32(b + 588, 0); t_fix_crc(b, len);
    T_CHECK_MSG(dst_model_parse(&m, b, len, &e) == DST_OK, "%s", e.message);
    T_CHECK(dst_model_meta_count(m) == 0);
    dst_model_free(m);
    T_CHECK(dst_model_parse(NULL, w.b, len, &e) == DST_ERR_ARG);
    T_CHECK(dst_model_parse(&m, NULL, len, &e) == DST_ERR_ARG && m == NULL);
    return 0;
}

static int test_file_load_in_place(void)
{
    dst_model *m = t_file_model(1), *l = NULL;
    unsigned char *buf, *raw, *al, *copy;
    size_t len;
    dst_error e;
    int bad = 0;
    const float *pp;
    T_CHECK(m);
    T_CHECK(dst_model_write_memory(m, &buf, &len, &e) == DST_OK);
    raw = (unsigned char *)malloc(len + 128);
    copy = (unsigned char *)malloc(len);
    al = raw + ((64 - ((size_t)raw & 63)) & 63);
    memcpy(al, buf, len);
    memcpy(copy, buf, len);
    if (dst_model_parse(&l, al, len, &e) != DST_OK) { printf("    %s\n", e.message); bad = 1; }
    if (!bad && !dst__host_little_endian()) { /* big-endian (or DST__TEST_BYTE_PATHS): always a copy */
        bad = dst_model_params_in_place(l);
    } else if (!bad) {
        pp = dst_model_params(l);
        bad = !(dst_model_params_in_place(l) && (const unsigned char *)pp > al && (const unsigned char *)pp < al + len &&
                ((size_t)pp & 63) == 0 && (const unsigned char *)dst_model_buffers(l) > al &&
                (const unsigned char *)dst_model_buffers(l) < al + len);
        if (bad) printf("    parameters not in place\n");
    }
    bad = bad || t_same_model(m, l) || t_same_outputs(m, l);
    if (!bad) { /* training copies first and leaves the buffer alone */
        float x[2 * 2 * 9 * 8];
        int y[2] = { 1, 2 };
        t_fill(x, sizeof x / sizeof x[0], 1);
        bad = dst_model_train_step(l, x, y, 2, NULL, 0, 0, NULL) != DST_OK || dst_model_params_in_place(l) ||
              memcmp(al, copy, len) != 0 || dst_model_grads(l) == NULL;
        if (bad) printf("    training an in-place model\n");
    }
    dst_model_free(l);
    l = NULL;
    /* misaligned: loaded by copy */
    if (!bad) {
        memmove(al + 4, al, len);
        bad = dst_model_parse(&l, al + 4, len, &e) != DST_OK || dst_model_params_in_place(l) ||
              t_same_model(m, l);
        dst_model_free(l);
    }
    free(raw);
    free(copy);
    dst_free(buf);
    dst_model_free(m);
    return bad;
}

/* Every allocation of a load and a save fails in turn: a clean NOMEM each time, nothing leaked. */
static int test_file_allocation_failures(void)
{
    dst_model *m = t_file_model(1), *l;
    unsigned char *buf = NULL;
    size_t len;
    long k;
    dst_error e;
    dst_result r;
    T_CHECK(m);
    dst_model_meta_set_string(m, "k", "v");
    for (k = 1; k < 100; ++k) {
        long live = t_alloc_live;
        t_alloc_fail_at = t_alloc_count + k;
        r = dst_model_write_checkpoint_memory(m, &buf, &len, &e);
        t_alloc_fail_at = 0;
        if (r == DST_OK) break;
        T_CHECK_MSG(r == DST_ERR_NOMEM && t_alloc_live == live && buf == NULL, "save, failure %ld: %s", k, e.message);
    }
    T_CHECK(r == DST_OK && k > 1);
    for (k = 1; k < 100; ++k) {
        long live = t_alloc_live;
        t_alloc_fail_at = t_alloc_count + k;
        r = dst_model_parse_checkpoint(&l, buf, len, &e);
        t_alloc_fail_at = 0;
        if (r == DST_OK) break;
        T_CHECK_MSG(r == DST_ERR_NOMEM && t_alloc_live == live && l == NULL, "load, failure %ld: %s", k, e.message);
    }
    T_CHECK(r == DST_OK && k > 3);
    dst_model_free(l);
    dst_free(buf);
    dst_model_free(m);
    return 0;
}

/* A write callback that fails after `limit` bytes. */
typedef struct t_sink { size_t limit, got; } t_sink;
static int t_sink_write(void *user, const void *data, size_t len)
{
    t_sink *s = (t_sink *)user;
    (void)data;
    if (len > s->limit - s->got) return 1;
    s->got += len;
    return 0;
}

static int t_file_bytes(const char *path, unsigned char *out, size_t cap, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    *len = fread(out, 1, cap, f);
    fclose(f);
    return 1;
}

#if defined(__unix__)
#include <sys/resource.h>
#include <signal.h>
#endif

static int test_file_atomic_save(void)
{
    const char *path = "build/test_file_atomic.dst";
    static unsigned char before[1 << 16];
    size_t blen, total;
#if defined(__unix__) || defined(_WIN32)
    static unsigned char after[1 << 16];
    size_t alen;
#endif
    dst_model *small, *big;
    dst_layer_desc L[2];
    dst_model_desc d = dst_model_desc_default();
    dst_error e;
    t_sink s;
    FILE *f;
    /* a callback failing partway: DST_ERR_IO at every cut */
    T_CHECK((small = t_file_model_global_softmax()) != NULL);
    s.limit = (size_t)-1; s.got = 0;
    T_CHECK(dst_model_write(small, t_sink_write, &s, &e) == DST_OK);
    total = s.got;
    for (s.limit = 0; s.limit < total; s.limit += 97) {
        s.got = 0;
        T_CHECK(dst_model_write(small, t_sink_write, &s, &e) == DST_ERR_IO && strstr(e.message, "write"));
    }
    /* a save that cannot finish leaves the previous file as it was, and no temporary file */
    T_CHECK(dst_model_save(small, path, &e) == DST_OK);
    T_CHECK(t_file_bytes(path, before, sizeof before, &blen) && blen == total);
    L[0] = dst_dense(64); L[1] = dst_dense(10);
    d.input_c = 784; d.layers = L; d.layer_count = 2;
    T_CHECK(dst_model_create(&big, &d, NULL) == DST_OK);
#if defined(__unix__)
    {
        struct rlimit old, lim;
        void (*prev)(int);
        dst_result r;
        getrlimit(RLIMIT_FSIZE, &old);
        lim = old;
        lim.rlim_cur = 100000; /* the big model needs 200 KB: the disk is "full" halfway */
        prev = signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &lim);
        r = dst_model_save(big, path, &e);
        setrlimit(RLIMIT_FSIZE, &old);
        signal(SIGXFSZ, prev);
        T_CHECK_MSG(r == DST_ERR_IO, "%s", dst_result_string(r));
        T_CHECK(strstr(e.message, "unchanged") != NULL);
        T_CHECK(t_file_bytes(path, after, sizeof after, &alen) && alen == blen && memcmp(before, after, blen) == 0);
        T_CHECK((f = fopen("build/test_file_atomic.dst.tmp", "rb")) == NULL);
    }
#endif
#if defined(_WIN32)
    /* Windows: a file another program holds open cannot be replaced (the C
       library opens files sharing reading and writing, not deletion), so
       MoveFileExA fails: the save says so and the file stays as it was */
    {
        FILE *held;
        dst_result r;
        T_CHECK((held = fopen(path, "rb")) != NULL);
        r = dst_model_save(big, path, &e);
        fclose(held);
        T_CHECK_MSG(r == DST_ERR_IO && strstr(e.message, "cannot rename") && strstr(e.message, "unchanged"), "%s: %s",
                    dst_result_string(r), e.message);
        T_CHECK(t_file_bytes(path, after, sizeof after, &alen) && alen == blen && memcmp(before, after, blen) == 0);
        T_CHECK((f = fopen("build/test_file_atomic.dst.tmp", "rb")) == NULL);
    }
#endif
    /* a target the rename cannot replace (a folder): DST_ERR_IO, no temporary file left */
    T_CHECK(dst_model_save(small, "build/", &e) == DST_ERR_IO && strstr(e.message, "cannot rename"));
    T_CHECK((f = fopen("build/.tmp", "rb")) == NULL);
    /* a directory that does not exist: nothing created */
    T_CHECK(dst_model_save(small, "build/no/such/dir/x.dst", &e) == DST_ERR_IO);
    /* and a save that works replaces the file whole */
    T_CHECK(dst_model_save(big, path, &e) == DST_OK);
    T_CHECK((f = fopen("build/test_file_atomic.dst.tmp", "rb")) == NULL);
    dst_model_free(big);
    T_CHECK(dst_model_load(&big, path, &e) == DST_OK && dst_model_param_count(big) > 50000);
    dst_model_free(big);
    dst_model_free(small);
    remove(path);
    return 0;
}


/* ---- load options: the caller's allocator context and limits ---- */

static int test_file_load_options(void)
{
    dst_model *m = t_file_model(1), *l = NULL;
    unsigned char *buf, *raw, *al, *ckpt;
    size_t len, clen;
    long allocs, ctx_allocs;
    int tag;
    dst_load_options o;
    dst_error e;
    const char *path = "build/test_file_options.dst";
    T_CHECK(m);
    T_CHECK(dst_model_write_memory(m, &buf, &len, &e) == DST_OK);
    raw = (unsigned char *)malloc(len + 64);
    al = raw + ((64 - ((size_t)raw & 63)) & 63);
    memcpy(al, buf, len);
    /* every allocation of the load, and of the model, through the caller's context */
    o = dst_load_options_default();
    T_CHECK(o.alloc_user == NULL && o.max_layers == DST_MAX_LAYERS && o.max_param_bytes == (size_t)-1 &&
            o.in_place == 1 && o.checkpoint == 0);
    o.alloc_user = &tag;
    o.in_place = 0;
    t_alloc_ctx_watch = &tag;
    t_alloc_ctx_allocs = t_alloc_ctx_frees = 0;
    allocs = t_alloc_count;
    T_CHECK_MSG(dst_model_parse_with(&l, al, len, &o, &e) == DST_OK, "%s", e.message);
    ctx_allocs = t_alloc_ctx_allocs;
    T_CHECK_MSG(ctx_allocs > 0 && ctx_allocs == t_alloc_count - allocs, "%ld of %ld allocations with the context",
                ctx_allocs, t_alloc_count - allocs);
    T_CHECK(!dst_model_params_in_place(l) && !t_same_model(m, l));
    {   /* training allocates through it too */
        float x[2 * 2 * 9 * 8];
        int y[2] = { 1, 2 };
        t_fill(x, sizeof x / sizeof x[0], 1);
        allocs = t_alloc_count;
        T_CHECK(dst_model_train_step(l, x, y, 2, NULL, 0, 0, NULL) == DST_OK);
        T_CHECK(t_alloc_ctx_allocs - ctx_allocs == t_alloc_count - allocs);
    }
    dst_model_free(l);
    T_CHECK(t_alloc_ctx_frees == t_alloc_ctx_allocs); /* and all of it back through it */
    /* from a path: the file's bytes too */
    T_CHECK(dst_model_save(m, path, &e) == DST_OK);
    t_alloc_ctx_allocs = t_alloc_ctx_frees = 0;
    allocs = t_alloc_count;
    T_CHECK_MSG(dst_model_load_with(&l, path, &o, &e) == DST_OK, "%s", e.message);
    T_CHECK(t_alloc_ctx_allocs > 0 && t_alloc_ctx_allocs == t_alloc_count - allocs && !t_same_model(m, l));
    dst_model_free(l);
    T_CHECK(t_alloc_ctx_frees == t_alloc_ctx_allocs);
    t_alloc_ctx_watch = NULL;
    remove(path);
    /* in place by default, copied when asked */
    o = dst_load_options_default();
    T_CHECK(dst_model_parse_with(&l, al, len, &o, &e) == DST_OK);
    T_CHECK(dst_model_params_in_place(l) == dst__host_little_endian());
    dst_model_free(l);
    /* limits: a file beyond them is refused, saying which */
    o.max_layers = dst_model_layer_count(m) - 1;
    T_CHECK(dst_model_parse_with(&l, al, len, &o, &e) == DST_ERR_FORMAT && l == NULL && strstr(e.message, "max_layers"));
    o.max_layers = dst_model_layer_count(m);
    T_CHECK(dst_model_parse_with(&l, al, len, &o, &e) == DST_OK);
    dst_model_free(l);
    o.max_param_bytes = 64;
    T_CHECK(dst_model_parse_with(&l, al, len, &o, &e) == DST_ERR_FORMAT && l == NULL &&
            strstr(e.message, "max_param_bytes"));
    o.max_param_bytes = (dst_model_param_count(m) + dst_model_buffer_count(m)) * sizeof(float);
    T_CHECK_MSG(dst_model_parse_with(&l, al, len, &o, &e) == DST_OK, "%s", e.message); /* padding counts too */
    dst_model_free(l);
    /* a checkpoint through the options */
    o = dst_load_options_default();
    o.checkpoint = 1;
    T_CHECK(dst_model_parse_with(&l, al, len, &o, &e) == DST_ERR_FORMAT && strstr(e.message, "not a checkpoint"));
    T_CHECK(dst_model_write_checkpoint_memory(m, &ckpt, &clen, &e) == DST_OK);
    T_CHECK(dst_model_parse_with(&l, ckpt, clen, &o, &e) == DST_OK && dst_model_step_count(l) == 3);
    dst_model_free(l);
    dst_free(ckpt);
    /* options out of range: DST_ERR_ARG, never clamped */
    o = dst_load_options_default(); o.max_layers = 0;
    T_CHECK(dst_model_parse_with(&l, al, len, &o, &e) == DST_ERR_ARG && strstr(e.message, "max_layers"));
    o.max_layers = DST_MAX_LAYERS + 1;
    T_CHECK(dst_model_parse_with(&l, al, len, &o, &e) == DST_ERR_ARG);
    o = dst_load_options_default(); o.in_place = 2;
    T_CHECK(dst_model_parse_with(&l, al, len, &o, &e) == DST_ERR_ARG);
    T_CHECK(dst_model_parse_with(&l, al, len, NULL, &e) == DST_ERR_ARG && l == NULL);
    free(raw);
    dst_free(buf);
    dst_model_free(m);
    return 0;
}


/* ---- checkpoints ---- */

typedef struct t_stop { int epoch; size_t batch; } t_stop;
static int t_stop_at(void *user, const dst_progress *p)
{
    const t_stop *s = (const t_stop *)user;
    return p->epoch == s->epoch && p->batch == s->batch;
}

static dst_model *t_ckpt_model(void)
{
    dst_layer_desc L[6];
    dst_model_desc d = dst_model_desc_default();
    dst_model *m;
    L[0] = dst_dense(16); L[1] = dst_batchnorm(); L[2] = dst_relu(); L[3] = dst_dropout(0.3f);
    L[4] = dst_dense(3); L[5] = dst_softmax_layer();
    L[5] = dst_tanh();
    d.input_c = 6; d.layers = L; d.layer_count = 5; d.seed = 11;
    return dst_model_create(&m, &d, NULL) == DST_OK ? m : NULL;
}

/* Fit 3 epochs straight, or stop inside epoch 1, checkpoint, free, load and resume:
   the parameters, buffers and step count come out the same bit for bit. */
static int test_file_checkpoint_resume_bit_identical(void)
{
    enum { N = 150 };
    static float x[N * 6];
    static int y[N];
    int kind, i;
    for (i = 0; i < N * 6; ++i) x[i] = t_rand();
    for (i = 0; i < N; ++i) y[i] = (x[i * 6] > 0) + (x[i * 6 + 1] > 0.5f);
    for (kind = 0; kind < 3; ++kind) {
        dst_optimizer_config o = dst_optimizer_default(kind == 0 ? DST_SGD : kind == 1 ? DST_ADAM : DST_ADAMW);
        dst_fit_config c = dst_fit_default();
        dst_model *a = t_ckpt_model(), *b = t_ckpt_model(), *r = NULL;
        unsigned char *buf = NULL;
        size_t len;
        dst_error e;
        t_stop stop;
        int bad;
        T_CHECK(a && b);
        if (kind == 0) { o.momentum = 0.9f; o.nesterov = 1; o.weight_decay = 1e-3f; }
        c.epochs = 3; c.batch_size = 16; c.seed = 5 + (uint64_t)kind;
        c.schedule.kind = DST_LR_STEP; c.schedule.step_size = 1; c.schedule.gamma = 0.5f;
        dst_model_set_optimizer(a, &o);
        dst_model_set_optimizer(b, &o);
        T_CHECK(dst_model_fit(a, x, y, N, &c) == DST_OK);
        stop.epoch = 1; stop.batch = 4;
        c.progress = t_stop_at; c.progress_user = &stop; c.progress_every = 1;
        T_CHECK(dst_model_fit(b, x, y, N, &c) == DST_OK);
        T_CHECK(dst_model_step_count(b) == 10 + 4);
        bad = dst_model_write_checkpoint_memory(b, &buf, &len, &e) != DST_OK;
        dst_model_free(b);
        bad = bad || dst_model_parse_checkpoint(&r, buf, len, &e) != DST_OK;
        if (bad) printf("    %s\n", e.message);
        if (!bad) {
            c.resume = 1;
            stop.epoch = -1;
            bad = dst_model_fit(r, x, y, N, &c) != DST_OK || dst_model_step_count(r) != dst_model_step_count(a) ||
                  t_same_model(a, r);
            if (bad) printf("    %s optimizer: resumed fit differs\n", kind == 0 ? "SGD" : kind == 1 ? "Adam" : "AdamW");
        }
        /* a plain weight file is not a checkpoint; a checkpoint is a weight file */
        if (!bad) {
            dst_model *p = NULL;
            bad = dst_model_parse(&p, buf, len, &e) != DST_OK;
            if (bad) printf("    a checkpoint as a weight file: %s\n", e.message);
            dst_model_free(p);
        }
        dst_free(buf);
        buf = NULL;
        if (!bad && dst_model_write_memory(a, &buf, &len, &e) == DST_OK) {
            dst_model *p = NULL;
            bad = dst_model_parse_checkpoint(&p, buf, len, &e) != DST_ERR_FORMAT || !strstr(e.message, "not a checkpoint");
            if (bad) printf("    a weight file as a checkpoint: %s\n", e.message);
        }
        /* resuming with other data is refused */
        if (!bad) {
            long steps = dst_model_step_count(a);
            c.resume = 1;
            bad = dst_model_fit(a, x, y, N, &c) != DST_OK || dst_model_step_count(a) != steps; /* done: epoch 3 of 3 */
            c.seed += 1;
            bad = bad || dst_model_fit(a, x, y, N, &c) != DST_ERR_ARG || !strstr(dst_model_error(a), "resume");
            if (bad) printf("    resume with another seed: %s\n", dst_model_error(a));
        }
        dst_free(buf);
        dst_model_free(r);
        dst_model_free(a);
        if (bad) return 1;
    }
    return 0;
}

/* ---- .npy ---- */

static int t_mem_write(void *user, const void *data, size_t len)
{
    t_w *w = (t_w *)user;
    if (len > sizeof w->b - w->n) return 1;
    memcpy(w->b + w->n, data, len);
    w->n += len;
    return 0;
}

static int test_file_npy_round_trip_and_broken(void)
{
    static t_w w;
    float f[6] = { 1.5f, -2, 0.25f, 3, 1e-3f, -7 };
    int32_t n[3] = { -1, 7, 2000000000 };
    size_t shape[3] = { 2, 3, 1 }, cut;
    dst_npy a;
    dst_error e;
    unsigned char b[256];
    memset(&w, 0, sizeof w);
    T_CHECK(dst_npy_write(t_mem_write, &w, DST_NPY_FLOAT32, f, 2, shape, &e) == DST_OK);
    T_CHECK(w.n == 128 + 24 && w.b[8] + 10 == 128 && w.b[127] == '\n'); /* header padded to 64 bytes */
    T_CHECK(memcmp(w.b + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 59) == 0);
    T_CHECK(dst_npy_parse(w.b, w.n, &a, &e) == DST_OK);
    T_CHECK(a.dtype == DST_NPY_FLOAT32 && a.ndim == 2 && a.shape[0] == 2 && a.shape[1] == 3 && a.count == 6);
    T_CHECK(memcmp(a.data, f, sizeof f) == 0);
    dst_npy_free(&a);
    w.n = 0;
    T_CHECK(dst_npy_write(t_mem_write, &w, DST_NPY_INT32, n, 1, shape + 1, &e) == DST_OK);
    T_CHECK(memcmp(w.b + 10, "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", 57) == 0);
    T_CHECK(dst_npy_parse(w.b, w.n, &a, &e) == DST_OK && a.dtype == DST_NPY_INT32 && a.ndim == 1 && a.count == 3);
    T_CHECK(memcmp(a.data, n, sizeof n) == 0);
    dst_npy_free(&a);
    /* big-endian data and a version 2 header, written by hand */
    {
        static const char hdr[] = "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }     \n";
        size_t hl = sizeof hdr - 1;
        memcpy(b, "\x93NUMPY\x02\x00", 8);
        b[8] = (unsigned char)hl; b[9] = b[10] = b[11] = 0;
        memcpy(b + 12, hdr, hl);
        memcpy(b + 12 + hl, "\x3f\xc0\x00\x00\xc0\x00\x00\x00", 8); /* 1.5, -2 */
        T_CHECK_MSG(dst_npy_parse(b, 12 + hl + 8, &a, &e) == DST_OK, "%s", e.message);
        T_CHECK(((float *)a.data)[0] == 1.5f && ((float *)a.data)[1] == -2.0f);
        dst_npy_free(&a);
    }
    /* broken and unsupported */
    w.n = 0;
    T_CHECK(dst_npy_write(t_mem_write, &w, DST_NPY_FLOAT32, f, 2, shape, &e) == DST_OK);
    for (cut = 0; cut < w.n; ++cut) {
        T_CHECK(dst_npy_parse(w.b, cut, &a, &e) == DST_ERR_FORMAT && a.data == NULL);
    }
    memcpy(b, w.b, w.n); b[0] = 'x';
    T_CHECK(dst_npy_parse(b, w.n, &a, &e) == DST_ERR_FORMAT && strstr(e.message, "magic"));
    memcpy(b, w.b, w.n); memcpy(strstr((char *)b + 10, "f4"), "f8", 2);
    T_CHECK(dst_npy_parse(b, w.n, &a, &e) == DST_ERR_UNSUPPORTED && strstr(e.message, "<f8"));
    memcpy(b, w.b, w.n); memcpy(strstr((char *)b + 10, "False"), "True ", 5);
    T_CHECK(dst_npy_parse(b, w.n, &a, &e) == DST_ERR_UNSUPPORTED && strstr(e.message, "Fortran"));
    memcpy(b, w.b, w.n); memcpy(strstr((char *)b + 10, "(2, 3)"), "(99999999999999999999999", 24);
    T_CHECK(dst_npy_parse(b, w.n, &a, &e) == DST_ERR_FORMAT);
    memcpy(b, w.b, w.n); strstr((char *)b + 10, "(2, 3)")[1] = '9';
    T_CHECK(dst_npy_parse(b, w.n, &a, &e) == DST_ERR_FORMAT && strstr(e.message, "data bytes"));
    memcpy(b, w.b, w.n); b[8] = 0xFF;
    T_CHECK(dst_npy_parse(b, w.n, &a, &e) == DST_ERR_FORMAT);
    /* the teacher from an array */
    {
        dst_teacher t;
        T_CHECK(dst_npy_parse(w.b, w.n, &a, &e) == DST_OK);
        T_CHECK(dst_teacher_from_npy(&a, &t, &e) == DST_OK && t.logits == a.data && t.logits_rows == 2 && t.classes == 3);
        a.ndim = 1;
        T_CHECK(dst_teacher_from_npy(&a, &t, &e) == DST_ERR_ARG);
        a.ndim = 2;
        dst_npy_free(&a);
    }
    return 0;
}

static int test_file_npy_path(void)
{
    const char *path = "build/test_file.npy";
    float f[4] = { 1, 2, 3, 4 };
    size_t shape[2] = { 2, 2 };
    dst_npy a;
    dst_error e;
    T_CHECK(dst_npy_save(path, DST_NPY_FLOAT32, f, 2, shape, &e) == DST_OK);
    T_CHECK(dst_npy_load(path, &a, &e) == DST_OK && a.count == 4 && memcmp(a.data, f, sizeof f) == 0);
    dst_npy_free(&a);
    remove(path);
    T_CHECK(dst_npy_load(path, &a, &e) == DST_ERR_IO);
    return 0;
}

/* dst_npy_save is atomic: a failed save leaves the previous file and no temporary one. */
static int test_file_npy_save_atomic(void)
{
    const char *path = "build/test_file_atomic.npy";
    float f[3] = { 1, 2, 3 };
    size_t shape[1] = { 3 }, bad_shape[2] = { (size_t)-1, 8 };
    dst_npy a;
    dst_error e;
    FILE *t;
    T_CHECK(dst_npy_save(path, DST_NPY_FLOAT32, f, 1, shape, &e) == DST_OK);
    T_CHECK(dst_npy_save(path, DST_NPY_FLOAT32, f, 2, bad_shape, &e) == DST_ERR_ARG);
    T_CHECK(dst_npy_save(path, (dst_npy_dtype)9, f, 1, shape, &e) == DST_ERR_ARG);
    T_CHECK((t = fopen("build/test_file_atomic.npy.tmp", "rb")) == NULL);
    T_CHECK(dst_npy_load(path, &a, &e) == DST_OK && a.count == 3 && memcmp(a.data, f, sizeof f) == 0);
    dst_npy_free(&a);
    T_CHECK(dst_npy_save("build/no/such/dir/x.npy", DST_NPY_FLOAT32, f, 1, shape, &e) == DST_ERR_IO);
    remove(path);
    return 0;
}

/* The shape checks refuse sizes whose products or window indices leave
   int, without forming them (the sanitized build fails on any overflow). */
static int test_file_shape_checks_never_overflow(void)
{
    dst_conv2d_params c = dst_conv2d_params_make(4, 4, 4, 4, 3, 1, 1);
    dst_pool2d_params pl;
    dst_batchnorm_params bn;
    dst_layer_desc L[1];
    dst_model_desc d = dst_model_desc_default();
    dst_model *m = NULL;
    float x[4] = { 0 }, y[4];
    int oh, ow;
    dst_error e;
    T_CHECK(dst_conv2d_check(&c, &oh, &ow, &e) == DST_OK && oh == 4 && ow == 4);
    /* the fuzzer's input: outputs near 2^32 on each side */
    c.pad_h = c.pad_w = INT_MAX / 2;
    T_CHECK(dst_conv2d_check(&c, &oh, &ow, &e) == DST_ERR_ARG);
    c.pad_h = c.pad_w = 1;
    c.stride_h = c.stride_w = INT_MAX - 2; c.pad_h = INT_MAX / 2; /* padding + stride past INT_MAX */
    T_CHECK(dst_conv2d_check(&c, &oh, &ow, &e) == DST_ERR_ARG && strstr(e.message, "INT_MAX"));
    c = dst_conv2d_params_make(INT_MAX, INT_MAX, INT_MAX, INT_MAX, 1, 1, 0);
    T_CHECK(dst_conv2d_check(&c, &oh, &ow, &e) == DST_ERR_ARG);
    c = dst_conv2d_params_make(1, 1, 1, 1, 1, 1, 0);
    c.kernel_h = c.kernel_w = 1; c.dilation_h = INT_MAX;
    T_CHECK(dst_conv2d_check(&c, &oh, &ow, &e) == DST_OK);
    c = dst_conv2d_params_make(65536, 1, 1, 1, 1, 1, 0);
    c.in_h = 65536; c.kernel_h = 65536; c.kernel_w = 1; /* (in_c / groups) x kernel_h x kernel_w = 2^32 */
    T_CHECK(dst_conv2d_check(&c, &oh, &ow, &e) == DST_ERR_ARG);
    memset(&pl, 0, sizeof pl);
    pl.channels = INT_MAX; pl.in_h = INT_MAX; pl.in_w = INT_MAX; pl.kernel_h = pl.kernel_w = 2;
    T_CHECK(dst_pool2d_check(&pl, &oh, &ow, &e) == DST_ERR_ARG);
    pl.channels = 1; pl.in_h = pl.in_w = 4; pl.stride_h = INT_MAX; pl.pad_h = 1;
    T_CHECK(dst_pool2d_check(&pl, &oh, &ow, &e) == DST_ERR_ARG && strstr(e.message, "INT_MAX"));
    T_CHECK(dst_maxpool2d_forward(&pl, INT_MAX, x, y, NULL) == DST_ERR_ARG);
    /* batch x channels x spatial beyond what one array can hold */
    bn.channels = INT_MAX; bn.spatial = INT_MAX; bn.eps = 1e-5f; bn.momentum = 0.1f;
    T_CHECK(dst_batchnorm_forward(&bn, INT_MAX, 0, x, NULL, NULL, x, x, y, NULL, NULL) == DST_ERR_ARG);
    /* a model's input of more than INT_MAX values per sample */
    L[0] = dst_relu();
    d.input_c = 65536; d.input_h = 65536; d.input_w = 1; d.layers = L; d.layer_count = 1;
    T_CHECK(dst_model_create(&m, &d, &e) == DST_ERR_ARG && m == NULL);
    return 0;
}


/* ---- the fuzzing corpus, replayed (tests/corpus/LIST: "name ok|bad|npy") ---- */

#include "fuzz_one.h"

static int test_file_corpus_replay(void)
{
    char line[256], path[512], name[200], outcome[16];
    FILE *l, *f;
    static unsigned char buf[1 << 16];
    int files = 0;
    snprintf(path, sizeof path, "%s/../corpus/LIST", t_fixture_dir);
    T_CHECK_MSG((l = fopen(path, "r")) != NULL, "cannot open %s", path);
    while (fgets(line, sizeof line, l)) {
        size_t n;
        dst_model *m = NULL;
        dst_error e;
        dst_result r;
        if (sscanf(line, "%199s %15s", name, outcome) != 2) continue;
        snprintf(path, sizeof path, "%s/../corpus/%s", t_fixture_dir, name);
        if (!(f = fopen(path, "rb"))) { printf("    cannot open %s\n", path); fclose(l); return 1; }
        n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        fuzz_one(buf, n); /* what the fuzzer does, under this build's sanitizers */
        r = dst_model_parse(&m, buf, n, &e);
        dst_model_free(m);
        if (strcmp(outcome, "ok") == 0 && r != DST_OK) { printf("    %s: %s\n", name, e.message); fclose(l); return 1; }
        if (strcmp(outcome, "ok") == 0 && strncmp(name, "fuzz-", 5) != 0) { /* the library's own files re-save unchanged */
            int ckpt = strstr(name, ".ckpt") != NULL, same;
            unsigned char *again = NULL;
            size_t alen = 0;
            r = ckpt ? dst_model_parse_checkpoint(&m, buf, n, &e) : dst_model_parse(&m, buf, n, &e);
            if (r == DST_OK) r = ckpt ? dst_model_write_checkpoint_memory(m, &again, &alen, &e)
                                      : dst_model_write_memory(m, &again, &alen, &e);
            same = r == DST_OK && alen == n && memcmp(again, buf, n) == 0;
            dst_free(again);
            dst_model_free(m);
            if (!same) { printf("    %s: re-saved differently\n", name); fclose(l); return 1; }
        }
        if (strcmp(outcome, "bad") == 0 && r != DST_ERR_FORMAT) { printf("    %s: loaded\n", name); fclose(l); return 1; }
        ++files;
    }
    fclose(l);
    T_CHECK(files >= 10);
    return 0;
}


/* ---- PyTorch interop: fixtures from tests/gen_torch_fixtures.py ---- */

static int t_read_whole(const char *name, unsigned char **buf, size_t *len)
{
    char path[512];
    FILE *f;
    long n;
    snprintf(path, sizeof path, "%s/%s", t_fixture_dir, name);
    if (!(f = fopen(path, "rb"))) { printf("    cannot open %s\n", path); return 0; }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *buf = (unsigned char *)malloc((size_t)n + 1);
    *len = fread(*buf, 1, (size_t)n, f);
    fclose(f);
    return *len == (size_t)n;
}

static const char *t_fmnist = "/usr/share/datasets/fashion-mnist";

/* The exported PyTorch CNN gives PyTorch's logits on 256 real test images, and
   distill.h writes the same file back byte for byte. */
static int test_file_torch_export_matches_pytorch(void)
{
    char path[512];
    unsigned char *file = NULL, *mine = NULL;
    size_t len, mine_len;
    dst_model *m = NULL;
    dst_npy ref;
    dst_idx img;
    dst_error e;
    float *out;
    double acc = 0;
    int bad = 0;
    T_CHECK(t_read_whole("torch_cnn.dst", &file, &len));
    snprintf(path, sizeof path, "%s/torch_cnn_logits.npy", t_fixture_dir);
    T_CHECK_MSG(dst_npy_load(path, &ref, &e) == DST_OK, "%s", e.message);
    T_CHECK(ref.ndim == 2 && ref.shape[0] == 256 && ref.shape[1] == 10);
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", t_fmnist);
    T_CHECK_MSG(dst_idx_load(path, &img, &e) == DST_OK, "%s", e.message);
    if (dst_model_parse(&m, file, len, &e) != DST_OK) { printf("    %s\n", e.message); bad = 1; }
    if (!bad) {
        size_t i;
        for (i = 0; i < 256 * 784; ++i) img.data[i] /= 255.0f;
        out = (float *)malloc(256 * 10 * sizeof(float));
        bad = dst_model_predict(m, img.data, 256, out) != DST_OK ||
              !t_close(out, (const float *)ref.data, 256 * 10, 1e-5f, 1e-5f, "distill.h vs PyTorch logits");
        free(out);
        bad = bad || dst_model_meta_number(m, "train_accuracy", &acc) != 1 || !(acc > 0.5) ||
              strncmp(dst_model_meta_string(m, "classes"), "t-shirt,", 8) != 0;
    }
    if (!bad) {
        bad = dst_model_write_memory(m, &mine, &mine_len, &e) != DST_OK || mine_len != len || memcmp(mine, file, len) != 0;
        if (bad) printf("    distill.h does not write the exporter's bytes back\n");
    }
    dst_free(mine);
    dst_model_free(m);
    dst_idx_free(&img);
    dst_npy_free(&ref);
    free(file);
    return bad;
}

/* The other direction: a file distill.h wrote, imported by tools/torch/torch_import.py; PyTorch's
   outputs on 16 inputs (a formula computed alike in float32 on both sides) match distill.h's. */
static int test_file_torch_import_matches_distill(void)
{
    unsigned char *file = NULL;
    size_t len, i;
    char path[512];
    dst_model *m = NULL;
    dst_npy ref;
    dst_error e;
    float x[16 * 2 * 8 * 8], out[16 * 5];
    int bad;
    T_CHECK(t_read_whole("c_cnn.dst", &file, &len));
    snprintf(path, sizeof path, "%s/c_cnn_torch_out.npy", t_fixture_dir);
    T_CHECK_MSG(dst_npy_load(path, &ref, &e) == DST_OK, "%s", e.message);
    for (i = 0; i < sizeof x / sizeof x[0]; ++i) x[i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
    bad = dst_model_parse(&m, file, len, &e) != DST_OK || dst_model_output_size(m) != 5 ||
          ref.count != 16 * 5 || dst_model_predict(m, x, 16, out) != DST_OK ||
          !t_close(out, (const float *)ref.data, 16 * 5, 1e-5f, 1e-5f, "PyTorch (imported) vs distill.h");
    dst_model_free(m);
    dst_npy_free(&ref);
    free(file);
    return bad;
}

/* Offline distillation from logits PyTorch saved with numpy.save: a student
   that sees no labels at all learns the classes from them. */
static int test_file_distill_from_numpy_logits(void)
{
    char path[512];
    dst_npy logits;
    dst_teacher t;
    dst_idx tx, ty, vx, vy;
    dst_error e;
    dst_model *s;
    dst_layer_desc L[3];
    dst_model_desc d = dst_model_desc_default();
    dst_optimizer_config o = dst_optimizer_default(DST_ADAM);
    dst_fit_config c = dst_fit_default();
    int *labels, bad;
    size_t i, n = 2000;
    float acc = 0, acc_before = 0;
    c.batch_size = 50;
    if (t_quick()) { /* an eighth of the work, the same steps per epoch (measured 0.72) */
        n = 250;
        c.batch_size = 25;
        printf("    DST_TEST_QUICK: the first %lu of the 2000 images and logits, in batches of %d (not 50)\n",
               (unsigned long)n, c.batch_size);
    }
    snprintf(path, sizeof path, "%s/teacher_logits.npy", t_fixture_dir);
    T_CHECK_MSG(dst_npy_load(path, &logits, &e) == DST_OK, "%s", e.message);
    T_CHECK(dst_teacher_from_npy(&logits, &t, &e) == DST_OK && t.logits_rows == 2000 && t.classes == 10);
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", t_fmnist);
    T_CHECK(dst_idx_load(path, &tx, &e) == DST_OK);
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", t_fmnist);
    T_CHECK(dst_idx_load(path, &vx, &e) == DST_OK);
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte.gz", t_fmnist);
    T_CHECK(dst_idx_load(path, &vy, &e) == DST_OK);
    (void)ty;
    for (i = 0; i < n * 784; ++i) tx.data[i] /= 255.0f;
    for (i = 0; i < 1000 * 784; ++i) vx.data[i] /= 255.0f;
    labels = (int *)malloc(1000 * sizeof(int));
    for (i = 0; i < 1000; ++i) labels[i] = (int)vy.data[i];
    L[0] = dst_dense(64); L[1] = dst_relu(); L[2] = dst_dense(10);
    d.input_c = 784; d.layers = L; d.layer_count = 3;
    T_CHECK(dst_model_create(&s, &d, NULL) == DST_OK);
    o.lr = 3e-3f;
    dst_model_set_optimizer(s, &o);
    dst_model_evaluate(s, vx.data, labels, 1000, 0, NULL, &acc_before);
    c.epochs = 8; c.teacher = &t; c.temperature = 4; c.alpha = 1;
    bad = dst_model_fit(s, tx.data, NULL, n, &c) != DST_OK; /* no labels: the teacher's logits alone */
    if (bad) printf("    %s\n", dst_model_error(s));
    dst_model_evaluate(s, vx.data, labels, 1000, 0, NULL, &acc);
    printf("    student from PyTorch's logits alone: test accuracy %.3f (untrained %.3f)\n", (double)acc, (double)acc_before);
    bad = bad || !(acc > 0.6f);
    dst_model_free(s);
    free(labels);
    dst_idx_free(&tx);
    dst_idx_free(&vx);
    dst_idx_free(&vy);
    dst_npy_free(&logits);
    return bad;
}

/* ---- one file format on every host: fixtures written on x86-64 ---- */

#include "host_fixture.h"

/* Word `word` (0-based) of the hex words after `key` in tests/fixtures/host_digest.txt */
static int t_host_digest(const char *key, int word, unsigned long *value)
{
    char path[512], line[1024], *p, *end;
    FILE *f;
    int found = 0;
    snprintf(path, sizeof path, "%s/host_digest.txt", t_fixture_dir);
    if (!(f = fopen(path, "r"))) { printf("    cannot open %s\n", path); return 0; }
    while (!found && fgets(line, sizeof line, f)) {
        size_t k = strlen(key);
        if (strncmp(line, key, k) != 0 || line[k] != ' ') continue;
        for (p = line + k; word >= 0; --word, p = end) {
            *value = strtoul(p, &end, 16);
            if (end == p) break;
        }
        found = word < 0;
    }
    fclose(f);
    if (!found) printf("    %s: no %s\n", path, key);
    return found;
}

static int t_host_same(const char *key, uint32_t got)
{
    unsigned long want = 0;
    if (!t_host_digest(key, 0, &want)) return 0;
    if (want != got) printf("    %s: %08lx here, %08lx on x86-64\n", key, (unsigned long)got, want);
    return want == got;
}

/* A checkpoint and a model written on x86-64 (tests/gen_host_fixtures.c) load
   here with the same parameters, Adam moments, running statistics, step and
   learning rate bit for bit, and write back the same bytes; the checkpoint
   resumes to the x86-64 model (below: where); the model predicts what it
   predicted there;
   and a checkpoint of values made here writes the bytes x86-64 writes for
   them (so x86-64 reads back the values this host saved). The predictions
   are the same bits on the scalar level where float arithmetic is IEEE single
   as on x86-64 (FLT_EVAL_METHOD 0: x86-64, AArch64, Windows); where
   expressions are evaluated in double (s390x, x87) and on the SIMD levels
   (other summation orders, FMA) they agree to 1e-5. */
static int test_file_host_independent(void)
{
    static float x[T_HOST_COUNT * T_HOST_INPUTS], out[T_HOST_PREDICT * T_HOST_CLASSES];
    static float want[T_HOST_PREDICT * T_HOST_CLASSES];
    static int labels[T_HOST_COUNT];
    unsigned char *ckpt = NULL, *file = NULL, *again = NULL;
    size_t ckpt_len, file_len, again_len, n, i;
    dst_model *c = NULL, *m = NULL;
    dst_optimizer_config opt;
    dst_fit_config fit;
    dst_error e;
    unsigned long v;
    int exact = T_FLT_EVAL_METHOD == 0, bad = 0, same;
    T_CHECK(t_read_whole("host.ckpt", &ckpt, &ckpt_len) && t_read_whole("host.dst", &file, &file_len));
    T_CHECK_MSG(dst_model_parse_checkpoint(&c, ckpt, ckpt_len, &e) == DST_OK, "%s", e.message);
    T_CHECK_MSG(dst_model_parse(&m, file, file_len, &e) == DST_OK, "%s", e.message);
    n = c->param_count;
    /* what the checkpoint holds */
    bad |= !t_host_same("ckpt.params", t_host_crc(c->params, n));
    bad |= !t_host_same("ckpt.state0", t_host_crc(c->state0, n));
    bad |= !t_host_same("ckpt.state1", t_host_crc(c->state1, n));
    bad |= !t_host_same("ckpt.buffers", t_host_crc(c->buffers, c->buffer_count));
    bad |= !t_host_same("ckpt.lr", t_host_bits(c->lr));
    bad |= !t_host_digest("ckpt.step", 0, &v) || (long)v != dst_model_step_count(c);
    bad |= !t_host_same("final.params", t_host_crc(dst_model_params(m), n));
    bad |= !t_host_same("final.buffers", t_host_crc(m->buffers, m->buffer_count));
    bad |= strcmp(dst_model_meta_string(m, "classes"), "a,b,c,d,e") != 0;
    T_CHECK(!bad);
    /* written back: the same bytes */
    T_CHECK(dst_model_write_checkpoint_memory(c, &again, &again_len, &e) == DST_OK);
    bad = again_len != ckpt_len || memcmp(again, ckpt, ckpt_len) != 0;
    dst_free(again);
    T_CHECK(dst_model_write_memory(m, &again, &again_len, &e) == DST_OK);
    bad |= again_len != file_len || memcmp(again, file, file_len) != 0;
    dst_free(again);
    T_CHECK_MSG(!bad, "the files written back differ from x86-64's");
    /* the predictions */
    t_host_data(x, labels);
    for (i = 0; i < T_HOST_PREDICT * T_HOST_CLASSES; ++i) {
        uint32_t b;
        T_CHECK(t_host_digest("predict", (int)i, &v));
        b = (uint32_t)v;
        memcpy(&want[i], &b, 4);
    }
    T_CHECK(dst_simd_force(DST_SIMD_SCALAR) == DST_OK);
    T_CHECK(dst_model_predict(m, x, T_HOST_PREDICT, out) == DST_OK);
    if (exact) T_CHECK_MSG(memcmp(out, want, sizeof out) == 0, "scalar predictions differ from x86-64's bits");
    else {
        printf("    FLT_EVAL_METHOD %d: scalar predictions compared within 1e-5, not bit for bit\n", (int)T_FLT_EVAL_METHOD);
        T_CHECK(t_close(out, want, T_HOST_PREDICT * T_HOST_CLASSES, 1e-5f, 1e-5f, "scalar predictions"));
    }
    dst_simd_force(DST_SIMD_AUTO);
    T_CHECK(dst_model_predict(m, x, T_HOST_PREDICT, out) == DST_OK);
    T_CHECK(t_close(out, want, T_HOST_PREDICT * T_HOST_CLASSES, 1e-5f, 1e-5f, dst_simd_name(dst_simd_active())));
    /* The checkpoint resumes (scalar) to the model x86-64 trained, bit for bit
       where the arithmetic is x86-64's: IEEE single expressions and the same
       expf (softmax). Elsewhere the bits part: Adam turns the last bit of a
       near-zero gradient into a step of the full learning rate (so no
       tolerance says anything); the checkpoint itself is proven above. */
    t_host_training(&opt, &fit);
    fit.resume = 1;
    T_CHECK(dst_simd_force(DST_SIMD_SCALAR) == DST_OK);
    T_CHECK_MSG(dst_model_fit(c, x, labels, T_HOST_COUNT, &fit) == DST_OK, "%s", dst_model_error(c));
    dst_simd_force(DST_SIMD_AUTO);
    T_CHECK(t_host_digest("final.step", 0, &v) && (long)v == dst_model_step_count(c));
    T_CHECK(t_host_digest("final.params", 0, &v));
    same = v == t_host_crc(c->params, n);
    T_CHECK(t_host_digest("expf", 0, &v));
    if (exact && v == t_host_expf_crc()) T_CHECK_MSG(same, "resumed: not the parameters x86-64 trained");
    else printf("    resumed: %sx86-64's bits (not required here: FLT_EVAL_METHOD %d, expf %s x86-64's)\n",
                same ? "" : "not ", (int)T_FLT_EVAL_METHOD, v == t_host_expf_crc() ? "as" : "unlike");
    /* values made here, written: x86-64's bytes for them */
    t_host_fill(c->params, n, 0);
    t_host_fill(c->state0, n, 1);
    t_host_fill(c->state1, n, 2);
    t_host_fill(c->buffers, c->buffer_count, 3);
    T_CHECK(dst_model_write_checkpoint_memory(c, &again, &again_len, &e) == DST_OK);
    bad = !t_host_same("written", dst_crc32(0, again, again_len));
    dst_free(again);
    dst_model_free(c);
    dst_model_free(m);
    free(ckpt);
    free(file);
    return bad;
}

/* The table path of dst_crc32 (4 KiB and more) against its bitwise path (short pieces), at odd lengths. */
static int test_file_crc32_long_buffers(void)
{
    static unsigned char b[100003];
    size_t i, n;
    for (i = 0; i < sizeof b; ++i) b[i] = (unsigned char)(t_rand() * 127 + 128);
    for (n = 4096; n <= sizeof b; n = n * 3 + 1) {
        uint32_t whole = dst_crc32(0, b, n), pieces = 0;
        for (i = 0; i < n; i += 1000) pieces = dst_crc32(pieces, b + i, n - i < 1000 ? n - i : 1000);
        T_CHECK_MSG(whole == pieces, "length %lu", (unsigned long)n);
    }
    T_CHECK(dst_crc32(0, "123456789", 9) == 0xCBF43926u);
    return 0;
}

static const t_case file_tests[] = {
    { "file_round_trip_every_layer_kind", test_file_round_trip_every_layer_kind },
    { "file_save_load_path", test_file_save_load_path },
    { "file_handmade_little_endian_bytes", test_file_handmade_little_endian_bytes },
    { "file_broken_files", test_file_broken_files },
    { "file_load_in_place", test_file_load_in_place },
    { "file_allocation_failures", test_file_allocation_failures },
    { "file_atomic_save", test_file_atomic_save },
    { "file_checkpoint_resume_bit_identical", test_file_checkpoint_resume_bit_identical },
    { "file_npy_round_trip_and_broken", test_file_npy_round_trip_and_broken },
    { "file_npy_path", test_file_npy_path },
    { "file_load_options", test_file_load_options },
    { "file_npy_save_atomic", test_file_npy_save_atomic },
    { "file_shape_checks_never_overflow", test_file_shape_checks_never_overflow },
    { "file_corpus_replay", test_file_corpus_replay },
    { "file_crc32_long_buffers", test_file_crc32_long_buffers },
    { "file_torch_export_matches_pytorch", test_file_torch_export_matches_pytorch },
    { "file_torch_import_matches_distill", test_file_torch_import_matches_distill },
    { "file_distill_from_numpy_logits", test_file_distill_from_numpy_logits },
    { "file_host_independent", test_file_host_independent },
};

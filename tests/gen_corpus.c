/* tests/gen_corpus.c - writes the fuzzing seed corpus tests/corpus/: small
   valid weight files, checkpoints and .npy arrays, plus hand-broken files,
   and tests/corpus/LIST (which also names the fuzz-* files: inputs the fuzzer
   found, committed by hand) ("name ok" or "name bad") that the replay test in
   tests/test_file.c reads. Regenerate with `make corpus`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define DISTILL_IMPLEMENTATION
#include "../distill.h"

static const char *dir;
static FILE *list;

static void put(const char *name, const unsigned char *b, size_t n, const char *outcome)
{
    char path[512];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!(f = fopen(path, "wb")) || fwrite(b, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fprintf(list, "%s %s\n", name, outcome);
}

static void put_model(const char *name, dst_model *m, int checkpoint, unsigned char **keep, size_t *keep_len)
{
    unsigned char *b;
    size_t n;
    dst_error e;
    if ((checkpoint ? dst_model_write_checkpoint_memory(m, &b, &n, &e) : dst_model_write_memory(m, &b, &n, &e)) != DST_OK) {
        fprintf(stderr, "%s: %s\n", name, e.message);
        exit(1);
    }
    put(name, b, n, "ok");
    if (keep) { *keep = b; *keep_len = n; } else dst_free(b);
}

static void fix_crc(unsigned char *b, size_t n)
{
    uint32_t c = dst_crc32(0, b + 32, n - 32), h;
    b[24] = (unsigned char)c; b[25] = (unsigned char)(c >> 8); b[26] = (unsigned char)(c >> 16); b[27] = (unsigned char)(c >> 24);
    h = dst_crc32(0, b, 28);
    b[28] = (unsigned char)h; b[29] = (unsigned char)(h >> 8); b[30] = (unsigned char)(h >> 16); b[31] = (unsigned char)(h >> 24);
}

static dst_model *make(const dst_layer_desc *L, int n, int c, int h, int w)
{
    dst_model_desc d = dst_model_desc_default();
    dst_model *m;
    d.input_c = c; d.input_h = h; d.input_w = w; d.layers = L; d.layer_count = n;
    if (dst_model_create(&m, &d, NULL) != DST_OK) exit(1);
    return m;
}

static void train(dst_model *m, dst_optimizer_kind k, int steps)
{
    static float x[4 * 1024];
    int y[4] = { 0, 1, 1, 0 }, i;
    dst_optimizer_config o = dst_optimizer_default(k);
    for (i = 0; i < 4 * 1024; ++i) x[i] = (float)((i * 37) % 17) / 17.0f - 0.5f;
    if (k == DST_SGD) o.momentum = 0.9f;
    dst_model_set_optimizer(m, &o);
    for (i = 0; i < steps; ++i) dst_model_train_step(m, x, y, 4, NULL, 0, 0, NULL);
}

/* the int8 model of m (calibrated on 16 made-up samples of size values),
   and two broken copies: a zero point of 256 in QUAN, a weight said float32 */
static void put_int8(dst_model *m, const char *name, size_t size)
{
    static float x[16 * 128];
    dst_model *q;
    unsigned char *b, *x2;
    size_t n, i;
    char broken[64];
    for (i = 0; i < 16 * size; ++i) x[i] = (float)((i * 29) % 13) / 13.0f - 0.4f;
    if (dst_model_quantize(m, x, 16, NULL, &q, NULL) != DST_OK) exit(1);
    put_model(name, q, 0, &b, &n);
    dst_model_free(q);
    x2 = (unsigned char *)malloc(n);
    for (i = 32; i + 4 <= n; ++i)
        if (memcmp(b + i, "QUAN", 4) == 0) break;
    memcpy(x2, b, n); x2[i + 16 + 12] = 0; x2[i + 16 + 13] = 1; fix_crc(x2, n); /* the input's zero point: 256 */
    snprintf(broken, sizeof broken, "broken-zero-%s", name);
    put(broken, x2, n, "bad");
    for (i = 32; i + 8 <= n; ++i)
        if (memcmp(b + i, "0.weight", 8) == 0) break;
    memcpy(x2, b, n); x2[i + 8] = 1; fix_crc(x2, n);                          /* int8 weight said float32 */
    snprintf(broken, sizeof broken, "broken-dtype-%s", name);
    put(broken, x2, n, "bad");
    free(x2);
    dst_free(b);
}

static int npy_write(void *user, const void *data, size_t len)
{
    return fwrite(data, 1, len, (FILE *)user) != len;
}

int main(int argc, char **argv)
{
    dst_layer_desc L[12];
    dst_model *m;
    unsigned char *b, *x;
    size_t n, i;
    char path[512];
    FILE *f;
    dir = argc > 1 ? argv[1] : "tests/corpus";
    snprintf(path, sizeof path, "%s/LIST", dir);
    if (!(list = fopen(path, "w"))) { fprintf(stderr, "cannot write %s\n", path); return 1; }

    /* an MLP with metadata */
    L[0] = dst_dense(8); L[1] = dst_relu(); L[2] = dst_dropout(0.2f); L[3] = dst_dense(3); L[4] = dst_softmax_layer();
    m = make(L, 5, 6, 1, 1);
    dst_model_meta_set_string(m, "classes", "cat,dog,bird");
    dst_model_meta_set_number(m, "temperature", 4);
    train(m, DST_ADAM, 2);
    put_model("mlp.dst", m, 0, &b, &n);
    put_model("mlp-adam.ckpt", m, 1, NULL, NULL);
    dst_model_free(m);

    /* hand-broken versions of it */
    x = (unsigned char *)malloc(n + 8);
    put("broken-truncated.dst", b, n - 5, "bad");
    memcpy(x, b, n); x[n / 2] ^= 0x10;
    put("broken-bitflip.dst", x, n, "bad");
    memcpy(x, b, n); x[0] = 'M';
    put("broken-magic.dst", x, n, "bad");
    memcpy(x, b, n); x[48 + 12] = 0xFF; x[48 + 13] = 0xFF; fix_crc(x, n); /* layer count */
    put("broken-layer-count.dst", x, n, "bad");
    memcpy(x, b, n); x[48 + 32] = 77; fix_crc(x, n);                      /* layer 0 kind */
    put("broken-layer-kind.dst", x, n, "bad");
    memcpy(x, b, n); x[48 + 32 + 4] = 0xFF; x[48 + 32 + 5] = 0xFF; x[48 + 32 + 6] = 0xFF; fix_crc(x, n); /* units */
    put("broken-units.dst", x, n, "bad");
    for (i = 32; i + 8 <= n; ++i) /* the first tensor's offset: point it at byte 33 */
        if (memcmp(x + i, "0.weight", 8) == 0) break;
    memcpy(x, b, n);
    if (i + 8 <= n) { memset(x + i + 8 + 2 + 16, 0, 8); x[i + 8 + 2 + 16] = 33; fix_crc(x, n); }
    put("broken-offset.dst", x, n, "bad");
    memcpy(x, b, n); memcpy(x + n, "trailer!", 8);
    put("broken-trailing.dst", x, n + 8, "bad");
    free(x);
    dst_free(b);

    /* convolutions, pooling, batch norm, dropout2d, flatten */
    L[0] = dst_conv2d(4, 3, 1, 1);
    L[1] = dst_batchnorm();
    L[2] = dst_leaky_relu(0.1f);
    L[3] = dst_maxpool2d(2, 0, 0);
    L[4] = dst_depthwise_conv2d(4, 3, 1, 1); L[4].dilation_h = 2; L[4].pad_h = 2;
    L[5] = dst_avgpool2d(3, 2, 1);
    L[6] = dst_dropout2d(0.1f);
    L[7] = dst_conv2d(6, 1, 1, 0); L[7].groups = 2; L[7].no_bias = 1;
    L[8] = dst_global_avgpool();
    L[9] = dst_flatten();
    L[10] = dst_dense(5); L[10].init = DST_INIT_XAVIER_UNIFORM;
    L[11] = dst_gelu();
    m = make(L, 12, 2, 8, 8);
    train(m, DST_SGD, 2);
    put_model("cnn.dst", m, 0, NULL, NULL);
    put_model("cnn-sgd.ckpt", m, 1, NULL, NULL);
    put_int8(m, "cnn-int8.dst", 2 * 8 * 8);
    dst_model_free(m);

    /* an int8 MLP (version 1.1: QUAN, int8 weights, int32 biases), and broken versions of it */
    L[0] = dst_dense(8); L[1] = dst_relu(); L[2] = dst_dense(3);
    m = make(L, 3, 6, 1, 1);
    train(m, DST_ADAM, 2);
    put_int8(m, "mlp-int8.dst", 6);
    dst_model_free(m);

    /* activations only: no parameters at all */
    L[0] = dst_tanh(); L[1] = dst_sigmoid();
    m = make(L, 2, 3, 1, 1);
    put_model("no-params.dst", m, 0, NULL, NULL);
    dst_model_free(m);

    /* .npy */
    {
        float v[6] = { 1, -2, 3.5f, 0, 1e-3f, 7 };
        int32_t k[4] = { 0, 1, 2, 9 };
        size_t s2[2] = { 2, 3 }, s1[1] = { 4 };
        snprintf(path, sizeof path, "%s/logits.npy", dir);
        f = fopen(path, "wb");
        if (!f || dst_npy_write(npy_write, f, DST_NPY_FLOAT32, v, 2, s2, NULL) != DST_OK || fclose(f)) return 1;
        fprintf(list, "logits.npy npy\n");
        snprintf(path, sizeof path, "%s/labels.npy", dir);
        f = fopen(path, "wb");
        if (!f || dst_npy_write(npy_write, f, DST_NPY_INT32, k, 1, s1, NULL) != DST_OK || fclose(f)) return 1;
        fprintf(list, "labels.npy npy\n");
    }
    /* inputs the fuzzer found, kept by hand (CRCs fixed so the loader meets the defect itself) */
    fprintf(list, "fuzz-oom-activations.dst bad\n"); /* conv padding: 2 KB file, 1.2 GB first forward */
    fprintf(list, "fuzz-conv-shape-overflow.dst bad\n"); /* window sizes near 2^32: the shape check's own products */
    fprintf(list, "fuzz-slow-unit.dst ok\n");            /* libFuzzer's slow-unit report: loads, and runs quickly */
    fprintf(list, "fuzz-conv-index-overflow.dst bad\n"); /* padding + stride near 2^31: a window's int indices */
    return fclose(list) != 0;
}

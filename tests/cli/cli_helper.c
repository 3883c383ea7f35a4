/* tests/cli/cli_helper.c - writes the inputs tests/cli/test_cli.sh feeds the distill
   command: a small learnable IDX data set (the class is the quadrant that
   holds a bright square), PNG pictures of it, and broken files.
     cli_helper data DIR [SIZE]   train/t10k IDX files (training set gzipped), classes.txt
     cli_helper png DIR           q0.png (as trained), q3_rgb.png (36x36 RGB), q1_light.png (dark on white)
     cli_helper broken DIR        IDX files with a truncated training image file
     cli_helper npy DIR FILE [K [TWICE]]  teacher logits for DIR's training set (600 x K float32,
                                  K = 4; TWICE = 1: the 600 rows twice, for the images again
                                  as an --unlabeled transfer set)
     cli_helper unlabeled DIR FILE KIND  DIR's training images as a .npy transfer set: KIND
                                  3d (600, H, W) float32 / 255, flat (600, H * W), int (int32
                                  pixels), raw (float32 0..255), shape (300, 2, H, W)
     cli_helper table DIR         table.bin: a model of 1x10 table rows (dense 10 -> 3), for predict to refuse
     cli_helper model DIR FILE    a model with the layer options a SPEC cannot give, for export-c
     cli_helper kinds DIR         k_KIND.bin: one small model per layer kind export-c writes
                                  (and per conv path: GEMM, depthwise, Winograd; fused ReLU)
     cli_helper kinds8 DIR        q8_KIND.bin: int8 models (dst_model_quantize) of the kinds export-c
                                  writes in integers, and float_layer.q8, one it refuses
     cli_helper game DIR          game.csv / game_test.csv (a table of three species; features
                                  10^5 apart in scale), the same rows as x.npy y.npy xt.npy yt.npy,
                                  game_logits.npy (teacher logits per training row), broken tables
     cli_helper gameidx DIR       the game's rows as float32 IDX files (features, not pixels)
     cli_helper folders DIR       RGB pictures by colour: train/ and test/, flat/, mixed/ (two sizes) */
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h> /* distill.h's gzip reader (dst_gunzip) goes through it */
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#define DISTILL_IMPLEMENTATION
#include "distill.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static unsigned long long seed = 42;
static int rnd(int n) /* [0, n) */
{
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return (int)((seed >> 33) % (unsigned long long)n);
}

/* A size x size picture: dark background, a bright square in quadrant q. */
static void draw(unsigned char *img, int size, int q)
{
    int half = size / 2, side = size / 3, r0, c0, r, c;
    for (r = 0; r < size * size; ++r) img[r] = (unsigned char)rnd(40);
    r0 = (q / 2) * half + rnd(half - side + 1);
    c0 = (q % 2) * half + rnd(half - side + 1);
    for (r = r0; r < r0 + side; ++r)
        for (c = c0; c < c0 + side; ++c) img[r * size + c] = (unsigned char)(200 + rnd(56));
}

static void be32(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16); p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

/* Writes bytes to path, gzipped (stb's deflate in a gzip frame) when gz. */
static int put(const char *dir, const char *name, const unsigned char *data, size_t n, int gz, size_t keep)
{
    char path[1024];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s%s", dir, name, gz ? ".gz" : "");
    if (!(f = fopen(path, "wb"))) { fprintf(stderr, "cannot write %s\n", path); return 0; }
    if (gz) {
        static const unsigned char head[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255 };
        int zlen;
        unsigned char *z = stbi_zlib_compress((unsigned char *)data, (int)n, &zlen, 8), tail[8];
        unsigned crc = dst_crc32(0, data, n), k;
        if (!z) return 0;
        fwrite(head, 1, 10, f);
        fwrite(z + 2, 1, (size_t)zlen - 6, f); /* raw deflate: no zlib header or adler32 */
        for (k = 0; k < 4; ++k) { tail[k] = (unsigned char)(crc >> (8 * k)); tail[4 + k] = (unsigned char)(n >> (8 * k)); }
        fwrite(tail, 1, 8, f);
        STBIW_FREE(z);
    } else {
        fwrite(data, 1, keep ? keep : n, f);
    }
    fclose(f);
    return 1;
}

static int write_set(const char *dir, const char *prefix, int count, int size, int gz, int truncate)
{
    size_t n = (size_t)count * (size_t)size * (size_t)size;
    unsigned char *img = (unsigned char *)malloc(16 + n), *lab = (unsigned char *)malloc(8 + (size_t)count);
    char name[64];
    int i, okay;
    if (!img || !lab) return 0;
    be32(img, 0x803); be32(img + 4, (unsigned)count); be32(img + 8, (unsigned)size); be32(img + 12, (unsigned)size);
    be32(lab, 0x801); be32(lab + 4, (unsigned)count);
    for (i = 0; i < count; ++i) {
        int q = i % 4;
        lab[8 + i] = (unsigned char)q;
        draw(img + 16 + (size_t)i * (size_t)size * (size_t)size, size, q);
    }
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    okay = put(dir, name, img, 16 + n, gz, truncate ? 16 + n / 2 : 0);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    okay = okay && put(dir, name, lab, 8 + (size_t)count, gz, 0);
    free(img);
    free(lab);
    return okay;
}

/* Saves a model of the given layers on a c x h x w input, its parameters
   and batch norm statistics moved off their defaults. */
static int save_model(const char *dir, const char *name, const dst_layer_desc *layers, int count, int c, int h, int w)
{
    dst_model_desc desc = dst_model_desc_default();
    dst_model *m;
    dst_error e;
    char path[1024];
    size_t i;
    int ok;
    desc.input_c = c; desc.input_h = h; desc.input_w = w;
    desc.layers = layers; desc.layer_count = count;
    if (dst_model_create(&m, &desc, &e) != DST_OK) { fprintf(stderr, "%s: %s\n", name, e.message); return 0; }
    for (i = 0; i < dst_model_buffer_count(m); ++i) dst_model_buffers(m)[i] = 0.5f + (float)rnd(100) / 100.0f;
    for (i = 0; i < dst_model_param_count(m); ++i) dst_model_params(m)[i] += (float)(rnd(100) - 50) / 500.0f;
    snprintf(path, sizeof path, "%s/%s.bin", dir, name);
    ok = dst_model_save(m, path, &e) == DST_OK;
    if (!ok) fprintf(stderr, "%s\n", e.message);
    dst_model_free(m);
    return ok;
}

/* One model per layer kind, each kind first (so the extreme inputs reach it
   unchanged), on odd sizes; the conv shapes take each path of the library. */
static int write_kinds(const char *dir)
{
    dst_layer_desc L[2];
    int ok = 1;
#define KIND(name, c, h, w, first, second)                                                  \
    L[0] = first;                                                                           \
    L[1] = second;                                                                          \
    ok = ok && save_model(dir, "k_" name, L, L[1].kind == DST_LAYER_FLATTEN ? 1 : 2, c, h, w)
    KIND("dense", 2, 7, 7, dst_dense(5), dst_flatten());
    KIND("dense_relu", 2, 7, 7, dst_dense(6), dst_relu());
    KIND("conv", 2, 7, 7, dst_conv2d(3, 3, 1, 1), dst_flatten());
    KIND("conv_relu", 2, 7, 7, dst_conv2d(3, 3, 1, 1), dst_relu());
    KIND("conv_s2", 3, 9, 8, dst_conv2d(4, 3, 2, 1), dst_flatten());
    KIND("dwconv", 3, 7, 9, dst_depthwise_conv2d(3, 3, 1, 1), dst_flatten());
    KIND("wino", 32, 32, 32, dst_conv2d(32, 3, 1, 1), dst_flatten());
    KIND("wino_relu", 32, 32, 32, dst_conv2d(32, 3, 1, 1), dst_relu());
    KIND("maxpool", 2, 7, 7, dst_maxpool2d(3, 1, 1), dst_flatten());
    KIND("maxpool2", 2, 16, 18, dst_maxpool2d(2, 2, 0), dst_flatten());
    KIND("avgpool", 2, 7, 7, dst_avgpool2d(3, 2, 1), dst_flatten());
    KIND("gap", 3, 5, 7, dst_global_avgpool(), dst_flatten());
    KIND("bn", 3, 5, 5, dst_batchnorm(), dst_flatten());
    KIND("flatten", 2, 3, 3, dst_flatten(), dst_flatten());
    KIND("dropout", 2, 3, 3, dst_dropout(0.5f), dst_flatten());
    KIND("dropout2d", 2, 3, 3, dst_dropout2d(0.5f), dst_flatten());
    KIND("relu", 2, 5, 5, dst_relu(), dst_flatten());
    KIND("leaky", 2, 5, 5, dst_leaky_relu(0.2f), dst_flatten());
    KIND("sigmoid", 2, 5, 5, dst_sigmoid(), dst_flatten());
    KIND("tanh", 2, 5, 5, dst_tanh(), dst_flatten());
    KIND("gelu", 2, 5, 5, dst_gelu(), dst_flatten());
    KIND("softmax", 11, 1, 1, dst_softmax_layer(), dst_flatten());
#undef KIND
    return ok;
}

/* Saves the int8 model (dst_model_quantize) of the given layers on a c x h
   x w input: parameters moved off their initial values, activations
   calibrated on 64 random samples in [-1.5, 1.5] (the export-c check then
   feeds values beyond that range too). dir/name.bin, or dir/name when the
   name has a dot. */
static int save_int8(const char *dir, const char *name, const dst_layer_desc *layers, int count, int c, int h, int w)
{
    dst_model_desc desc = dst_model_desc_default();
    dst_model *m, *q;
    dst_error e;
    char path[1024];
    size_t i, n = (size_t)64 * (size_t)c * (size_t)h * (size_t)w;
    float *calib = (float *)malloc(n * sizeof(float));
    int ok;
    desc.input_c = c; desc.input_h = h; desc.input_w = w;
    desc.layers = layers; desc.layer_count = count;
    if (!calib) return 0;
    if (dst_model_create(&m, &desc, &e) != DST_OK) { fprintf(stderr, "%s: %s\n", name, e.message); return 0; }
    for (i = 0; i < dst_model_param_count(m); ++i) dst_model_params(m)[i] += (float)(rnd(100) - 50) / 500.0f;
    for (i = 0; i < n; ++i) calib[i] = (float)rnd(3001) / 1000.0f - 1.5f;
    ok = dst_model_quantize(m, calib, 64, NULL, &q, &e) == DST_OK;
    snprintf(path, sizeof path, strchr(name, '.') ? "%s/%s" : "%s/%s.bin", dir, name);
    ok = ok && dst_model_save(q, path, &e) == DST_OK;
    if (!ok) fprintf(stderr, "%s: %s\n", name, e.message);
    if (ok) dst_model_free(q);
    dst_model_free(m);
    free(calib);
    return ok;
}

/* int8 models of every layer kind export-c writes for them, alone and in a
   small CNN, one with every activation that runs in float between a
   dequantize and a quantize (q8_float_layers), one with a batch norm that
   does not fold, which runs in float too (q8_float_bn), and one that
   export-c refuses (float_layer.q8: a dense layer whose rows are too long
   for int32 sums, which runs in float with float weights) */
static int write_kinds8(const char *dir)
{
    dst_layer_desc L[12];
    int ok = 1;
#define KIND8(name, c, h, w, first, second)                                                 \
    L[0] = first;                                                                           \
    L[1] = second;                                                                          \
    ok = ok && save_int8(dir, "q8_" name, L, L[1].kind == DST_LAYER_FLATTEN ? 1 : 2, c, h, w)
    KIND8("dense", 2, 7, 7, dst_dense(5), dst_flatten());
    KIND8("dense_relu", 2, 7, 7, dst_dense(6), dst_relu());
    KIND8("conv", 2, 7, 7, dst_conv2d(3, 3, 1, 1), dst_flatten());
    KIND8("conv_relu", 2, 7, 7, dst_conv2d(3, 3, 1, 1), dst_relu());
    KIND8("conv_s2", 3, 9, 8, dst_conv2d(4, 3, 2, 1), dst_flatten());
    KIND8("dwconv", 3, 7, 9, dst_depthwise_conv2d(3, 3, 1, 1), dst_flatten());
    KIND8("maxpool", 2, 7, 7, dst_maxpool2d(3, 1, 1), dst_flatten());
    KIND8("maxpool2", 2, 16, 18, dst_maxpool2d(2, 2, 0), dst_flatten());
    KIND8("avgpool", 2, 7, 7, dst_avgpool2d(3, 2, 1), dst_flatten());
    KIND8("gap", 3, 5, 7, dst_global_avgpool(), dst_flatten());
    KIND8("dropout", 2, 3, 3, dst_dropout(0.5f), dst_flatten());
    KIND8("relu", 2, 5, 5, dst_relu(), dst_flatten());
#undef KIND8
    /* no bias; groups and dilation; a 5x3 kernel, odd strides and padding */
    L[0] = dst_dense(7); L[0].no_bias = 1; L[1] = dst_relu(); L[2] = dst_dense(3);
    ok = ok && save_int8(dir, "q8_dense_nobias", L, 3, 5, 1, 1);
    L[0] = dst_conv2d(6, 3, 1, 2); L[0].groups = 2; L[0].dilation_h = L[0].dilation_w = 2; L[0].no_bias = 1;
    L[1] = dst_relu();
    L[2] = dst_conv2d(5, 3, 2, 1); L[2].kernel_h = 5; L[2].stride_w = 1; L[2].pad_w = 0;
    ok = ok && save_int8(dir, "q8_conv_groups", L, 3, 4, 9, 8);
    /* a small CNN of every int8 kind */
    L[0] = dst_conv2d(4, 3, 1, 1); L[1] = dst_relu(); L[2] = dst_maxpool2d(2, 2, 0);
    L[3] = dst_depthwise_conv2d(4, 3, 1, 1); L[4] = dst_relu(); L[5] = dst_dropout2d(0.2f);
    L[6] = dst_conv2d(6, 1, 1, 0); L[7] = dst_avgpool2d(2, 1, 0); L[8] = dst_global_avgpool();
    L[9] = dst_flatten(); L[10] = dst_dropout(0.1f); L[11] = dst_dense(4);
    ok = ok && save_int8(dir, "q8_cnn", L, 12, 1, 12, 12);
    /* the activations other than ReLU and softmax run in float inside the int8 model */
    L[0] = dst_dense(5); L[1] = dst_sigmoid(); L[2] = dst_dense(6); L[3] = dst_tanh(); L[4] = dst_dense(6);
    L[5] = dst_leaky_relu(0.1f); L[6] = dst_dense(6); L[7] = dst_gelu(); L[8] = dst_dense(3); L[9] = dst_softmax_layer();
    ok = ok && save_int8(dir, "q8_float_layers", L, 10, 4, 1, 1);
    /* a batch norm after pooling does not fold: it runs in float too */
    L[0] = dst_maxpool2d(2, 2, 0); L[1] = dst_batchnorm(); L[2] = dst_flatten(); L[3] = dst_dense(3);
    ok = ok && save_int8(dir, "q8_float_bn", L, 4, 2, 4, 4);
    /* rows of 32,769 inputs: more than an int32 sum holds at the extremes (DST__Q8_MAX_K) */
    L[0] = dst_dense(2);
    ok = ok && save_int8(dir, "float_layer.q8", L, 1, 1, 1, 32769);
    return ok;
}

static int write_png(const char *dir, const char *name, int size, int q, int rgb, int light)
{
    unsigned char img[48 * 48], px[48 * 48 * 3];
    char path[1024];
    int i, k;
    draw(img, size, q);
    for (i = 0; i < size * size; ++i) {
        unsigned char v = light ? (unsigned char)(255 - img[i]) : img[i];
        for (k = 0; k < 3; ++k) px[i * 3 + k] = (unsigned char)(k == 0 || !rgb ? v : v * 9 / 10);
    }
    if (!rgb)
        for (i = 0; i < size * size; ++i) px[i] = px[i * 3];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stbi_write_png(path, size, size, rgb ? 3 : 1, px, size * (rgb ? 3 : 1)) != 0;
}

/* A game's table: speed (around 0.01), armor (around 50) and score (in the
   thousands) decide the species; the scales differ by 10^5, so it only
   trains well standardised. rows.csv-style files, .npy arrays of the same
   rows, teacher logits per row, and broken tables. */
static void game_row(float *f, int *k)
{
    static const int order[3] = { 2, 1, 0 }; /* species by armor band: orc, elf, dwarf */
    f[0] = (float)(rnd(1000) + 1) / 50000.0f;
    f[1] = (float)(rnd(100));
    f[2] = 1000.0f + (float)rnd(5000);
    *k = order[f[1] < 33 ? 0 : f[1] < 66 ? 1 : 2];
    if (f[0] > 0.018f && *k == 0) *k = 1; /* a second feature matters a little */
}

static int write_game(const char *dir)
{
    static const char *names[3] = { "dwarf", "elf", "orc" };
    char path[1024];
    float *x = (float *)malloc(500 * 3 * sizeof(float)), *logits = (float *)malloc(400 * 3 * sizeof(float));
    int32_t y[500];
    int i, k, ok = 1;
    size_t shape[2];
    FILE *f, *t;
    dst_error e;
    if (!x || !logits) return 0;
    for (i = 0; i < 500; ++i) { game_row(x + 3 * i, &k); y[i] = k; }
    snprintf(path, sizeof path, "%s/game.csv", dir);
    f = fopen(path, "w");
    snprintf(path, sizeof path, "%s/game_test.csv", dir);
    t = fopen(path, "w");
    if (!f || !t) return 0;
    fprintf(f, "# a game's creatures\r\nspeed,armor,species,score\r\n");
    fprintf(t, "speed,armor,species,score\n");
    for (i = 0; i < 500; ++i)
        fprintf(i < 400 ? f : t, "%.6g,%g,\"%s\",%g%s", (double)x[3 * i], (double)x[3 * i + 1], names[y[i]],
                (double)x[3 * i + 2], i < 400 ? "\r\n" : "\n");
    fclose(f);
    fclose(t);
    shape[0] = 400; shape[1] = 3;
    snprintf(path, sizeof path, "%s/x.npy", dir);
    ok = ok && dst_npy_save(path, DST_NPY_FLOAT32, x, 2, shape, &e) == DST_OK;
    snprintf(path, sizeof path, "%s/y.npy", dir);
    ok = ok && dst_npy_save(path, DST_NPY_INT32, y, 1, shape, &e) == DST_OK;
    shape[0] = 100;
    snprintf(path, sizeof path, "%s/xt.npy", dir);
    ok = ok && dst_npy_save(path, DST_NPY_FLOAT32, x + 1200, 2, shape, &e) == DST_OK;
    snprintf(path, sizeof path, "%s/yt.npy", dir);
    ok = ok && dst_npy_save(path, DST_NPY_INT32, y + 400, 1, shape, &e) == DST_OK;
    for (i = 0; i < 400 * 3; ++i) logits[i] = (float)rnd(100) / 100.0f; /* a teacher that knows the answer */
    for (i = 0; i < 400; ++i) logits[i * 3 + y[i]] += 3.0f;
    shape[0] = 400; shape[1] = 3;
    snprintf(path, sizeof path, "%s/game_logits.npy", dir);
    ok = ok && dst_npy_save(path, DST_NPY_FLOAT32, logits, 2, shape, &e) == DST_OK;
    free(x);
    free(logits);
    snprintf(path, sizeof path, "%s/ragged.csv", dir);
    if (!(f = fopen(path, "w"))) return 0;
    fputs("a,b,label,c\n1,2,x,3\n4,5,y\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/missing.csv", dir);
    if (!(f = fopen(path, "w"))) return 0;
    fputs("a,b,label,c\n1,2,x,3\n4,,y,6\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/words.csv", dir);
    if (!(f = fopen(path, "w"))) return 0;
    fputs("a,b,label,c\n1,2,x,3\n4,five,y,6\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/troll.csv", dir);
    if (!(f = fopen(path, "w"))) return 0;
    fputs("speed,armor,species,score\n0.01,50,elf,1000\n0.01,50,troll,1000\n", f);
    fclose(f);
    return ok;
}

/* The game's rows as float32 IDX (N x 1 x 3) with byte labels: the issue's
   converted table, which must be standardised, never divided by 255. */
static int write_game_idx(const char *dir)
{
    unsigned char img[16 + 500 * 12], lab[8 + 500];
    const char *prefix[2] = { "train", "t10k" };
    char name[64];
    int part, i, j, k, n, ok = 1;
    for (part = 0; part < 2; ++part) {
        n = part ? 100 : 400;
        be32(img, 0x0D03); be32(img + 4, (unsigned)n); be32(img + 8, 1); be32(img + 12, 3);
        be32(lab, 0x801); be32(lab + 4, (unsigned)n);
        for (i = 0; i < n; ++i) {
            float f[3];
            game_row(f, &k);
            lab[8 + i] = (unsigned char)k;
            for (j = 0; j < 3; ++j) {
                unsigned u;
                memcpy(&u, &f[j], 4);
                be32(img + 16 + (size_t)(i * 3 + j) * 4, u);
            }
        }
        snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix[part]);
        ok = ok && put(dir, name, img, 16 + (size_t)n * 12, 0, 0);
        snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix[part]);
        ok = ok && put(dir, name, lab, 8 + (size_t)n, 0, 0);
    }
    return ok;
}

/* An RGB picture: noise, and a square of the class's colour (red, green, blue). */
static int write_colour(const char *path, int size, int k)
{
    unsigned char px[48 * 48 * 3];
    int i, r0 = rnd(size - 4), c0 = rnd(size - 4), r, c;
    for (i = 0; i < size * size * 3; ++i) px[i] = (unsigned char)(60 + rnd(60));
    for (r = r0; r < r0 + 4; ++r)
        for (c = c0; c < c0 + 4; ++c) px[(r * size + c) * 3 + k] = 250;
    return stbi_write_png(path, size, size, 3, px, size * 3) != 0;
}

/* DIR/train/<colour>/ and DIR/test/<colour>/ (12x12 RGB), DIR/flat/<colour>/ (no split),
   DIR/mixed/<colour>/ (two sizes). */
static int write_folders(const char *dir)
{
    static const char *names[3] = { "blue", "green", "red" };
    static const int channel[3] = { 2, 1, 0 };
    static const char *parts[4] = { "train", "test", "flat", "mixed" };
    static const int count[4] = { 40, 12, 20, 2 };
    char path[1024];
    int p, k, i;
    for (p = 0; p < 4; ++p) {
        snprintf(path, sizeof path, "%s/%s", dir, parts[p]);
        mkdir(path, 0755);
        for (k = 0; k < 3; ++k) {
            snprintf(path, sizeof path, "%s/%s/%s", dir, parts[p], names[k]);
            mkdir(path, 0755);
            for (i = 0; i < count[p]; ++i) {
                snprintf(path, sizeof path, "%s/%s/%s/%03d.png", dir, parts[p], names[k], i);
                if (!write_colour(path, p == 3 && i == 1 ? 16 : 12, channel[k])) return 0;
            }
        }
    }
    return 1;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 2 ? argv[2] : NULL;
    int cols = argc > 4 ? atoi(argv[4]) : 4;
    int size = argc > 3 && strcmp(argv[1], "npy") != 0 && strcmp(argv[1], "model") != 0 &&
               strcmp(argv[1], "unlabeled") != 0 ? atoi(argv[3]) : 12, ok = 0;
    if (!dir || size < 6 || size > 48) {
        fprintf(stderr, "usage: cli_helper data|png|broken DIR [SIZE] | npy DIR FILE [K] | model DIR FILE | kinds|kinds8|table DIR\n");
        return 2;
    }
    if (strcmp(argv[1], "data") == 0) {
        FILE *f;
        char path[1024];
        ok = write_set(dir, "train", 600, size, 1, 0) && write_set(dir, "t10k", 200, size, 0, 0);
        snprintf(path, sizeof path, "%s/classes.txt", dir);
        if (ok && (f = fopen(path, "w")) != NULL) {
            fputs("top-left\ntop-right\nbottom-left\nbottom-right\n", f);
            fclose(f);
        }
    } else if (strcmp(argv[1], "png") == 0) {
        ok = write_png(dir, "q0.png", 12, 0, 0, 0) && write_png(dir, "q3_rgb.png", 36, 3, 1, 0) &&
             write_png(dir, "q1_light.png", 24, 1, 0, 1);
    } else if (strcmp(argv[1], "npy") == 0 && argc > 3) {
        /* a "teacher" for the data set in DIR: logits that favour the label, for offline_npy.c */
        dst_idx lab;
        dst_error e;
        char path[1024];
        size_t shape[2], i;
        float *logits;
        snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte.gz", dir);
        if (dst_idx_load(path, &lab, &e) != DST_OK) { fprintf(stderr, "%s\n", e.message); return 1; }
        if (cols < 4 || cols > 100) return 2;
        shape[0] = lab.count * (argc > 5 && atoi(argv[5]) ? 2 : 1);
        shape[1] = (size_t)cols;
        if (!(logits = (float *)malloc(shape[0] * (size_t)cols * sizeof(float)))) return 1;
        for (i = 0; i < shape[0] * (size_t)cols; ++i) logits[i] = (float)rnd(100) / 100.0f;
        for (i = 0; i < shape[0]; ++i) logits[i * (size_t)cols + (size_t)lab.data[i % lab.count]] += 2.5f;
        ok = dst_npy_save(argv[3], DST_NPY_FLOAT32, logits, 2, shape, &e) == DST_OK;
        if (!ok) fprintf(stderr, "%s\n", e.message);
        free(logits);
        dst_idx_free(&lab);
    } else if (strcmp(argv[1], "unlabeled") == 0 && argc > 4) {
        /* the training images as a transfer set for --unlabeled, good and bad */
        dst_idx img;
        dst_error e;
        char path[1024];
        size_t shape[4], i;
        const char *kind = argv[4];
        int ndim = 3, as_int = strcmp(kind, "int") == 0;
        int32_t *pix;
        snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
        if (dst_idx_load(path, &img, &e) != DST_OK || img.ndim != 3) { fprintf(stderr, "%s\n", e.message); return 1; }
        shape[0] = (size_t)img.dims[0]; shape[1] = (size_t)img.dims[1]; shape[2] = (size_t)img.dims[2];
        if (strcmp(kind, "flat") == 0) { ndim = 2; shape[1] *= shape[2]; }
        if (strcmp(kind, "shape") == 0) { /* the same floats as (300, 2, H, W) */
            ndim = 4; shape[0] /= 2; shape[3] = shape[2]; shape[2] = shape[1]; shape[1] = 2;
        }
        if (strcmp(kind, "raw") != 0 && !as_int)
            for (i = 0; i < img.count; ++i) img.data[i] /= 255.0f;
        if (as_int) {
            if (!(pix = (int32_t *)malloc(img.count * sizeof(int32_t)))) return 1;
            for (i = 0; i < img.count; ++i) pix[i] = (int32_t)img.data[i];
            ok = dst_npy_save(argv[3], DST_NPY_INT32, pix, ndim, shape, &e) == DST_OK;
            free(pix);
        } else {
            ok = dst_npy_save(argv[3], DST_NPY_FLOAT32, img.data, ndim, shape, &e) == DST_OK;
        }
        if (!ok) fprintf(stderr, "%s\n", e.message);
        dst_idx_free(&img);
    } else if (strcmp(argv[1], "model") == 0 && argc > 3) {
        /* what a SPEC cannot say, for export-c: dilation, groups, no bias, 3x5 kernels,
           asymmetric stride and padding, a softmax layer; random batch norm statistics */
        dst_layer_desc L[9];
        dst_model_desc desc = dst_model_desc_default();
        dst_model *m;
        dst_error e;
        size_t i;
        L[0] = dst_conv2d(4, 3, 1, 2); L[0].dilation_h = L[0].dilation_w = 2; L[0].kernel_w = 5; L[0].pad_w = 4;
        L[1] = dst_batchnorm();
        L[2] = dst_relu();
        L[3] = dst_conv2d(6, 3, 2, 1); L[3].groups = 2; L[3].no_bias = 1; L[3].stride_w = 1;
        L[4] = dst_avgpool2d(2, 2, 1);
        L[5] = dst_maxpool2d(3, 1, 1);
        L[6] = dst_dense(7); L[6].no_bias = 1;
        L[7] = dst_dense(4);
        L[8] = dst_softmax_layer();
        desc.input_c = 1; desc.input_h = 12; desc.input_w = 12;
        desc.layers = L; desc.layer_count = 9;
        if (dst_model_create(&m, &desc, &e) != DST_OK) { fprintf(stderr, "%s\n", e.message); return 1; }
        for (i = 0; i < dst_model_buffer_count(m); ++i) dst_model_buffers(m)[i] = 0.5f + (float)rnd(100) / 100.0f;
        for (i = 0; i < dst_model_param_count(m); ++i) dst_model_params(m)[i] += (float)(rnd(100) - 50) / 500.0f;
        ok = dst_model_save(m, argv[3], &e) == DST_OK;
        if (!ok) fprintf(stderr, "%s\n", e.message);
        dst_model_free(m);
    } else if (strcmp(argv[1], "table") == 0) {
        dst_layer_desc L[1];
        L[0] = dst_dense(3);
        ok = save_model(dir, "table", L, 1, 1, 1, 10);
    } else if (strcmp(argv[1], "kinds") == 0) {
        ok = write_kinds(dir);
    } else if (strcmp(argv[1], "kinds8") == 0) {
        ok = write_kinds8(dir);
    } else if (strcmp(argv[1], "game") == 0) {
        ok = write_game(dir);
    } else if (strcmp(argv[1], "gameidx") == 0) {
        ok = write_game_idx(dir);
    } else if (strcmp(argv[1], "folders") == 0) {
        ok = write_folders(dir);
    } else if (strcmp(argv[1], "broken") == 0) {
        ok = write_set(dir, "train", 40, size, 0, 1) && write_set(dir, "t10k", 20, size, 0, 0);
    }
    return ok ? 0 : 1;
}

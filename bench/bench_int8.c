/* bench/bench_int8.c - int8 models (dst_model_quantize) against their float
   models on Fashion-MNIST: test accuracy, batch-1 latency, batch-128
   throughput, file size. One thread.

       cc -std=c99 -O2 -I. -I/usr/include/stb bench/bench_int8.c -o build/bench_int8 -lm
       build/bench_int8 [--data DIR] [--runs N] [--epochs E] [--c1 FILE]   (make bench-int8)

   What is measured:
   - two students trained here on the labels (Adam, lr 1e-3, batch 128,
     --epochs E, 5 by default, seed 1): the MLP 784-128-10 and the CNN C2
     (conv3x3(1->8)+ReLU, maxpool2, conv3x3(8->16)+ReLU, maxpool2, flatten,
     dense(400->10)); with --c1, also the teacher C1 read from FILE (as
     bench/kd_transfer.c trains it);
   - each quantized with min/max calibration, percentile calibration (99.99
     and 99.9) and MSE calibration, on 1,000 training images taken at three
     offsets (0, 20,000, 40,000: three calibration sets), accuracy on the
     10,000 test images;
   - batch-1 latency: median of --runs dst_model_predict calls on one test
     image (after 200 warm-up calls), microseconds, float and int8;
   - batch-128 throughput: images per second of dst_model_predict on 128
     images at a time over the test set, best of 3;
   - file size: dst_model_write_memory's bytes, float and int8.
   bench/bench_int8_torch.py measures PyTorch's own int8 models the same way. */
#define _POSIX_C_SOURCE 199309L
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
#define DISTILL_IMPLEMENTATION
#include "distill.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench_int8: %s: %s\n", what, msg);
    exit(1);
}

static dst_model *train(const char *name, const dst_layer_desc *l, int n, int c, int hw, const dst_mnist *d, int epochs)
{
    dst_model_desc desc = dst_model_desc_default();
    dst_optimizer_config opt = dst_optimizer_default(DST_ADAM);
    dst_fit_config fit = dst_fit_default();
    dst_model *m;
    dst_error e;
    double t0 = dst_seconds();
    desc.input_c = c; desc.input_h = hw; desc.input_w = hw; desc.layers = l; desc.layer_count = n;
    if (dst_model_create(&m, &desc, &e) != DST_OK) die(name, e.message);
    opt.lr = 1e-3f;
    dst_model_set_optimizer(m, &opt);
    fit.epochs = epochs;
    fit.batch_size = 128;
    if (dst_model_fit(m, d->train_x, d->train_y, d->train_count, &fit) != DST_OK) die(name, dst_model_error(m));
    fprintf(stderr, "%s trained in %.1f s\n", name, dst_seconds() - t0);
    return m;
}

static float accuracy(dst_model *m, const dst_mnist *d)
{
    float acc;
    if (dst_model_evaluate(m, d->test_x, d->test_y, d->test_count, 256, NULL, &acc) != DST_OK) die("evaluate", dst_model_error(m));
    return acc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double latency_us(dst_model *m, const float *x, int runs)
{
    double *t = (double *)malloc(sizeof(double) * (size_t)runs), med;
    float out[16];
    int i;
    if (!t) die("latency", "out of memory");
    for (i = 0; i < 200; ++i) dst_model_predict(m, x, 1, out);
    for (i = 0; i < runs; ++i) {
        double t0 = dst_seconds();
        dst_model_predict(m, x, 1, out);
        t[i] = dst_seconds() - t0;
    }
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    med = t[runs / 2] * 1e6;
    free(t);
    return med;
}

static double throughput(dst_model *m, const dst_mnist *d)
{
    static float out[128 * 16];
    double best = 0;
    int rep;
    size_t i, in = dst_model_input_size(m);
    dst_model_reserve(m, 128);
    for (rep = 0; rep < 3; ++rep) {
        double t0 = dst_seconds(), s;
        for (i = 0; i + 128 <= d->test_count; i += 128) dst_model_predict(m, d->test_x + i * in, 128, out);
        s = (double)(d->test_count / 128 * 128) / (dst_seconds() - t0);
        if (s > best) best = s;
    }
    return best;
}

static size_t file_bytes(const dst_model *m)
{
    unsigned char *b;
    size_t n;
    dst_error e;
    if (dst_model_write_memory(m, &b, &n, &e) != DST_OK) die("write", e.message);
    dst_free(b);
    return n;
}

static void report(const char *name, dst_model *m, const dst_mnist *d, int runs)
{
    static const struct { dst_calibration cal; float pct; const char *what; } cals[4] = {
        { DST_CALIBRATE_MINMAX, 0, "min/max" }, { DST_CALIBRATE_PERCENTILE, 99.99f, "percentile 99.99" },
        { DST_CALIBRATE_PERCENTILE, 99.9f, "percentile 99.9" }, { DST_CALIBRATE_MSE, 0, "MSE" } };
    float acc_f = accuracy(m, d);
    size_t in = dst_model_input_size(m);
    dst_model *q = NULL;
    int c, s;
    printf("\n### %s\n\n", name);
    printf("| calibration (1,000 images) | offset 0 | offset 20,000 | offset 40,000 | mean | vs float %.2f%% |\n", 100.0 * acc_f);
    printf("|---|---:|---:|---:|---:|---:|\n");
    for (c = 0; c < 4; ++c) {
        double sum = 0;
        printf("| %s |", cals[c].what);
        for (s = 0; s < 3; ++s) {
            dst_quantize_options o = dst_quantize_default();
            dst_model *qs;
            dst_error e;
            float acc;
            o.calibration = cals[c].cal;
            if (cals[c].pct > 0) o.percentile = cals[c].pct;
            if (dst_model_quantize(m, d->train_x + (size_t)s * 20000 * in, 1000, &o, &qs, &e) != DST_OK) die("quantize", e.message);
            acc = accuracy(qs, d);
            sum += acc;
            printf(" %.2f%% |", 100.0 * acc);
            if (c == 0 && s == 0) q = qs; /* min/max, offset 0: the one timed below */
            else dst_model_free(qs);
        }
        printf(" %.2f%% | %+.2f pp |\n", 100.0 * sum / 3, 100.0 * (sum / 3 - acc_f));
    }
    printf("\n| %s | float | int8 (min/max) | int8 gain |\n|---|---:|---:|---:|\n", name);
    {
        double lf = latency_us(m, d->test_x, runs), lq = latency_us(q, d->test_x, runs);
        double tf = throughput(m, d), tq = throughput(q, d);
        size_t ff = file_bytes(m), fq = file_bytes(q);
        printf("| batch-1 latency, us (median of %d) | %.2f | %.2f | %.2fx |\n", runs, lf, lq, lf / lq);
        printf("| batch-128 throughput, images/s | %.0f | %.0f | %.2fx |\n", tf, tq, tq / tf);
        printf("| weight file, bytes | %lu | %lu | %.2fx |\n", (unsigned long)ff, (unsigned long)fq, (double)ff / (double)fq);
    }
    dst_model_free(q);
}

int main(int argc, char **argv)
{
    const char *dir = "/usr/share/datasets/fashion-mnist", *c1 = NULL;
    int runs = 2000, epochs = 5, i;
    dst_mnist d;
    dst_error e;
    dst_layer_desc mlp[3], c2[8];
    dst_model *m;
    for (i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc) epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--c1") && i + 1 < argc) c1 = argv[++i];
        else die("usage", "bench_int8 [--data DIR] [--runs N] [--epochs E] [--c1 FILE]");
    }
    if (runs < 1 || epochs < 1) die("usage", "--runs and --epochs must be positive");
    if (dst_mnist_load(dir, &d, &e) != DST_OK) die(dir, e.message);
    printf("int8 against float, Fashion-MNIST, SIMD level %s (%s), one thread, %d epochs\n",
           dst_simd_name(dst_simd_active()),
           dst_simd_active() == DST_SIMD_AVX512 ? (dst__cpu_avx512_int8() == 2 ? "VNNI" : "no VNNI") : "-", epochs);
    mlp[0] = dst_dense(128); mlp[1] = dst_relu(); mlp[2] = dst_dense(10);
    m = train("MLP 784-128-10", mlp, 3, 784, 1, &d, epochs);
    report("MLP 784-128-10", m, &d, runs);
    dst_model_free(m);
    c2[0] = dst_conv2d(8, 3, 1, 0); c2[1] = dst_relu(); c2[2] = dst_maxpool2d(2, 0, 0);
    c2[3] = dst_conv2d(16, 3, 1, 0); c2[4] = dst_relu(); c2[5] = dst_maxpool2d(2, 0, 0);
    c2[6] = dst_flatten(); c2[7] = dst_dense(10);
    m = train("C2", c2, 8, 1, 28, &d, epochs);
    report("C2 (conv8, conv16)", m, &d, runs);
    dst_model_free(m);
    if (c1) {
        char name[256];
        if (dst_model_load(&m, c1, &e) != DST_OK) die(c1, e.message);
        snprintf(name, sizeof name, "C1 teacher (read from %s)", c1);
        report(name, m, &d, runs);
        dst_model_free(m);
    }
    dst_mnist_free(&d);
    return 0;
}

/* bench/bench_cnn.c - convolutional network speed, one thread, against
   PyTorch (bench/bench_cnn_torch.py prints the same lines for PyTorch).
   Not a test: numbers only. Build and run with `make bench-cnn`, or:
     cc -std=c99 -O2 -I. -I/usr/include/stb bench/bench_cnn.c -o build/bench_cnn -lm
     ./build/bench_cnn [repeats]
   Measures:
     - training throughput (samples/s, batch 128, Adam, cross-entropy) of
       the C1 teacher and the C2 student on Fashion-MNIST images;
     - C1's second convolution (32->64, 3x3, 26x26 input, batch 128) alone:
       forward, and forward + backward (dx, dW, db), in ms.
   Each figure is the best of `repeats` timed runs (default 5), after a
   warm-up, because the machine may be shared. */
#define _POSIX_C_SOURCE 199309L /* clock_gettime */
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
#define DISTILL_IMPLEMENTATION
#include "distill.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define BATCH 128
#define DATA_DIR "/usr/share/datasets/fashion-mnist"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* C1: conv3x3(1->32)+ReLU, conv3x3(32->64)+ReLU, maxpool2, dropout .25,
   flatten, dense(9216->128)+ReLU, dropout .5, dense(128->10) */
static int c1_layers(dst_layer_desc *L)
{
    int n = 0;
    L[n++] = dst_conv2d(32, 3, 1, 0); L[n++] = dst_relu();
    L[n++] = dst_conv2d(64, 3, 1, 0); L[n++] = dst_relu();
    L[n++] = dst_maxpool2d(2, 0, 0); L[n++] = dst_dropout(0.25f);
    L[n++] = dst_flatten(); L[n++] = dst_dense(128); L[n++] = dst_relu();
    L[n++] = dst_dropout(0.5f); L[n++] = dst_dense(10);
    return n;
}

/* C2: conv3x3(1->8)+ReLU, maxpool2, conv3x3(8->16)+ReLU, maxpool2, flatten, dense(400->10) */
static int c2_layers(dst_layer_desc *L)
{
    int n = 0;
    L[n++] = dst_conv2d(8, 3, 1, 0); L[n++] = dst_relu(); L[n++] = dst_maxpool2d(2, 0, 0);
    L[n++] = dst_conv2d(16, 3, 1, 0); L[n++] = dst_relu(); L[n++] = dst_maxpool2d(2, 0, 0);
    L[n++] = dst_flatten(); L[n++] = dst_dense(10);
    return n;
}

/* Samples per second of train steps over `steps` batches; best of repeats. */
static double train_throughput(const char *name, int (*layers)(dst_layer_desc *), const dst_mnist *d,
                               int steps, int repeats)
{
    dst_layer_desc L[16];
    dst_model_desc desc = dst_model_desc_default();
    dst_optimizer_config opt = dst_optimizer_default(DST_ADAM);
    dst_model *m;
    dst_error e;
    double best = 0;
    int r, s;
    size_t nb = d->train_count / BATCH;
    desc.input_c = 1; desc.input_h = 28; desc.input_w = 28;
    desc.layers = L; desc.layer_count = layers(L);
    if (dst_model_create(&m, &desc, &e) != DST_OK) { fprintf(stderr, "%s: %s\n", name, e.message); exit(1); }
    dst_model_set_optimizer(m, &opt);
    for (s = 0; s < 3; ++s) /* warm-up: workspace, caches */
        dst_model_train_step(m, d->train_x + (size_t)s * BATCH * 784, d->train_y + (size_t)s * BATCH, BATCH,
                             NULL, 0, 0, NULL);
    for (r = 0; r < repeats; ++r) {
        double t0 = now(), t;
        for (s = 0; s < steps; ++s) {
            size_t b = (size_t)(r * steps + s) % nb;
            if (dst_model_train_step(m, d->train_x + b * BATCH * 784, d->train_y + b * BATCH, BATCH,
                                     NULL, 0, 0, NULL) != DST_OK) {
                fprintf(stderr, "%s: %s\n", name, dst_model_error(m));
                exit(1);
            }
        }
        t = (double)steps * BATCH / (now() - t0);
        if (t > best) best = t;
    }
    dst_model_free(m);
    return best;
}

static void conv_alone(int repeats, double *fwd_ms, double *fwdbwd_ms)
{
    dst_conv2d_params p = dst_conv2d_params_make(32, 26, 26, 64, 3, 1, 0);
    size_t xn = (size_t)BATCH * 32 * 26 * 26, yn = (size_t)BATCH * 64 * 24 * 24, wn = 64 * 32 * 9;
    float *x = (float *)malloc(xn * 4), *y = (float *)malloc(yn * 4), *dy = (float *)malloc(yn * 4);
    float *dx = (float *)malloc(xn * 4), *w = (float *)malloc(wn * 4), *dw = (float *)malloc(wn * 4);
    float b[64], db[64];
    float *work = (float *)malloc(dst_conv2d_work_floats(&p) * 4 + 64);
    dst_rng rng;
    size_t i;
    int r;
    dst_rng_seed(&rng, 7);
    for (i = 0; i < xn; ++i) x[i] = dst_rng_normal(&rng);
    for (i = 0; i < yn; ++i) dy[i] = dst_rng_normal(&rng);
    for (i = 0; i < wn; ++i) w[i] = 0.05f * dst_rng_normal(&rng);
    for (i = 0; i < 64; ++i) b[i] = 0.1f;
    *fwd_ms = *fwdbwd_ms = 1e30;
    dst_conv2d_forward(&p, BATCH, x, w, b, y, work); /* warm-up */
    for (r = 0; r < repeats; ++r) {
        double t0 = now(), t1, t2;
        dst_conv2d_forward(&p, BATCH, x, w, b, y, work);
        t1 = now();
        dst_conv2d_backward(&p, BATCH, x, w, dy, dx, dw, db, work);
        t2 = now();
        if ((t1 - t0) * 1e3 < *fwd_ms) *fwd_ms = (t1 - t0) * 1e3;
        if ((t2 - t0) * 1e3 < *fwdbwd_ms) *fwdbwd_ms = (t2 - t0) * 1e3;
    }
    free(x); free(y); free(dy); free(dx); free(w); free(dw); free(work);
}

int main(int argc, char **argv)
{
    int repeats = argc > 1 ? atoi(argv[1]) : 5;
    dst_mnist d;
    dst_error e;
    double f, fb;
    if (repeats < 1) repeats = 1;
    if (dst_mnist_load(DATA_DIR, &d, &e) != DST_OK) { fprintf(stderr, "%s\n", e.message); return 1; }
    printf("distill.h %s, SIMD %s, best of %d\n", dst_version(), dst_simd_name(dst_simd_active()), repeats);
    printf("C1 train samples/s     %10.0f\n", train_throughput("C1", c1_layers, &d, 10, repeats));
    printf("C2 train samples/s     %10.0f\n", train_throughput("C2", c2_layers, &d, 40, repeats));
    conv_alone(repeats, &f, &fb);
    printf("conv 32->64 fwd ms     %10.1f\n", f);
    printf("conv 32->64 fwd+bwd ms %10.1f\n", fb);
    dst_mnist_free(&d);
    return 0;
}

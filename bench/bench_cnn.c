/* bench/bench_cnn.c - convolutional network speed, distill.h against PyTorch
   (bench/bench_cnn_torch.py), one thread each. Not a test: numbers only.

   Built as a user who copied the header builds it (plain -O2, no -march: the
   SIMD path is chosen at run time):
       cc -std=c99 -O2 -I. -I/usr/include/stb bench/bench_cnn.c -o build/bench_cnn -lm
   `make bench-cnn` runs the PyTorch script first and passes its results:
       OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/bench_cnn_torch.py > build/bench_cnn_torch.txt
       build/bench_cnn --torch build/bench_cnn_torch.txt
   and prints a Markdown table (docs/BENCHMARKS.md, "## Convolutional networks").

   What is measured (the same on both sides):
   - training throughput, samples/s, of the step a user writes (forward,
     cross-entropy, backward, Adam lr 1e-3) at batch 128 on Fashion-MNIST
     images (28x28x1), for
       C1 teacher: conv3x3(1->32)+ReLU, conv3x3(32->64)+ReLU, maxpool2,
                   dropout .25, flatten, dense(9216->128)+ReLU, dropout .5, dense(128->10)
       C2 student: conv3x3(1->8)+ReLU, maxpool2, conv3x3(8->16)+ReLU, maxpool2,
                   flatten, dense(400->10);
   - C1's second convolution alone (32->64, 3x3, 26x26 input, batch 128):
     forward, and forward + backward (dx, dW, db), in ms, through the public
     kernels dst_conv2d_forward / dst_conv2d_backward.
   Each figure is the best of --reps timed runs after a warm-up (the machine
   may be shared). --clock cpu times with processor time instead of wall
   time (both sides take the option). Options: --torch FILE --reps R --clock wall|cpu */
#define _POSIX_C_SOURCE 199309L
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
#define DISTILL_IMPLEMENTATION
#include "distill.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 128
#define DATA_DIR "/usr/share/datasets/fashion-mnist"

static int use_cpu_clock = 0;

static double now(void)
{
    struct timespec ts;
    clock_gettime(use_cpu_clock ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bench_cnn: %s: %s\n", what, why);
    exit(1);
}

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

static int c2_layers(dst_layer_desc *L)
{
    int n = 0;
    L[n++] = dst_conv2d(8, 3, 1, 0); L[n++] = dst_relu(); L[n++] = dst_maxpool2d(2, 0, 0);
    L[n++] = dst_conv2d(16, 3, 1, 0); L[n++] = dst_relu(); L[n++] = dst_maxpool2d(2, 0, 0);
    L[n++] = dst_flatten(); L[n++] = dst_dense(10);
    return n;
}

/* Samples per second of train steps over `steps` batches; best of reps. */
static double train_throughput(const char *name, int (*layers)(dst_layer_desc *), const dst_mnist *d,
                               int steps, int reps)
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
    if (dst_model_create(&m, &desc, &e) != DST_OK) die(name, e.message);
    dst_model_set_optimizer(m, &opt);
    for (s = 0; s < 3; ++s) /* warm-up: workspace, caches */
        dst_model_train_step(m, d->train_x + (size_t)s * BATCH * 784, d->train_y + (size_t)s * BATCH, BATCH,
                             NULL, 0, 0, NULL);
    for (r = 0; r < reps; ++r) {
        double t0 = now(), t;
        for (s = 0; s < steps; ++s) {
            size_t b = (size_t)(r * steps + s) % nb;
            if (dst_model_train_step(m, d->train_x + b * BATCH * 784, d->train_y + b * BATCH, BATCH,
                                     NULL, 0, 0, NULL) != DST_OK)
                die(name, dst_model_error(m));
        }
        t = (double)steps * BATCH / (now() - t0);
        if (t > best) best = t;
    }
    dst_model_free(m);
    return best;
}

static void conv_alone(int reps, double *fwd_ms, double *fwdbwd_ms)
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
    if (!x || !y || !dy || !dx || !w || !dw || !work) die("conv", "out of memory");
    dst_rng_seed(&rng, 7);
    for (i = 0; i < xn; ++i) x[i] = dst_rng_normal(&rng);
    for (i = 0; i < yn; ++i) dy[i] = dst_rng_normal(&rng);
    for (i = 0; i < wn; ++i) w[i] = 0.05f * dst_rng_normal(&rng);
    for (i = 0; i < 64; ++i) b[i] = 0.1f;
    *fwd_ms = *fwdbwd_ms = 1e30;
    dst_conv2d_forward(&p, BATCH, x, w, b, y, work); /* warm-up */
    for (r = 0; r < reps; ++r) {
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

/* The PyTorch script's lines: "NAME VALUE" for the four names below. */
static const char *names[4] = { "c1_train", "c2_train", "conv_fwd", "conv_fwdbwd" };

static void read_torch(const char *path, double *v, char *version, size_t version_len)
{
    FILE *f = fopen(path, "r");
    char line[256], name[64];
    double x;
    int i;
    if (!f) die(path, "cannot open");
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "version %63s", name) == 1) { snprintf(version, version_len, "%s", name); continue; }
        if (sscanf(line, "%63s %lf", name, &x) != 2) continue;
        for (i = 0; i < 4; ++i) if (!strcmp(name, names[i])) v[i] = x;
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    const char *torch_path = NULL;
    static const char *what[4] = { "C1 teacher training, samples/s", "C2 student training, samples/s",
                                   "conv 32->64 3x3 on 26x26, forward, ms", "conv 32->64 3x3 on 26x26, forward + backward, ms" };
    double ours[4], torch[4] = { 0, 0, 0, 0 };
    char tver[64] = "?";
    int reps = 5, i;
    dst_mnist d;
    dst_error e;
    for (i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--torch") && i + 1 < argc) torch_path = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--clock") && i + 1 < argc) use_cpu_clock = !strcmp(argv[++i], "cpu");
        else die("usage", "bench_cnn [--torch FILE] [--reps R] [--clock wall|cpu]");
    }
    if (reps < 1) reps = 1;
    if (torch_path) read_torch(torch_path, torch, tver, sizeof tver);
    if (dst_mnist_load(DATA_DIR, &d, &e) != DST_OK) die(DATA_DIR, e.message);
    ours[0] = train_throughput("C1", c1_layers, &d, 10, reps);
    ours[1] = train_throughput("C2", c2_layers, &d, 40, reps);
    conv_alone(reps, &ours[2], &ours[3]);
    printf("distill.h %s (SIMD %s) and PyTorch %s, one thread each, batch %d, best of %d, %s time\n\n",
           dst_version(), dst_simd_name(dst_simd_active()), tver, BATCH, reps, use_cpu_clock ? "CPU" : "wall");
    printf("| measure | distill.h | PyTorch | distill.h speed-up |\n|---|---|---|---|\n");
    for (i = 0; i < 4; ++i) {
        char tv[32] = "-", rv[32] = "-";
        if (torch[i] > 0) {
            snprintf(tv, sizeof tv, i < 2 ? "%.0f" : "%.1f", torch[i]);
            snprintf(rv, sizeof rv, "%.2fx", i < 2 ? ours[i] / torch[i] : torch[i] / ours[i]);
        }
        printf(i < 2 ? "| %s | %.0f | %s | %s |\n" : "| %s | %.1f | %s | %s |\n", what[i], ours[i], tv, rv);
    }
    dst_mnist_free(&d);
    return 0;
}

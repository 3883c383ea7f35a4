/* bench/bench_mlp.c - MLP training throughput and batch-1 inference latency,
   distill.h against PyTorch (bench/bench_mlp_torch.py), one thread each.

   Built as a user who copied the header builds it (plain -O2, no -march: the
   SIMD path is chosen at run time):
       cc -std=c99 -O2 -I. -I/usr/include/stb bench/bench_mlp.c -o build/bench_mlp -lm
   `make bench-mlp` runs the PyTorch script first and passes its results:
       OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/bench_mlp_torch.py > build/bench_mlp_torch.txt
       build/bench_mlp --torch build/bench_mlp_torch.txt

   What is measured (the same on both sides):
   - training: samples/s of the loop a user writes (forward, cross-entropy,
     backward, optimizer step) at batch 128 on synthetic data (32 batches of
     uniform [0,1) pixels and random labels, cycled), for 784-1200-1200-10 and
     784-128-10 ReLU MLPs, SGD (lr 0.01, momentum 0.9) and Adam (lr 1e-3),
     and Adam distilling from cached teacher logits (the KD loss at T = 4,
     alpha = 0.9: PyTorch's kl_div + cross_entropy, written out the same way).
     Best of --reps timing windows of about --seconds each, after a warm-up.
     "GEMM us" is the time the step's matrix products take on their own
     (the same dst_sgemm calls, timed apart) and "other us" the rest of the
     step: activations, bias, loss, optimizer, checks.
   - latency: one 784-128-10 forward of one image through dst_model_predict,
     median of --latency-runs calls, microseconds.
   --clock cpu times with processor time instead of wall time (on a loaded
   machine; both sides take the option).
   Options: --torch FILE  --seconds S  --reps R  --latency-runs N  --clock wall|cpu  --quick
   (make bench-mlp BENCH_MLP_ARGS=--quick passes options to both sides). */
#define _POSIX_C_SOURCE 199309L
#define STB_IMAGE_IMPLEMENTATION /* the header's .gz reader; unused here but built as a user builds it */
#include <stb_image.h>
#define DISTILL_IMPLEMENTATION
#include "distill.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 128
#define POOL 32

static int use_cpu_clock = 0;

/* wall time, or with --clock cpu this process's processor time: on a loaded
   machine the time other processes hold the core then does not count */
static double now(void)
{
    struct timespec ts;
    clock_gettime(use_cpu_clock ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "bench_mlp: %s: %s\n", what, detail);
    exit(1);
}

typedef struct { const char *name; int sizes[4]; int count; } net;
static const net nets[] = {
    { "784-1200-1200-10", { 784, 1200, 1200, 10 }, 4 },
    { "784-128-10", { 784, 128, 10, 0 }, 3 },
};
#define OPTS 3 /* SGD, Adam, Adam distilling */
static const char *opt_names[OPTS] = { "sgd", "adam", "adam-kd" };
static const char *opt_labels[OPTS] = { "SGD m=0.9", "Adam", "Adam, KD T=4 alpha=0.9" };

/* PyTorch's figures, read from the script's output ("train NAME OPT V", "latency NAME V") */
static double torch_train[2][OPTS], torch_latency = 0;

static void read_torch(const char *path)
{
    char line[256], name[64], kind[16], opt[16];
    double v;
    int i, o;
    FILE *f = fopen(path, "r");
    if (!f) die(path, "cannot open the PyTorch results");
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%15s %63s %15s %lf", kind, name, opt, &v) == 4 && !strcmp(kind, "train")) {
            for (i = 0; i < 2; ++i)
                for (o = 0; o < OPTS; ++o)
                    if (!strcmp(name, nets[i].name) && !strcmp(opt, opt_names[o])) torch_train[i][o] = v;
        } else if (sscanf(line, "%15s %63s %lf", kind, name, &v) == 3 && !strcmp(kind, "latency")) {
            torch_latency = v;
        }
    }
    fclose(f);
}

static dst_model *make_model(const net *n)
{
    dst_layer_desc L[5];
    dst_model_desc d = dst_model_desc_default();
    dst_model *m;
    dst_error e;
    int i, k = 0;
    for (i = 1; i < n->count; ++i) {
        L[k++] = dst_dense(n->sizes[i]);
        if (i + 1 < n->count) L[k++] = dst_relu();
    }
    d.input_c = n->sizes[0];
    d.layers = L;
    d.layer_count = k;
    if (dst_model_create(&m, &d, &e) != DST_OK) die("dst_model_create", e.message);
    return m;
}

/* Runs fn(i) for about `seconds` per window, reps windows after a warm-up;
   returns the best seconds per call. */
typedef struct { dst_model *m; const float *x; const int *y; const float *t; const net *n; float *a, *b, *c; } ctx;
typedef void (*step_fn)(ctx *c, int i);

static double best_per_call(step_fn fn, ctx *c, double seconds, int reps)
{
    double t0 = now(), best = 1e30, per;
    int i, n = 0, r, steps;
    while (n < 3 || now() - t0 < 0.3) fn(c, n++);
    per = (now() - t0) / n;
    steps = (int)(seconds / per);
    if (steps < 3) steps = 3;
    for (r = 0; r < reps; ++r) {
        t0 = now();
        for (i = 0; i < steps; ++i) fn(c, i);
        per = (now() - t0) / steps;
        if (per < best) best = per;
    }
    return best;
}

static void train_step(ctx *c, int i)
{
    int k = i % POOL;
    size_t in = (size_t)c->n->sizes[0];
    const float *t = c->t ? c->t + (size_t)k * BATCH * 10 : NULL; /* cached teacher logits */
    if (dst_model_train_step(c->m, c->x + (size_t)k * BATCH * in, c->y + (size_t)k * BATCH, BATCH,
                             t, 4.0f, 0.9f, NULL) != DST_OK)
        die("dst_model_train_step", dst_model_error(c->m));
}

/* The matrix products of one training step, as the dense layers call them:
   forward Y = X W^T, weight gradient dW = dY^T X, input gradient dX = dY W
   (not for the first layer). Operands are scratch: only time counts. */
static void step_gemms(ctx *c, int i)
{
    const net *n = c->n;
    int l;
    (void)i;
    for (l = 1; l < n->count; ++l) {
        int in = n->sizes[l - 1], out = n->sizes[l];
        dst_sgemm(0, 1, BATCH, out, in, 1.0f, c->a, in, c->b, in, 0.0f, c->c, out);
        dst_sgemm(1, 0, out, in, BATCH, 1.0f, c->a, out, c->b, in, 0.0f, c->c, in);
        if (l > 1) dst_sgemm(0, 0, BATCH, in, out, 1.0f, c->a, out, c->b, in, 0.0f, c->c, in);
    }
}

static double latency_us(int runs)
{
    dst_model *m = make_model(&nets[1]);
    float x[784], out[10];
    double *t = (double *)malloc(sizeof(double) * (size_t)runs), med;
    int i, j;
    dst_rng rng;
    if (!t) die("latency", "out of memory");
    dst_rng_seed(&rng, 7);
    for (i = 0; i < 784; ++i) x[i] = dst_rng_uniform(&rng);
    for (i = 0; i < 200; ++i)
        if (dst_model_predict(m, x, 1, out) != DST_OK) die("dst_model_predict", dst_model_error(m));
    for (i = 0; i < runs; ++i) { /* wall time; the median ignores the runs another process interrupted */
        double t0 = dst_seconds();
        dst_model_predict(m, x, 1, out);
        t[i] = dst_seconds() - t0;
    }
    for (i = 1; i < runs; ++i) { /* insertion sort is fine for a one-off */
        double v = t[i];
        for (j = i - 1; j >= 0 && t[j] > v; --j) t[j + 1] = t[j];
        t[j + 1] = v;
    }
    med = t[runs / 2] * 1e6;
    free(t);
    dst_model_free(m);
    return med;
}

int main(int argc, char **argv)
{
    double seconds = 1.0, sps[2][OPTS], gemm_us[2], step_us[2][OPTS], lat;
    int reps = 5, lat_runs = 20000, i, o;
    const char *torch_path = NULL;
    size_t big = 1200 * 1200;
    float *xs, *ts, *a, *b, *cc;
    int *ys;
    dst_rng rng;
    for (i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--torch") && i + 1 < argc) torch_path = argv[++i];
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--latency-runs") && i + 1 < argc) lat_runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quick")) { seconds = 0.2; reps = 2; lat_runs = 2000; }
        else if (!strcmp(argv[i], "--clock") && i + 1 < argc && (!strcmp(argv[i + 1], "cpu") || !strcmp(argv[i + 1], "wall")))
            use_cpu_clock = !strcmp(argv[++i], "cpu");
        else die("usage", "bench_mlp [--torch FILE] [--seconds S] [--reps R] [--latency-runs N] [--clock wall|cpu] [--quick]");
    }
    if (seconds <= 0 || reps < 1 || lat_runs < 1) die("usage", "--seconds, --reps and --latency-runs must be positive");
    if (torch_path) read_torch(torch_path);

    xs = (float *)malloc(sizeof(float) * POOL * BATCH * 784);
    ys = (int *)malloc(sizeof(int) * POOL * BATCH);
    ts = (float *)malloc(sizeof(float) * POOL * BATCH * 10);
    a = (float *)malloc(sizeof(float) * big);
    b = (float *)malloc(sizeof(float) * big);
    cc = (float *)malloc(sizeof(float) * big);
    if (!xs || !ys || !ts || !a || !b || !cc) die("setup", "out of memory");
    dst_rng_seed(&rng, 1);
    for (i = 0; i < POOL * BATCH * 784; ++i) xs[i] = dst_rng_uniform(&rng);
    for (i = 0; i < POOL * BATCH; ++i) ys[i] = (int)dst_rng_below(&rng, 10);
    for (i = 0; i < POOL * BATCH * 10; ++i) ts[i] = 3.0f * dst_rng_normal(&rng);
    for (i = 0; i < (int)big; ++i) a[i] = b[i] = cc[i] = 0.01f * (float)(i % 97);

    printf("distill.h %s, SIMD path %s, one thread, batch %d; best of %d windows of %.1f s, %s time\n",
           dst_version(), dst_simd_name(dst_simd_active()), BATCH, reps, seconds,
           use_cpu_clock ? "processor" : "wall");
    fflush(stdout);
    for (i = 0; i < 2; ++i) {
        ctx c;
        memset(&c, 0, sizeof c);
        c.n = &nets[i]; c.x = xs; c.y = ys; c.a = a; c.b = b; c.c = cc;
        for (o = 0; o < OPTS; ++o) {
            dst_optimizer_config oc = dst_optimizer_default(o == 0 ? DST_SGD : DST_ADAM);
            if (o == 0) oc.momentum = 0.9f;
            c.t = o == 2 ? ts : NULL;
            c.m = make_model(&nets[i]);
            if (dst_model_set_optimizer(c.m, &oc) != DST_OK) die("dst_model_set_optimizer", dst_model_error(c.m));
            step_us[i][o] = best_per_call(train_step, &c, seconds, reps) * 1e6;
            sps[i][o] = BATCH / (step_us[i][o] * 1e-6);
            dst_model_free(c.m);
            fprintf(stderr, "  %s %s: %.0f samples/s\n", nets[i].name, opt_names[o], sps[i][o]);
        }
        gemm_us[i] = best_per_call(step_gemms, &c, seconds, reps) * 1e6;
    }
    lat = latency_us(lat_runs);

    printf("\n| model | optimizer | distill.h samples/s | PyTorch samples/s | ratio | step us | GEMM us | other us |\n");
    printf("|---|---|---:|---:|---:|---:|---:|---:|\n");
    for (i = 0; i < 2; ++i)
        for (o = 0; o < OPTS; ++o) {
            char tv[32] = "-", rv[32] = "-";
            if (torch_train[i][o] > 0) {
                sprintf(tv, "%.0f", torch_train[i][o]);
                sprintf(rv, "%.2fx", sps[i][o] / torch_train[i][o]);
            }
            printf("| %s | %s | %.0f | %s | %s | %.0f | %.0f | %.0f |\n", nets[i].name,
                   opt_labels[o], sps[i][o], tv, rv, step_us[i][o], gemm_us[i],
                   step_us[i][o] - gemm_us[i]);
        }
    printf("\n| batch-1 latency, 784-128-10 | distill.h us | PyTorch us | speed-up |\n");
    printf("|---|---:|---:|---:|\n");
    if (torch_latency > 0)
        printf("| median of %d | %.2f | %.2f | %.1fx |\n", lat_runs, lat, torch_latency, torch_latency / lat);
    else
        printf("| median of %d | %.2f | - | - |\n", lat_runs, lat);
    free(xs); free(ys); free(ts); free(a); free(b); free(cc);
    return 0;
}

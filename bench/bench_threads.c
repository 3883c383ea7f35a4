/* bench/bench_threads.c - thread scaling: distill.h on 1 and 2 threads side
   by side with PyTorch (bench/bench_threads_torch.py) and OpenBLAS, in the
   same run. Not a test: numbers only.

   Built as a user who copied the header builds it (plain -O2, no -march: the
   SIMD path is chosen at run time), with OpenBLAS for the GEMM part:
       cc -std=c99 -O2 -I. -I/usr/include/stb bench/bench_threads.c -o build/bench_threads -lopenblas -lm -lpthread
   `make bench-threads` runs the PyTorch script first and passes its results:
       /usr/bin/python3 bench/bench_threads_torch.py > build/bench_threads_torch.txt
       build/bench_threads --torch build/bench_threads_torch.txt
   (make bench-threads BENCH_THREADS_ARGS="--quick" passes options to both
   sides) and prints one Markdown table per part.

   What is measured, at each thread count of --threads-list (default 1,2):
   1. training throughput, samples/s, of the step a user writes (forward,
      cross-entropy, backward, Adam lr 1e-3) at batch 128 on Fashion-MNIST
      training images, cycled, for
        MLP-1200: 784-1200-1200-10, ReLU       MLP-128: 784-128-10, ReLU
        C1 teacher and C2 student: the networks of bench/bench_cnn.c.
      distill.h: a pool of n threads (dst_pool_start) given to the model with
      dst_model_set_threads; at n = 1 no pool and no set_threads call, the
      library's default. PyTorch: torch.set_num_threads(n) and
      OPENBLAS_NUM_THREADS=n (its matrix products run in OpenBLAS).
      Best of --reps windows of about --seconds each, after a warm-up.
   2. batch-1 inference latency, microseconds per dst_model_predict of one
      image (PyTorch: model(x) under no_grad), MLP-128 and C2, median of
      --latency-runs calls, wall time. Threads are set as in 1: small work
      stays on the calling thread, so 2 threads should not be slower.
   3. GFLOP/s (2mnk per call) of dst_sgemm_threaded against OpenBLAS's
      cblas_sgemm (openblas_set_num_threads(n)), square 1024 and 2048
      (C = A B) and a dense layer's forward at batch 128, 128 x 1200 x 784
      (C = X W^T). All distill.h figures are taken before OpenBLAS's, whose
      worker threads spin a while after a call.
   Ratios: "2t/1t" is the figure at the later thread count over the first
   (throughput: higher is better; latency: time, so about 1 is the goal);
   "distill.h/PyTorch" (or /OpenBLAS) compares the two at the same count.
   --clock cpu times parts 1 and 3 with processor time, which sums over all
   of the process's threads: it shows the cost of threads, not their gain;
   keep wall time (the default) to see scaling, on an otherwise idle machine.
   Options: --torch FILE --threads-list 1,2 --seconds S --reps R
            --latency-runs N --clock wall|cpu --quick */
#define _POSIX_C_SOURCE 199309L
#define STB_IMAGE_IMPLEMENTATION /* the header's .gz reader for the IDX files */
#include <stb_image.h>
#define DISTILL_IMPLEMENTATION
#include "distill.h"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 128
#define DATA_DIR "/usr/share/datasets/fashion-mnist"
#define MAX_COUNTS 8

static int use_cpu_clock = 0;

static double now(void)
{
    struct timespec ts;
    clock_gettime(use_cpu_clock ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bench_threads: %s: %s\n", what, why);
    exit(1);
}

/* ---- the networks ---------------------------------------------------------- */

static int mlp1200_layers(dst_layer_desc *L)
{
    int n = 0;
    L[n++] = dst_dense(1200); L[n++] = dst_relu();
    L[n++] = dst_dense(1200); L[n++] = dst_relu();
    L[n++] = dst_dense(10);
    return n;
}

static int mlp128_layers(dst_layer_desc *L)
{
    int n = 0;
    L[n++] = dst_dense(128); L[n++] = dst_relu(); L[n++] = dst_dense(10);
    return n;
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

/* name: the key both sides print; image: 1x28x28 input, else 784 features */
typedef struct net { const char *name, *label; int (*layers)(dst_layer_desc *); int image; } net;
#define NETS 4
static const net nets[NETS] = {
    { "mlp1200", "MLP-1200 (784-1200-1200-10)", mlp1200_layers, 0 },
    { "mlp128", "MLP-128 (784-128-10)", mlp128_layers, 0 },
    { "c1", "C1 teacher", c1_layers, 1 },
    { "c2", "C2 student", c2_layers, 1 },
};
#define LAT_NETS 2
static const int lat_nets[LAT_NETS] = { 1, 3 }; /* MLP-128, C2 */

/* A model of net n computing on *threads (NULL: no dst_model_set_threads call). */
static dst_model *make_model(const net *n, const dst_threads *threads)
{
    dst_layer_desc L[16];
    dst_model_desc desc = dst_model_desc_default();
    dst_optimizer_config opt = dst_optimizer_default(DST_ADAM);
    dst_model *m;
    dst_error e;
    if (n->image) { desc.input_c = 1; desc.input_h = 28; desc.input_w = 28; }
    else desc.input_c = 784;
    desc.layers = L;
    desc.layer_count = n->layers(L);
    if (dst_model_create(&m, &desc, &e) != DST_OK) die(n->name, e.message);
    opt.lr = 1e-3f;
    if (dst_model_set_optimizer(m, &opt) != DST_OK) die(n->name, dst_model_error(m));
    if (threads && dst_model_set_threads(m, threads) != DST_OK) die(n->name, dst_model_error(m));
    return m;
}

/* ---- 1. training throughput ---------------------------------------------- */

/* Samples/s of train steps on consecutive batches of the training set: a
   warm-up of at least 2 steps (and 0.2 s) sizes windows of about `seconds`;
   the best of reps windows. */
static double train_throughput(const net *n, const dst_threads *threads, const dst_mnist *d,
                               double seconds, int reps)
{
    dst_model *m = make_model(n, threads);
    size_t nb = d->train_count / BATCH, b = 0;
    double t0 = now(), per, best = 0;
    int steps = 0, r, s;
#define STEP()                                                                                   \
    do {                                                                                         \
        if (dst_model_train_step(m, d->train_x + b * BATCH * 784, d->train_y + b * BATCH, BATCH, \
                                 NULL, 0, 0, NULL) != DST_OK)                                    \
            die(n->name, dst_model_error(m));                                                    \
        b = (b + 1) % nb;                                                                        \
    } while (0)
    while (steps < 2 || now() - t0 < 0.2) { STEP(); ++steps; }
    per = (now() - t0) / steps;
    steps = (int)(seconds / per);
    if (steps < 2) steps = 2;
    for (r = 0; r < reps; ++r) {
        double t1 = now(), v;
        for (s = 0; s < steps; ++s) STEP();
        v = (double)steps * BATCH / (now() - t1);
        if (v > best) best = v;
    }
#undef STEP
    dst_model_free(m);
    return best;
}

/* ---- 2. batch-1 latency -------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median microseconds of one dst_model_predict of one image (wall time:
   the median leaves out the calls another process interrupted). */
static double latency_us(const net *n, const dst_threads *threads, const dst_mnist *d, int runs)
{
    dst_model *m = make_model(n, threads);
    double *t = (double *)malloc(sizeof(double) * (size_t)runs), med;
    float out[10];
    int i;
    if (!t) die("latency", "out of memory");
    for (i = 0; i < 200; ++i)
        if (dst_model_predict(m, d->train_x + (size_t)(i % 64) * 784, 1, out) != DST_OK)
            die(n->name, dst_model_error(m));
    for (i = 0; i < runs; ++i) {
        const float *x = d->train_x + (size_t)(i % 64) * 784;
        double t0 = dst_seconds();
        dst_model_predict(m, x, 1, out);
        t[i] = dst_seconds() - t0;
    }
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    med = t[runs / 2] * 1e6;
    free(t);
    dst_model_free(m);
    return med;
}

/* ---- 3. GEMM --------------------------------------------------------------- */

typedef struct shape { const char *what; int tb, m, n, k; } shape;
#define SHAPES 3
static const shape shapes[SHAPES] = {
    { "square 1024, C = A B", 0, 1024, 1024, 1024 },
    { "square 2048, C = A B", 0, 2048, 2048, 2048 },
    { "dense forward 128 x 1200 x 784, C = X W^T", 1, 128, 1200, 784 },
};

static void gemm_call(int blas, const dst_threads *threads, const shape *s, const float *a, const float *b, float *c)
{
    int ldb = s->tb ? s->k : s->n;
    if (blas)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans, s->m, s->n, s->k,
                    1.0f, a, s->k, b, ldb, 0.0f, c, s->n);
    else
        dst_sgemm_threaded(threads, 0, s->tb, s->m, s->n, s->k, 1.0f, a, s->k, b, ldb, 0.0f, c, s->n);
}

/* GFLOP/s: one warm-up call sizes windows of about `seconds` (at least one
   call); the best of reps windows. */
static double gemm_gflops(int blas, const dst_threads *threads, const shape *s, const float *a, const float *b,
                          float *c, double seconds, int reps)
{
    double t0 = now(), per, best = 0, flops = 2.0 * s->m * s->n * s->k;
    int calls, r, i;
    gemm_call(blas, threads, s, a, b, c);
    per = now() - t0;
    calls = per > 0 ? (int)(seconds / per) : 1;
    if (calls < 1) calls = 1;
    for (r = 0; r < reps; ++r) {
        double t1 = now(), v;
        for (i = 0; i < calls; ++i) gemm_call(blas, threads, s, a, b, c);
        v = flops * calls / (now() - t1) * 1e-9;
        if (v > best) best = v;
    }
    return best;
}

static void blas_threads(int n)
{
#ifdef OPENBLAS_VERSION
    openblas_set_num_threads(n); /* declared by OpenBLAS's cblas.h */
#else
    (void)n; /* another CBLAS: the threads its environment variable gives */
#endif
}

/* ---- PyTorch's figures and the tables ---------------------------------------- */

static int counts[MAX_COUNTS], ncounts = 0;
static double torch_train[NETS][MAX_COUNTS], torch_lat[NETS][MAX_COUNTS];
static char torch_version[64] = "?";

static int count_index(int threads)
{
    int i;
    for (i = 0; i < ncounts; ++i) if (counts[i] == threads) return i;
    return -1;
}

/* The script's lines: "version V", "train NAME THREADS samples/s",
   "latency NAME THREADS microseconds". */
static void read_torch(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[256], kind[16], name[64];
    double v;
    int th, i, c;
    if (!f) die(path, "cannot open the PyTorch results");
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "version %63s", name) == 1) { snprintf(torch_version, sizeof torch_version, "%s", name); continue; }
        if (sscanf(line, "%15s %63s %d %lf", kind, name, &th, &v) != 4 || (c = count_index(th)) < 0) continue;
        for (i = 0; i < NETS; ++i) {
            if (strcmp(name, nets[i].name)) continue;
            if (!strcmp(kind, "train")) torch_train[i][c] = v;
            else if (!strcmp(kind, "latency")) torch_lat[i][c] = v;
        }
    }
    fclose(f);
}

static void cell(const char *fmt, double v)
{
    if (v > 0) { printf(" "); printf(fmt, v); printf(" |"); }
    else printf(" - |");
}

/* One table: rows of ours[row][count] and theirs[row][count], columns per
   count for each side, each side's later counts over the first, and ours
   over theirs per count. */
static void table(const char *first, const char *unit, const char *other, const char *fmt, int rows,
                  const char *const *labels, double ours[][MAX_COUNTS], double theirs[][MAX_COUNTS])
{
    int r, c, side;
    printf("| %s |", first);
    for (side = 0; side < 2; ++side) {
        for (c = 0; c < ncounts; ++c) printf(" %s %dt %s |", side ? other : "distill.h", counts[c], unit);
        for (c = 1; c < ncounts; ++c) printf(" %s %dt/%dt |", side ? other : "distill.h", counts[c], counts[0]);
    }
    for (c = 0; c < ncounts; ++c) printf(" distill.h/%s %dt |", other, counts[c]);
    printf("\n|---|");
    for (c = 0; c < 3 * ncounts + 2 * (ncounts - 1); ++c) printf("---:|");
    printf("\n");
    for (r = 0; r < rows; ++r) {
        printf("| %s |", labels[r]);
        for (side = 0; side < 2; ++side) {
            double (*v)[MAX_COUNTS] = side ? theirs : ours;
            for (c = 0; c < ncounts; ++c) cell(fmt, v[r][c]);
            for (c = 1; c < ncounts; ++c) cell("%.2fx", v[r][0] > 0 && v[r][c] > 0 ? v[r][c] / v[r][0] : 0);
        }
        for (c = 0; c < ncounts; ++c) cell("%.2fx", theirs[r][c] > 0 ? ours[r][c] / theirs[r][c] : 0);
        printf("\n");
    }
    printf("\n");
}

static void parse_counts(const char *s)
{
    char *end;
    ncounts = 0;
    while (*s) {
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 256 || ncounts == MAX_COUNTS) die("--threads-list", "thread counts 1..256, comma-separated, at most 8");
        counts[ncounts++] = (int)v;
        s = end;
        if (*s == ',') ++s;
        else if (*s) die("--threads-list", "thread counts 1..256, comma-separated, at most 8");
    }
    if (!ncounts) die("--threads-list", "empty");
}

int main(int argc, char **argv)
{
    static double train[NETS][MAX_COUNTS], lat[LAT_NETS][MAX_COUNTS], tlat[LAT_NETS][MAX_COUNTS];
    static double ours_g[SHAPES][MAX_COUNTS], blas_g[SHAPES][MAX_COUNTS];
    const char *torch_path = NULL, *labels[NETS];
    char blas_version[32] = "?";
    double seconds = 1.0;
    int reps = 5, lat_runs = 20000, i, c;
    float *a, *b, *cc;
    dst_mnist d;
    dst_error e;
    parse_counts("1,2");
    for (i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--torch") && i + 1 < argc) torch_path = argv[++i];
        else if (!strcmp(argv[i], "--threads-list") && i + 1 < argc) parse_counts(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--latency-runs") && i + 1 < argc) lat_runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quick")) { seconds = 0.3; reps = 1; lat_runs = 1000; }
        else if (!strcmp(argv[i], "--clock") && i + 1 < argc && (!strcmp(argv[i + 1], "cpu") || !strcmp(argv[i + 1], "wall")))
            use_cpu_clock = !strcmp(argv[++i], "cpu");
        else die("usage", "bench_threads [--torch FILE] [--threads-list 1,2] [--seconds S] [--reps R] "
                          "[--latency-runs N] [--clock wall|cpu] [--quick]");
    }
    if (seconds <= 0 || reps < 1 || lat_runs < 1) die("usage", "--seconds, --reps and --latency-runs must be positive");
    if (torch_path) read_torch(torch_path);
    if (dst_mnist_load(DATA_DIR, &d, &e) != DST_OK) die(DATA_DIR, e.message);
    a = (float *)malloc(sizeof(float) * 2048 * 2048);
    b = (float *)malloc(sizeof(float) * 2048 * 2048);
    cc = (float *)malloc(sizeof(float) * 2048 * 2048);
    if (!a || !b || !cc) die("setup", "out of memory");
    for (i = 0; i < 2048 * 2048; ++i) { a[i] = 0.01f * (float)(i % 97) - 0.5f; b[i] = 0.01f * (float)(i % 89) - 0.4f; }

    /* every distill.h figure at one thread count, then the next count */
    for (c = 0; c < ncounts; ++c) {
        dst_pool *pool = NULL;
        dst_threads t, *tp = NULL;
        if (counts[c] > 1) {
            if (dst_pool_start(&pool, counts[c]) != DST_OK) die("dst_pool_start", "cannot start the threads");
            t = dst_pool_threads(pool);
            tp = &t;
        }
        for (i = 0; i < NETS; ++i) {
            train[i][c] = train_throughput(&nets[i], tp, &d, seconds, reps);
            fprintf(stderr, "  %s, %d thread(s): %.0f samples/s\n", nets[i].name, counts[c], train[i][c]);
        }
        for (i = 0; i < LAT_NETS; ++i) lat[i][c] = latency_us(&nets[lat_nets[i]], tp, &d, lat_runs);
        for (i = 0; i < SHAPES; ++i) ours_g[i][c] = gemm_gflops(0, tp, &shapes[i], a, b, cc, seconds, reps);
        dst_pool_stop(pool);
    }
    for (c = 0; c < ncounts; ++c) {
        blas_threads(counts[c]);
        for (i = 0; i < SHAPES; ++i) blas_g[i][c] = gemm_gflops(1, NULL, &shapes[i], a, b, cc, seconds, reps);
    }

#ifdef OPENBLAS_VERSION
    sscanf(OPENBLAS_VERSION, " OpenBLAS %31s", blas_version); /* " OpenBLAS 0.3.21 " */
#endif
    printf("distill.h %s (SIMD %s), PyTorch %s, OpenBLAS %s; %d logical cores; batch %d; best of %d windows of %.1f s, %s time\n\n",
           dst_version(), dst_simd_name(dst_simd_active()), torch_version, blas_version,
           dst_cpu_count(), BATCH, reps, seconds, use_cpu_clock ? "processor" : "wall");
    for (i = 0; i < NETS; ++i) labels[i] = nets[i].label;
    printf("Training throughput (forward, cross-entropy, backward, Adam), samples/s:\n\n");
    table("model", "samples/s", "PyTorch", "%.0f", NETS, labels, train, torch_train);
    for (i = 0; i < LAT_NETS; ++i) {
        labels[i] = nets[lat_nets[i]].label;
        for (c = 0; c < ncounts; ++c) tlat[i][c] = torch_lat[lat_nets[i]][c];
    }
    printf("Batch-1 inference latency, median of %d calls, microseconds (ratios of times: lower is faster):\n\n", lat_runs);
    table("model", "us", "PyTorch", "%.1f", LAT_NETS, labels, lat, tlat);
    for (i = 0; i < SHAPES; ++i) labels[i] = shapes[i].what;
    printf("dst_sgemm_threaded against cblas_sgemm, GFLOP/s:\n\n");
    table("GEMM (m x n x k)", "GFLOP/s", "OpenBLAS", "%.1f", SHAPES, labels, ours_g, blas_g);
    free(a); free(b); free(cc);
    dst_mnist_free(&d);
    return 0;
}

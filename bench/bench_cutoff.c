/* bench/bench_cutoff.c - where work starts to pay for a second thread: the
   source of DST__PAR_MIN_FLOPS (docs/BENCHMARKS.md, "Threads"). Not a test.

   Built with the cut-off switched off (-DDST__PAR_MIN_FLOPS=1e-9), so that
   dst_sgemm_threaded splits even the smallest product across the pool; each
   shape is then timed on the calling thread alone and on a pool of 2 (or
   --threads N), best of --reps windows of --seconds each. Square products
   m = n = k = s cover 512 to 2 million multiply-adds, and the batch-1 shape
   of a dense layer (1 x units x inputs, the dot path) is shown beside them.
       make bench-cutoff     (or: cc -std=c99 -O2 -DDST__PAR_MIN_FLOPS=1e-9 -I. bench/bench_cutoff.c -lm -lpthread)
   Options: --threads N (2) --seconds S (0.2) --reps R (3) */
#define _POSIX_C_SOURCE 199309L
#define DISTILL_IMPLEMENTATION
#include "distill.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* microseconds per call, best of reps windows */
static double time_call(const dst_threads *t, int m, int n, int k, int trans_b, const float *a, const float *b,
                        float *c, double seconds, int reps)
{
    double best = 1e30;
    int r;
    for (r = 0; r < reps; ++r) {
        double t0 = now(), el;
        long calls = 0;
        do {
            dst_sgemm_threaded(t, 0, trans_b, m, n, k, 1.0f, a, k, b, trans_b ? k : n, 0.0f, c, n);
            ++calls;
        } while ((el = now() - t0) < seconds);
        if (el / (double)calls < best) best = el / (double)calls;
    }
    return best * 1e6;
}

int main(int argc, char **argv)
{
    static const int sizes[] = { 8, 12, 16, 24, 32, 40, 48, 64, 96, 128 };
    static const int dense[][2] = { { 128, 784 }, { 1200, 784 }, { 10, 128 } }; /* units, inputs */
    int threads = 2, reps = 3, i;
    double seconds = 0.2;
    dst_pool *pool = NULL;
    dst_threads t;
    float *a, *b, *c;
    for (i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else { fprintf(stderr, "usage: bench_cutoff [--threads N] [--seconds S] [--reps R]\n"); return 2; }
    }
    if (threads < 2 || dst_pool_start(&pool, threads) != DST_OK) { fprintf(stderr, "bench_cutoff: no pool\n"); return 1; }
    t = dst_pool_threads(pool);
    a = (float *)calloc(1200 * 784, sizeof(float));
    b = (float *)calloc(1200 * 784, sizeof(float));
    c = (float *)calloc(1200 * 784, sizeof(float));
    if (!a || !b || !c) return 1;
    for (i = 0; i < 1200 * 784; ++i) { a[i] = (float)(i % 7) * 0.1f; b[i] = (float)(i % 5) * 0.1f; }
    printf("dst_sgemm_threaded, cut-off off, %s, %d threads against the calling thread alone:\n\n",
           dst_simd_name(dst_simd_active()), threads);
    printf("| shape (m x n x k) | multiply-adds | 1 thread, us | %d threads, us | speed-up |\n|---|---:|---:|---:|---:|\n",
           threads);
    for (i = 0; i < (int)(sizeof sizes / sizeof sizes[0]); ++i) {
        int s = sizes[i];
        double t1 = time_call(NULL, s, s, s, 0, a, b, c, seconds, reps), tn = time_call(&t, s, s, s, 0, a, b, c, seconds, reps);
        printf("| %d x %d x %d | %.0f | %.2f | %.2f | %.2fx |\n", s, s, s, (double)s * s * s, t1, tn, t1 / tn);
    }
    for (i = 0; i < (int)(sizeof dense / sizeof dense[0]); ++i) {
        int n = dense[i][0], k = dense[i][1];
        double t1 = time_call(NULL, 1, n, k, 1, a, b, c, seconds, reps), tn = time_call(&t, 1, n, k, 1, a, b, c, seconds, reps);
        printf("| 1 x %d x %d (batch 1, dense) | %.0f | %.2f | %.2f | %.2fx |\n", n, k, (double)n * k, t1, tn, t1 / tn);
    }
    dst_pool_stop(pool);
    free(a); free(b); free(c);
    return 0;
}

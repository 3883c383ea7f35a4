/* bench/bench_gemm.c - dst_sgemm against OpenBLAS's cblas_sgemm, one thread,
   in the same run, on the GEMMs of training a 784-1200-1200-10 MLP at batch
   128, square matrices and batch-1 inference; plus the single-core FMA peak
   and the micro-kernel alone against it.
   Built as a user who copied the header builds it (no -march: the path is
   chosen at run time):
       make bench-gemm
   or  cc -std=c99 -O2 -I. bench/bench_gemm.c -o build/bench_gemm -lopenblas -lm
       OPENBLAS_NUM_THREADS=1 ./build/bench_gemm [seconds-per-shape [shape-name filter]]
   Prints a Markdown table (docs/BENCHMARKS.md, "## GEMM"). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime(CLOCK_MONOTONIC) in -std=c99 */
#define DISTILL_IMPLEMENTATION
#include "distill.h"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

/* Wall time, or with BENCH_GEMM_CLOCK=cpu the thread's CPU time (Linux),
   which leaves out the time the thread waits while others run: on a shared
   machine the only way to time calls longer than a scheduler slice. */
static int use_cpu_clock = 0;
static double now(void)
{
#if defined(CLOCK_THREAD_CPUTIME_ID)
    if (use_cpu_clock) {
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    }
#endif
    return dst_seconds();
}

static float *matrix(size_t count)
{
    float *x = (float *)malloc(count * sizeof(float));
    size_t i;
    unsigned s = 12345;
    for (i = 0; i < count; ++i) { s = s * 1664525u + 1013904223u; x[i] = (float)(s >> 8) / 16777216.0f - 0.5f; }
    return x;
}

typedef struct shape { const char *what; int ta, tb, m, n, k; } shape;

/* seconds per call of `calls` back-to-back calls */
static double time_calls(int lib, const shape *s, const float *a, const float *b, float *c, int calls)
{
    int lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n, i;
    double t0 = now();
    for (i = 0; i < calls; ++i) {
        if (lib) cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans,
                             s->tb ? CblasTrans : CblasNoTrans, s->m, s->n, s->k, 1.0f,
                             a, lda, b, ldb, 0.0f, c, s->n);
        else dst_sgemm(s->ta, s->tb, s->m, s->n, s->k, 1.0f, a, lda, b, ldb, 0.0f, c, s->n);
    }
    return (now() - t0) / calls;
}

/* ---- single-core FMA peak: independent FMA chains, no memory traffic ---- */
#if defined(__x86_64__) && defined(__GNUC__)
#define PEAK_CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
/* distinct start values: with 1 + i * 1e-7 several rounded to the same
   float, and gcc merged those chains (10 FMAs a step, counted as 12: the
   peak came out 20% too high) */
#define PEAK_DECL(i) V x##i = SET1(1.0f + (float)i * 0.125f);
#define PEAK_STEP(i) x##i = FMA(x##i, m, ad);
#define PEAK_SUM(i) sum = ADD(sum, x##i);
#define PEAK_FN(NAME, ATTR, W)                                                  \
    static ATTR double NAME(long iters, float *out)                            \
    {                                                                           \
        V m = SET1(0.999999f), ad = SET1(1e-7f), sum = SET1(0.0f);              \
        PEAK_CHAINS(PEAK_DECL)                                                  \
        long it;                                                                \
        float tmp[16];                                                          \
        double t0 = now();                                                      \
        for (it = 0; it < iters; ++it) { PEAK_CHAINS(PEAK_STEP) }              \
        t0 = now() - t0;                                                        \
        PEAK_CHAINS(PEAK_SUM)                                                   \
        STORE(tmp, sum); *out = tmp[0];                                         \
        return (double)iters * 12 * W * 2 / t0 / 1e9;                           \
    }
#define V __m512
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define ADD _mm512_add_ps
#define STORE _mm512_storeu_ps
PEAK_FN(peak_avx512, __attribute__((target("avx512f"))), 16)
#undef V
#undef SET1
#undef FMA
#undef ADD
#undef STORE
#define V __m256
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define ADD _mm256_add_ps
#define STORE _mm256_storeu_ps
PEAK_FN(peak_avx2, __attribute__((target("avx2,fma"))), 8)
#endif

static double peak_gflops(dst_simd level)
{
    double best = 0;
#if defined(__x86_64__) && defined(__GNUC__)
    int r;
    float sink = 0, o;
    if (!dst__simd_has(level)) return 0; /* the CPU lacks it */
    for (r = 0; r < 2000; ++r) { /* short bursts (~0.1 ms), the best */
        double g = 0;
        if (level == DST_SIMD_AVX512) g = peak_avx512(20000, &o);
        else if (level == DST_SIMD_AVX2) g = peak_avx2(20000, &o);
        sink += o;
        if (g > best) best = g;
    }
    if (sink == 12345.0f) printf("%g\n", (double)sink);
#else
    (void)level;
#endif
    return best;
}

/* The micro-kernel of a path alone, as the blocked GEMM calls it (KC 384,
   MR x NR tiles), on 4 packed B panels and one A panel that stay in L1/L2:
   what the kernel can do when memory is not in the way. Best of many short
   bursts, like the peak. */
static double kernel_gflops(dst_simd level)
{
    double best = 0;
#if defined(DST__SIMD_ANY)
    const dst__gemm_isa *isa = dst__kernels_for(level)->gemm;
    int kc = 384, panels = 4, reps = 10, r, q, j;
    int mr, nr;
    float *pa, *pb, *c;
    size_t i;
    if (!isa || !dst__simd_has(level)) return 0;
    mr = isa->mr;
    nr = isa->nvmax * isa->w;
    pa = (float *)dst__alloc_aligned((size_t)mr * kc * sizeof(float), NULL);
    pb = (float *)dst__alloc_aligned((size_t)nr * kc * panels * sizeof(float), NULL);
    c = (float *)dst__alloc_aligned((size_t)mr * nr * panels * sizeof(float), NULL);
    if (!pa || !pb || !c) { dst__free_aligned(pa, NULL); dst__free_aligned(pb, NULL); dst__free_aligned(c, NULL); return 0; }
    for (i = 0; i < (size_t)mr * kc; ++i) pa[i] = 1e-3f * (float)(i % 7);
    for (i = 0; i < (size_t)nr * kc * panels; ++i) pb[i] = 1e-3f * (float)(i % 5);
    for (i = 0; i < (size_t)mr * nr * panels; ++i) c[i] = 0;
    for (r = 0; r < 2000; ++r) {
        double t0 = now(), g;
        for (q = 0; q < reps; ++q)
            for (j = 0; j < panels; ++j)
                isa->kernel[0][isa->nvmax - 1](kc, pa, pb + (size_t)j * nr * kc, nr, c + (size_t)j * nr,
                                               nr * panels, 1.0f, 1.0f, nr, NULL, 0, NULL);
        g = 2.0 * mr * nr * kc * reps * panels / (now() - t0) / 1e9;
        if (g > best) best = g;
    }
    dst__free_aligned(pa, NULL); dst__free_aligned(pb, NULL); dst__free_aligned(c, NULL);
#else
    (void)level;
#endif
    return best;
}

int main(int argc, char **argv)
{
    static const shape shapes[] = {
        { "fwd 1: X W1^T",      0, 1, 128, 1200, 784 },
        { "fwd 2: H1 W2^T",     0, 1, 128, 1200, 1200 },
        { "fwd 3: H2 W3^T",     0, 1, 128, 10, 1200 },
        { "dX 3: dY W3",        0, 0, 128, 1200, 10 },
        { "dX 2: dH2 W2",       0, 0, 128, 1200, 1200 },
        { "dX 1: dH1 W1",       0, 0, 128, 784, 1200 },
        { "dW 3: dY^T H2",      1, 0, 10, 1200, 128 },
        { "dW 2: dH2^T H1",     1, 0, 1200, 1200, 128 },
        { "dW 1: dH1^T X",      1, 0, 1200, 784, 128 },
        { "square 256",         0, 0, 256, 256, 256 },
        { "square 512",         0, 0, 512, 512, 512 },
        { "square 1024",        0, 0, 1024, 1024, 1024 },
        { "batch 1: x W1^T",    0, 1, 1, 128, 784 },
        { "batch 1: h W2^T",    0, 1, 1, 10, 128 },
    };
    double budget = argc > 1 ? atof(argv[1]) : 1.0; /* seconds per shape, both libraries */
    int i;
    const char *filter = argc > 2 ? argv[2] : NULL; /* only shapes whose name contains this */
    double p512, p2, g1024 = 0;
    const char *env = getenv("BENCH_GEMM_PATH");
    openblas_set_num_threads(1);
    use_cpu_clock = getenv("BENCH_GEMM_CLOCK") && strcmp(getenv("BENCH_GEMM_CLOCK"), "cpu") == 0;
    if (env) { /* e.g. BENCH_GEMM_PATH=avx2: time another path than the best */
        int l;
        for (l = DST_SIMD_SCALAR; l <= DST_SIMD_NEON; ++l)
            if (strcmp(env, dst_simd_name((dst_simd)l)) == 0 && dst_simd_force((dst_simd)l) != DST_OK) {
                printf("path %s not available\n", env);
                return 1;
            }
    }
    printf("dst_sgemm path: %s; OpenBLAS %s, 1 thread; best of many timings (%s clock), %.1f s per shape\n\n",
           dst_simd_name(dst_simd_active()), openblas_get_config(), use_cpu_clock ? "thread CPU" : "wall", budget);
    printf("| GEMM (C = op(A) op(B)) | m x n x k | trans | distill.h GFLOP/s | OpenBLAS GFLOP/s | ratio | distill.h us |\n");
    printf("|---|---|---|---:|---:|---:|---:|\n");
    for (i = 0; i < (int)(sizeof shapes / sizeof shapes[0]); ++i) {
        const shape *s = &shapes[i];
        if (filter && !strstr(s->what, filter)) continue;
        float *a = matrix((size_t)s->m * s->k), *b = matrix((size_t)s->k * s->n);
        float *c1 = matrix((size_t)s->m * s->n), *c2 = matrix((size_t)s->m * s->n);
        double flops = 2.0 * s->m * s->n * s->k, td = 1e30, to = 1e30, err = 0, ref = 0;
        size_t j;
        int r;
        /* The machine is shared: many short timings, the two libraries in
           turn, and the best of each (a timing shorter than a scheduler
           slice is often not interrupted). Tiny calls are batched to ~20 us. */
        {
            double est = time_calls(0, s, a, b, c1, 1) + time_calls(1, s, a, b, c2, 1);
            int calls = est < 4e-5 ? (int)(4e-5 / (est + 1e-9)) + 1 : 1;
            int reps = (int)(budget / (est * calls + 1e-9));
            if (reps < 10) reps = 10;
            if (reps > 5000) reps = 5000;
            for (r = 0; r < reps; ++r) {
                double t = time_calls(0, s, a, b, c1, calls);
                if (t < td) td = t;
                t = time_calls(1, s, a, b, c2, calls);
                if (t < to) to = t;
            }
        }
        for (j = 0; j < (size_t)s->m * s->n; ++j) {
            if (fabs(c1[j] - c2[j]) > err) err = fabs(c1[j] - c2[j]);
            if (fabs(c2[j]) > ref) ref = fabs(c2[j]);
        }
        if (err > 1e-4 * ref * sqrt((double)s->k)) printf("MISMATCH %s: %g (max %g)\n", s->what, err, ref);
        printf("| %s | %d x %d x %d | %s | %.1f | %.1f | %.2f | %.2f |\n", s->what, s->m, s->n, s->k,
               s->ta ? (s->tb ? "TT" : "TN") : (s->tb ? "NT" : "NN"),
               flops / td / 1e9, flops / to / 1e9, to / td, td * 1e6);
        if (s->m == 1024) g1024 = flops / td / 1e9;
        free(a); free(b); free(c1); free(c2);
    }
    p512 = peak_gflops(DST_SIMD_AVX512);
    p2 = peak_gflops(DST_SIMD_AVX2);
    printf("\nsingle-core FMA peak (12 independent chains): AVX-512 %.1f GFLOP/s, AVX2 %.1f GFLOP/s\n", p512, p2);
    if (p512 > 0 && g1024 > 0) printf("square 1024: %.0f%% of the AVX-512 peak\n", 100.0 * g1024 / p512);
    {
        double gk = kernel_gflops(dst_simd_active());
        double pk = dst_simd_active() == DST_SIMD_AVX512 ? p512 : dst_simd_active() == DST_SIMD_AVX2 ? p2 : 0;
        if (gk > 0) printf("micro-kernel alone (%s, KC 384, panels in L1/L2): %.1f GFLOP/s%s", dst_simd_name(dst_simd_active()), gk,
                           pk > 0 ? "" : "\n");
        if (gk > 0 && pk > 0) printf(", %.0f%% of the peak\n", 100.0 * gk / pk);
    }
    return 0;
}

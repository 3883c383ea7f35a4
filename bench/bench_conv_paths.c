/* bench/bench_conv_paths.c - the convolution paths of distill.h side by side
   on the shapes of the benchmark networks, to choose a path per shape (see
   dst__conv_direct and DST__CONV_GEMM_COLUMNS in distill.h, and
   docs/BENCHMARKS.md). Reaches into the implementation's internal paths,
   so it may need changes when they change. Not a test.
     make bench-conv-paths      or
     cc -std=c99 -O2 -I. bench/bench_conv_paths.c -o build/bench_conv_paths -lm
   Prints ms per batch of 128: forward, and backward (dW, db and dx) for
   Winograd F(2x2, 3x3) where the shape has it, the direct path, and im2col
   + GEMM with 1, 2, 4, 8 and 16 samples per GEMM (and the chosen number). Times are the process's CPU time (best of up to 10 runs), which a
   shared machine disturbs less than wall time. */
#define _POSIX_C_SOURCE 199309L
#define DISTILL_IMPLEMENTATION
#include "distill.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define BATCH 128

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void run(const char *name, dst_conv2d_params p, int need_dx)
{
    int nbs[6] = { 1, 2, 4, 8, 16, 0 }, count = 5;
    int oh, ow, v, r;
    size_t xn, yn, wn, work_n = 0;
    float *x, *y, *dy, *dx, *w, *dw, *db, *b, *work, *pack;
    dst_rng rng;
    size_t i;
    dst_conv2d_check(&p, &oh, &ow, NULL);
    xn = (size_t)BATCH * p.in_c * p.in_h * p.in_w; yn = (size_t)BATCH * p.out_c * oh * ow;
    wn = (size_t)p.out_c * (p.in_c / p.groups) * p.kernel_h * p.kernel_w;
    nbs[5] = dst__conv_samples_per_gemm(&p);
    if (nbs[5] != 1 && nbs[5] != 2 && nbs[5] != 4 && nbs[5] != 8 && nbs[5] != 16) count = 6;
    for (v = 0; v < count; ++v)
        if (dst__conv_work_floats(&p, DST__CONV_GEMM, nbs[v]) > work_n) work_n = dst__conv_work_floats(&p, DST__CONV_GEMM, nbs[v]);
    if (dst__conv_winograd_shape(&p) && dst__conv_work_floats(&p, DST__CONV_WINOGRAD, 1) > work_n)
        work_n = dst__conv_work_floats(&p, DST__CONV_WINOGRAD, 1);
    x = (float *)malloc(xn * 4); dx = (float *)malloc(xn * 4); y = (float *)malloc(yn * 4); dy = (float *)malloc(yn * 4);
    w = (float *)malloc(wn * 4); dw = (float *)malloc(wn * 4); b = (float *)malloc((size_t)p.out_c * 4);
    db = (float *)malloc((size_t)p.out_c * 4); work = (float *)malloc(work_n * 4 + 64);
    pack = (float *)malloc(DST__GEMM_PACK_FLOATS * sizeof(float));
    dst_rng_seed(&rng, 3);
    for (i = 0; i < xn; ++i) x[i] = dst_rng_normal(&rng);
    for (i = 0; i < yn; ++i) dy[i] = dst_rng_normal(&rng);
    for (i = 0; i < wn; ++i) w[i] = dst_rng_normal(&rng);
    for (i = 0; i < (size_t)p.out_c; ++i) b[i] = 0.1f;
    printf("%-28s in %2dx%2dx%2d out %3dx%2dx%2d k %dx%d g %d%s\n", name, p.in_c, p.in_h, p.in_w, p.out_c, oh, ow,
           p.kernel_h, p.kernel_w, p.groups, need_dx ? "" : " (no dx)");
    for (v = -2; v < count; ++v) {
        dst__conv_path path = v == -2 ? DST__CONV_WINOGRAD : v < 0 ? DST__CONV_DIRECT : DST__CONV_GEMM;
        int nb = v < 0 ? 1 : nbs[v];
        double f = 1e30, bw = 1e30, start = now();
        if (v >= 0 && v < 5 && nb > 1 && nb * oh * ow > 4096) continue;
        if (v == -2 && !dst__conv_winograd_shape(&p)) continue;
        for (r = 0; r < 11 && (r < 4 || now() - start < 2.0); ++r) {
            double t0 = now(), t1, t2;
            dst__conv2d_forward(&p, path, BATCH, x, w, b, y, work, nb, pack);
            t1 = now();
            dst__conv2d_backward(&p, path, BATCH, x, w, dy, need_dx ? dx : NULL, dw, db, work, nb, pack);
            t2 = now();
            if (r && t1 - t0 < f) f = t1 - t0;
            if (r && t2 - t1 < bw) bw = t2 - t1;
        }
        printf("  %-8s nb %2d  forward %8.2f ms  backward %8.2f ms%s\n", v == -2 ? "winograd" : v < 0 ? "direct" : "gemm",
               nb, f * 1e3, bw * 1e3,
               dst__conv_path_of(&p, DST__CONV_AUTO) == path && (v < 0 || nb == dst__conv_samples_per_gemm(&p)) ? "  <- chosen" : "");
    }
    free(x); free(dx); free(y); free(dy); free(w); free(dw); free(b); free(db); free(work); free(pack);
}

int main(void)
{
    dst_conv2d_params p;
    printf("distill.h %s, SIMD %s, batch %d\n", dst_version(), dst_simd_name(dst_simd_active()), BATCH);
    run("C1 conv1", dst_conv2d_params_make(1, 28, 28, 32, 3, 1, 0), 0);
    run("C1 conv2", dst_conv2d_params_make(32, 26, 26, 64, 3, 1, 0), 1);
    run("C2 conv1", dst_conv2d_params_make(1, 28, 28, 8, 3, 1, 0), 0);
    run("C2 conv2", dst_conv2d_params_make(8, 13, 13, 16, 3, 1, 0), 1);
    run("3 channels in (RGB)", dst_conv2d_params_make(3, 32, 32, 16, 3, 1, 1), 0);
    p = dst_conv2d_params_make(32, 14, 14, 32, 3, 1, 1);
    p.groups = 32;
    run("depthwise 3x3", p, 1);
    run("pointwise 1x1", dst_conv2d_params_make(32, 14, 14, 64, 1, 1, 0), 1);
    run("small plane 7x7", dst_conv2d_params_make(64, 7, 7, 64, 3, 1, 1), 1);
    return 0;
}

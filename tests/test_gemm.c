/* tests/test_gemm.c - dst_sgemm: every SIMD path this CPU and build have
   (forced with dst_simd_force) against the scalar reference and against a
   double-precision loop, on shapes around the tile and block sizes, all
   transposes, padded leading dimensions, alpha 0 / 1 / -2.5, beta 0 / 1 / 0.5;
   exact results on small integers; the temporary and the model's packing
   buffers; invalid arguments; the SIMD selection calls. */

/* A rows x cols matrix with leading dimension ld, allocated to the last
   element it needs (ASan sees any read past it); the padding between rows
   is NaN, so a kernel that reads it spoils the result. */
static float *t_gemm_matrix(int rows, int cols, int ld, float scale, int integers)
{
    size_t need = (size_t)(rows - 1) * ld + cols, i;
    float *x = (float *)malloc(need * sizeof(float));
    int r, j;
    for (i = 0; i < need; ++i) x[i] = NAN;
    for (r = 0; r < rows; ++r)
        for (j = 0; j < cols; ++j)
            x[(size_t)r * ld + j] = integers ? (float)((int)(t_rand() * 3.0f)) : t_rand() * scale;
    return x;
}

/* One problem on every level; 1 when all match the double loop within a
   tolerance that grows with k (exact == 1: bit-equal, for integer data). */
static int t_gemm_case(const dst_simd *levels, int nlev, int ta, int tb, int m, int n, int k,
                       float alpha, float beta, int pad, int exact)
{
    int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad * 2, ldc = n + pad;
    float *a = t_gemm_matrix(ta ? k : m, ta ? m : k, lda, 1, exact);
    float *b = t_gemm_matrix(tb ? n : k, tb ? k : n, ldb, 1, exact);
    float *c0 = t_gemm_matrix(m, ldc, ldc, 1, exact);
    float *c = (float *)malloc((size_t)m * ldc * sizeof(float));
    float *r = (float *)malloc((size_t)m * ldc * sizeof(float));
    size_t nc = (size_t)m * ldc, i;
    int l, ok = 1;
    float atol = exact ? 0.0f : 4e-6f * (float)k * fabsf(alpha) + 1e-6f;
    for (i = 0; i < nc; ++i) if (i % ldc >= (size_t)n) c0[i] = 12345.0f; /* must stay */
    memcpy(r, c0, nc * sizeof(float));
    if (beta == 0) for (i = 0; i < nc; ++i) if (i % ldc < (size_t)n) c0[i] = NAN; /* must not be read */
    t_gemm_double(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, r, ldc);
    for (l = 0; l < nlev && ok; ++l) {
        char what[160];
        memcpy(c, c0, nc * sizeof(float));
        dst_simd_force(levels[l]);
        dst_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        snprintf(what, sizeof what, "%s m=%d n=%d k=%d ta=%d tb=%d alpha=%g beta=%g pad=%d",
                 dst_simd_name(levels[l]), m, n, k, ta, tb, (double)alpha, (double)beta, pad);
        ok = t_close(c, r, nc, exact ? 0.0f : 1e-5f, atol, what);
    }
    dst_simd_force(DST_SIMD_AUTO);
    free(a); free(b); free(c0); free(c); free(r);
    return ok;
}

static int test_gemm_every_path_every_shape(void)
{
    /* around the tiles (MR 6 / 8, NR 8 / 12 / 16 / 48, dot tiles 2 / 4 x 4, 1 x 8),
       the dot-path thresholds (m 4, n 16), B read in place (m <= 32) and
       the blocks (KC 384, MC 144, NC 336: more than one block of each) */
    static const int shapes[][3] = {
        {1, 1, 1}, {1, 10, 128}, {1, 128, 784}, {2, 3, 5}, {3, 17, 16}, {4, 15, 33}, {5, 16, 17},
        {6, 8, 4}, {7, 12, 9}, {8, 48, 31}, {9, 49, 15}, {13, 47, 64}, {17, 33, 9}, {16, 16, 16},
        {5, 64, 3}, {23, 97, 2}, {64, 10, 128}, {10, 120, 31}, {48, 17, 1}, {33, 1, 40},
        {32, 50, 20}, {33, 50, 20}, {129, 65, 257}, {20, 30, 383}, {11, 50, 385}, {145, 20, 70},
        {143, 49, 33}, {12, 625, 19}, {9, 623, 40}, {40, 96, 769}, {150, 630, 20},
        {9, 337, 40}, {35, 335, 50}, {150, 340, 400},
        /* the dot path with B in several L2 blocks (k >= 12 m: AVX-512's rule too) */
        {3, 300, 1000}, {2, 70, 4000}, {20, 40, 1100}
    };
    static const float alphas[] = { 1.0f, -2.5f, 0.0f }, betas[] = { 0.0f, 1.0f, 0.5f };
    dst_simd levels[8];
    int nlev = t_simd_levels(levels), s, ta, tb, ab = 0;
    for (s = 0; s < (int)(sizeof shapes / sizeof shapes[0]); ++s)
        for (ta = 0; ta < 2; ++ta)
            for (tb = 0; tb < 2; ++tb) {
                int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], x;
                /* every alpha x beta on small shapes, two of them (in turn) on large ones */
                int small = (double)m * n * k < 40000, count = small ? 9 : 2;
                for (x = 0; x < count; ++x, ++ab) {
                    int y = small ? x : ab % 9;
                    T_CHECK(t_gemm_case(levels, nlev, ta, tb, m, n, k, alphas[y / 3], betas[y % 3],
                                        (s + x) % 3 == 0 ? 0 : 1 + (s % 5), 0));
                }
            }
    printf("    %d paths:", nlev);
    for (s = 0; s < nlev; ++s) printf(" %s", dst_simd_name(levels[s]));
    printf("\n");
    return 0;
}

static int test_gemm_random_shapes(void)
{
    dst_simd levels[8];
    int nlev = t_simd_levels(levels), t;
    for (t = 0; t < 60; ++t) {
        int m = 1 + (int)((t_rand() + 1) * 40), n = 1 + (int)((t_rand() + 1) * 60);
        int k = 1 + (int)((t_rand() + 1) * 150), ta = t & 1, tb = (t >> 1) & 1;
        T_CHECK(t_gemm_case(levels, nlev, ta, tb, m, n, k, t % 5 == 0 ? -2.5f : 1.0f,
                            t % 3 == 0 ? 0.0f : 0.5f, t % 4, 0));
    }
    return 0;
}

/* small integers: every path must give exactly the same numbers */
static int test_gemm_exact_on_integers(void)
{
    static const int shapes[][3] = { {1, 784, 128}, {7, 50, 300}, {128, 10, 600}, {30, 100, 257}, {200, 49, 64} };
    dst_simd levels[8];
    int nlev = t_simd_levels(levels), s, ta, tb;
    for (s = 0; s < (int)(sizeof shapes / sizeof shapes[0]); ++s)
        for (ta = 0; ta < 2; ++ta)
            for (tb = 0; tb < 2; ++tb) {
                T_CHECK(t_gemm_case(levels, nlev, ta, tb, shapes[s][0], shapes[s][1], shapes[s][2],
                                    1.0f, 0.0f, 1, 1));
                T_CHECK(t_gemm_case(levels, nlev, ta, tb, shapes[s][0], shapes[s][1], shapes[s][2],
                                    -2.0f, 1.0f, 0, 1));
            }
    return 0;
}

/* Packing done by the kernels. B not transposed and m > 32: the kernels of
   the first panel of A read B where it is stored and write the packed
   panels that every later panel of A reads (a wrong or missing packed value
   shows in every row below the first 8). A, transposed or not: the kernel of
   the first tile of each whole panel of A reads it in place and packs it
   for the tiles to its right. Shapes: exactly whole panels; a
   narrow last panel packed apart; several blocks of k, n and m (the packed
   B reused by later blocks of m); a short last panel of A (4 + 1 rows). */
static int test_gemm_b_packed_by_kernels(void)
{
    static const int shapes[][3] = { {33, 96, 10}, {40, 1000, 800}, {300, 100, 50}, {37, 200, 400},
                                     {64, 48, 385} };
    dst_simd levels[8];
    int nlev = t_simd_levels(levels), s, ta;
    for (s = 0; s < (int)(sizeof shapes / sizeof shapes[0]); ++s)
        for (ta = 0; ta < 2; ++ta) {
            T_CHECK(t_gemm_case(levels, nlev, ta, 0, shapes[s][0], shapes[s][1], shapes[s][2],
                                1.0f, 0.0f, s % 2 ? 3 : 0, 0));
            T_CHECK(t_gemm_case(levels, nlev, ta, 0, shapes[s][0], shapes[s][1], shapes[s][2],
                                -2.5f, 0.5f, 1, 0));
        }
    return 0;
}

/* Larger than the stack buffer: one temporary allocation, freed; when it
   fails, stack-sized blocks give the same result. The model's buffer too. */
static int test_gemm_buffers(void)
{
    int m = 150, n = 700, k = 400, ta, tb; /* more than one block of each */
    for (ta = 0; ta < 2; ++ta)
        for (tb = 0; tb < 2; ++tb) {
            int lda = ta ? m : k, ldb = tb ? k : n;
            float *a = t_gemm_matrix(ta ? k : m, ta ? m : k, lda, 1, 0);
            float *b = t_gemm_matrix(tb ? n : k, tb ? k : n, ldb, 1, 0);
            float *c1 = (float *)malloc((size_t)m * n * 4), *c2 = (float *)malloc((size_t)m * n * 4);
            float *c3 = (float *)malloc((size_t)m * n * 4), *r = (float *)malloc((size_t)m * n * 4);
            float *pack = (float *)dst__alloc_aligned(DST__GEMM_PACK_FLOATS * sizeof(float), NULL);
            long before = t_alloc_count;
            int ok;
            t_gemm_double(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, r, n);
            dst_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c1, n);
            T_CHECK(dst_simd_active() == DST_SIMD_SCALAR || t_alloc_count == before + 1);
            t_alloc_fail_at = t_alloc_count + 1;
            dst_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c2, n);
            t_alloc_fail_at = 0;
            before = t_alloc_count;
            dst__sgemm_run(NULL, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c3, n, &pack, 1, DST__GEMM_PACK_FLOATS);
            T_CHECK(t_alloc_count == before); /* nothing allocated with the model's buffer */
            ok = t_close(c1, r, (size_t)m * n, 1e-5f, 1e-3f, "temporary buffer") &&
                 t_close(c2, r, (size_t)m * n, 1e-5f, 1e-3f, "stack buffer after a failed allocation") &&
                 t_close(c3, r, (size_t)m * n, 1e-5f, 1e-3f, "model buffer");
            free(a); free(b); free(c1); free(c2); free(c3); free(r);
            dst__free_aligned(pack, NULL);
            T_CHECK_MSG(ok, "ta=%d tb=%d", ta, tb);
        }
    return 0;
}

/* bad arguments: C untouched, no crash */
static int test_gemm_invalid_arguments(void)
{
    float a[16], b[16], c[16], c0[16];
    int i;
    t_fill(a, 16, 1); t_fill(b, 16, 1); t_fill(c0, 16, 1);
    memcpy(c, c0, sizeof c);
    dst_sgemm(0, 0, -1, 2, 2, 1, a, 2, b, 2, 0, c, 2);
    dst_sgemm(0, 0, 2, 2, -3, 1, a, 2, b, 2, 0, c, 2);
    dst_sgemm(0, 0, 2, 2, 3, 1, a, 2, b, 2, 0, c, 2);   /* lda < k */
    dst_sgemm(1, 0, 3, 2, 2, 1, a, 2, b, 2, 0, c, 2);   /* lda < m */
    dst_sgemm(0, 1, 2, 3, 2, 1, a, 2, b, 1, 0, c, 3);   /* ldb < k */
    dst_sgemm(0, 0, 2, 3, 2, 1, a, 2, b, 3, 0, c, 2);   /* ldc < n */
    dst_sgemm(0, 0, 2, 2, 2, 1, NULL, 2, b, 2, 0, c, 2);
    dst_sgemm(0, 0, 2, 2, 2, 1, a, 2, NULL, 2, 0, c, 2);
    dst_sgemm(0, 0, 2, 2, 2, 1, a, 2, b, 2, 0, NULL, 2);
    for (i = 0; i < 16; ++i) T_CHECK(c[i] == c0[i]);
    /* k == 0 and alpha == 0: C = beta C, A and B never read (may be NULL) */
    dst_sgemm(0, 0, 2, 2, 0, 1, NULL, 1, NULL, 2, 0.5f, c, 2);
    for (i = 0; i < 4; ++i) T_CHECK(c[i] == 0.5f * c0[i]);
    for (i = 0; i < 4; ++i) c[i] = NAN;
    dst_sgemm(0, 0, 2, 2, 2, 0, NULL, 2, NULL, 2, 0, c, 2);
    for (i = 0; i < 4; ++i) T_CHECK(c[i] == 0);
    return 0;
}

static int test_gemm_simd_selection(void)
{
    dst_simd levels[8], best;
    int nlev = t_simd_levels(levels);
    T_CHECK(nlev >= 1 && levels[0] == DST_SIMD_SCALAR);
    best = levels[nlev - 1];
    T_CHECK(dst_simd_force(DST_SIMD_AUTO) == DST_OK);
    T_CHECK(dst_simd_active() == best);                 /* AUTO = the best path there is */
#if defined(DST_NO_SIMD)
    T_CHECK(best == DST_SIMD_SCALAR);
#endif
#if defined(__x86_64__) && !defined(DST_NO_SIMD) && !defined(__TINYC__)
    T_CHECK(nlev >= 2 && levels[1] == DST_SIMD_SSE2);   /* SSE2 is in every x86-64 */
#endif
    /* a path this machine cannot have */
    T_CHECK(dst_simd_force(best == DST_SIMD_NEON ? DST_SIMD_AVX512 : DST_SIMD_NEON) == DST_ERR_UNSUPPORTED);
    T_CHECK(dst_simd_active() == best);                 /* unchanged */
    T_CHECK(dst_simd_force((dst_simd)99) == DST_ERR_ARG);
    T_CHECK(dst_simd_force(DST_SIMD_SCALAR) == DST_OK);
    T_CHECK(dst_simd_active() == DST_SIMD_SCALAR);
    T_CHECK(dst_simd_force(DST_SIMD_AUTO) == DST_OK);
    T_CHECK(dst_simd_active() == best);
    T_CHECK(strcmp(dst_simd_name(DST_SIMD_AVX512), "avx512") == 0);
    T_CHECK(strcmp(dst_simd_name(DST_SIMD_AUTO), "auto") == 0);
    printf("    best path: %s\n", dst_simd_name(best));
    return 0;
}

static const t_case gemm_tests[] = {
    { "gemm_simd_selection", test_gemm_simd_selection },
    { "gemm_every_path_every_shape", test_gemm_every_path_every_shape },
    { "gemm_random_shapes", test_gemm_random_shapes },
    { "gemm_exact_on_integers", test_gemm_exact_on_integers },
    { "gemm_b_packed_by_kernels", test_gemm_b_packed_by_kernels },
    { "gemm_buffers", test_gemm_buffers },
    { "gemm_invalid_arguments", test_gemm_invalid_arguments },
};

/* tests/test_quantize.c - int8 models: the integer dot-product kernel of
   every SIMD level against the scalar reference (bit for bit, odd shapes,
   extreme values), post-training quantization of a trained MLP and CNN
   against their float models, the same int8 bits on every level, and
   training refused. */

/* the int8 kernels this machine can run: each level's table, on x86 the
   three AVX-512 variants (F only, BW, VNNI) whatever the CPU picks, on
   AArch64 the widening NEON kernels and the dot-product ones */
static int t_q8_kernels(const dst__kernels **out)
{
    dst_simd lv[8];
    int n = t_simd_levels(lv), i, k = 0;
    for (i = 0; i < n; ++i) {
        if (lv[i] == DST_SIMD_AVX512) {
#if defined(DST__SIMD_X86)
            int ext = dst__cpu_avx512_int8();
            out[k++] = &dst__kernels_avx512;
            if (ext >= 1) out[k++] = &dst__kernels_avx512bw;
            if (ext >= 2) out[k++] = &dst__kernels_avx512vnni;
#endif
        } else if (lv[i] == DST_SIMD_NEON) {
#if defined(DST__SIMD_NEON)
            out[k++] = &dst__kernels_neon;
#endif
#if defined(DST__NEON_DOT)
            if (dst__cpu_neon_dot()) out[k++] = &dst__kernels_neondot;
#endif
        } else {
            out[k++] = dst__kernels_for(lv[i]);
        }
    }
    return k;
}

static int test_q8_dot_every_level_matches_scalar(void)
{
    static const size_t ks[] = { 1, 2, 3, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 129, 784, 1000 };
    static const size_t rows_list[] = { 1, 2, 3, 4, 5, 7, 9, 13 };
    const dst__kernels *kt[8];
    int nk = t_q8_kernels(kt), a, b, l, extreme;
    size_t i;
    uint8_t *x = (uint8_t *)malloc(1100);
    int8_t *w = (int8_t *)malloc(13 * 1100);
    int32_t ref[13], got[13];
    T_CHECK(nk >= 1 && kt[0]->q8_dot == dst__q8_dot_scalar);
    for (extreme = 0; extreme < 3; ++extreme)
        for (a = 0; a < (int)(sizeof ks / sizeof ks[0]); ++a)
            for (b = 0; b < (int)(sizeof rows_list / sizeof rows_list[0]); ++b) {
                size_t k = ks[a], rows = rows_list[b], ldw = k + 3;
                for (i = 0; i < 1100; ++i) x[i] = extreme == 1 ? 255 : (uint8_t)((t_rand() + 1) * 128);
                for (i = 0; i < 13 * 1100; ++i)
                    w[i] = extreme == 1 ? -127 : extreme == 2 ? (int8_t)(i & 1 ? 127 : -127) : (int8_t)(t_rand() * 127);
                dst__q8_dot_scalar(x, w, k, rows, ldw, ref, 1);
                if (extreme == 1) T_CHECK(ref[0] == -(int32_t)(255 * 127 * k));
                for (l = 1; l < nk; ++l) {
                    memset(got, 0x55, sizeof got);
                    kt[l]->q8_dot(x, w, k, rows, ldw, got, 1);
                    T_CHECK_MSG(memcmp(got, ref, rows * sizeof ref[0]) == 0, "kernel %d (level %s) k=%lu rows=%lu extreme=%d",
                                l, dst_simd_name(kt[l]->level), (unsigned long)k, (unsigned long)rows, extreme);
                }
            }
    /* the longest row an int8 layer may have, at the extremes: no overflow */
    {
        size_t k = DST__Q8_MAX_K;
        uint8_t *xl = (uint8_t *)malloc(k);
        int8_t *wl = (int8_t *)malloc(k);
        memset(xl, 255, k);
        memset(wl, 0x81, k); /* -127 */
        for (l = 0; l < nk; ++l) {
            kt[l]->q8_dot(xl, wl, k, 1, k, got, 1);
            T_CHECK(got[0] == -(int32_t)(255 * 127 * k));
        }
        free(xl); free(wl);
    }
    free(x); free(w);
    return 0;
}

/* The convolution kernel (channels x positions, patches in fours) of every
   level against the scalar reference, bit for bit: k from 1 (a group's last
   four short of three) up, position counts around each vector width, the
   extremes (255 x -127 everywhere) included. */
static int test_q8_conv_every_level_matches_scalar(void)
{
    static const size_t ks[] = { 1, 2, 3, 4, 5, 8, 9, 27, 72, 100, 289, 513 }; /* 513: more groups than a chunk */
    static const size_t npos_list[] = { 1, 3, 4, 5, 8, 15, 16, 17, 33, 63, 64, 65, 121, 676 };
    static const size_t rows_list[] = { 1, 3, 4, 5, 8, 9 }; /* tiles of 4 and rows left over */
    const dst__kernels *kt[8];
    int nk = t_q8_kernels(kt), a, b, c, l, extreme;
    size_t i, most = 129 * 4 * 676;
    uint8_t *x4 = (uint8_t *)malloc(most);
    int8_t *w = (int8_t *)malloc(9 * 513);
    int32_t *ref = (int32_t *)malloc(9 * 676 * sizeof(int32_t)), *got = (int32_t *)malloc(9 * 676 * sizeof(int32_t));
    T_CHECK(x4 && w && ref && got);
    T_CHECK(nk >= 1 && kt[0]->q8_conv == dst__q8_conv_scalar);
    for (extreme = 0; extreme < 2; ++extreme)
        for (a = 0; a < (int)(sizeof ks / sizeof ks[0]); ++a)
            for (b = 0; b < (int)(sizeof npos_list / sizeof npos_list[0]); ++b)
                for (c = 0; c < (int)(sizeof rows_list / sizeof rows_list[0]); ++c) {
                    size_t k = ks[a], npos = npos_list[b], rows = rows_list[c], nq = (k + 3) / 4;
                    for (i = 0; i < nq * 4 * npos; ++i) x4[i] = extreme ? 255 : (uint8_t)((t_rand() + 1) * 128);
                    for (i = 0; i < npos * 4 && k % 4; ++i) /* the last group beyond k: 0, as dst__q8_patches leaves it */
                        if (i % 4 >= k % 4) x4[(nq - 1) * npos * 4 + i] = 0;
                    for (i = 0; i < rows * k; ++i) w[i] = extreme ? -127 : (int8_t)(t_rand() * 127);
                    dst__q8_conv_scalar(x4, w, k, npos, rows, ref);
                    if (extreme) T_CHECK(ref[0] == -(int32_t)(255 * 127 * k));
                    {   /* the reference against its definition at one position */
                        size_t pos = npos / 2, r = rows - 1;
                        int32_t s = 0;
                        for (i = 0; i < k; ++i) s += (int32_t)w[r * k + i] * (int32_t)x4[((i / 4) * npos + pos) * 4 + i % 4];
                        T_CHECK(ref[r * npos + pos] == s);
                    }
                    for (l = 1; l < nk; ++l) {
                        memset(got, 0x55, rows * npos * sizeof(int32_t));
                        kt[l]->q8_conv(x4, w, k, npos, rows, got);
                        T_CHECK_MSG(memcmp(got, ref, rows * npos * sizeof(int32_t)) == 0,
                                    "kernel %d (level %s) k=%lu npos=%lu rows=%lu extreme=%d", l,
                                    dst_simd_name(kt[l]->level), (unsigned long)k, (unsigned long)npos,
                                    (unsigned long)rows, extreme);
                    }
                }
    free(x4); free(w); free(ref); free(got);
    return 0;
}

/* The patches of a stride-1 convolution as every level builds them (a
   padded copy, rows interleaved by q8_rows4, which may read and write past
   a row) against dst__q8_patches_any, the reference for any stride, byte
   for byte: padding, dilation, a vertical stride, groups, kernels whose k
   is or is not a multiple of 4, widths on both sides of 16; the bytes
   around the patches are left as they were. */
static int test_q8_patches_every_level_matches_reference(void)
{
    /* in_c, in_h, in_w, out_c, kernel_h, kernel_w, stride_h, pad_h, pad_w, dilation, groups */
    static const int shapes[][11] = {
        { 1, 28, 28, 8, 3, 3, 1, 0, 0, 1, 1 },  { 8, 13, 13, 16, 3, 3, 1, 0, 0, 1, 1 },
        { 3, 9, 17, 4, 3, 3, 1, 1, 1, 1, 1 },   { 4, 7, 5, 4, 3, 3, 1, 1, 1, 1, 4 },
        { 2, 11, 33, 2, 5, 3, 2, 2, 1, 1, 1 },  { 6, 10, 10, 6, 3, 3, 1, 2, 2, 2, 2 },
        { 1, 4, 4, 1, 1, 1, 1, 0, 0, 1, 1 },    { 5, 6, 40, 5, 2, 4, 3, 0, 3, 1, 5 },
        { 16, 5, 5, 8, 3, 3, 1, 1, 1, 1, 1 },   { 2, 20, 3, 2, 3, 3, 1, 1, 0, 1, 2 },
    };
    const dst__kernels *kt[8];
    int nk = t_q8_kernels(kt), s, l, g;
    for (s = 0; s < (int)(sizeof shapes / sizeof shapes[0]); ++s) {
        const int *d = shapes[s];
        dst_conv2d_params p = dst_conv2d_params_make(d[0], d[1], d[2], d[3], d[4], 1, d[7]);
        size_t pad_at, bytes, in_bytes, patch_bytes, k, npos, i;
        uint8_t *x, *ref, *got;
        p.kernel_w = d[5]; p.stride_h = d[6]; p.pad_w = d[8]; p.dilation_h = p.dilation_w = d[9]; p.groups = d[10];
        k = (size_t)(p.in_c / p.groups) * p.kernel_h * p.kernel_w;
        npos = (size_t)dst__conv_out_h(&p) * dst__conv_out_w(&p);
        patch_bytes = (k + 3) / 4 * 4 * npos;
        bytes = dst__q8_col_bytes(&p, &pad_at);
        T_CHECK(pad_at >= patch_bytes + 64 && bytes > pad_at);
        in_bytes = (size_t)p.in_c * p.in_h * p.in_w;
        x = (uint8_t *)malloc(in_bytes);
        ref = (uint8_t *)malloc(bytes);
        got = (uint8_t *)malloc(bytes);
        T_CHECK(x && ref && got);
        for (i = 0; i < in_bytes; ++i) x[i] = (uint8_t)((t_rand() + 1) * 128);
        for (g = 0; g < p.groups; ++g) {
            memset(ref, 0xA5, bytes);
            dst__q8_patches_any(&p, x, g, 37, ref);
            for (l = 0; l < nk; ++l) {
                memset(got, 0xA5, bytes);
                dst__q8_patches(&p, x, g, 37, got, kt[l]);
                T_CHECK_MSG(memcmp(got, ref, patch_bytes) == 0, "shape %d group %d level %s", s, g,
                            dst_simd_name(kt[l]->level));
            }
        }
        free(x); free(ref); free(got);
    }
    return 0;
}

/* 2x2 max pooling of every level against the scalar reference, and the
   reference against its definition: row lengths on both sides of 8 and
   16 (the last vector step overlaps), nothing written past n. */
static int test_q8_max2x2_every_level_matches_scalar(void)
{
    const dst__kernels *kt[8];
    int nk = t_q8_kernels(kt), l;
    uint8_t r0[80], r1[80], ref[41], got[41];
    size_t n, i;
    for (n = 1; n <= 40; ++n) {
        for (i = 0; i < 2 * n; ++i) r0[i] = (uint8_t)((t_rand() + 1) * 128), r1[i] = (uint8_t)((t_rand() + 1) * 128);
        memset(ref, 0x55, sizeof ref);
        dst__q8_max2x2_scalar(r0, r1, n, ref);
        for (i = 0; i < n; ++i) {
            uint8_t m = r0[2 * i];
            if (r0[2 * i + 1] > m) m = r0[2 * i + 1];
            if (r1[2 * i] > m) m = r1[2 * i];
            if (r1[2 * i + 1] > m) m = r1[2 * i + 1];
            T_CHECK(ref[i] == m);
        }
        for (l = 1; l < nk; ++l) {
            memset(got, 0x55, sizeof got);
            kt[l]->q8_max2x2(r0, r1, n, got);
            T_CHECK_MSG(memcmp(got, ref, n + 1) == 0, "level %s n=%lu", dst_simd_name(kt[l]->level), (unsigned long)n);
        }
    }
    return 0;
}

/* Requantization of every level against the scalar reference, bit for
   bit: lengths around each vector width, sums from tiny to extreme,
   multipliers and zero points at random, with and without a fused ReLU. */
static int test_q8_requant_every_level_matches_scalar(void)
{
    static const size_t ns[] = { 1, 3, 4, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 676 };
    const dst__kernels *kt[8];
    int nk = t_q8_kernels(kt), a, l, trial;
    int32_t acc[676];
    uint8_t ref[676], got[676];
    size_t i;
    for (trial = 0; trial < 8; ++trial)
        for (a = 0; a < (int)(sizeof ns / sizeof ns[0]); ++a) {
            size_t n = ns[a];
            float k[4];
            int32_t span = trial < 2 ? 300 : trial < 5 ? 100000 : 2000000000;
            k[0] = (float)(int32_t)(t_rand() * 5000.0f);
            k[1] = (1.0f + t_rand() * 0.9f) * (trial < 2 ? 0.3f : trial < 5 ? 0.002f : 1e-7f);
            k[2] = (float)(int)((t_rand() + 1) * 127.0f) + 0.5f;
            k[3] = trial % 2 ? k[2] : 0.0f;
            for (i = 0; i < n; ++i) acc[i] = (int32_t)(t_rand() * (float)span);
            if (trial == 7) acc[0] = INT32_MAX, acc[n - 1] = INT32_MIN + 1;
            dst__q8_requant_scalar(acc, n, k, ref);
            for (l = 1; l < nk; ++l) {
                memset(got, 0x55, sizeof got);
                kt[l]->q8_requant(acc, n, k, got);
                T_CHECK_MSG(memcmp(got, ref, n) == 0, "level %s n=%lu trial %d", dst_simd_name(kt[l]->level),
                            (unsigned long)n, trial);
                T_CHECK(n == 676 || got[n] == 0x55);
            }
        }
    return 0;
}

/* Quantization-aware training's range and rounding passes: every level as
   the scalar reference, bit for bit (the range's lanes may meet at a zero
   of the other sign: compared with ==), NaNs and clamped values included. */
static int test_qat_kernels_every_level_match_scalar(void)
{
    static const size_t ns[] = { 1, 3, 4, 7, 8, 9, 15, 16, 17, 33, 100, 677 };
    const dst__kernels *kt[8];
    int nk = t_q8_kernels(kt), a, l, trial;
    float x[677], ref[678], got[678], rlo, rhi, lo, hi;
    unsigned char rkeep[678], keep[678];
    size_t i;
    for (trial = 0; trial < 6; ++trial)
        for (a = 0; a < (int)(sizeof ns / sizeof ns[0]); ++a) {
            size_t n = ns[a];
            float scale = 0.01f + 0.05f * (t_rand() + 1);
            int32_t zero = (int32_t)((t_rand() + 1) * 127.0f);
            for (i = 0; i < n; ++i) x[i] = t_rand() * (trial < 3 ? 2.0f : 20.0f); /* 20: many clamped */
            if (trial == 4 && n > 2) x[n / 2] = (float)NAN, x[n - 1] = (float)NAN; /* passed over */
            if (trial == 5) x[0] = (float)NAN;                                        /* the range NaN */
            dst__qat_range_scalar(x, n, &rlo, &rhi);
            T_CHECK(trial == 5 ? rlo != rlo && rhi != rhi : rlo == rlo && rhi == rhi);
            memcpy(ref, x, n * sizeof(float));
            dst__qat_round_scalar(ref, n, scale, zero, rkeep);
            for (l = 1; l < nk; ++l) {
                kt[l]->qat_range(x, n, &lo, &hi);
                T_CHECK_MSG((lo == rlo || (lo != lo && rlo != rlo)) && (hi == rhi || (hi != hi && rhi != rhi)),
                            "level %s n=%lu trial %d: range %g %g, reference %g %g", dst_simd_name(kt[l]->level),
                            (unsigned long)n, trial, (double)lo, (double)hi, (double)rlo, (double)rhi);
                memcpy(got, x, n * sizeof(float));
                got[n] = 7.0f;
                memset(keep, 0x55, sizeof keep);
                kt[l]->qat_round(got, n, scale, zero, keep);
                T_CHECK_MSG(memcmp(got, ref, n * sizeof(float)) == 0 && memcmp(keep, rkeep, n) == 0,
                            "level %s n=%lu trial %d", dst_simd_name(kt[l]->level), (unsigned long)n, trial);
                T_CHECK(got[n] == 7.0f && keep[n] == 0x55);
                memcpy(got, x, n * sizeof(float));
                kt[l]->qat_round(got, n, scale, zero, NULL); /* no keep bytes (an inference forward) */
                T_CHECK(memcmp(got, ref, n * sizeof(float)) == 0);
            }
            for (i = 0; i < n; ++i) { /* the reference itself: 256 levels, keep 0 exactly where clamped */
                /* (to a few ulps: i386 and s390x evaluate float expressions in more precision) */
                float nan_level = -scale * (float)zero, half = 0.5f * scale * 1.0001f;
                int near_level = fabs(ref[i] - nan_level) <= 1e-6 * (1 + fabs(nan_level));
                T_CHECK_MSG(x[i] != x[i] ? near_level && !rkeep[i] : fabs(ref[i] - x[i]) <= half || !rkeep[i],
                            "trial %d n=%lu i=%lu: x %.9g reference %.9g keep %d", trial, (unsigned long)n,
                            (unsigned long)i, (double)x[i], (double)ref[i], rkeep[i]);
            }
        }
    return 0;
}

/* data: class c of k has its own random center in dim dimensions, plus noise */
static void t_q8_blobs(float *x, int *y, size_t count, int dim, int k, const float *centers, float noise)
{
    size_t i;
    int j;
    for (i = 0; i < count; ++i) {
        int c = (int)((t_rand() + 1) * 0.5f * (float)k) % k;
        y[i] = c;
        for (j = 0; j < dim; ++j) x[i * dim + j] = centers[c * dim + j] + noise * t_rand();
    }
}

/* share of samples whose int8 and float argmax agree, and both accuracies */
static float t_q8_agreement(dst_model *f, dst_model *q, const float *x, const int *y, size_t count, float *acc_f,
                            float *acc_q)
{
    size_t i, k = dst_model_output_size(f), same = 0, cf = 0, cq = 0;
    float *of = (float *)malloc(count * k * sizeof(float)), *oq = (float *)malloc(count * k * sizeof(float));
    dst_model_predict(f, x, count, of);
    dst_model_predict(q, x, count, oq);
    for (i = 0; i < count; ++i) {
        int a = dst__argmax(of + i * k, k), b = dst__argmax(oq + i * k, k);
        same += a == b;
        cf += a == y[i];
        cq += b == y[i];
    }
    free(of); free(oq);
    *acc_f = (float)cf / (float)count;
    *acc_q = (float)cq / (float)count;
    return (float)same / (float)count;
}

/* the int8 output of every SIMD level: the same bits */
static int t_q8_levels_agree(dst_model *q, const float *x, size_t count)
{
    dst_simd lv[8];
    int n = t_simd_levels(lv), l, same = 1;
    size_t k = dst_model_output_size(q);
    float *ref = (float *)malloc(count * k * sizeof(float)), *got = (float *)malloc(count * k * sizeof(float));
    for (l = 0; l < n; ++l) {
        dst_simd_force(lv[l]);
        dst_model_predict(q, x, count, l ? got : ref);
        if (l && memcmp(ref, got, count * k * sizeof(float)) != 0) same = 0;
    }
    dst_simd_force(DST_SIMD_AUTO);
    free(ref); free(got);
    return same;
}

/* a model of these layers on dim inputs, trained on x and y: Adam, lr 0.003, batch 64 */
static dst_model *t_q8_fit(const dst_layer_desc *l, int n, int dim, const float *x, const int *y, size_t count, int epochs)
{
    dst_model_desc d = dst_model_desc_default();
    dst_optimizer_config opt = dst_optimizer_default(DST_ADAM);
    dst_fit_config fit = dst_fit_default();
    dst_model *m;
    d.input_c = dim; d.layers = l; d.layer_count = n;
    if (dst_model_create(&m, &d, NULL) != DST_OK) return NULL;
    opt.lr = 0.003f;
    fit.epochs = epochs;
    fit.batch_size = 64;
    if (dst_model_set_optimizer(m, &opt) != DST_OK || dst_model_fit(m, x, y, count, &fit) != DST_OK) {
        dst_model_free(m);
        return NULL;
    }
    return m;
}

static int test_quantize_mlp_close_to_float(void)
{
    enum { DIM = 32, K = 10, N = 3000, NT = 2000 };
    float *x = (float *)malloc(sizeof(float) * N * DIM), *xt = (float *)malloc(sizeof(float) * NT * DIM), centers[K * DIM];
    int *y = (int *)malloc(sizeof(int) * N), *yt = (int *)malloc(sizeof(int) * NT);
    dst_layer_desc l[6] = { dst_dense(64), dst_relu(), dst_dense(32), dst_batchnorm(), dst_relu(), dst_dense(K) };
    dst_quantize_options qo = dst_quantize_default();
    dst_model *m, *q, *qp;
    dst_error e;
    float agree, acc_f, acc_q;
    int c;
    t_fill(centers, K * DIM, 1.0f);
    t_q8_blobs(x, y, N, DIM, K, centers, 1.2f);
    t_q8_blobs(xt, yt, NT, DIM, K, centers, 1.2f);
    T_CHECK((m = t_q8_fit(l, 6, DIM, x, y, N, 4)) != NULL);
    T_CHECK_MSG(dst_model_quantize(m, x, 500, NULL, &q, &e) == DST_OK, "%s", e.message);
    T_CHECK(dst_model_is_quantized(q) && !dst_model_is_quantized(m));
    T_CHECK(dst_model_layer_count(q) == 5); /* the batch norm folded */
    agree = t_q8_agreement(m, q, xt, yt, NT, &acc_f, &acc_q);
    printf("    mlp: float %.4f, int8 %.4f, argmax agreement %.4f\n", acc_f, acc_q, agree);
    T_CHECK(acc_f > 0.8f);
    T_CHECK(agree >= 0.97f);
    T_CHECK(acc_q > acc_f - 0.01f);
    T_CHECK(t_q8_levels_agree(q, xt, 200));
    for (c = 0; c < 2; ++c) { /* the other calibrations (the default is MSE) */
        qo.calibration = c ? DST_CALIBRATE_MINMAX : DST_CALIBRATE_PERCENTILE;
        T_CHECK(dst_model_quantize(m, x, 500, &qo, &qp, NULL) == DST_OK);
        agree = t_q8_agreement(m, qp, xt, yt, NT, &acc_f, &acc_q);
        printf("    mlp, %s: int8 %.4f, argmax agreement %.4f\n", c ? "min/max" : "percentile 99.99", acc_q, agree);
        T_CHECK(agree >= 0.97f);
        dst_model_free(qp);
    }
    dst_model_free(q);
    dst_model_free(m);
    free(x); free(xt); free(y); free(yt);
    return 0;
}

/* MSE calibration's range: a million values on [0, 1) and one outlier at
   the top of [0, 100]: the squared errors balance where clipping the
   outlier, (100 - h)^2, meets the rounding of the rest, 10^6 (h / 255)^2 /
   12 (h about 44), far below min/max's 100; values spread evenly over the
   whole range: nearly all of it stays */
static int test_quantize_mse_range(void)
{
    static uint64_t hist[DST__Q8_BINS];
    dst__q8_range q;
    int i;
    memset(hist, 0, sizeof hist);
    for (i = 0; i < 20; ++i) hist[i] = 50000;
    hist[DST__Q8_BINS - 1] = 1;
    q.lo = 0; q.hi = 100; q.hist = hist;
    dst__q8_mse(&q);
    T_CHECK_MSG(q.lo == 0 && q.hi > 35 && q.hi < 55, "range [%g, %g]", q.lo, q.hi);
    for (i = 0; i < DST__Q8_BINS; ++i) hist[i] = 10;
    q.lo = -1; q.hi = 3;
    dst__q8_mse(&q);
    T_CHECK_MSG(q.lo >= -1 && q.hi <= 3 && q.hi - q.lo > 0.95 * 4, "range [%g, %g]", q.lo, q.hi);
    return 0;
}

/* every layer kind an int8 CNN meets: conv (plain, depthwise, grouped),
   batch norm (folded), ReLU (fused and alone), a float-only layer
   (sigmoid), max, average and global pooling, dropout, flatten, dense */
static int test_quantize_cnn_close_to_float(void)
{
    enum { C = 2, H = 10, W = 10, K = 4, N = 1200, NT = 600, SZ = C * H * W };
    float *x = (float *)malloc(sizeof(float) * N * SZ), *xt = (float *)malloc(sizeof(float) * NT * SZ), centers[K * SZ];
    int *y = (int *)malloc(sizeof(int) * N), *yt = (int *)malloc(sizeof(int) * NT);
    dst_layer_desc l[14];
    dst_model_desc d = dst_model_desc_default();
    dst_optimizer_config opt = dst_optimizer_default(DST_ADAM);
    dst_fit_config fit = dst_fit_default();
    dst_model *m, *q;
    dst_error e;
    float agree, acc_f, acc_q;
    int n = 0;
    l[n++] = dst_conv2d(8, 3, 1, 1);
    l[n++] = dst_batchnorm();
    l[n++] = dst_relu();
    l[n++] = dst_depthwise_conv2d(8, 3, 1, 1);
    l[n++] = dst_relu();
    l[n] = dst_conv2d(8, 3, 2, 1); l[n++].groups = 2;
    l[n++] = dst_sigmoid();
    l[n++] = dst_maxpool2d(2, 0, 0);
    l[n++] = dst_relu();
    l[n++] = dst_avgpool2d(3, 1, 1);
    l[n++] = dst_dropout2d(0.1f);
    l[n++] = dst_global_avgpool();
    l[n++] = dst_flatten();
    l[n++] = dst_dense(K);
    t_fill(centers, K * SZ, 1.0f);
    t_q8_blobs(x, y, N, SZ, K, centers, 1.5f);
    t_q8_blobs(xt, yt, NT, SZ, K, centers, 1.5f);
    d.input_c = C; d.input_h = H; d.input_w = W; d.layers = l; d.layer_count = n;
    T_CHECK(dst_model_create(&m, &d, NULL) == DST_OK);
    opt.lr = 0.01f;
    dst_model_set_optimizer(m, &opt);
    fit.epochs = 6;
    fit.batch_size = 32;
    T_CHECK(dst_model_fit(m, x, y, N, &fit) == DST_OK);
    T_CHECK_MSG(dst_model_quantize(m, x, 300, NULL, &q, &e) == DST_OK, "%s", e.message);
    agree = t_q8_agreement(m, q, xt, yt, NT, &acc_f, &acc_q);
    printf("    cnn: float %.4f, int8 %.4f, argmax agreement %.4f\n", acc_f, acc_q, agree);
    T_CHECK(acc_f > 0.7f);
    T_CHECK(agree >= 0.95f);
    T_CHECK(acc_q > acc_f - 0.02f);
    T_CHECK(t_q8_levels_agree(q, xt, 64));
    dst_model_free(q);
    dst_model_free(m);
    free(x); free(xt); free(y); free(yt);
    return 0;
}

static int test_quantize_refuses_training_and_bad_arguments(void)
{
    float x[40 * 4], d_out[40 * 3];
    int y[40], i;
    dst_layer_desc l[3] = { dst_dense(8), dst_relu(), dst_dense(3) };
    dst_model_desc d = dst_model_desc_default();
    dst_optimizer_config opt = dst_optimizer_default(DST_SGD);
    dst_quantize_options qo = dst_quantize_default();
    dst_fit_config fit = dst_fit_default();
    dst_model *m, *q, *q2 = NULL;
    dst_error e;
    unsigned char *buf = NULL;
    size_t len = 0;
    const float *out;
    t_fill(x, 40 * 4, 1.0f);
    for (i = 0; i < 40; ++i) y[i] = i % 3;
    memset(d_out, 0, sizeof d_out);
    d.input_c = 4; d.layers = l; d.layer_count = 3;
    T_CHECK(dst_model_create(&m, &d, NULL) == DST_OK);
    T_CHECK(dst_model_quantize(m, x, 40, NULL, NULL, &e) == DST_ERR_ARG);
    T_CHECK(dst_model_quantize(m, NULL, 40, NULL, &q, &e) == DST_ERR_ARG && q == NULL);
    T_CHECK(dst_model_quantize(m, x, 0, NULL, &q, &e) == DST_ERR_ARG);
    qo.calibration = DST_CALIBRATE_PERCENTILE; qo.percentile = 40;
    T_CHECK(dst_model_quantize(m, x, 40, &qo, &q, &e) == DST_ERR_ARG && strstr(e.message, "percentile"));
    qo = dst_quantize_default(); qo.calibration = (dst_calibration)7;
    T_CHECK(dst_model_quantize(m, x, 40, &qo, &q, &e) == DST_ERR_ARG);
    x[5] = NAN;
    T_CHECK(dst_model_quantize(m, x, 40, NULL, &q, &e) == DST_ERR_ARG && strstr(e.message, "non-finite"));
    x[5] = 0.5f;
    T_CHECK(dst_model_quantize(m, x, 40, NULL, &q, &e) == DST_OK);
    T_CHECK(dst_model_quantize(q, x, 40, NULL, &q2, &e) == DST_ERR_ARG && q2 == NULL);
    T_CHECK(dst_model_set_optimizer(q, &opt) == DST_ERR_UNSUPPORTED && strstr(dst_model_error(q), "int8"));
    T_CHECK(dst_model_train_step(q, x, y, 40, NULL, 1, 0, NULL) == DST_ERR_UNSUPPORTED);
    T_CHECK(dst_model_fit(q, x, y, 40, &fit) == DST_ERR_UNSUPPORTED);
    T_CHECK(dst_model_forward(q, x, 40, 1, &out) == DST_ERR_UNSUPPORTED);
    T_CHECK(dst_model_backward(q, d_out) == DST_ERR_UNSUPPORTED);
    T_CHECK(dst_model_forward(q, x, 40, 0, &out) == DST_OK && out != NULL);
    T_CHECK(dst_model_evaluate(q, x, y, 40, 7, NULL, NULL) == DST_OK);
    dst_model_free(q);
    dst_model_free(m);
    dst_free(buf);
    (void)len;
    return 0;
}

static void t_q8_put32(unsigned char *p, unsigned long v)
{
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}

/* the two CRC32s of a file edited by hand */
static void t_q8_fix_crc(unsigned char *buf, size_t len)
{
    t_q8_put32(buf + 24, dst_crc32(0, buf + 32, len - 32));
    t_q8_put32(buf + 28, dst_crc32(0, buf, 28));
}

/* where QUAN's payload starts (0: none) */
static size_t t_q8_quan_at(const unsigned char *buf, size_t len)
{
    size_t pos = 32;
    while (pos + 16 <= len) {
        size_t size = (size_t)t_u32(buf + pos + 8);
        if (memcmp(buf + pos, "QUAN", 4) == 0) return pos + 16;
        if (memcmp(buf + pos, "ARCH", 4) && memcmp(buf + pos, "TENS", 4) && memcmp(buf + pos, "META", 4) &&
            memcmp(buf + pos, "TRAI", 4))
            return 0;
        pos += 16 + (size + 7) / 8 * 8;
    }
    return 0;
}

/* an int8 model through the weight file: version 1.1, a QUAN chunk, int8
   weights and int32 biases; the loaded model gives the same bits; the
   file is about a quarter of the float one; every truncation and some
   crafted edits are refused */
static int test_quantize_weight_file_round_trip(void)
{
    enum { C = 1, H = 8, W = 8, N = 64 };
    float x[N * C * H * W], *a = (float *)malloc(sizeof(float) * N * 3), *b = (float *)malloc(sizeof(float) * N * 3);
    dst_layer_desc l[9] = { dst_conv2d(6, 3, 1, 1), dst_batchnorm(), dst_relu(), dst_maxpool2d(2, 0, 0), dst_tanh(),
                           dst_flatten(), dst_dense(40), dst_relu(), dst_dense(3) };
    dst_model_desc d = dst_model_desc_default();
    dst_model *m, *q, *back;
    dst_error e;
    unsigned char *fbuf = NULL, *qbuf = NULL, *cut;
    size_t flen = 0, qlen = 0, i, quan, bytes;
    dst_layer_info info;
    t_fill(x, sizeof x / sizeof x[0], 1.0f);
    d.input_c = C; d.input_h = H; d.input_w = W; d.layers = l; d.layer_count = 9;
    T_CHECK(dst_model_create(&m, &d, NULL) == DST_OK);
    { float *bn = dst_model_buffers(m); for (i = 0; i < 12; ++i) bn[i] = i < 6 ? 0.1f * (float)i : 0.5f + 0.1f * (float)i; }
    T_CHECK(dst_model_quantize(m, x, N, NULL, &q, &e) == DST_OK);
    T_CHECK(dst_model_write_memory(m, &fbuf, &flen, NULL) == DST_OK);
    T_CHECK_MSG(dst_model_write_memory(q, &qbuf, &qlen, &e) == DST_OK, "%s", e.message);
    printf("    file: float %lu bytes, int8 %lu bytes\n", (unsigned long)flen, (unsigned long)qlen);
    T_CHECK(qlen * 3 < flen);
    T_CHECK(t_u32(qbuf + 8) == 0x10001u && t_u32(fbuf + 8) == 0x1u); /* versions 1.1 and 1.0 */
    T_CHECK_MSG(dst_model_parse(&back, qbuf, qlen, &e) == DST_OK, "%s", e.message);
    T_CHECK(dst_model_is_quantized(back));
    T_CHECK(dst_model_predict(q, x, N, a) == DST_OK && dst_model_predict(back, x, N, b) == DST_OK);
    T_CHECK(memcmp(a, b, sizeof(float) * N * 3) == 0);
    T_CHECK(dst_model_param_count(back) == dst_model_param_count(q) &&
            memcmp(dst_model_params(back), dst_model_params(q), dst_model_param_count(q) * sizeof(float)) == 0);
    T_CHECK(dst_model_layer(back, 5, &info) == DST_OK && info.desc.kind == DST_LAYER_DENSE);
    dst_model_free(back);
    /* written again: the same bytes */
    {
        unsigned char *again = NULL;
        size_t alen = 0;
        T_CHECK(dst_model_parse(&back, qbuf, qlen, NULL) == DST_OK);
        T_CHECK(dst_model_write_memory(back, &again, &alen, NULL) == DST_OK);
        T_CHECK(alen == qlen && memcmp(again, qbuf, qlen) == 0);
        dst_free(again);
        dst_model_free(back);
    }
    T_CHECK(dst_model_write_checkpoint_memory(q, &cut, &bytes, &e) == DST_ERR_ARG);
    /* every truncation */
    for (i = 0; i < qlen; i += 1 + i / 64) {
        cut = (unsigned char *)malloc(i ? i : 1);
        memcpy(cut, qbuf, i);
        T_CHECK_MSG(dst_model_parse(&back, cut, i, NULL) == DST_ERR_FORMAT && back == NULL, "truncated at %lu", (unsigned long)i);
        free(cut);
    }
    /* crafted: each edit keeps the CRCs right */
    quan = t_q8_quan_at(qbuf, qlen);
    T_CHECK(quan != 0);
    cut = (unsigned char *)malloc(qlen);
    {
        static const struct { size_t off; unsigned long v; const char *msg; } edits[] = {
            { 0, 7, "QUAN: " },                  /* layer count (the model has 8) */
            { 12, 256, "zero point 256" },       /* the input's zero point */
            { 8, 0, "scale 0" },                 /* the input's scale */
            { 16 + 16 * 0 + 8, 0, "int8 weights 0, must be 1" }, /* layer 0 (conv) said float */
            { 16 + 16 * 1 + 8, 1, "int8 weights 1, must be 0" }, /* layer 1 (relu) said int8 */
            { 16 + 16 * 2 + 12, 7, "int8 weights" },             /* reserved */
            { 16 + 16 * 8, 0xFF800000ul, "weight scale" },       /* -inf: the first weight scale */
        };
        for (i = 0; i < sizeof edits / sizeof edits[0]; ++i) {
            memcpy(cut, qbuf, qlen);
            t_q8_put32(cut + quan + edits[i].off, edits[i].v);
            t_q8_fix_crc(cut, qlen);
            T_CHECK_MSG(dst_model_parse(&back, cut, qlen, &e) == DST_ERR_FORMAT && strstr(e.message, edits[i].msg),
                        "edit %lu: %s", (unsigned long)i, e.message);
        }
    }
    /* the conv's weight said float32: refused (its dtype byte follows the name "0.weight") */
    memcpy(cut, qbuf, qlen);
    for (i = 32; i + 10 < qlen; ++i)
        if (memcmp(cut + i, "\x08\x00" "0.weight", 10) == 0) break;
    T_CHECK(i + 10 < qlen && cut[i + 10] == 4);
    cut[i + 10] = 1;
    t_q8_fix_crc(cut, qlen);
    T_CHECK_MSG(dst_model_parse(&back, cut, qlen, &e) == DST_ERR_FORMAT && strstr(e.message, "is int8 (4)"), "%s", e.message);
    /* QUAN gone (renamed to an unknown optional chunk): the int8 tensors are refused */
    memcpy(cut, qbuf, qlen);
    memcpy(cut + quan - 16, "QUAX", 4);
    t_q8_put32(cut + quan - 12, 0);
    t_q8_fix_crc(cut, qlen);
    T_CHECK_MSG(dst_model_parse(&back, cut, qlen, &e) == DST_ERR_FORMAT &&
                (strstr(e.message, "need a QUAN chunk") || strstr(e.message, "more parameters than the file")), "%s", e.message);
    free(cut);
    dst_free(fbuf);
    dst_free(qbuf);
    dst_model_free(q);
    dst_model_free(m);
    free(a); free(b);
    return 0;
}

/* layers without a bias through the weight file (their int32 bias is 0:
   the loader reads none), and dst_model_layer_int8: a loaded model gives
   the integers and scales of the one it was saved from */
static int test_quantize_no_bias_round_trip_and_layer_int8(void)
{
    enum { C = 2, H = 6, W = 6, N = 32 };
    float x[N * C * H * W], a[N * 3], b[N * 3];
    dst_layer_desc l[5] = { dst_conv2d(4, 3, 1, 1), dst_relu(), dst_flatten(), dst_dense(3) };
    dst_model_desc d = dst_model_desc_default();
    dst_model *m, *q, *back;
    dst_layer_int8 qa, qb;
    dst_error e;
    unsigned char *buf = NULL;
    size_t len = 0;
    int i;
    l[0].no_bias = 1;
    l[3].no_bias = 1;
    t_fill(x, sizeof x / sizeof x[0], 1.0f);
    d.input_c = C; d.input_h = H; d.input_w = W; d.layers = l; d.layer_count = 4;
    T_CHECK(dst_model_create(&m, &d, NULL) == DST_OK);
    T_CHECK(dst_model_layer_int8(m, 0, &qa) == DST_ERR_ARG); /* a float model */
    T_CHECK(dst_model_quantize(m, x, N, NULL, &q, &e) == DST_OK);
    T_CHECK_MSG(dst_model_write_memory(q, &buf, &len, &e) == DST_OK, "%s", e.message);
    T_CHECK_MSG(dst_model_parse(&back, buf, len, &e) == DST_OK, "%s", e.message);
    T_CHECK(dst_model_predict(q, x, N, a) == DST_OK && dst_model_predict(back, x, N, b) == DST_OK);
    T_CHECK(memcmp(a, b, sizeof a) == 0);
    for (i = 0; i < 4; ++i) {
        T_CHECK(dst_model_layer_int8(q, i, &qa) == DST_OK && dst_model_layer_int8(back, i, &qb) == DST_OK);
        T_CHECK(qa.in_scale == qb.in_scale && qa.out_scale == qb.out_scale && qa.in_zero == qb.in_zero &&
                qa.out_zero == qb.out_zero && !qa.in_float && qa.relu_fused == qb.relu_fused);
        T_CHECK((qa.weight != NULL) == (i == 0 || i == 3) && (qb.weight != NULL) == (qa.weight != NULL));
        if (qa.weight) {
            int units = i == 0 ? 4 : 3, k = i == 0 ? C * 9 : 4 * H * W, o, j;
            for (o = 0; o < units; ++o) {
                long sum = 0;
                for (j = 0; j < k; ++j) sum += qa.weight[o * k + j];
                T_CHECK(qa.bias[o] == qb.bias[o] && qa.multiplier[o] == qb.multiplier[o]);
                T_CHECK(qa.bias[o] == -(long)qa.in_zero * sum); /* no bias: only the zero point's term */
                T_CHECK(memcmp(qa.weight + o * k, qb.weight + o * k, (size_t)k) == 0);
            }
        }
        if (i) T_CHECK(qa.in_scale == (dst_model_layer_int8(q, i - 1, &qb), qb.out_scale));
    }
    T_CHECK(dst_model_layer_int8(q, 0, &qa) == DST_OK && qa.relu_fused == 1);
    T_CHECK(dst_model_layer_int8(q, 4, &qa) == DST_ERR_ARG && dst_model_layer_int8(q, -1, &qa) == DST_ERR_ARG);
    dst_free(buf);
    dst_model_free(back);
    dst_model_free(q);
    dst_model_free(m);
    return 0;
}

/* ---- quantization-aware training (dst_model_set_quant_aware) ---- */

/* v rounded to 256 levels of the range rg, as the int8 model's activations
   are; *inside: whether v lay within the range (not clamped) */
static float t_qat_round(float v, const dst__q8_range *rg, int *inside)
{
    float s, u;
    int32_t z;
    int c;
    dst__q8_params(rg, &s, &z);
    u = v * (1.0f / s) + ((float)z + 0.5f);
    c = !(u > 0) ? 0 : u >= 255.0f ? 255 : (int)u;
    if (inside) *inside = u >= 0 && u < 256.0f;
    return s * (float)(c - z);
}

/* the tracked range after a batch of n values: the first batch's minimum
   and maximum, then 1% of the way towards each next batch's */
static void t_qat_track(dst__q8_range *rg, const float *v, size_t n, int first)
{
    double lo = v[0], hi = v[0], a = first ? 1.0 : 0.01;
    size_t i;
    for (i = 1; i < n; ++i) {
        if (v[i] < lo) lo = v[i];
        if (v[i] > hi) hi = v[i];
    }
    rg->lo += a * (lo - rg->lo);
    rg->hi += a * (hi - rg->hi);
}

/* rows of w rounded to int8 per row (max |w| / 127), as dequantized values */
static void t_qat_round_rows(float *w, int rows, int k)
{
    int r, i;
    for (r = 0; r < rows; ++r) {
        float amax = 0, s;
        for (i = 0; i < k; ++i) if (fabsf(w[r * k + i]) > amax) amax = fabsf(w[r * k + i]);
        s = (float)((double)amax / 127.0);
        for (i = 0; i < k; ++i) w[r * k + i] = s * (float)floor((double)w[r * k + i] / (double)s + 0.5);
    }
}

/* An MLP 6-5-3 (ReLU fused) trained quantization-aware against a
   reference written out here: its forward with rounded weights, input and
   hidden layer (not the output), its backward the straight-through
   estimator (the gradients at the rounded values, none through a clamped
   value or the ReLU), the float weights back in place after the backward;
   a second batch reaches beyond the tracked ranges, so values clamp. */
static int test_qat_forward_backward_match_reference(void)
{
    enum { I = 6, H = 5, O = 3, B = 4, P = 128 }; /* P: room for the parameters, padded as the model lays them out */
    dst_layer_desc l[3] = { dst_dense(H), dst_relu(), dst_dense(O) };
    dst_model_desc d = dst_model_desc_default();
    dst_model *m;
    float x[B * I], dy[B * O], p0[P], wq[P], xq[B * I], h[B * H], hq[B * H], g[P];
    const float *out, *w1, *b1, *w2, *b2;
    dst__q8_range rx = { 0, 0, NULL }, rh = { 0, 0, NULL };
    int keep[B * H], pass, b, i, j, o, clamped = 0;
    size_t pc, a1, a2;
    dst_layer_info li;
    d.input_c = I; d.layers = l; d.layer_count = 3;
    T_CHECK(dst_model_create(&m, &d, NULL) == DST_OK);
    pc = dst_model_param_count(m);
    T_CHECK(pc <= P);
    dst_model_layer(m, 0, &li); a1 = li.param_offset;
    dst_model_layer(m, 2, &li); a2 = li.param_offset;
    memcpy(p0, dst_model_params(m), pc * sizeof(float));
    memcpy(wq, p0, pc * sizeof(float));
    t_qat_round_rows(wq + a1, H, I);
    t_qat_round_rows(wq + a2, O, H);
    w1 = wq + a1; b1 = w1 + I * H; w2 = wq + a2; b2 = w2 + H * O;
    T_CHECK(dst_model_set_quant_aware(m, 1) == DST_OK);
    for (pass = 0; pass < 2; ++pass) {
        t_fill(x, B * I, pass ? 3.0f : 1.0f);
        t_fill(dy, B * O, 1.0f);
        t_qat_track(&rx, x, B * I, !pass);
        for (j = 0; j < B * I; ++j) xq[j] = t_qat_round(x[j], &rx, NULL);
        for (b = 0; b < B; ++b)
            for (o = 0; o < H; ++o) {
                double t = b1[o];
                for (i = 0; i < I; ++i) t += (double)w1[o * I + i] * xq[b * I + i];
                h[b * H + o] = t > 0 ? (float)t : 0.0f;
            }
        t_qat_track(&rh, h, B * H, !pass);
        for (j = 0; j < B * H; ++j) {
            hq[j] = t_qat_round(h[j], &rh, &keep[j]);
            clamped += !keep[j];
        }
        T_CHECK(dst_model_forward(m, x, B, 1, &out) == DST_OK);
        for (b = 0; b < B; ++b)
            for (o = 0; o < O; ++o) {
                double y = b2[o];
                for (j = 0; j < H; ++j) y += (double)w2[o * H + j] * hq[b * H + j];
                T_CHECK_MSG(fabs(out[b * O + o] - y) < 1e-5 * (1 + fabs(y)), "pass %d: output %d,%d %g, reference %g",
                            pass, b, o, (double)out[b * O + o], y);
            }
        T_CHECK(memcmp(dst_model_params(m), wq, pc * sizeof(float)) == 0); /* the rounded weights, until the backward */
        T_CHECK(dst_model_backward(m, dy) == DST_OK);
        T_CHECK(memcmp(dst_model_params(m), p0, pc * sizeof(float)) == 0); /* the float ones back */
        /* the reference gradients: at the rounded values, straight through each rounding */
        memset(g, 0, sizeof g);
        for (b = 0; b < B; ++b)
            for (j = 0; j < H; ++j) {
                double dh = 0;
                for (o = 0; o < O; ++o) {
                    g[a2 + o * H + j] += dy[b * O + o] * hq[b * H + j];
                    if (j == 0) g[a2 + H * O + o] += dy[b * O + o];
                    dh += (double)dy[b * O + o] * w2[o * H + j];
                }
                if (!keep[b * H + j] || !(hq[b * H + j] > 0)) dh = 0;
                for (i = 0; i < I; ++i) g[a1 + j * I + i] += (float)(dh * xq[b * I + i]);
                g[a1 + I * H + j] += (float)dh;
            }
        for (j = 0; j < (int)pc; ++j)
            T_CHECK_MSG(fabsf(dst_model_grads(m)[j] - g[j]) < 1e-5f * (1 + fabsf(g[j])), "pass %d: gradient %d %g, reference %g",
                        pass, j, (double)dst_model_grads(m)[j], (double)g[j]);
    }
    T_CHECK(clamped > 0); /* the second batch clamped some hidden values: the mask was at work */
    dst_model_free(m);
    return 0;
}

/* Quantization-aware distillation in one fit: a float MLP's copy distilled
   from it with fake quantization on, then quantized with the ranges it
   tracked (no calibration samples): the int8 model gives nearly the
   quantization-aware model's outputs and keeps its accuracy. And the
   refusals. */
static int test_qat_distill_then_quantize_trained(void)
{
    enum { DIM = 32, K = 10, N = 3000, NT = 1000 };
    float *x = (float *)malloc(sizeof(float) * N * DIM), *xt = (float *)malloc(sizeof(float) * NT * DIM), centers[K * DIM];
    float *ya = (float *)malloc(sizeof(float) * NT * K), *yb = (float *)malloc(sizeof(float) * NT * K);
    int *y = (int *)malloc(sizeof(int) * N), *yt = (int *)malloc(sizeof(int) * NT), i, agree = 0;
    dst_layer_desc l[5] = { dst_dense(64), dst_relu(), dst_dense(32), dst_relu(), dst_dense(K) };
    dst_layer_desc lb[3] = { dst_dense(8), dst_batchnorm(), dst_dense(K) };
    dst_model_desc d = dst_model_desc_default();
    dst_optimizer_config opt = dst_optimizer_default(DST_ADAM);
    dst_fit_config fit = dst_fit_default();
    dst_quantize_options qo = dst_quantize_default();
    dst_teacher teacher;
    dst_model *m, *s, *q = NULL, *bn;
    dst_error e;
    float acc_f, acc_q, most = 0, worst = 0, *p0;
    const float *out;
    size_t pc;
    t_fill(centers, K * DIM, 1.0f);
    t_q8_blobs(x, y, N, DIM, K, centers, 1.2f);
    t_q8_blobs(xt, yt, NT, DIM, K, centers, 1.2f);
    T_CHECK((m = t_q8_fit(l, 5, DIM, x, y, N, 3)) != NULL);
    qo.calibration = DST_CALIBRATE_TRAINED;
    T_CHECK(dst_model_quantize(m, NULL, 0, &qo, &q, &e) == DST_ERR_ARG && q == NULL && strstr(e.message, "quantization-aware"));
    T_CHECK(dst_model_fold_batchnorm(m, &s, NULL) == DST_OK); /* no batch norm: a copy */
    T_CHECK(dst_model_set_quant_aware(s, 2) == DST_ERR_ARG);
    T_CHECK(dst_model_set_quant_aware(s, 1) == DST_OK);
    T_CHECK(dst_model_quantize(s, NULL, 0, &qo, &q, &e) == DST_ERR_ARG); /* no training step yet */
    opt.lr = 0.0005f;
    dst_model_set_optimizer(s, &opt);
    teacher = dst_teacher_model(m);
    fit.batch_size = 64;
    fit.teacher = &teacher;
    fit.temperature = 2;
    fit.alpha = 0.5f;
    fit.epochs = 2;
    T_CHECK_MSG(dst_model_fit(s, x, y, N, &fit) == DST_OK, "%s", dst_model_error(s));
    T_CHECK_MSG(dst_model_quantize(s, NULL, 0, &qo, &q, &e) == DST_OK, "%s", e.message);
    pc = dst_model_param_count(s);
    T_CHECK((p0 = (float *)malloc(pc * sizeof(float))) != NULL);
    memcpy(p0, dst_model_params(s), pc * sizeof(float));
    /* predict and evaluate round the weights once for all their batches,
       then put the float ones back; each batch as a forward of its own */
    T_CHECK(dst_model_predict(s, xt, NT, ya) == DST_OK && dst_model_predict(q, xt, NT, yb) == DST_OK);
    T_CHECK(memcmp(dst_model_params(s), p0, pc * sizeof(float)) == 0);
    T_CHECK(dst_model_forward(s, xt + (NT - 40) * DIM, 40, 0, &out) == DST_OK);
    T_CHECK(memcmp(out, ya + (NT - 40) * K, 40 * K * sizeof(float)) == 0);
    T_CHECK(dst_model_evaluate(s, xt, yt, NT, 100, NULL, &acc_f) == DST_OK);
    T_CHECK(memcmp(dst_model_params(s), p0, pc * sizeof(float)) == 0);
    free(p0);
    for (i = 0; i < NT * K; ++i) {
        if (fabsf(ya[i]) > most) most = fabsf(ya[i]);
        if (fabsf(ya[i] - yb[i]) > worst) worst = fabsf(ya[i] - yb[i]);
    }
    for (i = 0; i < NT; ++i) agree += dst__argmax(ya + i * K, K) == dst__argmax(yb + i * K, K);
    T_CHECK(dst_model_evaluate(s, xt, yt, NT, 0, NULL, &acc_f) == DST_OK);
    T_CHECK(dst_model_evaluate(q, xt, yt, NT, 0, NULL, &acc_q) == DST_OK);
    printf("    quantization-aware: fake-quantized %.4f, int8 %.4f, argmax agreement %.4f, largest difference %.4f of %.2f\n",
           acc_f, acc_q, agree / (double)NT, worst, most);
    T_CHECK(acc_f > 0.8f && acc_q > acc_f - 0.01f);
    T_CHECK(agree >= NT * 99 / 100);
    T_CHECK(worst < 0.05f * most);
    T_CHECK(dst_model_set_quant_aware(q, 1) == DST_ERR_UNSUPPORTED);
    T_CHECK(dst_model_set_quant_aware(s, 0) == DST_OK);
    dst_model_free(q);
    T_CHECK(dst_model_quantize(s, NULL, 0, &qo, &q, &e) == DST_ERR_ARG); /* off: the ranges forgotten */
    d.input_c = DIM; d.layers = lb; d.layer_count = 3;
    T_CHECK(dst_model_create(&bn, &d, NULL) == DST_OK);
    T_CHECK(dst_model_set_quant_aware(bn, 1) == DST_ERR_UNSUPPORTED && strstr(dst_model_error(bn), "fold"));
    dst_model_free(bn);
    dst_model_free(s);
    dst_model_free(m);
    free(x); free(xt); free(y); free(yt); free(ya); free(yb);
    return 0;
}

static const t_case quantize_tests[] = {
    { "quantize_q8_dot_every_level_matches_scalar", test_q8_dot_every_level_matches_scalar },
    { "quantize_q8_conv_every_level_matches_scalar", test_q8_conv_every_level_matches_scalar },
    { "quantize_q8_patches_every_level_matches_reference", test_q8_patches_every_level_matches_reference },
    { "quantize_q8_max2x2_every_level_matches_scalar", test_q8_max2x2_every_level_matches_scalar },
    { "quantize_q8_requant_every_level_matches_scalar", test_q8_requant_every_level_matches_scalar },
    { "quantize_qat_kernels_every_level_match_scalar", test_qat_kernels_every_level_match_scalar },
    { "quantize_mlp_close_to_float", test_quantize_mlp_close_to_float },
    { "quantize_mse_range", test_quantize_mse_range },
    { "quantize_cnn_close_to_float", test_quantize_cnn_close_to_float },
    { "quantize_refuses_training_and_bad_arguments", test_quantize_refuses_training_and_bad_arguments },
    { "quantize_weight_file_round_trip", test_quantize_weight_file_round_trip },
    { "quantize_no_bias_round_trip_and_layer_int8", test_quantize_no_bias_round_trip_and_layer_int8 },
    { "quantize_qat_forward_backward_match_reference", test_qat_forward_backward_match_reference },
    { "quantize_qat_distill_then_quantize_trained", test_qat_distill_then_quantize_trained },
};

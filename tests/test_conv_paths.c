/* tests/test_conv_paths.c - the fast convolution paths against the plain
   reference loops (random shapes with odd sizes, every option), gradient
   checks through the fast paths, no allocation per step, and batch norm
   folding for inference. */

/* ---- the fast paths against the reference loops ---------------------------------- */

/* im2col by the definition, every element tested against the bounds */
static void t_im2col_naive(const dst_conv2d_params *p, int oh, int ow, const float *x, float *col)
{
    int c, i, j, yo, xo;
    for (c = 0; c < p->in_c; ++c)
        for (i = 0; i < p->kernel_h; ++i)
            for (j = 0; j < p->kernel_w; ++j)
                for (yo = 0; yo < oh; ++yo)
                    for (xo = 0; xo < ow; ++xo) {
                        int ih = yo * p->stride_h - p->pad_h + i * p->dilation_h;
                        int iw = xo * p->stride_w - p->pad_w + j * p->dilation_w;
                        *col++ = ih >= 0 && ih < p->in_h && iw >= 0 && iw < p->in_w
                                     ? x[((size_t)c * p->in_h + ih) * p->in_w + iw] : 0.0f;
                    }
}

/* A random convolution with odd sizes: every option somewhere. */
static dst_conv2d_params t_random_conv(int t, int *batch, int *bias)
{
    dst_conv2d_params p;
    int r = (int)((t_rand() + 1) * 1000);
    do {
        int g;
        p.groups = 1 + (int)((t_rand() + 1) * 1.5f);                 /* 1..3 */
        g = p.groups;
        p.in_c = g * (1 + (int)((t_rand() + 1) * 1.5f));             /* 1..3 per group */
        if (t_rand() > 0.4f) { p.in_c = g; }                          /* one per group: depthwise shapes */
        p.out_c = g * (1 + (int)((t_rand() + 1) * 2));                /* 1..4 per group */
        p.kernel_h = 1 + (int)((t_rand() + 1) * 2.5f);                /* 1..5 */
        p.kernel_w = t_rand() > 0 ? p.kernel_h : 1 + (int)((t_rand() + 1) * 2.5f);
        p.stride_h = 1 + (t_rand() > 0.3f ? 0 : (int)((t_rand() + 1) * 1.5f));
        p.stride_w = t_rand() > 0 ? p.stride_h : 1 + (int)((t_rand() + 1));
        p.pad_h = (int)((t_rand() + 1) * 1.5f);                       /* 0..2 */
        p.pad_w = t_rand() > 0 ? p.pad_h : (int)((t_rand() + 1) * 1.5f);
        p.dilation_h = t_rand() > 0.5f ? 2 : 1;
        p.dilation_w = t_rand() > 0.5f ? p.dilation_h : 1;
        p.in_h = 1 + (int)((t_rand() + 1) * 7);                       /* 1..14 */
        p.in_w = 1 + (int)((t_rand() + 1) * 7);
        if (t % 8 == 0) { p.kernel_h = p.kernel_w = p.stride_h = p.stride_w = 1; p.pad_h = p.pad_w = 0; }
    } while (dst_conv2d_check(&p, NULL, NULL, NULL) != DST_OK);
    *batch = 1 + (int)((t_rand() + 1) * 2.5f);                        /* 1..5 */
    *bias = (r & 1) == 0;
    return p;
}

static int test_conv_paths_match_reference(void)
{
    int t, bad = 0, direct_shapes = 0, pointwise_shapes = 0;
    double worst = 0;
    for (t = 0; t < 150 && !bad; ++t) {
        int batch, has_bias, oh, ow, path, k;
        dst_conv2d_params p = t_random_conv(t, &batch, &has_bias);
        size_t xn, yn, wn, cn, work_n;
        float *x, *w, *b, *dy, *y0, *dx0, *dw0, *db0, *y1, *dx1, *dw1, *db1, *work, *col0, *col1;
        dst_conv2d_check(&p, &oh, &ow, NULL);
        xn = (size_t)batch * p.in_c * p.in_h * p.in_w;
        yn = (size_t)batch * p.out_c * oh * ow;
        wn = (size_t)p.out_c * (p.in_c / p.groups) * p.kernel_h * p.kernel_w;
        cn = (size_t)p.in_c * p.kernel_h * p.kernel_w * oh * ow;
        work_n = dst__conv_work_floats(&p, DST__CONV_GEMM, 4);
        if (dst__conv_work_floats(&p, DST__CONV_GEMM, 1) > work_n) work_n = dst__conv_work_floats(&p, DST__CONV_GEMM, 1);
        direct_shapes += dst__conv_direct(&p);
        pointwise_shapes += dst__conv_pointwise(&p);
        x = (float *)malloc(xn * 4); dx0 = (float *)malloc(xn * 4); dx1 = (float *)malloc(xn * 4);
        y0 = (float *)malloc(yn * 4); y1 = (float *)malloc(yn * 4); dy = (float *)malloc(yn * 4);
        w = (float *)malloc(wn * 4); dw0 = (float *)malloc(wn * 4); dw1 = (float *)malloc(wn * 4);
        b = (float *)malloc((size_t)p.out_c * 4); db0 = (float *)malloc((size_t)p.out_c * 4);
        db1 = (float *)malloc((size_t)p.out_c * 4);
        work = (float *)malloc(work_n * 4 + 4);
        col0 = (float *)malloc(cn * 4); col1 = (float *)malloc(cn * 4);
        t_fill(x, xn, 1); t_fill(w, wn, 1); t_fill(b, (size_t)p.out_c, 1); t_fill(dy, yn, 1);
        dst__conv2d_forward(&p, DST__CONV_REFERENCE, batch, x, w, has_bias ? b : NULL, y0, NULL, 1, NULL);
        dst__conv2d_backward(&p, DST__CONV_REFERENCE, batch, x, w, dy, dx0, dw0, db0, NULL, 1, NULL);
        /* im2col / col2im of the first sample, all channels, against the definition */
        {
            dst_conv2d_params q = p;
            q.groups = 1;
            t_im2col_naive(&q, oh, ow, x, col0);
            memset(col1, 0xff, cn * 4); /* NaN: every element must be written */
            dst_im2col(&q, p.in_c, x, col1);
            if (memcmp(col0, col1, cn * 4) != 0) { printf("    im2col differs\n"); bad = 1; }
            /* col2im is the transpose: <col2im(c), x> = <c, im2col(x)> */
            {
                float *back = (float *)calloc((size_t)p.in_c * p.in_h * p.in_w, 4);
                double lhs = 0, rhs = 0;
                size_t i;
                t_fill(col1, cn, 1);
                dst_col2im(&q, p.in_c, col1, back);
                for (i = 0; i < (size_t)p.in_c * p.in_h * p.in_w; ++i) lhs += (double)back[i] * x[i];
                for (i = 0; i < cn; ++i) rhs += (double)col1[i] * col0[i];
                if (fabs(lhs - rhs) > 1e-4 * (1 + fabs(rhs))) { printf("    col2im is not im2col's transpose\n"); bad = 1; }
                free(back);
            }
        }
        /* paths: GEMM one sample at a time, GEMM 4 samples side by side, direct, and the public AUTO */
        for (path = 0; path < 4 && !bad; ++path) {
            int with_dx = (t + path) % 5 != 0, with_dw = (t + path) % 7 != 0;
            memset(y1, 0xff, yn * 4); memset(dx1, 0xff, xn * 4); memset(dw1, 0xff, wn * 4); memset(db1, 0xff, (size_t)p.out_c * 4);
            if (path == 3) {
                T_CHECK(dst_conv2d_forward(&p, batch, x, w, has_bias ? b : NULL, y1, work) == DST_OK);
                T_CHECK(dst_conv2d_backward(&p, batch, x, w, dy, with_dx ? dx1 : NULL, with_dw ? dw1 : NULL, db1, work) == DST_OK);
            } else {
                dst__conv_path cp = path == 2 ? DST__CONV_DIRECT : DST__CONV_GEMM;
                int nb = path == 1 ? 4 : 1;
                dst__conv2d_forward(&p, cp, batch, x, w, has_bias ? b : NULL, y1, work, nb, NULL);
                dst__conv2d_backward(&p, cp, batch, x, w, dy, with_dx ? dx1 : NULL, with_dw ? dw1 : NULL, db1, work, nb, NULL);
            }
            k = t_close(y1, y0, yn, 1e-4f, 1e-4f, "y") && (!with_dx || t_close(dx1, dx0, xn, 1e-4f, 1e-4f, "dx")) &&
                (!with_dw || t_close(dw1, dw0, wn, 1e-4f, 1e-4f, "dw")) && t_close(db1, db0, (size_t)p.out_c, 1e-4f, 1e-4f, "db");
            if (!k) {
                printf("    case %d path %d: in %dx%dx%d out_c %d kernel %dx%d stride %dx%d pad %dx%d dil %dx%d groups %d batch %d\n",
                       t, path, p.in_c, p.in_h, p.in_w, p.out_c, p.kernel_h, p.kernel_w, p.stride_h, p.stride_w,
                       p.pad_h, p.pad_w, p.dilation_h, p.dilation_w, p.groups, batch);
                bad = 1;
            }
            if (t_maxdiff(y1, y0, yn) > worst) worst = t_maxdiff(y1, y0, yn);
            /* with the ReLU a following ReLU layer hands to the conv */
            if (path < 3) {
                size_t i;
                dst__conv2d_forward_relu(&p, path == 2 ? DST__CONV_DIRECT : DST__CONV_GEMM, batch, x, w, has_bias ? b : NULL, 1,
                                         y1, work, path == 1 ? 4 : 1, NULL);
                for (i = 0; i < yn && !bad; ++i)
                    if (fabsf(y1[i] - (y0[i] > 0 ? y0[i] : 0.0f)) > 1e-4f * (1 + fabsf(y0[i])) || y1[i] < 0) {
                        printf("    case %d path %d: relu output %lu: %g, reference %g\n", t, path, (unsigned long)i,
                               (double)y1[i], (double)y0[i]);
                        bad = 1;
                    }
            }
        }
        free(x); free(dx0); free(dx1); free(y0); free(y1); free(dy); free(w); free(dw0); free(dw1);
        free(b); free(db0); free(db1); free(work); free(col0); free(col1);
    }
    printf("    %d random convolutions (%d direct, %d 1x1), 4 paths each, worst y error %.2g\n",
           t, direct_shapes, pointwise_shapes, worst);
    T_CHECK(!bad);
    T_CHECK(direct_shapes > 20 && pointwise_shapes > 0);
    return 0;
}

/* Gradients by finite differences through the Winograd forward, the direct
   path (depthwise with a multiplier, strides, dilation, padding), a gray
   first layer and the side-by-side GEMM path (small planes). */
static int test_conv_fast_paths_gradients(void)
{
    dst_layer_desc gray[4] = { dst_conv2d(3, 3, 2, 1), dst_tanh(), dst_conv2d(4, 3, 1, 1), dst_dense(4) };
    dst_layer_desc dw[6] = { dst_conv2d(3, 1, 1, 0), dst_tanh(), dst_depthwise_conv2d(3, 3, 1, 2), dst_tanh(),
                            dst_depthwise_conv2d(6, 3, 2, 0), dst_dense(5) };
    dst_layer_desc pw[6] = { dst_conv2d(4, 3, 1, 1), dst_tanh(), dst_conv2d(3, 1, 1, 0), dst_tanh(),
                            dst_conv2d(4, 2, 2, 0), dst_dense(3) };
    gray[0].kernel_w = 5; gray[0].pad_w = 2; gray[0].dilation_h = 2;
    dw[2].dilation_h = dw[2].dilation_w = 2;
    dw[4].groups = 3; dw[4].stride_w = 1; dw[4].kernel_w = 2;
    /* a model whose second conv takes Winograd (16 -> 16, 3x3, 20x20 planes: 300 tiles in the
       gradient check's batch of 3, above DST__CONV_WINOGRAD_TILES) */
    {
        dst_layer_desc wino[6] = { dst_conv2d(16, 3, 1, 1), dst_tanh(), dst_conv2d(16, 3, 1, 1), dst_tanh(),
                                  dst_global_avgpool(), dst_dense(4) };
        dst_conv2d_params q = dst_conv2d_params_make(16, 20, 20, 16, 3, 1, 1);
        T_CHECK(!dst__conv_winograd_shape(&q) || dst_simd_active() != DST_SIMD_AVX512 ||
                (dst__conv_path_of(&q, DST__CONV_AUTO, 3) == DST__CONV_WINOGRAD &&
                 dst__conv_path_of(&q, DST__CONV_AUTO, 2) == DST__CONV_GEMM));
        T_CHECK(t_conv_gradcheck(wino, 6, 2, 20, 20, 1) == 0);
    }
    T_CHECK(t_conv_gradcheck(gray, 4, 1, 9, 7, 1) == 0);
    T_CHECK(t_conv_gradcheck(dw, 6, 2, 7, 8, 1) == 0);
    T_CHECK(t_conv_gradcheck(pw, 6, 2, 5, 7, 0) == 0);
    return 0;
}

/* ---- Winograd F(2x2, 3x3) against the reference ------------------------------------ */

/* Random 3x3 stride-1 shapes (padding 0..2, odd and even sizes down to a
   single output, channels 1..20, so partial tile groups and edge tiles of
   every kind), and a few larger ones (chunks that hold several samples or
   end inside a tile row, tile rows wider than 16 tiles): forward, dx, dW
   and db, with and without bias, at every SIMD level (the AVX-512
   transforms, the plain ones with each level's micro-kernels, and the
   im2col fallback of a scalar run). */
static int test_conv_winograd_matches_reference(void)
{
    int t, ran = 0, nlev = 0, lev;
    double worst = 0;
    dst_simd levels[5];
    dst_conv2d_params any = dst_conv2d_params_make(4, 8, 8, 4, 3, 1, 1);
    if (!dst__conv_winograd_shape(&any)) {
        printf("    Winograd needs the GEMM's micro-kernels: not in this build\n");
        return 0;
    }
    for (t = 0; t < 60; ++t) {
        dst_conv2d_params p;
        int batch = 1 + t % 3, oh, ow, has_bias = t % 2;
        size_t xn, yn, wn, work_n;
        float *x, *w, *b, *dy, *y0, *dx0, *dw0, *db0, *y1, *dx1, *dw1, *db1, *work;
        double scale = 1;
        p = dst_conv2d_params_make(1 + (int)((t_rand() + 1) * 10), 1, 1, 1 + (int)((t_rand() + 1) * 10), 3, 1, t % 3);
        p.in_h = 1 + (int)((t_rand() + 1) * 9);
        p.in_w = 1 + (int)((t_rand() + 1) * 12);
        p.pad_w = (t / 3) % 3;
        if (t == 0) { p.in_c = 32; p.out_c = 20; p.in_h = 26; p.in_w = 26; p.pad_h = p.pad_w = 0; }
        if (t == 1) { p.in_c = 40; p.out_c = 24; p.in_h = 30; p.in_w = 17; p.pad_h = p.pad_w = 1; batch = 3; }
        if (t == 2) { p.in_c = 3; p.out_c = 5; p.in_h = 9; p.in_w = 41; p.pad_h = 0; p.pad_w = 2; }
        if (t == 3) { p.in_c = 17; p.out_c = 9; p.in_h = 6; p.in_w = 35; p.pad_h = 2; p.pad_w = 0; batch = 2; }
        if (dst_conv2d_check(&p, &oh, &ow, NULL) != DST_OK) continue;
        T_CHECK(dst__conv_winograd_shape(&p));
        ran++;
        xn = (size_t)batch * p.in_c * p.in_h * p.in_w; yn = (size_t)batch * p.out_c * oh * ow;
        wn = (size_t)p.out_c * p.in_c * 9;
        work_n = dst__conv_work_floats(&p, DST__CONV_WINOGRAD, 1);
        x = (float *)malloc(xn * 4); dx0 = (float *)malloc(xn * 4); dx1 = (float *)malloc(xn * 4);
        y0 = (float *)malloc(yn * 4); y1 = (float *)malloc(yn * 4); dy = (float *)malloc(yn * 4);
        w = (float *)malloc(wn * 4); dw0 = (float *)malloc(wn * 4); dw1 = (float *)malloc(wn * 4);
        b = (float *)malloc((size_t)p.out_c * 4); db0 = (float *)malloc((size_t)p.out_c * 4);
        db1 = (float *)malloc((size_t)p.out_c * 4); work = (float *)malloc(work_n * 4 + 4);
        t_fill(x, xn, 1); t_fill(w, wn, 1); t_fill(b, (size_t)p.out_c, 1); t_fill(dy, yn, 1);
        dst__conv2d_forward(&p, DST__CONV_REFERENCE, batch, x, w, has_bias ? b : NULL, y0, NULL, 1, NULL);
        dst__conv2d_backward(&p, DST__CONV_REFERENCE, batch, x, w, dy, dx0, dw0, db0, NULL, 1, NULL);
        nlev = t_simd_levels(levels);
        for (lev = 0; lev < nlev; ++lev) {
            dst_simd_force(levels[lev]);
            memset(y1, 0xff, yn * 4); memset(dx1, 0xff, xn * 4); memset(dw1, 0xff, wn * 4);
            dst__conv2d_forward(&p, DST__CONV_WINOGRAD, batch, x, w, has_bias ? b : NULL, y1, work, 1, NULL);
            dst__conv2d_backward(&p, DST__CONV_WINOGRAD, batch, x, w, dy, dx1, dw1, db1, work, 1, NULL);
            dst_simd_force(DST_SIMD_AUTO);
            scale = sqrt((double)(p.in_c > p.out_c ? p.in_c : p.out_c) * 9) * 1e-5; /* values O(1), channels * 9 terms */
            if (!(t_close(y1, y0, yn, 1e-4f, (float)scale, "winograd y") && t_close(dx1, dx0, xn, 1e-4f, (float)scale, "winograd dx") &&
                  t_close(dw1, dw0, wn, 1e-4f, 1e-4f, "winograd dw") && t_close(db1, db0, (size_t)p.out_c, 1e-4f, 1e-4f, "winograd db"))) {
                printf("    case %d (%s): in %dx%dx%d out_c %d pad %dx%d batch %d\n", t, dst_simd_name(levels[lev]), p.in_c,
                       p.in_h, p.in_w, p.out_c, p.pad_h, p.pad_w, batch);
                return 1;
            }
            if (t_maxdiff(y1, y0, yn) > worst) worst = t_maxdiff(y1, y0, yn);
            if (t_maxdiff(dx1, dx0, xn) > worst) worst = t_maxdiff(dx1, dx0, xn);
            /* with the ReLU of a following ReLU layer, in the output transform */
            {
                size_t i;
                dst_simd_force(levels[lev]);
                dst__conv2d_forward_relu(&p, DST__CONV_WINOGRAD, batch, x, w, has_bias ? b : NULL, 1, y1, work, 1, NULL);
                dst_simd_force(DST_SIMD_AUTO);
                for (i = 0; i < yn; ++i)
                    if (fabsf(y1[i] - (y0[i] > 0 ? y0[i] : 0.0f)) > 1e-4f + (float)scale || y1[i] < 0) {
                        printf("    case %d (%s): relu output %lu: %g, reference %g\n", t, dst_simd_name(levels[lev]),
                               (unsigned long)i, (double)y1[i], (double)y0[i]);
                        return 1;
                    }
            }
        }
        free(x); free(dx0); free(dx1); free(y0); free(y1); free(dy); free(w); free(dw0); free(dw1);
        free(b); free(db0); free(db1); free(work);
    }
    printf("    %d Winograd shapes at %d SIMD levels, worst y / dx error %.2g\n", ran, nlev, worst);
    T_CHECK(ran > 40);
    return 0;
}

/* ---- max pooling: the 2x2 path against the reference ------------------------------ */

/* Odd sizes (a last row / column that no window covers; rows of more than
   16 outputs), ties (the first maximum wins), NaNs (a NaN wins, the later
   of two), infinities; at every SIMD level. */
static int test_maxpool_fast_matches_reference(void)
{
    int t, lev, nlev;
    dst_simd levels[5];
    nlev = t_simd_levels(levels);
    for (t = 0; t < 40; ++t) {
        dst_pool2d_params p;
        int n = 1 + t % 3, oh, ow, k;
        size_t xn, yn, i;
        float *x, *y0, *y1;
        int32_t *a0, *a1;
        memset(&p, 0, sizeof p);
        p.channels = 1 + t % 4; p.in_h = 2 + (t * 7) % 13; p.in_w = 2 + (t * 5) % 19 + (t % 3 == 0 ? 30 : 0);
        p.kernel_h = p.kernel_w = 2;
        p.stride_h = t % 2 ? 2 : 0;  /* 0 means the kernel size */
        p.stride_w = 2;
        T_CHECK(dst_pool2d_check(&p, &oh, &ow, NULL) == DST_OK);
        xn = (size_t)n * p.channels * p.in_h * p.in_w;
        yn = (size_t)n * p.channels * oh * ow;
        x = (float *)malloc(xn * 4); y0 = (float *)malloc(yn * 4); y1 = (float *)malloc(yn * 4);
        a0 = (int32_t *)malloc(yn * 4); a1 = (int32_t *)malloc(yn * 4);
        for (i = 0; i < xn; ++i) {
            float r = t_rand();
            x[i] = (float)(int)(r * 3);                 /* few levels: many ties */
            if (r > 0.97f) x[i] = NAN;
            if (r < -0.98f) x[i] = -INFINITY;
            if (t % 5 == 0) x[i] = -INFINITY;           /* all ties at -inf */
        }
        dst__maxpool_forward_ref(&p, n, x, y0, a0);
        for (lev = 0; lev < nlev; ++lev) { /* SSE2 4 at a time, AVX-512 16 at a time */
            dst_simd_force(levels[lev]);
            memset(y1, 0xff, yn * 4); memset(a1, 0xff, yn * 4);
            T_CHECK(dst_maxpool2d_forward(&p, n, x, y1, a1) == DST_OK);
            dst_simd_force(DST_SIMD_AUTO);
            for (k = 0; k < (int)yn; ++k)
                if (a0[k] != a1[k] || (memcmp(&y0[k], &y1[k], 4) != 0 && !(y0[k] != y0[k] && y1[k] != y1[k]))) {
                    printf("    case %d (%s) output %d: %g at %d, reference %g at %d\n", t, dst_simd_name(levels[lev]), k,
                           (double)y1[k], a1[k], (double)y0[k], a0[k]);
                    return 1;
                }
            /* without argmax */
            dst_simd_force(levels[lev]);
            T_CHECK(dst_maxpool2d_forward(&p, n, x, y1, NULL) == DST_OK);
            dst_simd_force(DST_SIMD_AUTO);
            for (k = 0; k < (int)yn; ++k) T_CHECK(y0[k] == y1[k] || (y0[k] != y0[k] && y1[k] != y1[k]));
        }
        free(x); free(y0); free(y1); free(a0); free(a1);
    }
    return 0;
}

/* ---- ReLU's 4-wide loops against the scalar rule ------------------------------------ */

static int test_relu_rows_match_scalar(void)
{
    enum { N = 203 };
    float x[N], dy[N], y[N], dx[N];
    int i, n;
    t_fill(x, N, 2); t_fill(dy, N, 1);
    x[3] = NAN; x[10] = -0.0f; x[11] = INFINITY; x[12] = -INFINITY; x[N - 1] = NAN; x[N - 2] = 0.0f;
    for (n = 0; n <= N; n += n < 20 ? 1 : 37) {
        dst_activation_forward(DST_ACT_RELU, 0, x, y, (size_t)n);
        dst_activation_backward(DST_ACT_RELU, 0, x, y, dy, dx, (size_t)n);
        for (i = 0; i < n; ++i) {
            float want = x[i] > 0 ? x[i] : 0, dwant = x[i] > 0 ? dy[i] : 0;
            T_CHECK_MSG(memcmp(&y[i], &want, 4) == 0 && memcmp(&dx[i], &dwant, 4) == 0,
                        "n %d element %d: x %g y %g dx %g", n, i, (double)x[i], (double)y[i], (double)dx[i]);
        }
    }
    memcpy(y, x, sizeof x);  /* in place */
    dst_activation_forward(DST_ACT_RELU, 0, y, y, N);
    for (i = 0; i < N; ++i) T_CHECK(y[i] == (x[i] > 0 ? x[i] : 0));
    return 0;
}

/* ---- no allocation per step on the fast paths ------------------------------------ */

/* A student-sized CNN whose layers take every path: a gray first layer
   (GEMM, one sample per GEMM), Winograd, small planes (several samples per
   GEMM), depthwise (direct planes), 1x1, 2x2 max pooling. After the first step at
   the largest batch, steps, smaller batches and inference allocate nothing. */
static int test_conv_fast_paths_no_allocation(void)
{
    enum { B = 24 };
    dst_layer_desc L[15] = { dst_conv2d(16, 3, 1, 1), dst_relu(), dst_conv2d(16, 3, 1, 1), dst_relu(),
                           dst_maxpool2d(2, 0, 0), dst_conv2d(6, 3, 1, 1), dst_batchnorm(), dst_relu(),
                           dst_depthwise_conv2d(6, 3, 1, 1), dst_relu(), dst_conv2d(16, 1, 1, 0), dst_relu(),
                           dst_maxpool2d(2, 0, 0), dst_flatten(), dst_dense(10) };
    static float x[B * 20 * 20];
    int y[B], i, n = (int)(sizeof L / sizeof L[0]);
    long before;
    dst_model *m = t_cnn(L, n, 1, 20, 20, 5);
    dst_optimizer_config o = dst_optimizer_default(DST_ADAM);
    float out[B * 10];
    dst_conv2d_params p = dst_conv2d_params_make(16, 10, 10, 6, 3, 1, 1), q = dst_conv2d_params_make(16, 20, 20, 16, 3, 1, 1);
    T_CHECK(m != NULL);
    T_CHECK(dst__conv_samples_per_gemm(&p) > 1 && dst__conv_path_of(&p, DST__CONV_AUTO, B) == DST__CONV_GEMM); /* layer 5 puts samples side by side */
    T_CHECK(!dst__conv_winograd_shape(&q) || dst_simd_active() != DST_SIMD_AVX512 ||
            dst__conv_path_of(&q, DST__CONV_AUTO, B) == DST__CONV_WINOGRAD); /* layer 2 */
    t_fill(x, sizeof x / sizeof x[0], 1);
    for (i = 0; i < B; ++i) y[i] = i % 10;
    dst_model_set_optimizer(m, &o);
    T_CHECK(dst_model_train_step(m, x, y, B, NULL, 0, 0, NULL) == DST_OK);
    before = t_alloc_count;
    for (i = 0; i < 3; ++i) T_CHECK(dst_model_train_step(m, x, y, B - 7 * i, NULL, 0, 0, NULL) == DST_OK);
    T_CHECK(dst_model_predict(m, x, B, out) == DST_OK);
    T_CHECK_MSG(t_alloc_count == before, "%ld allocations after the first step", t_alloc_count - before);
    dst_model_free(m);
    return 0;
}

/* ---- batch norm folding ------------------------------------------------------ */

/* A model with batch norms after convs (with and without bias), after a dense
   layer, and one that cannot fold (after a pool); trained a few steps so the
   running statistics and affine parameters are not their initial values. */
static int test_fold_batchnorm_matches_eval(void)
{
    enum { N = 6 };
    dst_layer_desc L[15] = { dst_conv2d(5, 3, 1, 1), dst_batchnorm(), dst_relu(), dst_conv2d(6, 3, 2, 1),
                           dst_batchnorm(), dst_relu(), dst_maxpool2d(2, 0, 0), dst_batchnorm(),
                           dst_depthwise_conv2d(6, 3, 1, 1), dst_batchnorm(), dst_flatten(), dst_dense(7),
                           dst_batchnorm(), dst_tanh(), dst_dense(4) };
    int n = (int)(sizeof L / sizeof L[0]), i, y[N] = { 0, 1, 2, 3, 1, 2 }, kinds = 0;
    dst_model *m, *f = NULL;
    dst_optimizer_config o = dst_optimizer_default(DST_ADAM);
    dst_error e;
    float x[N * 2 * 9 * 7], want[N * 4], got[N * 4];
    dst_layer_info info;
    L[3].no_bias = 1;
    L[8].no_bias = 1;
    m = t_cnn(L, n, 2, 9, 7, 11);
    T_CHECK(m != NULL);
    t_fill(x, sizeof x / sizeof x[0], 1);
    o.lr = 0.05f;
    dst_model_set_optimizer(m, &o);
    for (i = 0; i < 5; ++i) T_CHECK(dst_model_train_step(m, x, y, N, NULL, 0, 0, NULL) == DST_OK);
    T_CHECK(dst_model_predict(m, x, N, want) == DST_OK);
    T_CHECK(dst_model_fold_batchnorm(m, &f, &e) == DST_OK);
    /* four of the five batch norms folded; the one after the pool stays */
    T_CHECK(dst_model_layer_count(f) == n - 4);
    for (i = 0; i < dst_model_layer_count(f); ++i) {
        dst_model_layer(f, i, &info);
        if (info.desc.kind == DST_LAYER_BATCHNORM) kinds++;
        if (info.desc.kind == DST_LAYER_CONV2D || info.desc.kind == DST_LAYER_DENSE) T_CHECK(info.bias_count > 0);
    }
    T_CHECK(kinds == 1 && dst_model_buffer_count(f) == 2 * 6);
    T_CHECK(dst_model_predict(f, x, N, got) == DST_OK);
    T_CHECK(t_close(got, want, N * 4, 1e-5f, 1e-5f, "folded vs unfolded eval output"));
    /* the original still trains: its batch norms were not touched */
    T_CHECK(dst_model_train_step(m, x, y, N, NULL, 0, 0, NULL) == DST_OK);
    dst_model_free(f);
    /* a model with nothing to fold is copied; bad arguments */
    {
        dst_layer_desc P[4] = { dst_conv2d(3, 3, 1, 0), dst_relu(), dst_flatten(), dst_dense(4) };
        dst_model *p = t_cnn(P, 4, 2, 9, 7, 3), *q = NULL;
        T_CHECK(p != NULL);
        T_CHECK(dst_model_fold_batchnorm(p, &q, NULL) == DST_OK && dst_model_layer_count(q) == 4);
        T_CHECK(dst_model_predict(p, x, N, want) == DST_OK && dst_model_predict(q, x, N, got) == DST_OK);
        T_CHECK(memcmp(want, got, sizeof got) == 0);
        dst_model_free(q);
        dst_model_free(p);
    }
    T_CHECK(dst_model_fold_batchnorm(NULL, &f, &e) == DST_ERR_ARG && f == NULL);
    T_CHECK(dst_model_fold_batchnorm(m, NULL, &e) == DST_ERR_ARG);
    dst_model_free(m);
    return 0;
}

static const t_case conv_path_tests[] = {
    { "conv_paths_match_reference", test_conv_paths_match_reference },
    { "conv_fast_paths_gradients", test_conv_fast_paths_gradients },
    { "conv_winograd_matches_reference", test_conv_winograd_matches_reference },
    { "conv_maxpool_fast_matches_reference", test_maxpool_fast_matches_reference },
    { "conv_relu_rows_match_scalar", test_relu_rows_match_scalar },
    { "conv_fast_paths_no_allocation", test_conv_fast_paths_no_allocation },
    { "conv_fold_batchnorm_matches_eval", test_fold_batchnorm_matches_eval },
};

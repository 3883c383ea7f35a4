/* tests/test_kernels.c - kernels on plain arrays: GEMM against a plain loop,
   softmax, the KD loss (values, gradients by finite differences, extremes),
   MSE, activations, random numbers, optimizers, schedules. */

/* ---- GEMM ---------------------------------------------------------------- */

static int test_gemm_matches_plain_loop(void)
{
    static const int shapes[][3] = { {1, 1, 1}, {3, 5, 7}, {17, 33, 9}, {64, 10, 128}, {10, 1200, 31}, {129, 65, 257}, {2, 300, 1} };
    int s, ta, tb;
    for (s = 0; s < (int)(sizeof shapes / sizeof shapes[0]); ++s)
        for (ta = 0; ta < 2; ++ta)
            for (tb = 0; tb < 2; ++tb) {
                int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
                int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
                size_t na = (size_t)(ta ? k : m) * lda, nb = (size_t)(tb ? n : k) * ldb, nc = (size_t)m * ldc;
                float *a = (float *)malloc(na * 4), *b = (float *)malloc(nb * 4);
                float *c = (float *)malloc(nc * 4), *r = (float *)malloc(nc * 4);
                int ok;
                t_fill(a, na, 1); t_fill(b, nb, 1); t_fill(c, nc, 1);
                memcpy(r, c, nc * 4);
                dst_sgemm(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, -1.5f, c, ldc);
                t_gemm_double(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, -1.5f, r, ldc);
                ok = t_close(c, r, nc, 1e-4f, 1e-4f * (float)k, "sgemm");
                /* beta = 0 must not read C: fill it with NaN */
                { size_t i; for (i = 0; i < nc; ++i) c[i] = NAN; }
                dst_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
                t_gemm_double(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, r, ldc);
                { int i, j; for (i = 0; i < m; ++i) for (j = n; j < ldc; ++j) c[i * ldc + j] = r[i * ldc + j] = 0; }
                ok = ok && t_close(c, r, nc, 1e-4f, 1e-4f * (float)k, "sgemm beta=0");
                free(a); free(b); free(c); free(r);
                T_CHECK_MSG(ok, "m=%d n=%d k=%d ta=%d tb=%d", m, n, k, ta, tb);
            }
    return 0;
}

/* ---- softmax --------------------------------------------------------------- */

static int test_softmax_rows_and_temperature(void)
{
    float z[2 * 5] = { 1, 2, 3, 4, 5, -1e4f, 0, 1e4f, 3, 2 }, p[10], q[10];
    int j;
    double sum = 0;
    dst_softmax(z, p, 2, 5, 1.0f);
    for (j = 0; j < 5; ++j) sum += p[j];
    T_CHECK(fabs(sum - 1) < 1e-6);
    T_CHECK(fabsf(p[4] - 0.63640865f) < 1e-6f);          /* exp(4)/sum exp(0..4) */
    T_CHECK(p[5 + 2] == 1.0f && p[5 + 0] == 0.0f);        /* huge logits: no NaN */
    dst_softmax(z, q, 1, 5, 1e9f);                        /* T -> inf: uniform */
    for (j = 0; j < 5; ++j) T_CHECK(fabsf(q[j] - 0.2f) < 1e-6f);
    dst_softmax(z, q, 1, 5, 2.0f);                        /* T = 2 is softmax(z / 2) */
    { float h[5] = { 0.5f, 1, 1.5f, 2, 2.5f }; dst_softmax(h, p, 1, 5, 1.0f); }
    T_CHECK(t_close(q, p, 5, 1e-6f, 1e-7f, "softmax T=2"));
    memcpy(q, z, sizeof z);                               /* in place */
    dst_softmax(q, q, 2, 5, 1.0f);
    dst_softmax(z, p, 2, 5, 1.0f);
    T_CHECK(memcmp(p, q, sizeof p) == 0);
    memcpy(q, p, sizeof p);                               /* invalid T: untouched */
    dst_softmax(z, p, 2, 5, 0.0f);
    dst_softmax(z, p, 2, 5, -1.0f);
    dst_softmax(z, p, 2, 5, NAN);
    dst_softmax(z, p, 0, 5, 1.0f);
    T_CHECK(memcmp(p, q, sizeof p) == 0);
    return 0;
}

/* ---- KD loss ---------------------------------------------------------------- */

/* central differences of f at s against the analytic gradient */
static int t_kd_gradcheck(const float *t, const int *labels, int rows, int cols, float T, float alpha)
{
    float s[64], g[64], sp[64];
    int i;
    t_fill(s, (size_t)rows * cols, 3);
    dst_kd_loss(s, t, labels, rows, cols, T, alpha, g);
    for (i = 0; i < rows * cols; ++i) {
        double h = 1e-2, lp, lm, num;
        memcpy(sp, s, sizeof s);
        sp[i] = s[i] + (float)h; lp = dst_kd_loss(sp, t, labels, rows, cols, T, alpha, NULL);
        sp[i] = s[i] - (float)h; lm = dst_kd_loss(sp, t, labels, rows, cols, T, alpha, NULL);
        num = (lp - lm) / (2 * h);
        T_CHECK_MSG(fabs(num - g[i]) <= 2e-3 + 2e-2 * fabs(num), "T=%g alpha=%g i=%d numeric %g analytic %g",
                    (double)T, (double)alpha, i, num, (double)g[i]);
    }
    return 0;
}

static int test_kd_loss_gradient_finite_differences(void)
{
    float t[4 * 6];
    int labels[4] = { 0, 5, 2, 3 };
    static const float temps[] = { 0.5f, 1, 2, 4, 20 };
    int i;
    t_fill(t, 24, 4);
    for (i = 0; i < 5; ++i) {
        T_CHECK(t_kd_gradcheck(t, labels, 4, 6, temps[i], 0.7f) == 0);
        T_CHECK(t_kd_gradcheck(t, NULL, 4, 6, temps[i], 0.7f) == 0);
    }
    T_CHECK(t_kd_gradcheck(NULL, labels, 4, 6, 1, 0) == 0);
    return 0;
}

static int test_kd_loss_semantics(void)
{
    float s[2 * 3] = { 1, 2, 0.5f, -1, 0, 3 }, t[2 * 3] = { 2, 0, 1, 0, 0, 5 }, g[6], g2[6];
    int labels[2] = { 1, 2 }, j;
    double kl = 0, ce = 0;
    float soft, hard, mixed, T = 3;
    /* by hand: KL of row-softmaxes at T, times T^2, batch mean; CE at T = 1 */
    for (j = 0; j < 2; ++j) {
        float ps[3], pt[3], p1[3];
        int c;
        dst_softmax(s + 3 * j, ps, 1, 3, T);
        dst_softmax(t + 3 * j, pt, 1, 3, T);
        dst_softmax(s + 3 * j, p1, 1, 3, 1);
        for (c = 0; c < 3; ++c) kl += pt[c] * log(pt[c] / ps[c]);
        ce -= log(p1[labels[j]]);
    }
    soft = dst_kd_loss(s, t, NULL, 2, 3, T, 0.123f, NULL);
    hard = dst_kd_loss(s, NULL, labels, 2, 3, T, 0.123f, NULL);
    mixed = dst_kd_loss(s, t, labels, 2, 3, T, 0.25f, NULL);
    T_CHECK(fabs(soft - kl * T * T / 2) < 1e-5);
    T_CHECK(fabs(hard - ce / 2) < 1e-5);
    T_CHECK(fabs(mixed - (0.25 * soft + 0.75 * hard)) < 1e-5);
    /* alpha = 1 with labels is the soft term with its T^2 (not dropped) */
    T_CHECK(fabsf(dst_kd_loss(s, t, labels, 2, 3, T, 1.0f, g) - soft) < 1e-6f);
    dst_kd_loss(s, t, NULL, 2, 3, T, 0, g2);
    T_CHECK(t_close(g, g2, 6, 1e-6f, 1e-7f, "alpha=1 gradient"));
    /* the student gradient of the soft term is T (p_s - p_t) / rows */
    { float ps[6], pt[6]; dst_softmax(s, ps, 2, 3, T); dst_softmax(t, pt, 2, 3, T);
      for (j = 0; j < 6; ++j) T_CHECK(fabsf(g2[j] - T * (ps[j] - pt[j]) / 2) < 1e-6f); }
    /* a student equal to its teacher has zero soft loss and gradient */
    T_CHECK(fabsf(dst_kd_loss(t, t, NULL, 2, 3, T, 0, g)) < 1e-6f);
    for (j = 0; j < 6; ++j) T_CHECK(fabsf(g[j]) < 1e-7f);
    return 0;
}

static int test_kd_loss_extremes(void)
{
    float s[2 * 4] = { 1e4f, -1e4f, 0, 5e3f, -1e4f, 1e4f, 1e4f, 0 };
    float t[2 * 4] = { -1e4f, 1e4f, 0, 1, 3e3f, -3e3f, 1e4f, 2 };
    float sh[8], th[8], g[8], gh[8];
    int labels[2] = { 1, 3 }, i, k;
    static const float temps[] = { 0.1f, 1, 4, 100 };
    for (k = 0; k < 4; ++k) {
        float l = dst_kd_loss(s, t, labels, 2, 4, temps[k], 0.5f, g), lh;
        T_CHECK_MSG(isfinite(l) && l > 0, "T=%g loss %g", (double)temps[k], (double)l);
        for (i = 0; i < 8; ++i) T_CHECK(isfinite(g[i]));
        /* adding a constant to a row changes nothing */
        for (i = 0; i < 8; ++i) { sh[i] = s[i] + 7.0f; th[i] = t[i] - 9.0f; }
        lh = dst_kd_loss(sh, th, labels, 2, 4, temps[k], 0.5f, gh);
        T_CHECK(fabsf(l - lh) <= 1e-3f * fabsf(l));
        T_CHECK(t_close(gh, g, 8, 1e-3f, 1e-5f, "shifted rows"));
    }
    /* the CE of a confident wrong answer is its margin: 2e4 */
    T_CHECK(fabsf(dst_kd_loss(s, NULL, labels, 1, 4, 1, 0, NULL) - 2e4f) < 1.0f);
    return 0;
}

static int test_kd_loss_rejects_bad_arguments(void)
{
    float s[4] = { 0 }, t[4] = { 0 }, g[4] = { 7, 7, 7, 7 };
    int good[2] = { 0, 1 }, bad[2] = { 0, 2 }, neg[2] = { -1, 0 };
    T_CHECK(isnan(dst_kd_loss(NULL, t, good, 2, 2, 1, 0.5f, g)));
    T_CHECK(isnan(dst_kd_loss(s, NULL, NULL, 2, 2, 1, 0.5f, g)));
    T_CHECK(isnan(dst_kd_loss(s, t, good, 0, 2, 1, 0.5f, g)));
    T_CHECK(isnan(dst_kd_loss(s, t, good, 2, 0, 1, 0.5f, g)));
    T_CHECK(isnan(dst_kd_loss(s, t, good, 2, 2, 0, 0.5f, g)));
    T_CHECK(isnan(dst_kd_loss(s, t, good, 2, 2, -1, 0.5f, g)));
    T_CHECK(isnan(dst_kd_loss(s, t, good, 2, 2, NAN, 0.5f, g)));
    T_CHECK(isnan(dst_kd_loss(s, t, good, 2, 2, 1, 1.5f, g)));
    T_CHECK(isnan(dst_kd_loss(s, t, bad, 2, 2, 1, 0.5f, g)));
    T_CHECK(isnan(dst_kd_loss(s, NULL, neg, 2, 2, 1, 0.5f, g)));
    T_CHECK(g[0] == 7 && g[3] == 7);
    T_CHECK(isfinite(dst_kd_loss(s, t, good, 2, 2, 1, 0.5f, g)));
    return 0;
}

static int test_mse_loss(void)
{
    float p[5], q[5], g[5], pp[5];
    int i;
    t_fill(p, 5, 2); t_fill(q, 5, 2);
    dst_mse_loss(p, q, 5, g);
    for (i = 0; i < 5; ++i) {
        double h = 1e-2, lp, lm;
        memcpy(pp, p, sizeof p);
        pp[i] += (float)h; lp = dst_mse_loss(pp, q, 5, NULL);
        pp[i] -= 2 * (float)h; lm = dst_mse_loss(pp, q, 5, NULL);
        T_CHECK(fabs((lp - lm) / (2 * h) - g[i]) < 1e-3);
    }
    T_CHECK(isnan(dst_mse_loss(p, q, 0, g)));
    return 0;
}

/* ---- activations ---------------------------------------------------------- */

static int test_activation_gradients(void)
{
    static const dst_activation acts[] = { DST_ACT_RELU, DST_ACT_LEAKY_RELU, DST_ACT_SIGMOID, DST_ACT_TANH, DST_ACT_GELU };
    float x[40], y[40], dy[40], dx[40], yp[1], ym[1];
    int a, i;
    t_fill(x, 40, 3);
    t_fill(dy, 40, 1);
    for (i = 0; i < 40; ++i) if (fabsf(x[i]) < 0.05f) x[i] = 0.3f; /* away from ReLU's kink */
    for (a = 0; a < 5; ++a) {
        dst_activation_forward(acts[a], 0.02f, x, y, 40);
        dst_activation_backward(acts[a], 0.02f, x, y, dy, dx, 40);
        for (i = 0; i < 40; ++i) {
            float h = 1e-2f, xp = x[i] + h, xm = x[i] - h;
            double num;
            dst_activation_forward(acts[a], 0.02f, &xp, yp, 1);
            dst_activation_forward(acts[a], 0.02f, &xm, ym, 1);
            num = (double)dy[i] * (yp[0] - ym[0]) / (2 * h);
            T_CHECK_MSG(fabs(num - dx[i]) < 2e-3 + 1e-2 * fabs(num), "act %d x=%g numeric %g analytic %g",
                        a, (double)x[i], num, (double)dx[i]);
        }
    }
    /* known values */
    x[0] = 1; dst_activation_forward(DST_ACT_GELU, 0, x, y, 1); T_CHECK(fabsf(y[0] - 0.8413447f) < 1e-6f);
    x[0] = -2; dst_activation_forward(DST_ACT_LEAKY_RELU, 0.01f, x, y, 1); T_CHECK(y[0] == (float)-0.02f);
    return 0;
}

/* ---- random numbers ------------------------------------------------------- */

static int test_rng_is_seeded_and_bounded(void)
{
    dst_rng a, b;
    int i;
    double mean = 0, var = 0;
    dst_rng_seed(&a, 42); dst_rng_seed(&b, 42);
    for (i = 0; i < 1000; ++i) T_CHECK(dst_rng_next(&a) == dst_rng_next(&b));
    dst_rng_seed(&a, 0);
    T_CHECK(dst_rng_next(&a) == 0xE220A8397B1DCDAFull); /* splitmix64's published first output for seed 0 */
    for (i = 0; i < 10000; ++i) {
        float u = dst_rng_uniform(&a), n = dst_rng_normal(&a);
        T_CHECK(u >= 0 && u < 1);
        T_CHECK(dst_rng_below(&a, 7) < 7);
        mean += n; var += (double)n * n;
    }
    mean /= 10000; var = var / 10000 - mean * mean;
    T_CHECK(fabs(mean) < 0.05 && fabs(var - 1) < 0.05);
    return 0;
}

/* ---- optimizers and schedules ------------------------------------------- */

static int test_sgd_momentum_nesterov_by_hand(void)
{
    dst_optimizer_config c = dst_optimizer_default(DST_SGD);
    float p = 1, g = 0.5f, buf = 0, pn = 1, bufn = 0;
    c.lr = 0.1f; c.momentum = 0.9f; c.weight_decay = 0.01f;
    dst_optimizer_update(&c, c.lr, 1, &p, &g, &buf, NULL, 1);
    /* d = 0.5 + 0.01 = 0.51; buf = d; p = 1 - 0.051 */
    T_CHECK(fabsf(buf - 0.51f) < 1e-7f && fabsf(p - 0.949f) < 1e-7f);
    dst_optimizer_update(&c, c.lr, 2, &p, &g, &buf, NULL, 1);
    /* d = 0.5 + 0.00949; buf = 0.9 * 0.51 + d */
    T_CHECK(fabsf(buf - (0.459f + 0.50949f)) < 1e-6f);
    c.nesterov = 1;
    T_CHECK(dst_optimizer_check(&c, NULL) == DST_OK);
    dst_optimizer_update(&c, c.lr, 1, &pn, &g, &bufn, NULL, 1);
    T_CHECK(fabsf(pn - (1 - 0.1f * (0.51f + 0.9f * 0.51f))) < 1e-6f);
    c.dampening = 0.5f;
    T_CHECK(dst_optimizer_check(&c, NULL) == DST_ERR_ARG); /* Nesterov needs dampening 0 */
    return 0;
}

static int test_adam_first_step_is_lr_sign(void)
{
    dst_optimizer_config c = dst_optimizer_default(DST_ADAM);
    float p[3] = { 1, 1, 1 }, g[3] = { 0.3f, -2, 1e-3f }, m[3] = { 0 }, v[3] = { 0 };
    float pw[3] = { 1, 1, 1 }, mw[3] = { 0 }, vw[3] = { 0 };
    int i;
    dst_optimizer_update(&c, 0.01f, 1, p, g, m, v, 3);
    for (i = 0; i < 3; ++i) T_CHECK(fabsf(p[i] - (1 - 0.01f * (g[i] > 0 ? 1 : -1))) < 1e-4f);
    /* AdamW decays the weight by lr * wd before the Adam step */
    c = dst_optimizer_default(DST_ADAMW);
    T_CHECK(c.weight_decay == (float)0.01f);
    dst_optimizer_update(&c, 0.01f, 1, pw, g, mw, vw, 3);
    for (i = 0; i < 3; ++i) T_CHECK(fabsf(pw[i] - (1 * (1 - 0.01f * 0.01f) - 0.01f * (g[i] > 0 ? 1 : -1))) < 1e-4f);
    c.beta1 = 1.0f;
    T_CHECK(dst_optimizer_check(&c, NULL) == DST_ERR_ARG);
    c = dst_optimizer_default(DST_SGD); c.lr = NAN;
    T_CHECK(dst_optimizer_check(&c, NULL) == DST_ERR_ARG);
    return 0;
}

static int test_clip_grad_norm(void)
{
    float g[2] = { 3, 4 };
    T_CHECK(fabsf(dst_clip_grad_norm(g, 2, 10) - 5) < 1e-6f && g[0] == 3);
    T_CHECK(fabsf(dst_clip_grad_norm(g, 2, 1) - 5) < 1e-6f);
    T_CHECK(fabsf(g[0] - 0.6f) < 1e-5f && fabsf(g[1] - 0.8f) < 1e-5f);
    return 0;
}

static int test_lr_schedules(void)
{
    const float lr = 0.1f, min_lr = 0.001f; /* floats (test.h, FLT_EVAL_METHOD) */
    dst_lr_schedule s;
    memset(&s, 0, sizeof s);
    T_CHECK(dst_lr_at(&s, lr, 5) == lr);
    s.kind = DST_LR_STEP; s.step_size = 3; s.gamma = 0.5f;
    T_CHECK(dst_lr_at(&s, lr, 2) == lr && fabsf(dst_lr_at(&s, lr, 3) - 0.05f) < 1e-8f);
    T_CHECK(fabsf(dst_lr_at(&s, lr, 7) - 0.025f) < 1e-8f);
    s.kind = DST_LR_COSINE; s.total = 10; s.min_lr = min_lr;
    T_CHECK(dst_lr_at(&s, lr, 0) == lr);
    T_CHECK(fabsf(dst_lr_at(&s, lr, 5) - 0.0505f) < 1e-6f);
    T_CHECK(dst_lr_at(&s, lr, 10) == min_lr);
    return 0;
}

static int test_result_strings_and_version(void)
{
    T_CHECK(strcmp(dst_result_string(DST_OK), "success") == 0);
    T_CHECK(strstr(dst_result_string(DST_ERR_NONFINITE), "NaN") != NULL);
    T_CHECK(strcmp(dst_result_string((dst_result)-999), "unknown result code") == 0);
    T_CHECK(strcmp(dst_version(), "0.1.0") == 0 && DISTILL_VERSION_MINOR == 1);
    {   /* the string is made from the numbers, and dst_version returns it */
        char v[32];
        snprintf(v, sizeof v, "%d.%d.%d", DISTILL_VERSION_MAJOR, DISTILL_VERSION_MINOR, DISTILL_VERSION_PATCH);
        T_CHECK(strcmp(v, DISTILL_VERSION_STRING) == 0 && strcmp(dst_version(), DISTILL_VERSION_STRING) == 0);
    }
    return 0;
}

/* The bad-argument rule of the plain-array kernels: nothing written, the
   return type says so (DST_ERR_ARG, NaN, or nothing for void). */
static int test_kernels_bad_arguments_do_nothing(void)
{
    float x[8] = { 1, -2, 3, -4, 5, -6, 7, -8 }, y[8], keep[8], g[8], col[64];
    dst_optimizer_config adam = dst_optimizer_default(DST_ADAM), sgd = dst_optimizer_default(DST_SGD);
    dst_conv2d_params c = dst_conv2d_params_make(1, 2, 2, 1, 1, 1, 0);
    int i;
    for (i = 0; i < 8; ++i) y[i] = keep[i] = g[i] = 0.5f;
    dst_activation_forward(DST_ACT_TANH, 0, NULL, y, 8);
    dst_activation_forward((dst_activation)99, 0, x, y, 8);
    dst_activation_backward(DST_ACT_SIGMOID, 0, x, NULL, x, y, 8);
    T_CHECK(memcmp(y, keep, sizeof y) == 0);
    dst_optimizer_update(&adam, 0.1f, 1, y, g, g, NULL, 8); /* Adam without its second state */
    sgd.momentum = 0.9f;
    dst_optimizer_update(&sgd, 0.1f, 1, y, g, NULL, NULL, 8); /* momentum without its buffer */
    dst_optimizer_update(NULL, 0.1f, 1, y, g, NULL, NULL, 8);
    T_CHECK(memcmp(y, keep, sizeof y) == 0);
    T_CHECK(isnan(dst_clip_grad_norm(y, 8, -1.0f)) && isnan(dst_clip_grad_norm(NULL, 8, 1.0f)));
    T_CHECK(memcmp(y, keep, sizeof y) == 0 && dst_clip_grad_norm(NULL, 0, 1.0f) == 0);
    T_CHECK(isnan(dst_mse_loss(NULL, x, 8, y)) && isnan(dst_kd_loss(x, NULL, NULL, 2, 4, 1, 0.5f, y)));
    T_CHECK(memcmp(y, keep, sizeof y) == 0);
    for (i = 0; i < 64; ++i) col[i] = 0.25f;
    dst_im2col(&c, 2, x, col); /* more channels than the input has */
    c.stride_h = 0;
    dst_im2col(&c, 1, x, col);
    T_CHECK(col[0] == 0.25f && col[3] == 0.25f);
    dst_sgemm(0, 0, 2, 2, 2, 1, x, 1, x, 2, 0, y, 2); /* lda < k */
    dst_softmax(x, y, 2, 4, 0);
    T_CHECK(memcmp(y, keep, sizeof y) == 0);
    return 0;
}

/* ---- the kernel tables ------------------------------------------------------------ */

/* bitwise equality (NaN equal to NaN) */
static int t_bits_equal(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof(float)) == 0;
}

/* One table per level, each saying its level; forcing the scalar level
   gives the table of plain C loops, with no vector kernel in it. */
static int test_kernel_tables_scalar_is_plain_c(void)
{
    const dst__kernels *s = dst__kernels_for(DST_SIMD_SCALAR);
    dst_simd levels[8];
    int nlev = t_simd_levels(levels), l;
    T_CHECK(s->level == DST_SIMD_SCALAR && s->gemm == NULL && s->conv_rows == 0);
    T_CHECK(s->relu == dst__relu_scalar && s->relu_grad == dst__relu_grad_scalar);
    T_CHECK(s->bias_relu == dst__bias_relu_scalar && s->column_sums == dst__column_sums_scalar);
    T_CHECK(s->all_finite == dst__all_finite_scalar && s->sgd == dst__sgd_scalar && s->adam == dst__adam_scalar);
    T_CHECK(!s->plane_forward && !s->plane_weight_grad && !s->maxpool2x2);
    T_CHECK(s->wino_channels == 0 && !s->wino_input && !s->wino_output && !s->wino_grad);
    for (l = 0; l < nlev; ++l) {
        const dst__kernels *k = dst__kernels_for(levels[l]);
        T_CHECK(k->level == levels[l]);
        T_CHECK(levels[l] == DST_SIMD_SCALAR || (k->gemm && k->gemm->level == levels[l] && k->conv_rows));
        T_CHECK(dst_simd_force(levels[l]) == DST_OK && dst__kern() == k);
    }
    dst_simd_force(DST_SIMD_AUTO);
    T_CHECK(dst__kern() == dst__kernels_for(dst_simd_active()));
    return 0;
}

/* The element-wise and optimizer entries of every level against the
   scalar table's, on odd sizes (tails) with NaN, -0 and infinities among
   the values: the same bits (they do the scalar operations in the same
   order; x86 without FMA in the baseline, where the compiler cannot fuse
   the scalar loop's multiply-adds). */
static int test_kernel_tables_elementwise_match_scalar(void)
{
    static const size_t sizes[] = { 1, 3, 4, 5, 7, 8, 9, 15, 17, 31, 33, 100, 257 };
    static float x[7 * 257], dy[7 * 257], y0[7 * 257], y1[7 * 257], b[257];
    static float p0[257], p1[257], g[257], m0[257], m1[257], v0[257], v1[257];
    const dst__kernels *s = dst__kernels_for(DST_SIMD_SCALAR);
    dst_simd levels[8];
    int nlev = t_simd_levels(levels), l, relu, opt;
    size_t si, i;
    for (l = 0; l < nlev; ++l) {
        const dst__kernels *k = dst__kernels_for(levels[l]);
        for (si = 0; si < sizeof sizes / sizeof sizes[0]; ++si) {
            size_t n = sizes[si], rows = 7;
            t_fill(x, rows * n, 2); t_fill(dy, rows * n, 1); t_fill(b, n, 1);
            for (i = 0; i < rows * n; i += 7) x[i] = i % 3 == 0 ? (float)NAN : i % 3 == 1 ? -0.0f : (float)INFINITY;
            s->relu(x, y0, n); k->relu(x, y1, n);
            T_CHECK_MSG(t_bits_equal(y0, y1, n), "relu, %s, n %lu", dst_simd_name(levels[l]), (unsigned long)n);
            s->relu_grad(x, dy, y0, n); k->relu_grad(x, dy, y1, n);
            T_CHECK_MSG(t_bits_equal(y0, y1, n), "relu_grad, %s, n %lu", dst_simd_name(levels[l]), (unsigned long)n);
            for (relu = 0; relu < 2; ++relu) {
                memcpy(y0, x, rows * n * sizeof(float)); memcpy(y1, x, rows * n * sizeof(float));
                s->bias_relu(y0, b, rows, n, relu); k->bias_relu(y1, b, rows, n, relu);
                T_CHECK_MSG(t_bits_equal(y0, y1, rows * n), "bias_relu, %s, n %lu", dst_simd_name(levels[l]), (unsigned long)n);
            }
            s->column_sums(dy, n, y0, rows, n); k->column_sums(dy, n, y1, rows, n);
            T_CHECK_MSG(t_bits_equal(y0, y1, n), "column_sums, %s, n %lu", dst_simd_name(levels[l]), (unsigned long)n);
            T_CHECK(s->all_finite(x, n) == k->all_finite(x, n) && s->all_finite(dy, n) == k->all_finite(dy, n));
            for (opt = 0; opt < 4; ++opt) { /* SGD plain, SGD Nesterov, Adam, AdamW */
                dst_optimizer_config c = dst_optimizer_default(opt < 2 ? DST_SGD : opt == 2 ? DST_ADAM : DST_ADAMW);
                dst__opt_consts kc;
                long step;
                c.weight_decay = 0.01f; c.momentum = opt < 2 ? 0.9f : 0.0f; c.nesterov = opt == 1;
                t_fill(p0, n, 1); memcpy(p1, p0, n * sizeof(float));
                memset(m0, 0, sizeof m0); memset(m1, 0, sizeof m1); memset(v0, 0, sizeof v0); memset(v1, 0, sizeof v1);
                for (step = 1; step <= 3; ++step) {
                    kc = dst__opt_consts_of(&c, c.lr, step);
                    t_fill(g, n, 0.5f);
                    if (opt < 2) { s->sgd(&kc, p0, g, m0, n); k->sgd(&kc, p1, g, m1, n); }
                    else { s->adam(&kc, p0, g, m0, v0, n); k->adam(&kc, p1, g, m1, v1, n); }
                }
#if (defined(__x86_64__) || defined(__i386__)) && !defined(__FMA__)
                T_CHECK_MSG(t_plain_c_bits(p1, p0, n, "parameters") && t_plain_c_bits(m1, m0, n, "first state") &&
                            t_plain_c_bits(v1, v0, n, "second state"),
                            "optimizer %d, %s, n %lu", opt, dst_simd_name(levels[l]), (unsigned long)n);
#else
                T_CHECK(t_close(p1, p0, n, 1e-5f, 1e-7f, "optimizer"));
#endif
            }
        }
    }
    printf("    %d level(s): relu, relu_grad, bias_relu, column_sums, all_finite, sgd, adam\n", nlev);
    return 0;
}

static const t_case kernel_tests[] = {
    { "gemm_matches_plain_loop", test_gemm_matches_plain_loop },
    { "softmax_rows_and_temperature", test_softmax_rows_and_temperature },
    { "kd_loss_gradient_finite_differences", test_kd_loss_gradient_finite_differences },
    { "kd_loss_semantics", test_kd_loss_semantics },
    { "kd_loss_extremes", test_kd_loss_extremes },
    { "kd_loss_rejects_bad_arguments", test_kd_loss_rejects_bad_arguments },
    { "mse_loss", test_mse_loss },
    { "activation_gradients", test_activation_gradients },
    { "rng_is_seeded_and_bounded", test_rng_is_seeded_and_bounded },
    { "sgd_momentum_nesterov_by_hand", test_sgd_momentum_nesterov_by_hand },
    { "adam_first_step_is_lr_sign", test_adam_first_step_is_lr_sign },
    { "clip_grad_norm", test_clip_grad_norm },
    { "lr_schedules", test_lr_schedules },
    { "result_strings_and_version", test_result_strings_and_version },
    { "kernels_bad_arguments_do_nothing", test_kernels_bad_arguments_do_nothing },
    { "kernel_tables_scalar_is_plain_c", test_kernel_tables_scalar_is_plain_c },
    { "kernel_tables_elementwise_match_scalar", test_kernel_tables_elementwise_match_scalar },
};

/* tests/test_elementwise.c - the fast element-wise kernels of the MLP path
   (ReLU, bias, bias gradient, SGD/Adam/AdamW, the finiteness check) against
   their scalar references and against plain loops written here from
   PyTorch's formulas; the dense+ReLU fusion against the same model unfused;
   the monotonic clock. Odd sizes everywhere, so vector tails are covered. */

/* bitwise equality of two float arrays (NaN equal to NaN), printing the first difference */
static int t_same_bits(const float *a, const float *b, size_t n, const char *what)
{
    size_t i;
    for (i = 0; i < n; ++i)
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0) {
            printf("    %s: element %lu of %lu: %.9g vs %.9g\n", what, (unsigned long)i, (unsigned long)n,
                   (double)a[i], (double)b[i]);
            return 0;
        }
    return 1;
}

static const size_t t_odd_sizes[] = { 0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 100, 1001 };
#define T_ODD_COUNT (sizeof t_odd_sizes / sizeof t_odd_sizes[0])

/* Every path this machine has, forced in turn (the kernels follow
   dst_simd_active(): plain C when it is DST_SIMD_SCALAR). */
static const dst_simd t_levels[] = { DST_SIMD_SCALAR, DST_SIMD_SSE2, DST_SIMD_AVX2, DST_SIMD_AVX512, DST_SIMD_NEON };
#define T_LEVEL_COUNT (sizeof t_levels / sizeof t_levels[0])

static int test_relu_kernels_match_scalar(void)
{
    float x[1001], dy[1001], y0[1001], y1[1001], d0[1001], d1[1001];
    size_t s, i, l;
    for (l = 0; l < T_LEVEL_COUNT; ++l)
    for (s = 0; s < T_ODD_COUNT; ++s) {
        if (dst_simd_force(t_levels[l]) != DST_OK) break;
        size_t n = t_odd_sizes[s];
        t_fill(x, n, 2); t_fill(dy, n, 1);
        if (n > 3) { x[0] = -0.0f; x[1] = (float)NAN; x[2] = (float)INFINITY; x[3] = -(float)INFINITY; }
        dst__relu_scalar(x, y0, n);
        dst__relu(x, y1, n);
        T_CHECK(t_same_bits(y0, y1, n, "relu"));
        for (i = 0; i < n; ++i) T_CHECK(y0[i] == (x[i] > 0 ? x[i] : 0) && !signbit(y0[i]));
        dst__relu_grad_scalar(x, dy, d0, n);
        dst__relu_grad(x, dy, d1, n);
        T_CHECK(t_same_bits(d0, d1, n, "relu grad"));
        for (i = 0; i < n; ++i) T_CHECK(d0[i] == (x[i] > 0 ? dy[i] : 0));
        /* in place, as the model runs them */
        memcpy(y1, x, n * sizeof(float));
        dst__relu(y1, y1, n);
        T_CHECK(t_same_bits(y0, y1, n, "relu in place"));
        memcpy(d1, dy, n * sizeof(float));
        dst__relu_grad(x, d1, d1, n);
        T_CHECK(t_same_bits(d0, d1, n, "relu grad in place"));
    }
    dst_simd_force(DST_SIMD_AUTO);
    return 0;
}

static int test_bias_relu_and_column_sums_match_scalar(void)
{
    static float y0[7 * 1001], y1[7 * 1001], b[1001], db0[1001], db1[1001];
    size_t s, i, j, l, rows = 7;
    int relu, with_bias;
    for (l = 0; l < T_LEVEL_COUNT; ++l)
    for (s = 0; s < T_ODD_COUNT; ++s) {
        if (dst_simd_force(t_levels[l]) != DST_OK) break;
        size_t cols = t_odd_sizes[s];
        t_fill(b, cols, 1);
        for (relu = 0; relu < 2; ++relu)
            for (with_bias = 0; with_bias < 2; ++with_bias) {
                const float *bp = with_bias ? b : NULL;
                t_fill(y0, rows * cols, 2);
                for (i = 0; i < rows * cols; i += 5) y0[i] = i % 2 ? (float)NAN : -0.0f; /* ReLU gives +0 */
                memcpy(y1, y0, rows * cols * sizeof(float));
                for (i = 0; i < rows; ++i)
                    for (j = 0; j < cols; ++j) {
                        float v = bp ? y0[i * cols + j] + bp[j] : y0[i * cols + j];
                        y0[i * cols + j] = relu && !(v > 0) ? 0 : v;
                    }
                dst__bias_relu(y1, bp, rows, cols, relu);
                T_CHECK(t_same_bits(y0, y1, rows * cols, "bias + relu"));
            }
        /* bias gradient: column sums, exactly the row-ordered sum */
        t_fill(y0, rows * cols, 3);
        for (j = 0; j < cols; ++j) {
            float acc = 0;
            for (i = 0; i < rows; ++i) acc += y0[i * cols + j];
            db0[j] = acc;
        }
        for (j = 0; j < cols; ++j) db1[j] = (float)NAN; /* written, not accumulated */
        dst__column_sums(y0, cols, db1, rows, cols);
        T_CHECK(t_plain_c_bits(db1, db0, cols, "column sums"));
        dst__column_sums_scalar(y0, cols, db1, rows, cols);
        T_CHECK(t_plain_c_bits(db1, db0, cols, "column sums, scalar"));
    }
    /* a leading dimension wider than the row */
    t_fill(y0, 5 * 12, 1);
    dst__column_sums(y0, 12, db1, 5, 9);
    for (j = 0; j < 9; ++j) {
        float acc = 0;
        for (i = 0; i < 5; ++i) acc += y0[i * 12 + j];
        T_CHECK(memcmp(&acc, &db1[j], sizeof acc) == 0);
    }
    dst_simd_force(DST_SIMD_AUTO);
    return 0;
}

/* PyTorch's SGD, written out as its docs give it, one value at a time */
static void t_sgd_reference(const dst_optimizer_config *c, float lr, long step, float *p, const float *g,
                            float *buf, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        float d = g[i] + c->weight_decay * p[i];
        if (c->momentum != 0) {
            buf[i] = step == 1 ? d : c->momentum * buf[i] + (1.0f - c->dampening) * d;
            d = c->nesterov ? d + c->momentum * buf[i] : buf[i];
        }
        p[i] = p[i] - lr * d;
    }
}

/* PyTorch's Adam / AdamW (single-tensor form), likewise */
static void t_adam_reference(const dst_optimizer_config *c, float lr, long step, float *p, const float *g,
                             float *m, float *v, size_t n)
{
    size_t i;
    float bc1 = 1.0f - (float)pow(c->beta1, (double)step);
    float bc2_sqrt = (float)sqrt(1.0 - pow(c->beta2, (double)step));
    for (i = 0; i < n; ++i) {
        float d = g[i];
        if (c->kind == DST_ADAMW) p[i] = p[i] * (1.0f - lr * c->weight_decay);
        else d = d + c->weight_decay * p[i];
        m[i] = c->beta1 * m[i] + (1.0f - c->beta1) * d;
        v[i] = c->beta2 * v[i] + (1.0f - c->beta2) * d * d;
        p[i] = p[i] - (lr / bc1) * m[i] / (sqrtf(v[i]) / bc2_sqrt + c->eps);
    }
}

/* Five steps of every optimizer variant on odd sizes: the library (vector
   path), its scalar loops and the plain reference must agree: to the bit
   on x86 (no fused multiply-add anywhere), to 1e-5 elsewhere (clang on ARM
   fuses the plain loops' multiply-adds, not the NEON ones). */
static int test_optimizer_kernels_match_reference(void)
{
    enum { N = 1001 };
    static float p0[N], p1[N], p2[N], g[N], s0[3][N], s1[3][N];
    dst_optimizer_config cfgs[8];
    int ci, nc = 0, step;
    size_t si, l;
    cfgs[nc] = dst_optimizer_default(DST_SGD); nc++;
    cfgs[nc] = dst_optimizer_default(DST_SGD); cfgs[nc].momentum = 0.9f; nc++;
    cfgs[nc] = dst_optimizer_default(DST_SGD); cfgs[nc].momentum = 0.8f; cfgs[nc].dampening = 0.3f;
    cfgs[nc].weight_decay = 0.01f; nc++;
    cfgs[nc] = dst_optimizer_default(DST_SGD); cfgs[nc].momentum = 0.9f; cfgs[nc].nesterov = 1;
    cfgs[nc].weight_decay = 1e-3f; nc++;
    cfgs[nc] = dst_optimizer_default(DST_SGD); cfgs[nc].weight_decay = 0.1f; nc++;
    cfgs[nc] = dst_optimizer_default(DST_ADAM); nc++;
    cfgs[nc] = dst_optimizer_default(DST_ADAM); cfgs[nc].weight_decay = 0.05f; cfgs[nc].beta1 = 0.5f; nc++;
    cfgs[nc] = dst_optimizer_default(DST_ADAMW); cfgs[nc].lr = 0.01f; nc++;
    for (l = 0; l < T_LEVEL_COUNT; ++l)
    for (ci = 0; ci < nc; ++ci)
        for (si = 0; si < T_ODD_COUNT; ++si) {
            const dst_optimizer_config *c = &cfgs[ci];
            size_t n = t_odd_sizes[si];
            float lr = c->lr * 1.5f;
            if (dst_simd_force(t_levels[l]) != DST_OK) break;
            t_fill(p0, n, 1);
            memcpy(p1, p0, n * sizeof(float));
            memcpy(p2, p0, n * sizeof(float));
            memset(s0, 0, sizeof s0);
            memset(s1, 0, sizeof s1);
            for (step = 1; step <= 5; ++step) {
                dst__opt_consts k = dst__opt_consts_of(c, lr, step);
                t_fill(g, n, 0.5f);
                dst_optimizer_update(c, lr, step, p0, g, s0[0], s1[0], n);
                if (c->kind == DST_SGD) {
                    dst__sgd_scalar(&k, p1, g, c->momentum != 0 ? s0[1] : NULL, n);
                    t_sgd_reference(c, lr, step, p2, g, s0[2], n);
                } else {
                    dst__adam_scalar(&k, p1, g, s0[1], s1[1], n);
                    t_adam_reference(c, lr, step, p2, g, s0[2], s1[2], n);
                }
            }
            T_CHECK_MSG(t_close(p0, p1, n, 1e-5f, 1e-7f, "vector vs scalar loop"), "%s, config %d, n %lu",
                        dst_simd_name(t_levels[l]), ci, (unsigned long)n);
            T_CHECK_MSG(t_close(p1, p2, n, 1e-5f, 1e-7f, "scalar loop vs reference"), "config %d, n %lu", ci, (unsigned long)n);
            T_CHECK(t_close(s0[0], s0[2], n, 1e-5f, 1e-7f, "first state"));
            if (c->kind != DST_SGD) T_CHECK(t_close(s1[0], s1[2], n, 1e-5f, 1e-7f, "second state"));
#if (defined(__x86_64__) || defined(__i386__)) && !defined(__FMA__)
            /* the SSE2 and AVX loops do the scalar operations in the same order: same bits
               (elsewhere, e.g. clang on ARM, the scalar loop may use fused multiply-adds) */
            T_CHECK_MSG(t_plain_c_bits(p0, p1, n, "vector vs scalar bits"), "%s, config %d",
                        dst_simd_name(t_levels[l]), ci);
#endif
        }
    dst_simd_force(DST_SIMD_AUTO);
    return 0;
}

static int test_finite_check_finds_every_position(void)
{
    float v[103];
    size_t s, n, i, l;
    const float bad[3] = { (float)NAN, (float)INFINITY, -(float)INFINITY };
    for (l = 0; l < T_LEVEL_COUNT; ++l)
    for (s = 0; s < T_ODD_COUNT; ++s) {
        if (dst_simd_force(t_levels[l]) != DST_OK) break;
        n = t_odd_sizes[s] > 103 ? 103 : t_odd_sizes[s];
        t_fill(v, n, 1e30f);
        T_CHECK(dst__all_finite(v, n) && dst__all_finite_scalar(v, n));
        for (i = 0; i < n; ++i) {
            float keep = v[i];
            v[i] = bad[i % 3];
            T_CHECK_MSG(!dst__all_finite(v, n), "n %lu, position %lu", (unsigned long)n, (unsigned long)i);
            T_CHECK(!dst__all_finite_scalar(v, n));
            v[i] = keep;
        }
    }
    dst_simd_force(DST_SIMD_AUTO);
    v[0] = FLT_MAX; v[1] = -FLT_MAX; v[2] = FLT_MIN * 0.5f; /* large and subnormal values are finite */
    T_CHECK(dst__all_finite(v, 3));
    return 0;
}

/* A dense layer followed by ReLU runs fused (one buffer, ReLU in the dense
   epilogue). A dropout of rate 0 between them prevents the fusion and
   changes nothing else: outputs, loss, gradients and the trained
   parameters must be the same, bit for bit. */
static int test_dense_relu_fusion_changes_nothing(void)
{
    dst_layer_desc fused[5] = { dst_dense(13), dst_relu(), dst_dense(9), dst_relu(), dst_dense(5) };
    dst_layer_desc plain[7] = { dst_dense(13), dst_dropout(0), dst_relu(), dst_dense(9), dst_dropout(0), dst_relu(),
                               dst_dense(5) };
    dst_model *a = t_model(fused, 5, 11, 3), *b = t_model(plain, 7, 11, 3);
    dst_optimizer_config oc = dst_optimizer_default(DST_ADAM);
    float x[6 * 11], la, lb;
    const float *ya, *yb;
    int y[6] = { 0, 1, 2, 3, 4, 0 }, step;
    T_CHECK(a && b && dst_model_param_count(a) == dst_model_param_count(b));
    T_CHECK(a->layers[0].relu_fused && a->layers[2].relu_fused && !a->layers[4].relu_fused);
    T_CHECK(!b->layers[0].relu_fused);
    T_CHECK(dst_model_set_optimizer(a, &oc) == DST_OK && dst_model_set_optimizer(b, &oc) == DST_OK);
    for (step = 0; step < 4; ++step) {
        t_fill(x, 6 * 11, 1);
        T_CHECK(dst_model_train_step(a, x, y, 6, NULL, 0, 0, &la) == DST_OK);
        T_CHECK(dst_model_train_step(b, x, y, 6, NULL, 0, 0, &lb) == DST_OK);
        T_CHECK(la == lb);
        T_CHECK(t_same_bits(dst_model_grads(a), dst_model_grads(b), dst_model_param_count(a), "gradients"));
        T_CHECK(t_same_bits(dst_model_params(a), dst_model_params(b), dst_model_param_count(a), "parameters"));
    }
    T_CHECK(dst_model_forward(a, x, 6, 0, &ya) == DST_OK && dst_model_forward(b, x, 6, 0, &yb) == DST_OK);
    T_CHECK(t_same_bits(ya, yb, 6 * 5, "inference output"));
    /* the ReLU layer's buffer is the dense layer's, and it holds max(x W^T + b, 0) */
    T_CHECK(a->layers[1].out == a->layers[0].out);
    {
        const float *w = dst_model_params(a);
        int i, j, k;
        for (i = 0; i < 6; ++i)
            for (j = 0; j < 13; ++j) {
                float s = 0;
                for (k = 0; k < 11; ++k) s += x[i * 11 + k] * w[j * 11 + k];
                s += w[13 * 11 + j];
                T_CHECK(fabsf(a->layers[1].out[i * 13 + j] - (s > 0 ? s : 0)) <= 1e-5f);
            }
    }
    {   /* the fused model allocates nothing per step either (runner's counting allocator) */
        long before = t_alloc_count;
        T_CHECK(dst_model_train_step(a, x, y, 6, NULL, 0, 0, &la) == DST_OK);
        T_CHECK(dst_model_train_step(a, x, y, 5, NULL, 0, 0, &la) == DST_OK);
        T_CHECK(dst_model_forward(a, x, 1, 0, &ya) == DST_OK);
        T_CHECK(t_alloc_count == before);
    }
    dst_model_free(a);
    dst_model_free(b);
    return 0;
}

/* At inference a dropout layer is the identity and copies nothing: the
   output is the same as the model's without it, and when it is the last
   layer the output pointer is the layer before's buffer. */
static int test_dropout_inference_is_a_pass_through(void)
{
    dst_layer_desc with[5] = { dst_dense(12), dst_relu(), dst_dropout(0.5f), dst_dense(4), dst_dropout(0.3f) };
    dst_layer_desc without[3] = { dst_dense(12), dst_relu(), dst_dense(4) };
    dst_model *a = t_model(with, 5, 7, 9), *b = t_model(without, 3, 7, 9);
    float x[5 * 7];
    int y[5] = { 0, 1, 2, 3, 0 };
    const float *ya, *yb;
    T_CHECK(a && b && dst_model_param_count(a) == dst_model_param_count(b));
    t_fill(x, 5 * 7, 1);
    T_CHECK(dst_model_train_step(a, x, y, 5, NULL, 0, 0, NULL) == DST_OK); /* dropout active once */
    memcpy(dst_model_params(b), dst_model_params(a), dst_model_param_count(a) * sizeof(float));
    T_CHECK(dst_model_forward(a, x, 5, 0, &ya) == DST_OK && dst_model_forward(b, x, 5, 0, &yb) == DST_OK);
    T_CHECK(t_same_bits(ya, yb, 5 * 4, "inference with and without dropout"));
    T_CHECK(ya == a->layers[3].out);
    T_CHECK(dst_model_backward(a, ya) == DST_ERR_ARG); /* needs a training forward */
    dst_model_free(a);
    dst_model_free(b);
    return 0;
}

/* fit's progress times come from a monotonic wall clock, also in strict
   ISO C builds (which hide clock_gettime) whatever came before the header,
   on 32-bit builds too: on Linux, Windows and Apple never the whole
   seconds of time() */
static int test_seconds_is_a_wall_clock(void)
{
    double t0 = dst_seconds(), t1;
    volatile double s = 0;
    int i;
    printf("    source: %s\n", dst__seconds_source);
#if defined(__linux__) || defined(_WIN32) || defined(__APPLE__)
    T_CHECK(strcmp(dst__seconds_source, "time") != 0 && strcmp(dst__seconds_source, "timespec_get") != 0);
#endif
    for (i = 0; i < 1000000; ++i) s += i;
    t1 = dst_seconds();
    T_CHECK(t1 >= t0 && t1 - t0 < 60 && s > 0);
    return 0;
}

static const t_case elementwise_tests[] = {
    { "relu_kernels_match_scalar", test_relu_kernels_match_scalar },
    { "bias_relu_and_column_sums_match_scalar", test_bias_relu_and_column_sums_match_scalar },
    { "optimizer_kernels_match_reference", test_optimizer_kernels_match_reference },
    { "finite_check_finds_every_position", test_finite_check_finds_every_position },
    { "dense_relu_fusion_changes_nothing", test_dense_relu_fusion_changes_nothing },
    { "dropout_inference_is_a_pass_through", test_dropout_inference_is_a_pass_through },
    { "seconds_is_a_wall_clock", test_seconds_is_a_wall_clock },
};

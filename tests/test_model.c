/* tests/test_model.c - the sequential model: shapes and errors at build time,
   gradients of every layer by finite differences, training, distillation
   from each kind of teacher, NaN handling, allocation failure. */

static dst_model *t_model(const dst_layer_desc *layers, int count, int inputs, uint64_t seed)
{
    dst_model_desc d = dst_model_desc_default();
    dst_model *m = NULL;
    dst_error e;
    d.input_c = inputs; d.layers = layers; d.layer_count = count; d.seed = seed;
    if (dst_model_create(&m, &d, &e) != DST_OK) printf("    create: %s\n", e.message);
    return m;
}

static int test_model_rejects_bad_descriptions(void)
{
    dst_layer_desc bad_units[3] = { dst_dense(4), dst_relu(), dst_dense(0) };
    dst_layer_desc bad_drop[2] = { dst_dense(4), dst_dropout(1.0f) };
    dst_layer_desc ok[1] = { dst_dense(4) };
    dst_model_desc d = dst_model_desc_default();
    dst_model *m = (dst_model *)1;
    dst_error e;
    d.input_c = 3; d.layers = bad_units; d.layer_count = 3;
    T_CHECK(dst_model_create(&m, &d, &e) == DST_ERR_ARG && m == NULL);
    T_CHECK(strstr(e.message, "layer 2 (dense)") != NULL);
    d.layers = bad_drop; d.layer_count = 2;
    T_CHECK(dst_model_create(&m, &d, &e) == DST_ERR_ARG && strstr(e.message, "dropout") != NULL);
    d.layers = ok; d.layer_count = 0;
    T_CHECK(dst_model_create(&m, &d, &e) == DST_ERR_ARG);
    d.layer_count = 1; d.input_c = 0;
    T_CHECK(dst_model_create(&m, &d, &e) == DST_ERR_ARG && strstr(e.message, "input shape") != NULL);
    T_CHECK(dst_model_create(&m, NULL, &e) == DST_ERR_ARG);
    T_CHECK(dst_model_create(NULL, &d, NULL) == DST_ERR_ARG);
    return 0;
}

static int test_model_layout_and_seeded_init(void)
{
    dst_layer_desc L[3] = { dst_dense(5), dst_tanh(), dst_dense(3) };
    dst_model *a = t_model(L, 3, 7, 99), *b = t_model(L, 3, 7, 99), *c = t_model(L, 3, 7, 100);
    dst_layer_info info;
    size_t n;
    int i, bad = 0;
    T_CHECK(a && b && c);
    n = dst_model_param_count(a);
    if (memcmp(dst_model_params(a), dst_model_params(b), n * sizeof(float)) != 0) bad = 1;
    if (memcmp(dst_model_params(a), dst_model_params(c), n * sizeof(float)) == 0) bad = 2;
    memset(&info, 0, sizeof info);
    dst_model_layer(a, 2, &info);
    if (info.in_c != 5 || info.out_c != 3 || info.weight_count != 15 || info.bias_count != 3) bad = 3;
    if (((uintptr_t)(dst_model_params(a) + info.param_offset) & 63) != 0) bad = 4;
    /* PyTorch's default init bound 1/sqrt(fan_in) */
    for (i = 0; i < 35; ++i) if (fabsf(dst_model_params(a)[i]) > 1 / sqrtf(7.0f)) bad = 5;
    T_CHECK(dst_model_output_size(a) == 3 && dst_model_input_size(a) == 7);
    dst_model_free(a); dst_model_free(b); dst_model_free(c);
    T_CHECK_MSG(!bad, "case %d", bad);
    return 0;
}

/* The model's parameter gradient against central differences of the loss. */
static int t_model_gradcheck(const dst_layer_desc *layers, int count, int inputs, int soft)
{
    enum { B = 3 };
    dst_model *m = t_model(layers, count, inputs, 7);
    float x[B * 16], t[B * 8], *p, *g, *gsave;
    const float *y;
    int labels[B] = { 0, 2, 1 }, k;
    size_t n, i, stride;
    int fails = 0;
    if (!m) return 1;
    k = (int)dst_model_output_size(m);
    t_fill(x, (size_t)B * inputs, 1.5f);
    t_fill(t, (size_t)B * k, 3);
    n = dst_model_param_count(m);
    p = dst_model_params(m);
    g = dst_model_grads(m);
    gsave = (float *)malloc(n * sizeof(float));
    dst_model_forward(m, x, B, 1, &y);
    {
        float dl[B * 8];
        dst_kd_loss(y, soft ? t : NULL, labels, B, k, 2.0f, 0.6f, dl);
        dst_model_backward(m, dl);
    }
    memcpy(gsave, g, n * sizeof(float));
    stride = n > 60 ? n / 60 : 1;
    for (i = 0; i < n; i += stride) {
        float keep = p[i];
        double num = 0, h;
        int agree = 0;
        /* two step sizes: a ReLU kink inside one of them does not fail the check */
        for (h = 1e-2; h > 1e-4 && !agree; h /= 8) {
            double lp, lm;
            p[i] = keep + (float)h;
            dst_model_forward(m, x, B, 0, &y);
            lp = dst_kd_loss(y, soft ? t : NULL, labels, B, k, 2.0f, 0.6f, NULL);
            p[i] = keep - (float)h;
            dst_model_forward(m, x, B, 0, &y);
            lm = dst_kd_loss(y, soft ? t : NULL, labels, B, k, 2.0f, 0.6f, NULL);
            p[i] = keep;
            num = (lp - lm) / (2 * h);
            agree = fabs(num - gsave[i]) <= 3e-3 + 3e-2 * fabs(num);
        }
        if (!agree) {
            if (fails++ < 3) printf("    param %lu: numeric %g analytic %g\n", (unsigned long)i, num, (double)gsave[i]);
        }
    }
    free(gsave);
    dst_model_free(m);
    return fails;
}

static int test_model_gradients_every_layer(void)
{
    dst_layer_desc relu[3] = { dst_dense(6), dst_relu(), dst_dense(4) };
    dst_layer_desc leaky[3] = { dst_dense(6), dst_leaky_relu(0.1f), dst_dense(4) };
    dst_layer_desc sig[5] = { dst_dense(6), dst_sigmoid(), dst_dense(5), dst_tanh(), dst_dense(4) };
    dst_layer_desc gelu[3] = { dst_dense(6), dst_gelu(), dst_dense(4) };
    dst_layer_desc soft[4] = { dst_dense(6), dst_tanh(), dst_dense(4), dst_softmax_layer() };
    dst_layer_desc nobias[3] = { dst_dense(6), dst_tanh(), dst_dense(4) };
    nobias[0].no_bias = 1;
    nobias[2].init = DST_INIT_XAVIER_NORMAL;
    T_CHECK(t_model_gradcheck(relu, 3, 5, 0) == 0);
    T_CHECK(t_model_gradcheck(relu, 3, 5, 1) == 0);
    T_CHECK(t_model_gradcheck(leaky, 3, 5, 1) == 0);
    T_CHECK(t_model_gradcheck(sig, 5, 5, 1) == 0);
    T_CHECK(t_model_gradcheck(gelu, 3, 5, 0) == 0);
    T_CHECK(t_model_gradcheck(soft, 4, 5, 1) == 0);
    T_CHECK(t_model_gradcheck(nobias, 3, 16, 1) == 0);
    return 0;
}

static int test_dropout_masks_and_scales(void)
{
    dst_layer_desc L[1] = { dst_dropout(0.25f) };
    dst_model *m = t_model(L, 1, 1000, 3);
    float x[1000], dy[1000], *dx;
    const float *y;
    int i, zeros = 0, bad = 0;
    T_CHECK(m != NULL);
    for (i = 0; i < 1000; ++i) { x[i] = 1.0f + (float)i; dy[i] = 1.0f; }
    dst_model_forward(m, x, 1, 1, &y);
    for (i = 0; i < 1000; ++i) {
        if (y[i] == 0) zeros++;
        else if (fabsf(y[i] - x[i] / 0.75f) > 1e-3f) bad = 1;
    }
    dst_model_forward(m, x, 1, 0, &y);  /* inference: identity */
    for (i = 0; i < 1000; ++i) if (y[i] != x[i]) bad = 2;
    dx = dy; (void)dx;
    dst_model_free(m);
    T_CHECK_MSG(!bad, "case %d", bad);
    T_CHECK_MSG(zeros > 200 && zeros < 300, "%d of 1000 dropped at rate 0.25", zeros);
    return 0;
}

/* A separable toy problem: the class is the index of the largest input. */
static void t_toy_data(float *x, int *y, int n, int d)
{
    int i, j;
    for (i = 0; i < n; ++i) {
        t_fill(x + i * d, (size_t)d, 1);
        y[i] = 0;
        for (j = 1; j < d; ++j) if (x[i * d + j] > x[i * d + y[i]]) y[i] = j;
    }
}

static int test_training_learns_and_is_deterministic(void)
{
    enum { N = 512, D = 4 };
    static float x[N * D];
    static int y[N];
    dst_layer_desc L[3] = { dst_dense(32), dst_relu(), dst_dense(D) };
    dst_model *a = t_model(L, 3, D, 5), *b = t_model(L, 3, D, 5);
    dst_optimizer_config o = dst_optimizer_default(DST_ADAM);
    dst_fit_config f = dst_fit_default();
    float acc0, acc1;
    int same;
    T_CHECK(a && b);
    t_toy_data(x, y, N, D);
    o.lr = 0.01f;
    dst_model_set_optimizer(a, &o);
    dst_model_set_optimizer(b, &o);
    dst_model_evaluate(a, x, y, N, 0, NULL, &acc0);
    f.epochs = 15; f.batch_size = 32;
    T_CHECK(dst_model_fit(a, x, y, N, &f) == DST_OK);
    T_CHECK(dst_model_fit(b, x, y, N, &f) == DST_OK);
    dst_model_evaluate(a, x, y, N, 0, NULL, &acc1);
    same = memcmp(dst_model_params(a), dst_model_params(b), dst_model_param_count(a) * sizeof(float)) == 0;
    T_CHECK(dst_model_step_count(a) == 15 * 16);
    dst_model_free(a); dst_model_free(b);
    T_CHECK_MSG(acc1 > 0.9f && acc1 > acc0, "accuracy %g -> %g", (double)acc0, (double)acc1);
    T_CHECK(same);
    return 0;
}

static dst_result t_teacher_cb(void *user, const float *x, const size_t *idx, int batch, float *logits)
{
    const float *table = (const float *)user;
    int i;
    (void)x;
    for (i = 0; i < batch; ++i) memcpy(logits + i * 4, table + idx[i] * 4, 4 * sizeof(float));
    return DST_OK;
}

/* A model teacher, its cached logits and a callback serving them must train
   the student to the same bits. */
static int test_distill_three_teachers_agree(void)
{
    enum { N = 200, D = 4 };
    static float x[N * D], cache[N * D];
    static int y[N];
    dst_layer_desc T[3] = { dst_dense(16), dst_relu(), dst_dense(D) };
    dst_layer_desc S[3] = { dst_dense(8), dst_relu(), dst_dense(D) };
    dst_model *teacher = t_model(T, 3, D, 11), *s[3];
    dst_teacher tt[3];
    dst_fit_config f = dst_fit_default();
    dst_optimizer_config o = dst_optimizer_default(DST_SGD);
    int i, same;
    T_CHECK(teacher != NULL);
    t_toy_data(x, y, N, D);
    o.momentum = 0.9f;
    dst_model_set_optimizer(teacher, &o);
    f.epochs = 3; f.batch_size = 16;
    T_CHECK(dst_model_fit(teacher, x, y, N, &f) == DST_OK);
    tt[0] = dst_teacher_model(teacher);
    T_CHECK(dst_teacher_cache(&tt[0], x, D, N, cache, NULL) == DST_OK);
    tt[1] = dst_teacher_logits(cache, N, D);
    tt[2] = dst_teacher_callback(t_teacher_cb, cache, D);
    for (i = 0; i < 3; ++i) {
        s[i] = t_model(S, 3, D, 21);
        dst_model_set_optimizer(s[i], &o);
        f.teacher = &tt[i]; f.temperature = 3; f.alpha = 0.8f;
        T_CHECK(dst_model_fit(s[i], x, y, N, &f) == DST_OK);
    }
    same = memcmp(dst_model_params(s[0]), dst_model_params(s[1]), dst_model_param_count(s[0]) * 4) == 0 &&
           memcmp(dst_model_params(s[0]), dst_model_params(s[2]), dst_model_param_count(s[0]) * 4) == 0;
    /* soft targets alone (no labels) train too */
    f.teacher = &tt[1];
    T_CHECK(dst_model_fit(s[0], x, NULL, N, &f) == DST_OK);
    for (i = 0; i < 3; ++i) dst_model_free(s[i]);
    dst_model_free(teacher);
    T_CHECK(same);
    return 0;
}

static int test_distill_rejects_mismatched_teachers(void)
{
    float x[8] = { 0 }, logits[6] = { 0 };
    int y[2] = { 0, 1 };
    size_t idx[2] = { 0, 5 };
    dst_layer_desc S[1] = { dst_dense(4) }, T3[] = { dst_dense(3) };
    dst_model *s = t_model(S, 1, 4, 1), *t = t_model(T3, 1, 4, 1);
    dst_teacher bad = dst_teacher_model(t), cached = dst_teacher_logits(logits, 2, 4), self = dst_teacher_model(s);
    dst_fit_config f = dst_fit_default();
    int ok = 1;
    dst_optimizer_config o = dst_optimizer_default(DST_SGD);
    dst_model_set_optimizer(s, &o);
    ok &= dst_model_distill_step(s, &bad, x, y, idx, 2, 2, 0.5f, NULL) == DST_ERR_ARG;
    ok &= strstr(dst_model_error(s), "classes") != NULL;
    ok &= dst_model_distill_step(s, &cached, x, y, idx, 2, 2, 0.5f, NULL) == DST_ERR_ARG; /* index 5 > rows */
    ok &= strstr(dst_model_error(s), "index 5") != NULL;
    ok &= dst_model_distill_step(s, &self, x, y, idx, 2, 2, 0.5f, NULL) == DST_ERR_ARG;
    f.teacher = &cached; f.temperature = 0;
    ok &= dst_model_fit(s, x, y, 2, &f) == DST_ERR_ARG;
    f.temperature = 2; f.alpha = 2;
    ok &= dst_model_fit(s, x, y, 2, &f) == DST_ERR_ARG;
    y[1] = 4;
    f.alpha = 0.5f;
    ok &= dst_model_fit(s, x, y, 2, &f) == DST_ERR_ARG && strstr(dst_model_error(s), "label 4") != NULL;
    dst_model_free(s); dst_model_free(t);
    T_CHECK(ok);
    return 0;
}

static int test_nonfinite_stops_training_untouched(void)
{
    float x[2 * 3] = { 1, 2, 3, 4, 5, 6 }, *before;
    int y[2] = { 0, 1 };
    dst_layer_desc L[3] = { dst_dense(4), dst_relu(), dst_dense(2) };
    dst_model *m = t_model(L, 3, 3, 1);
    dst_optimizer_config o = dst_optimizer_default(DST_ADAM);
    size_t n;
    dst_result r;
    T_CHECK(m != NULL);
    n = dst_model_param_count(m);
    dst_model_set_optimizer(m, &o);
    before = (float *)malloc(n * 4);
    memcpy(before, dst_model_params(m), n * 4);
    x[4] = INFINITY;
    r = dst_model_train_step(m, x, y, 2, NULL, 0, 0, NULL);
    T_CHECK(r == DST_ERR_NONFINITE);
    T_CHECK(strstr(dst_model_error(m), "not updated") != NULL);
    T_CHECK(memcmp(before, dst_model_params(m), n * 4) == 0 && dst_model_step_count(m) == 0);
    x[4] = 5;
    T_CHECK(dst_model_train_step(m, x, y, 2, NULL, 0, 0, NULL) == DST_OK);
    free(before);
    dst_model_free(m);
    return 0;
}

/* Every allocation, failed in turn: DST_ERR_NOMEM, never a crash or a leak
   (the runner counts live blocks). After the first step, none at all. */
static int test_allocation_failure_and_no_allocation_per_step(void)
{
    float x[4 * 5], t[4 * 3];
    int y[4] = { 0, 1, 2, 0 }, fail, saw_nomem = 0;
    long before;
    dst_layer_desc L[3] = { dst_dense(8), dst_dropout(0.1f), dst_dense(3) };
    t_fill(x, 20, 1); t_fill(t, 12, 1);
    for (fail = 1; fail < 12; ++fail) {
        dst_model_desc d = dst_model_desc_default();
        dst_model *m = NULL;
        dst_result r;
        d.input_c = 5; d.layers = L; d.layer_count = 3;
        t_alloc_count = 0;
        t_alloc_fail_at = fail;
        r = dst_model_create(&m, &d, NULL);
        if (r == DST_OK) r = dst_model_train_step(m, x, y, 4, t, 2, 0.5f, NULL);
        t_alloc_fail_at = 0;
        T_CHECK(r == DST_OK || r == DST_ERR_NOMEM);
        if (r == DST_ERR_NOMEM) saw_nomem = 1;
        dst_model_free(m);
    }
    T_CHECK(saw_nomem);
    {
        dst_model *m = t_model(L, 3, 5, 1);
        T_CHECK(dst_model_train_step(m, x, y, 4, NULL, 0, 0, NULL) == DST_OK);
        before = t_alloc_count;
        T_CHECK(dst_model_train_step(m, x, y, 4, t, 2, 0.5f, NULL) == DST_OK);
        T_CHECK(dst_model_train_step(m, x, y, 3, NULL, 0, 0, NULL) == DST_OK);
        T_CHECK(t_alloc_count == before);
        dst_model_free(m);
    }
    return 0;
}

static int test_backward_needs_training_forward(void)
{
    float x[3] = { 1, 2, 3 }, d[2] = { 1, 1 };
    dst_layer_desc L[1] = { dst_dense(2) };
    dst_model *m = t_model(L, 1, 3, 1);
    T_CHECK(dst_model_backward(m, d) == DST_ERR_ARG);
    dst_model_forward(m, x, 1, 0, NULL);
    T_CHECK(dst_model_backward(m, d) == DST_ERR_ARG);
    T_CHECK(dst_model_forward(m, NULL, 1, 1, NULL) == DST_ERR_ARG);
    T_CHECK(dst_model_forward(m, x, 0, 1, NULL) == DST_ERR_ARG);
    dst_model_forward(m, x, 1, 1, NULL);
    T_CHECK(dst_model_backward(m, d) == DST_OK);
    dst_model_free(m);
    return 0;
}

static int t_stop_after_first(void *user, const dst_progress *p)
{
    int *calls = (int *)user;
    (*calls)++;
    return p->epoch_done;
}

static int test_fit_progress_and_stop(void)
{
    enum { N = 64 };
    static float x[N * 3];
    static int y[N];
    dst_layer_desc L[1] = { dst_dense(3) };
    dst_model *m = t_model(L, 1, 3, 1);
    dst_fit_config f = dst_fit_default();
    int calls = 0;
    t_toy_data(x, y, N, 3);
    f.batch_size = 8; f.progress = t_stop_after_first; f.progress_user = &calls; f.progress_every = 2;
    f.val_x = x; f.val_labels = y; f.val_count = N;
    T_CHECK(dst_model_fit(m, x, y, N, &f) == DST_OK);
    T_CHECK(calls == 4 && dst_model_step_count(m) == 8); /* batches 2, 4, 6, then epoch end: stop */
    dst_model_free(m);
    return 0;
}

static const t_case model_tests[] = {
    { "model_rejects_bad_descriptions", test_model_rejects_bad_descriptions },
    { "model_layout_and_seeded_init", test_model_layout_and_seeded_init },
    { "model_gradients_every_layer", test_model_gradients_every_layer },
    { "dropout_masks_and_scales", test_dropout_masks_and_scales },
    { "training_learns_and_is_deterministic", test_training_learns_and_is_deterministic },
    { "distill_three_teachers_agree", test_distill_three_teachers_agree },
    { "distill_rejects_mismatched_teachers", test_distill_rejects_mismatched_teachers },
    { "nonfinite_stops_training_untouched", test_nonfinite_stops_training_untouched },
    { "allocation_failure_and_no_allocation_per_step", test_allocation_failure_and_no_allocation_per_step },
    { "backward_needs_training_forward", test_backward_needs_training_forward },
    { "fit_progress_and_stop", test_fit_progress_and_stop },
};

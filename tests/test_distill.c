/* tests/test_distill.c - distillation on a transfer set: the loss of
   unlabelled rows (DST_NO_LABEL), the labelled and unlabelled samples of
   dst_model_fit in one stream, the teacher's logits cached once or run per
   batch. (t_model and t_toy_data come from test_model.c.) PyTorch parity of
   the mixed loss over training steps is in test_torch.c. */

/* A teacher callback whose logits are a function of each row alone (so
   they cannot depend on how rows are batched): counts its calls. */
typedef struct td_teacher { int calls; size_t rows; } td_teacher;

static dst_result td_teacher_rows(void *user, const float *x, const size_t *indices, int batch, float *logits)
{
    td_teacher *t = (td_teacher *)user;
    int i, j;
    (void)indices;
    t->calls++;
    t->rows += (size_t)batch;
    for (i = 0; i < batch; ++i)
        for (j = 0; j < 3; ++j) logits[i * 3 + j] = 3 * x[i * 4 + j] - x[i * 4 + 3];
    return DST_OK;
}

/* Rows of DST_NO_LABEL get the soft term alone at weight 1: a batch of them
   gives the bits of labels == NULL; a mixed batch the mean of its rows. */
static int test_kd_loss_unlabelled_rows(void)
{
    enum { R = 5, K = 7 };
    float s[R * K], t[R * K], g[R * K], g_ref[R * K], g_row[K];
    int none[R], mixed[R] = { 2, DST_NO_LABEL, 0, DST_NO_LABEL, 6 }, i, j;
    float loss, ref;
    double sum = 0;
    t_fill(s, R * K, 3);
    t_fill(t, R * K, 5);
    for (i = 0; i < R; ++i) none[i] = DST_NO_LABEL;
    loss = dst_kd_loss(s, t, none, R, K, 4, 0.3f, g);
    ref = dst_kd_loss(s, t, NULL, R, K, 4, 0.3f, g_ref);
    T_CHECK(memcmp(&loss, &ref, sizeof loss) == 0 && memcmp(g, g_ref, sizeof g) == 0);
    /* mixed: row by row, each as a batch of one, divided by the rows */
    loss = dst_kd_loss(s, t, mixed, R, K, 4, 0.3f, g);
    for (i = 0; i < R; ++i) {
        sum += dst_kd_loss(s + i * K, t + i * K, mixed[i] == DST_NO_LABEL ? NULL : &mixed[i], 1, K, 4, 0.3f, g_row);
        for (j = 0; j < K; ++j) g_ref[i * K + j] = g_row[j] / R;
    }
    T_CHECK_MSG(fabs(loss - sum / R) <= 1e-6 * fabs(sum / R), "loss %.9g, rows %.9g", loss, sum / R);
    T_CHECK(t_close(g, g_ref, R * K, 1e-6f, 1e-9f, "mixed gradient"));
    /* without a teacher a missing label is an error, as is any other negative label */
    T_CHECK(isnan(dst_kd_loss(s, NULL, mixed, R, K, 1, 0, g)));
    mixed[1] = -2;
    T_CHECK(isnan(dst_kd_loss(s, t, mixed, R, K, 4, 0.3f, g)));
    return 0;
}

/* A step on a batch of unlabelled samples is exactly the soft-only step. */
static int test_distill_step_unlabelled_batch_is_soft_only(void)
{
    enum { B = 6, D = 4 };
    float x[B * D], t[B * 3];
    int none[B], i;
    dst_layer_desc L[3] = { dst_dense(8), dst_relu(), dst_dense(3) };
    dst_model *a = t_model(L, 3, D, 3), *b = t_model(L, 3, D, 3);
    dst_optimizer_config o = dst_optimizer_default(DST_ADAM);
    float la, lb;
    T_CHECK(a && b);
    t_fill(x, B * D, 1);
    t_fill(t, B * 3, 4);
    for (i = 0; i < B; ++i) none[i] = DST_NO_LABEL;
    dst_model_set_optimizer(a, &o);
    dst_model_set_optimizer(b, &o);
    for (i = 0; i < 3; ++i) {
        T_CHECK(dst_model_train_step(a, x, none, B, t, 2, 0.5f, &la) == DST_OK);
        T_CHECK(dst_model_train_step(b, x, NULL, B, t, 2, 0.5f, &lb) == DST_OK);
    }
    T_CHECK(la == lb);
    T_CHECK(memcmp(dst_model_params(a), dst_model_params(b), dst_model_param_count(a) * sizeof(float)) == 0);
    /* without teacher logits, DST_NO_LABEL is refused */
    T_CHECK(dst_model_train_step(a, x, none, B, NULL, 0, 0, NULL) == DST_ERR_ARG);
    dst_model_free(a);
    dst_model_free(b);
    return 0;
}

/* fit's stream: x with labels plus unlabeled_x trains exactly as one array
   whose extra samples are labelled DST_NO_LABEL; the teacher's logits
   cached once give the bits of the teacher run on every batch; a transfer
   set fit stopped mid-epoch and resumed ends where the uninterrupted one
   does. */
enum { TD_LAB = 37, TD_UNL = 90, TD_N = TD_LAB + TD_UNL, TD_D = 4 };

static dst_model *td_fit(const float *x, const int *y, size_t count, const float *ux, size_t ucount,
                         const dst_teacher *t, int per_batch)
{
    dst_layer_desc L[3] = { dst_dense(12), dst_relu(), dst_dense(3) };
    dst_model *m = t_model(L, 3, TD_D, 8);
    dst_optimizer_config o = dst_optimizer_default(DST_ADAM);
    dst_fit_config f = dst_fit_default();
    if (!m) return NULL;
    o.lr = 0.01f;
    dst_model_set_optimizer(m, &o);
    f.epochs = 3; f.batch_size = 16; f.seed = 4;
    f.teacher = t; f.temperature = 3; f.alpha = 0.6f;
    f.unlabeled_x = ux; f.unlabeled_count = ucount; f.teacher_per_batch = per_batch;
    if (dst_model_fit(m, x, y, count, &f) != DST_OK) {
        printf("    fit: %s\n", dst_model_error(m));
        dst_model_free(m);
        return NULL;
    }
    return m;
}

static int td_same(const dst_model *a, const dst_model *b)
{
    return a && b && memcmp(dst_model_params((dst_model *)a), dst_model_params((dst_model *)b),
                            dst_model_param_count(a) * sizeof(float)) == 0;
}

static int test_fit_transfer_set_one_stream(void)
{
    static float x[TD_N * TD_D];
    static int y[TD_N];
    td_teacher cb = { 0, 0 };
    dst_teacher t = dst_teacher_callback(td_teacher_rows, &cb, 3);
    dst_model *split, *joined, *streamed;
    int i, same_join, same_stream, calls_cached, calls_streamed;
    size_t rows_cached;
    t_toy_data(x, y, TD_N, TD_D);
    for (i = 0; i < TD_N; ++i) y[i] %= 3;
    split = td_fit(x, y, TD_LAB, x + TD_LAB * TD_D, TD_UNL, &t, 0);
    calls_cached = cb.calls; rows_cached = cb.rows;
    for (i = TD_LAB; i < TD_N; ++i) y[i] = DST_NO_LABEL;
    cb.calls = 0; cb.rows = 0;
    joined = td_fit(x, y, TD_N, NULL, 0, &t, 0);
    cb.calls = 0; cb.rows = 0;
    streamed = td_fit(x, y, TD_LAB, x + TD_LAB * TD_D, TD_UNL, &t, 1);
    calls_streamed = cb.calls;
    same_join = td_same(split, joined);
    same_stream = td_same(split, streamed);
    dst_model_free(split); dst_model_free(joined); dst_model_free(streamed);
    T_CHECK(same_join);
    T_CHECK(same_stream);
    /* cached: the stream once (the labelled part, then the unlabelled);
       per batch: every batch of the 3 epochs */
    T_CHECK_MSG(calls_cached == 2 && rows_cached == TD_N, "%d calls, %lu rows", calls_cached, (unsigned long)rows_cached);
    T_CHECK_MSG(calls_streamed == 3 * ((TD_N + 15) / 16), "%d calls", calls_streamed);
    return 0;
}

/* A model teacher cached by fit gives the bits of the user's own cache
   (dst_teacher_cache over the labelled, then the unlabelled samples, and
   dst_teacher_logits). A model's logits may differ in the last bit with the
   batch they are computed in (GEMM blocking), so a cache and a teacher run
   per batch agree to rounding, not always to the bit; the callback above,
   a function of each row, shows the stream itself is the same. */
static int test_fit_transfer_set_model_teacher_cache(void)
{
    static float x[TD_N * TD_D], logits[TD_N * 3];
    static int y[TD_N];
    dst_layer_desc L[3] = { dst_dense(16), dst_relu(), dst_dense(3) };
    dst_model *teacher = t_model(L, 3, TD_D, 2), *a, *b;
    dst_teacher live, cached;
    int same;
    T_CHECK(teacher != NULL);
    t_toy_data(x, y, TD_N, TD_D);
    live = dst_teacher_model(teacher);
    T_CHECK(dst_teacher_cache(&live, x, TD_D, TD_LAB, logits, NULL) == DST_OK);
    T_CHECK(dst_teacher_cache(&live, x + TD_LAB * TD_D, TD_D, TD_UNL, logits + TD_LAB * 3, NULL) == DST_OK);
    cached = dst_teacher_logits(logits, TD_N, 3);
    a = td_fit(x, NULL, TD_LAB, x + TD_LAB * TD_D, TD_UNL, &live, 0);
    b = td_fit(x, NULL, TD_LAB, x + TD_LAB * TD_D, TD_UNL, &cached, 0);
    same = td_same(a, b);
    dst_model_free(a); dst_model_free(b); dst_model_free(teacher);
    T_CHECK(same);
    return 0;
}

/* A model teacher run on every batch of the stream trains the student to
   what the cached one gives, up to the rounding of the teacher's batches;
   every allocation of such a fit failed in turn gives DST_ERR_NOMEM and no
   leak (the runner counts blocks), the teacher cache's included. */
static int test_fit_transfer_set_per_batch_and_nomem(void)
{
    static float x[TD_N * TD_D];
    static int y[TD_N];
    dst_layer_desc L[3] = { dst_dense(16), dst_relu(), dst_dense(3) };
    dst_model *teacher = t_model(L, 3, TD_D, 2), *a, *b;
    dst_teacher live;
    int fail, close, saw_nomem = 0;
    T_CHECK(teacher != NULL);
    t_toy_data(x, y, TD_N, TD_D);
    live = dst_teacher_model(teacher);
    a = td_fit(x, NULL, TD_LAB, x + TD_LAB * TD_D, TD_UNL, &live, 0);
    b = td_fit(x, NULL, TD_LAB, x + TD_LAB * TD_D, TD_UNL, &live, 1);
    close = a && b && t_close(dst_model_params(b), dst_model_params(a), dst_model_param_count(a), 1e-4f, 1e-5f,
                              "per batch against cached");
    dst_model_free(a); dst_model_free(b);
    for (fail = 1; fail < 12; ++fail) {
        dst_layer_desc S[3] = { dst_dense(12), dst_relu(), dst_dense(3) };
        dst_model *m = t_model(S, 3, TD_D, 8);
        dst_fit_config f = dst_fit_default();
        dst_result r;
        if (!m) break;
        f.epochs = 1; f.batch_size = 16; f.teacher = &live;
        f.unlabeled_x = x + TD_LAB * TD_D; f.unlabeled_count = TD_UNL;
        t_alloc_count = 0;
        t_alloc_fail_at = fail;
        r = dst_model_fit(m, x, NULL, TD_LAB, &f);
        t_alloc_fail_at = 0;
        dst_model_free(m);
        T_CHECK(r == DST_OK || r == DST_ERR_NOMEM);
        saw_nomem |= r == DST_ERR_NOMEM;
    }
    dst_model_free(teacher);
    T_CHECK(close);
    T_CHECK(saw_nomem);
    return 0;
}

static int td_stop_mid_epoch(void *user, const dst_progress *p)
{
    (void)user;
    return p->epoch == 1 && p->batch == 3;
}

static int test_fit_transfer_set_resume(void)
{
    static float x[TD_N * TD_D];
    static int y[TD_N];
    td_teacher cb = { 0, 0 };
    dst_teacher t = dst_teacher_callback(td_teacher_rows, &cb, 3);
    dst_model *whole, *parts;
    dst_layer_desc L[3] = { dst_dense(12), dst_relu(), dst_dense(3) };
    dst_optimizer_config o = dst_optimizer_default(DST_ADAM);
    dst_fit_config f = dst_fit_default();
    int i, same;
    t_toy_data(x, y, TD_N, TD_D);
    for (i = 0; i < TD_N; ++i) y[i] %= 3;
    whole = td_fit(x, y, TD_LAB, x + TD_LAB * TD_D, TD_UNL, &t, 0);
    parts = t_model(L, 3, TD_D, 8);
    T_CHECK(whole && parts);
    o.lr = 0.01f;
    dst_model_set_optimizer(parts, &o);
    f.epochs = 3; f.batch_size = 16; f.seed = 4;
    f.teacher = &t; f.temperature = 3; f.alpha = 0.6f;
    f.unlabeled_x = x + TD_LAB * TD_D; f.unlabeled_count = TD_UNL;
    f.progress = td_stop_mid_epoch; f.progress_every = 1;
    T_CHECK(dst_model_fit(parts, x, y, TD_LAB, &f) == DST_OK);
    T_CHECK(dst_model_step_count(parts) == 8 + 3);
    f.progress = NULL; f.resume = 1;
    T_CHECK(dst_model_fit(parts, x, y, TD_LAB, &f) == DST_OK);
    same = td_same(whole, parts);
    dst_model_free(whole); dst_model_free(parts);
    T_CHECK(same);
    return 0;
}

static int test_fit_transfer_set_rejects(void)
{
    float x[8 * 4] = { 0 }, logits[8 * 3] = { 0 };
    int y[4] = { 0, 1, 2, DST_NO_LABEL };
    dst_layer_desc L[1] = { dst_dense(3) };
    dst_model *m = t_model(L, 1, 4, 1);
    dst_teacher few = dst_teacher_logits(logits, 7, 3), enough = dst_teacher_logits(logits, 8, 3);
    dst_fit_config f = dst_fit_default();
    dst_optimizer_config o = dst_optimizer_default(DST_SGD);
    T_CHECK(m != NULL);
    dst_model_set_optimizer(m, &o);
    f.epochs = 1;
    f.unlabeled_x = x + 16; f.unlabeled_count = 4;
    T_CHECK(dst_model_fit(m, x, y, 3, &f) == DST_ERR_ARG && strstr(dst_model_error(m), "need a teacher"));
    f.teacher = &few;
    T_CHECK(dst_model_fit(m, x, y, 4, &f) == DST_ERR_ARG && strstr(dst_model_error(m), "7 cached teacher rows"));
    f.teacher = &enough; f.unlabeled_x = NULL;
    T_CHECK(dst_model_fit(m, x, y, 4, &f) == DST_ERR_ARG && strstr(dst_model_error(m), "without unlabeled_x"));
    f.unlabeled_x = x + 16;
    T_CHECK(dst_model_fit(m, x, y, 4, &f) == DST_OK);
    f.teacher = NULL; f.unlabeled_count = 0; /* DST_NO_LABEL needs a teacher */
    T_CHECK(dst_model_fit(m, x, y, 4, &f) == DST_ERR_ARG && strstr(dst_model_error(m), "label -1"));
    dst_model_free(m);
    return 0;
}

/* dst_attention_loss's gradient against central differences, with the
   student's maps pooled (8x8 against 4x4) and the teacher's (2x2 against 4x4). */
static int test_attention_loss_gradient(void)
{
    enum { B = 2, SC = 3, TC = 5 };
    static float s[B * SC * 8 * 8], t[B * TC * 4 * 4], g[B * SC * 8 * 8];
    static const int sides[2][2] = { { 8, 4 }, { 2, 4 } }; /* student side, teacher side */
    int c, i, bad = 0;
    for (c = 0; c < 2; ++c) {
        int sh = sides[c][0], th = sides[c][1];
        size_t n = (size_t)B * SC * sh * sh;
        double worst = 0;
        t_fill(s, n, 1);
        t_fill(t, (size_t)B * TC * th * th, 1);
        memset(g, 0, sizeof g);
        T_CHECK(dst_attention_loss(s, SC, sh, sh, t, TC, th, th, B, 0.7f, g) >= 0);
        for (i = 0; i < (int)n; ++i) {
            float keep = s[i], h = 1e-2f, up, down;
            double fd;
            s[i] = keep + h; up = dst_attention_loss(s, SC, sh, sh, t, TC, th, th, B, 0.7f, NULL);
            s[i] = keep - h; down = dst_attention_loss(s, SC, sh, sh, t, TC, th, th, B, 0.7f, NULL);
            s[i] = keep;
            fd = ((double)up - (double)down) / (2.0 * h);
            if (fabs(fd - g[i]) > worst) worst = fabs(fd - g[i]);
        }
        if (worst > 2e-4) { printf("    sides %d/%d: worst gradient error %.3g\n", sh, th, worst); bad = 1; }
    }
    /* maps not in one whole ratio, a negative weight */
    T_CHECK(isnan(dst_attention_loss(s, SC, 6, 6, t, TC, 4, 4, B, 1, g)));
    T_CHECK(isnan(dst_attention_loss(s, SC, 8, 4, t, TC, 4, 4, B, 1, g)));
    T_CHECK(isnan(dst_attention_loss(s, SC, 4, 4, t, TC, 4, 4, B, -1, g)));
    T_CHECK(!bad);
    return 0;
}

/* dst_hint_loss's gradients wrt the student's outputs and the adapter
   against central differences: maps of one size, the student's pooled
   (8x8 against 4x4), the teacher's pooled (2x2 against 4x4), flat features. */
static double t_hint_fd(float *v, size_t n, const float *g, float *s, int sh, const float *t, int th,
                        const float *ad)
{
    enum { B = 2, SC = 3, TC = 5 };
    size_t i;
    double worst = 0;
    for (i = 0; i < n; ++i) {
        float keep = v[i], h = 1e-2f, up, down;
        double fd;
        v[i] = keep + h; up = dst_hint_loss(s, SC, sh, sh, t, TC, th, th, B, ad, 0.7f, NULL, NULL);
        v[i] = keep - h; down = dst_hint_loss(s, SC, sh, sh, t, TC, th, th, B, ad, 0.7f, NULL, NULL);
        v[i] = keep;
        fd = ((double)up - (double)down) / (2.0 * h);
        if (fabs(fd - g[i]) > worst) worst = fabs(fd - g[i]);
    }
    return worst;
}

static int test_hint_loss_gradient(void)
{
    enum { B = 2, SC = 3, TC = 5 };
    static float s[B * SC * 8 * 8], t[B * TC * 4 * 4], g[B * SC * 8 * 8], ad[TC * (SC + 1)], ga[TC * (SC + 1)];
    static const int sides[4][2] = { { 4, 4 }, { 8, 4 }, { 2, 4 }, { 1, 1 } }; /* student side, teacher side */
    int c, bad = 0;
    for (c = 0; c < 4; ++c) {
        int sh = sides[c][0], th = sides[c][1];
        size_t n = (size_t)B * SC * sh * sh;
        double ws, wa;
        t_fill(s, n, 1);
        t_fill(t, (size_t)B * TC * th * th, 1);
        t_fill(ad, TC * (SC + 1), 0.5f);
        memset(g, 0, sizeof g);
        memset(ga, 0, sizeof ga);
        T_CHECK(dst_hint_loss(s, SC, sh, sh, t, TC, th, th, B, ad, 0.7f, g, ga) > 0);
        ws = t_hint_fd(s, n, g, s, sh, t, th, ad);
        wa = t_hint_fd(ad, TC * (SC + 1), ga, s, sh, t, th, ad);
        if (ws > 1e-4 || wa > 1e-4) { printf("    sides %d/%d: worst gradient error %.3g (student), %.3g (adapter)\n", sh, th, ws, wa); bad = 1; }
    }
    /* maps not in one whole ratio, a negative weight, no adapter */
    T_CHECK(isnan(dst_hint_loss(s, SC, 6, 6, t, TC, 4, 4, B, ad, 1, g, ga)));
    T_CHECK(isnan(dst_hint_loss(s, SC, 8, 4, t, TC, 4, 4, B, ad, 1, g, ga)));
    T_CHECK(isnan(dst_hint_loss(s, SC, 4, 4, t, TC, 4, 4, B, ad, -1, g, ga)));
    T_CHECK(isnan(dst_hint_loss(s, SC, 4, 4, t, TC, 4, 4, B, NULL, 1, g, ga)));
    T_CHECK(!bad);
    return 0;
}

/* Hint terms in fit: refused without a teacher model, for layers out of
   range and sides of no whole ratio; the adapter given or seeded, never
   part of the student (its parameter count unchanged); the same seed the
   same student. */
static int test_fit_hint_terms(void)
{
    static float x[8 * 64], logits[8 * 3], ad[5 * 3];
    int y[8] = { 0, 1, 2, 0, 1, 2, 0, 1 }, i;
    dst_layer_desc S[4] = { dst_conv2d(2, 3, 1, 1), dst_relu(), dst_flatten(), dst_dense(3) };
    dst_layer_desc T[7] = { dst_conv2d(5, 3, 1, 1), dst_relu(), dst_maxpool2d(2, 0, 0), dst_conv2d(3, 3, 1, 0), dst_relu(),
                           dst_flatten(), dst_dense(3) };
    dst_model_desc d = dst_model_desc_default();
    dst_model *m = NULL, *m2 = NULL, *t = NULL;
    dst_teacher live, cached = dst_teacher_logits(logits, 8, 3);
    dst_hint_term h[2] = { { 1, 1, 1.0f, NULL }, { 3, 6, 0.5f, NULL } };
    dst_attention_term at = { 1, 1, 1.0f };
    dst_fit_config f = dst_fit_default();
    dst_optimizer_config o = dst_optimizer_default(DST_ADAM);
    size_t params;
    t_fill(x, sizeof x / sizeof x[0], 1);
    d.input_c = 1; d.input_h = 8; d.input_w = 8; d.layers = S; d.layer_count = 4;
    T_CHECK(dst_model_create(&m, &d, NULL) == DST_OK && dst_model_create(&m2, &d, NULL) == DST_OK);
    d.layers = T; d.layer_count = 7;
    T_CHECK(dst_model_create(&t, &d, NULL) == DST_OK);
    T_CHECK(dst_model_set_optimizer(m, &o) == DST_OK && dst_model_set_optimizer(m2, &o) == DST_OK);
    params = dst_model_param_count(m);
    live = dst_teacher_model(t);
    f.epochs = 2; f.batch_size = 4; f.teacher = &cached; f.hint = h; f.hint_count = 2;
    T_CHECK(dst_model_fit(m, x, y, 8, &f) == DST_ERR_ARG && strstr(dst_model_error(m), "hint term needs a teacher model"));
    f.teacher = &live;
    h[0].teacher_layer = 7;
    T_CHECK(dst_model_fit(m, x, y, 8, &f) == DST_ERR_ARG && strstr(dst_model_error(m), "hint term 0: layers 1 and 7"));
    h[0].teacher_layer = 3; /* 8x8 against 2x2: pooled 4x4 */
    T_CHECK(dst_model_fit(m, x, y, 8, &f) == DST_OK);
    h[0].teacher_layer = 4; h[0].student_layer = 0; /* the conv's chain ends after its ReLU: the same term */
    T_CHECK(dst_model_fit(m2, x, y, 8, &f) == DST_OK);
    T_CHECK(memcmp(dst_model_params(m), dst_model_params(m2), params * sizeof(float)) == 0);
    T_CHECK(dst_model_param_count(m) == params);
    h[1].weight = -1;
    T_CHECK(dst_model_fit(m, x, y, 8, &f) == DST_ERR_ARG && strstr(dst_model_error(m), "hint term 1"));
    h[1].weight = 0.5f;
    /* a given adapter (2 -> 5 channels: 5 x 3 floats), with an attention term beside */
    for (i = 0; i < 15; ++i) ad[i] = 0.1f * (float)(i % 4);
    h[0].adapter_init = ad; h[0].teacher_layer = 1; h[0].student_layer = 1;
    f.attention = &at; f.attention_count = 1;
    T_CHECK(dst_model_fit(m, x, y, 8, &f) == DST_OK);
    T_CHECK(ad[1] == (float)0.1f); /* the caller's values are only read */
    dst_model_free(m);
    dst_model_free(m2);
    dst_model_free(t);
    return 0;
}

static int test_fit_attention_rejects(void)
{
    static float x[4 * 64], logits[4 * 3];
    int y[4] = { 0, 1, 2, 0 };
    dst_layer_desc S[4] = { dst_conv2d(2, 3, 1, 1), dst_relu(), dst_flatten(), dst_dense(3) };
    dst_layer_desc T[4] = { dst_conv2d(3, 3, 1, 0), dst_relu(), dst_flatten(), dst_dense(3) };
    dst_model_desc d = dst_model_desc_default();
    dst_model *m = NULL, *t = NULL;
    dst_teacher live, cached = dst_teacher_logits(logits, 4, 3);
    dst_attention_term at = { 1, 1, 1.0f };
    dst_fit_config f = dst_fit_default();
    d.input_c = 1; d.input_h = 8; d.input_w = 8; d.layers = S; d.layer_count = 4;
    T_CHECK(dst_model_create(&m, &d, NULL) == DST_OK);
    d.layers = T;
    T_CHECK(dst_model_create(&t, &d, NULL) == DST_OK);
    live = dst_teacher_model(t);
    f.epochs = 1; f.teacher = &cached; f.attention = &at; f.attention_count = 1;
    T_CHECK(dst_model_fit(m, x, y, 4, &f) == DST_ERR_ARG && strstr(dst_model_error(m), "needs a teacher model"));
    f.teacher = &live; /* 8x8 maps against 6x6 */
    T_CHECK(dst_model_fit(m, x, y, 4, &f) == DST_ERR_ARG && strstr(dst_model_error(m), "not in one whole ratio"));
    at.teacher_layer = 4;
    T_CHECK(dst_model_fit(m, x, y, 4, &f) == DST_ERR_ARG && strstr(dst_model_error(m), "attention term 0"));
    at.teacher_layer = 3; at.student_layer = 3; /* dense outputs: 3x1x1 maps, allowed */
    T_CHECK(dst_model_fit(m, x, y, 4, &f) == DST_OK);
    dst_model_free(m);
    dst_model_free(t);
    return 0;
}

static const t_case distill_tests[] = {
    { "fit_attention_rejects", test_fit_attention_rejects },
    { "attention_loss_gradient", test_attention_loss_gradient },
    { "hint_loss_gradient", test_hint_loss_gradient },
    { "fit_hint_terms", test_fit_hint_terms },
    { "kd_loss_unlabelled_rows", test_kd_loss_unlabelled_rows },
    { "distill_step_unlabelled_batch_is_soft_only", test_distill_step_unlabelled_batch_is_soft_only },
    { "fit_transfer_set_one_stream", test_fit_transfer_set_one_stream },
    { "fit_transfer_set_model_teacher_cache", test_fit_transfer_set_model_teacher_cache },
    { "fit_transfer_set_per_batch_and_nomem", test_fit_transfer_set_per_batch_and_nomem },
    { "fit_transfer_set_resume", test_fit_transfer_set_resume },
    { "fit_transfer_set_rejects", test_fit_transfer_set_rejects },
};

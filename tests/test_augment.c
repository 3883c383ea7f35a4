/* tests/test_augment.c - augmentation in fit (shift, flip, noise, mixup:
   the pixels they give, the same bits for a seed whatever the threads, the
   live teacher seeing the student's batch, cached logits refused), mixup's
   loss and its gradient, and ensembles of teachers (the mean of tempered
   probabilities, an ensemble of one that is its teacher bit for bit).
   (t_model, t_toy_data: test_model.c; t_cnn: test_conv.c; t_threads_of:
   test_threads.c.) */

/* A 1 x 3 x 4 image moved, mirrored, and both: pixel by pixel. */
static int test_augment_move_pixels(void)
{
    const float in[12] = { 1, 2, 3, 4,
                           5, 6, 7, 8,
                           9, 10, 11, 12 };
    const float down_left[12] = { 0, 0, 0, 0,
                                  2, 3, 4, 0,
                                  6, 7, 8, 0 };
    const float mirrored[12] = { 4, 3, 2, 1,
                                 8, 7, 6, 5,
                                 12, 11, 10, 9 };
    const float mirrored_up_right[12] = { 0, 8, 7, 6,
                                          0, 12, 11, 10,
                                          0, 0, 0, 0 };
    float out[12];
    dst__augment_move(in, out, 1, 3, 4, 1, -1, 0);
    T_CHECK(memcmp(out, down_left, sizeof out) == 0);
    dst__augment_move(in, out, 1, 3, 4, 0, 0, 1);
    T_CHECK(memcmp(out, mirrored, sizeof out) == 0);
    dst__augment_move(in, out, 1, 3, 4, -1, 1, 1);
    T_CHECK(memcmp(out, mirrored_up_right, sizeof out) == 0);
    dst__augment_move(in, out, 1, 3, 4, 0, 0, 0);
    T_CHECK(memcmp(out, in, sizeof out) == 0);
    return 0;
}

/* A teacher callback that checks every sample it is given is a view of the
   original (shift <= 1, maybe mirrored), and that the views vary. */
enum { TA_C = 2, TA_H = 4, TA_W = 5, TA_IN = TA_C * TA_H * TA_W, TA_N = 24 };
typedef struct ta_watch {
    const float *x;        /* the originals, by stream number */
    int bad, views[2][3][3], calls;
} ta_watch;

static dst_result ta_teacher(void *user, const float *x, const size_t *indices, int batch, float *logits)
{
    ta_watch *w = (ta_watch *)user;
    float view[TA_IN];
    int k, j, dy, dx, f, found;
    w->calls++;
    for (k = 0; k < batch; ++k) {
        found = 0;
        for (f = 0; f < 2 && !found; ++f)
            for (dy = -1; dy <= 1 && !found; ++dy)
                for (dx = -1; dx <= 1 && !found; ++dx) {
                    dst__augment_move(w->x + indices[k] * TA_IN, view, TA_C, TA_H, TA_W, dy, dx, f);
                    if (memcmp(view, x + (size_t)k * TA_IN, sizeof view) == 0) {
                        found = 1;
                        w->views[f][dy + 1][dx + 1]++;
                    }
                }
        w->bad += !found;
        for (j = 0; j < 3; ++j) logits[k * 3 + j] = x[(size_t)k * TA_IN + j * 7];
    }
    return DST_OK;
}

static int test_fit_augment_teacher_sees_the_view(void)
{
    static float x[TA_N * TA_IN];
    static int y[TA_N];
    dst_layer_desc L[2] = { dst_flatten(), dst_dense(3) };
    dst_model *m = t_cnn(L, 2, TA_C, TA_H, TA_W, 3);
    dst_fit_config f = dst_fit_default();
    ta_watch w;
    dst_teacher t = dst_teacher_callback(ta_teacher, &w, 3);
    int i, f2, dy, dx, kinds = 0;
    T_CHECK(m != NULL);
    memset(&w, 0, sizeof w);
    for (i = 0; i < TA_N * TA_IN; ++i) x[i] = (float)(i % 97) + 1; /* no zero: a view shows where it came from */
    for (i = 0; i < TA_N; ++i) y[i] = i % 3;
    w.x = x;
    f.epochs = 4; f.batch_size = 5; f.teacher = &t;
    f.augment.shift = 1; f.augment.flip = 1;
    T_CHECK_MSG(dst_model_fit(m, x, y, TA_N, &f) == DST_OK, "%s", dst_model_error(m));
    dst_model_free(m);
    T_CHECK_MSG(w.bad == 0, "%d samples are no view of theirs", w.bad);
    T_CHECK(w.calls == 4 * 5); /* live: every batch of every epoch, no cache */
    for (f2 = 0; f2 < 2; ++f2)
        for (dy = 0; dy < 3; ++dy)
            for (dx = 0; dx < 3; ++dx) kinds += w.views[f2][dy][dx] > 0;
    T_CHECK_MSG(kinds >= 12, "only %d of the 18 views drawn in 96", kinds);
    return 0;
}

/* A CNN distilled from a live CNN teacher with every augmentation on:
   the same bits for a seed, on 1 and on 3 threads (and with another seed,
   other bits). */
static dst_model *ta_fit_all(dst_model *teacher, const float *x, const int *y, int n, uint64_t seed,
                             int threads)
{
    dst_layer_desc L[5] = { dst_conv2d(4, 3, 1, 1), dst_relu(), dst_maxpool2d(2, 2, 0), dst_flatten(), dst_dense(3) };
    dst_model *m = t_cnn(L, 5, 1, 8, 8, 5);
    dst_optimizer_config o = dst_optimizer_default(DST_ADAM);
    dst_fit_config f = dst_fit_default();
    dst_teacher t = dst_teacher_model(teacher);
    dst_pool *pool = NULL;
    dst_threads th = t_threads_of(threads, &pool);
    dst_result r;
    if (!m) return NULL;
    dst_model_set_optimizer(m, &o);
    dst_model_set_threads(m, &th);
    dst_model_set_threads(teacher, &th);
    f.epochs = 2; f.batch_size = 16; f.seed = seed; f.teacher = &t; f.temperature = 2; f.alpha = 0.5f;
    f.augment.shift = 2; f.augment.flip = 1; f.augment.mixup_alpha = 0.4f; f.augment.noise = 0.1f;
    r = dst_model_fit(m, x, y, (size_t)n, &f);
    if (r != DST_OK) printf("    fit: %s\n", dst_model_error(m));
    dst_model_set_threads(m, NULL);
    dst_model_set_threads(teacher, NULL);
    dst_pool_stop(pool);
    if (r != DST_OK) { dst_model_free(m); return NULL; }
    return m;
}

static int test_fit_augment_same_bits_any_threads(void)
{
    enum { N = 40 };
    static float x[N * 64];
    static int y[N];
    dst_layer_desc L[4] = { dst_conv2d(6, 3, 1, 1), dst_relu(), dst_flatten(), dst_dense(3) };
    dst_model *teacher = t_cnn(L, 4, 1, 8, 8, 9), *a, *b, *c, *d;
    int i, ab, ac, ad;
    T_CHECK(teacher != NULL);
    t_fill(x, N * 64, 1);
    for (i = 0; i < N; ++i) y[i] = i % 3;
    a = ta_fit_all(teacher, x, y, N, 7, 1);
    b = ta_fit_all(teacher, x, y, N, 7, 1);
    c = ta_fit_all(teacher, x, y, N, 7, 3);
    d = ta_fit_all(teacher, x, y, N, 8, 1);
    ab = td_same(a, b); ac = td_same(a, c); ad = td_same(a, d);
    dst_model_free(a); dst_model_free(b); dst_model_free(c); dst_model_free(d); dst_model_free(teacher);
    T_CHECK(ab);
    T_CHECK(ac);
    T_CHECK(!ad);
    return 0;
}

/* mixup's batch: each sample is lambda itself + (1 - lambda) its partner,
   lambda in [0.5, 1]; the partners' labels come along, and a mix with an
   unlabelled sample is unlabelled. */
static int test_augment_mixup_batch(void)
{
    enum { B = 9, D = 3 };
    dst_layer_desc L[1] = { dst_dense(2) };
    dst_model *m = t_model(L, 1, D, 1);
    dst_fit_config f = dst_fit_default();
    float x[B * D], bx[B * D], tmp[B * D], lambda[B];
    int y[B] = { 0, 1, 0, DST_NO_LABEL, 1, 1, 0, DST_NO_LABEL, 0 }, by[B], by_b[B], k, j, p, mixed = 0;
    size_t idx[B];
    T_CHECK(m != NULL);
    for (k = 0; k < B * D; ++k) x[k] = (float)(k / D * 10 + k % D);
    for (k = 0; k < B; ++k) idx[k] = (size_t)k;
    memcpy(bx, x, sizeof x);
    memcpy(by, y, sizeof y);
    f.augment.mixup_alpha = 1;
    dst__augment_batch(m, &f, 0, 0, idx, B, bx, by, tmp, by_b, lambda);
    for (k = 0; k < B; ++k) {
        T_CHECK(lambda[k] >= 0.5f && lambda[k] <= 1);
        /* the partner: the sample whose mix gives these values */
        for (p = 0; p < B; ++p) {
            for (j = 0; j < D; ++j) {
                /* rounded to float as the library's store rounds it (volatile: clang's
                   x87 code keeps a float wider past a cast, to the next store) */
                volatile float want = lambda[k] * x[k * D + j] + (1 - lambda[k]) * x[p * D + j];
                if (bx[k * D + j] != want) break;
            }
            if (j == D) break;
        }
        T_CHECK_MSG(p < B, "sample %d is no mix", k);
        mixed += p != k;
        if (y[k] == DST_NO_LABEL || y[p] == DST_NO_LABEL) T_CHECK(by[k] == DST_NO_LABEL);
        else T_CHECK(by[k] == y[k] && by_b[k] == y[p]);
    }
    T_CHECK(mixed > 0);
    dst_model_free(m);
    return 0;
}

/* The mixed hard term: lambda CE(a) + (1 - lambda) CE(b), its gradient by
   finite differences; every lambda 1 gives dst_kd_loss's bits. */
static int test_kd_loss_mixup_gradient(void)
{
    enum { R = 4, K = 5 };
    float s[R * K], t[R * K], g[R * K], g_ref[R * K], lam[R] = { 0.7f, 1, 0.5f, 0.9f }, ones[R] = { 1, 1, 1, 1 };
    int a[R] = { 1, 4, DST_NO_LABEL, 0 }, b[R] = { 3, 2, 7, 0 }, i, pass;
    float loss, ref;
    t_fill(s, R * K, 2);
    t_fill(t, R * K, 3);
    for (pass = 0; pass < 2; ++pass) {
        const float *tt = pass ? t : NULL;
        int *aa = a, *bb = b;
        int plain[R] = { 1, 4, 2, 0 }, plain_b[R] = { 3, 2, 1, 0 };
        if (!tt) { aa = plain; bb = plain_b; } /* without a teacher every row has a label */
        loss = dst_kd_loss_mixup(s, tt, aa, bb, lam, R, K, 3, 0.4f, g);
        T_CHECK(!isnan(loss));
        for (i = 0; i < R * K; ++i) {
            float keep = s[i], h = 1e-2f, up, down;
            s[i] = keep + h; up = dst_kd_loss_mixup(s, tt, aa, bb, lam, R, K, 3, 0.4f, NULL);
            s[i] = keep - h; down = dst_kd_loss_mixup(s, tt, aa, bb, lam, R, K, 3, 0.4f, NULL);
            s[i] = keep;
            g_ref[i] = (up - down) / (2 * h);
        }
        T_CHECK(t_close(g, g_ref, R * K, 2e-2f, 2e-3f, "mixup gradient"));
        /* row by row: the hard term is the lambda-weighted mix of two plain losses */
        if (!tt)
            for (i = 0; i < R; ++i) {
                double mixed = dst_kd_loss_mixup(s + i * K, NULL, aa + i, bb + i, lam + i, 1, K, 1, 0, NULL);
                double parts = lam[i] * dst_kd_loss(s + i * K, NULL, aa + i, 1, K, 1, 0, NULL) +
                               (1 - lam[i]) * dst_kd_loss(s + i * K, NULL, bb + i, 1, K, 1, 0, NULL);
                T_CHECK_MSG(fabs(mixed - parts) <= 1e-6 * fabs(parts), "row %d: %.9g, %.9g", i, mixed, parts);
            }
    }
    loss = dst_kd_loss_mixup(s, t, a, b, ones, R, K, 3, 0.4f, g);
    ref = dst_kd_loss(s, t, a, R, K, 3, 0.4f, g_ref);
    T_CHECK(memcmp(&loss, &ref, sizeof loss) == 0 && memcmp(g, g_ref, sizeof g) == 0);
    /* refused: no lambda, a lambda outside [0, 1], a partner label out of range on a labelled row */
    T_CHECK(isnan(dst_kd_loss_mixup(s, t, a, b, NULL, R, K, 3, 0.4f, g)));
    lam[0] = 1.5f;
    T_CHECK(isnan(dst_kd_loss_mixup(s, t, a, b, lam, R, K, 3, 0.4f, g)));
    lam[0] = 0.5f;
    b[0] = K;
    T_CHECK(isnan(dst_kd_loss_mixup(s, t, a, b, lam, R, K, 3, 0.4f, g)));
    return 0;
}

/* Refused: cached logits with augmentation (alone or in an ensemble), bad
   values, shift on a table; mixup trains a plain (teacherless) fit. */
static int test_fit_augment_rejects(void)
{
    enum { N = 12, D = 4 };
    float x[N * D], logits[N * 3];
    int y[N], i;
    dst_layer_desc L[1] = { dst_dense(3) };
    dst_model *m = t_model(L, 1, D, 1), *tm = t_model(L, 1, D, 2);
    dst_fit_config f = dst_fit_default();
    dst_teacher cached = dst_teacher_logits(logits, N, 3), members[2], ens;
    T_CHECK(m && tm);
    t_toy_data(x, y, N, D);
    for (i = 0; i < N; ++i) y[i] %= 3;
    t_fill(logits, N * 3, 1);
    f.epochs = 1; f.batch_size = 4;
    f.teacher = &cached;
    f.augment.noise = 0.1f;
    T_CHECK(dst_model_fit(m, x, y, N, &f) == DST_ERR_ARG);
    T_CHECK_MSG(strstr(dst_model_error(m), "cached teacher logits") != NULL, "%s", dst_model_error(m));
    members[0] = dst_teacher_model(tm);
    members[1] = cached;
    ens = dst_teacher_ensemble(members, NULL, 2, f.temperature);
    f.teacher = &ens;
    T_CHECK(dst_model_fit(m, x, y, N, &f) == DST_ERR_ARG);
    T_CHECK(strstr(dst_model_error(m), "cached teacher logits") != NULL);
    f.augment.noise = 0;
    T_CHECK_MSG(dst_model_fit(m, x, y, N, &f) == DST_OK, "%s", dst_model_error(m)); /* no augmentation: fine */
    f.teacher = NULL;
    f.augment.shift = 1;
    T_CHECK(dst_model_fit(m, x, y, N, &f) == DST_ERR_ARG);
    T_CHECK(strstr(dst_model_error(m), "not an image") != NULL);
    f.augment.shift = -1;
    T_CHECK(dst_model_fit(m, x, y, N, &f) == DST_ERR_ARG);
    f.augment.shift = 0; f.augment.flip = 2;
    T_CHECK(dst_model_fit(m, x, y, N, &f) == DST_ERR_ARG);
    f.augment.flip = 0; f.augment.mixup_alpha = -1;
    T_CHECK(dst_model_fit(m, x, y, N, &f) == DST_ERR_ARG);
    f.augment.mixup_alpha = (float)NAN;
    T_CHECK(dst_model_fit(m, x, y, N, &f) == DST_ERR_ARG);
    f.augment.mixup_alpha = 0.2f;
    T_CHECK_MSG(dst_model_fit(m, x, y, N, &f) == DST_OK, "%s", dst_model_error(m));
    dst_model_free(m);
    dst_model_free(tm);
    return 0;
}

/* An ensemble's logits: softmax at T is the weighted mean of the members'
   tempered probabilities; KD's gradient against it by finite differences of
   T^2 KL(p || softmax(s / T)) computed here in double. */
static int test_teacher_ensemble_mean_probs(void)
{
    enum { R = 3, K = 4 };
    float t1[R * K], t2[R * K], out[R * K], p1[R * K], p2[R * K], p[R * K], s[R * K], g[R * K], g_ref[R * K];
    float w[2] = { 1, 2 }, T = 2.5f;
    dst_teacher members[2], ens;
    size_t idx[R] = { 0, 1, 2 };
    int i, j;
    dst_error e;
    t_fill(t1, R * K, 4);
    t_fill(t2, R * K, 4);
    t1[0] = 60; t2[5] = -80; /* far apart: the log-sum-exp keeps them finite */
    t_fill(s, R * K, 2);
    members[0] = dst_teacher_logits(t1, R, K);
    members[1] = dst_teacher_logits(t2, R, K);
    ens = dst_teacher_ensemble(members, w, 2, T);
    T_CHECK(dst__teacher_ok(&ens, K, &e) == DST_OK);
    T_CHECK(dst__teacher_batch(&ens, NULL, idx, R, out, &e) == DST_OK);
    dst_softmax(t1, p1, R, K, T);
    dst_softmax(t2, p2, R, K, T);
    dst_softmax(out, p, R, K, T);
    for (i = 0; i < R * K; ++i) {
        float mean = (p1[i] + 2 * p2[i]) / 3;
        T_CHECK(isfinite(out[i]));
        T_CHECK_MSG(fabs(p[i] - mean) <= 1e-6 + 1e-5 * mean, "%d: %g, %g", i, p[i], mean);
    }
    dst_kd_loss(s, out, NULL, R, K, T, 0, g);
    for (i = 0; i < R * K; ++i) {
        double h = 1e-3, lo[2];
        int side;
        for (side = 0; side < 2; ++side) {
            double total = 0;
            int r;
            for (r = 0; r < R; ++r) {
                double mx = -1e300, sum = 0, z[K];
                for (j = 0; j < K; ++j) {
                    z[j] = s[r * K + j] / (double)T + (r * K + j == i ? (side ? h : -h) / T : 0);
                    if (z[j] > mx) mx = z[j];
                }
                for (j = 0; j < K; ++j) sum += exp(z[j] - mx);
                for (j = 0; j < K; ++j) {
                    double q = ((double)p1[r * K + j] + 2.0 * p2[r * K + j]) / 3;
                    if (q > 0) total += q * (log(q) - (z[j] - mx - log(sum)));
                }
            }
            lo[side] = (double)T * T * total / R;
        }
        g_ref[i] = (float)((lo[1] - lo[0]) / (2 * h));
    }
    T_CHECK(t_close(g, g_ref, R * K, 1e-3f, 1e-5f, "ensemble KD gradient"));
    /* refused: weights all 0, a negative weight, a nested ensemble, mixed classes */
    w[0] = 0; w[1] = 0;
    T_CHECK(dst__teacher_ok(&ens, K, &e) == DST_ERR_ARG);
    w[1] = -1;
    T_CHECK(dst__teacher_ok(&ens, K, &e) == DST_ERR_ARG);
    w[0] = 1; w[1] = 1;
    members[1] = ens;
    T_CHECK(dst__teacher_ok(&ens, K, &e) == DST_ERR_ARG);
    members[1] = dst_teacher_logits(t2, R, K - 1);
    T_CHECK(dst__teacher_ok(&ens, K, &e) == DST_ERR_ARG);
    T_CHECK_MSG(strstr(e.message, "member 1") != NULL, "%s", e.message);
    return 0;
}

/* An ensemble of one is its teacher, bit for bit, in fit (cached and live);
   an ensemble of two model teachers trains, and one of another temperature
   than the fit's is refused. */
static int test_teacher_ensemble_of_one_is_the_teacher(void)
{
    static float x[TD_N * TD_D];
    static int y[TD_N];
    dst_layer_desc L[3] = { dst_dense(16), dst_relu(), dst_dense(3) };
    dst_model *t1 = t_model(L, 3, TD_D, 2), *t2 = t_model(L, 3, TD_D, 3), *a, *b, *c, *d;
    dst_teacher members[2], alone, one, two;
    float w[2] = { 1, 3 };
    int same_cached, same_live, ok_two;
    T_CHECK(t1 && t2);
    t_toy_data(x, y, TD_N, TD_D);
    alone = dst_teacher_model(t1);
    members[0] = alone;
    members[1] = dst_teacher_model(t2);
    one = dst_teacher_ensemble(members, w, 1, 1.0f); /* its temperature is not used */
    two = dst_teacher_ensemble(members, w, 2, 3.0f);  /* td_fit's */
    a = td_fit(x, NULL, TD_LAB, x + TD_LAB * TD_D, TD_UNL, &alone, 0);
    b = td_fit(x, NULL, TD_LAB, x + TD_LAB * TD_D, TD_UNL, &one, 0);
    same_cached = td_same(a, b);
    dst_model_free(a); dst_model_free(b);
    a = td_fit(x, NULL, TD_LAB, x + TD_LAB * TD_D, TD_UNL, &alone, 1);
    b = td_fit(x, NULL, TD_LAB, x + TD_LAB * TD_D, TD_UNL, &one, 1);
    same_live = td_same(a, b);
    c = td_fit(x, NULL, TD_LAB, x + TD_LAB * TD_D, TD_UNL, &two, 0);
    ok_two = c != NULL && !td_same(a, c);
    two.temperature = 2;
    printf("    (a refusal follows)\n");
    d = td_fit(x, NULL, TD_LAB, x + TD_LAB * TD_D, TD_UNL, &two, 0);
    dst_model_free(a); dst_model_free(b); dst_model_free(c); dst_model_free(t1); dst_model_free(t2);
    T_CHECK(same_cached);
    T_CHECK(same_live);
    T_CHECK(ok_two);
    T_CHECK(d == NULL);
    return 0;
}

/* With every augmentation and an ensemble of two live teachers: a fit
   stopped mid-epoch and resumed ends with the bits of the uninterrupted one
   (the draws hang on seed, epoch and sample, not on what ran before); every
   allocation failed in turn gives DST_ERR_NOMEM and no leak (the runner
   counts blocks). */
static dst_model *ta_fit_noise_mix(const dst_teacher *t, const float *x, const int *y, dst_progress_fn stop,
                                   dst_model *resume)
{
    dst_layer_desc L[3] = { dst_dense(12), dst_relu(), dst_dense(3) };
    dst_model *m = resume ? resume : t_model(L, 3, TD_D, 8);
    dst_optimizer_config o = dst_optimizer_default(DST_ADAM);
    dst_fit_config f = dst_fit_default();
    if (!m) return NULL;
    if (!resume) dst_model_set_optimizer(m, &o);
    f.epochs = 3; f.batch_size = 16; f.seed = 4; f.teacher = t; f.temperature = 3; f.alpha = 0.6f;
    f.unlabeled_x = x + TD_LAB * TD_D; f.unlabeled_count = TD_UNL;
    f.augment.noise = 0.2f; f.augment.mixup_alpha = 0.3f;
    f.progress = stop; f.progress_every = stop ? 1 : 0; f.resume = resume != NULL;
    if (dst_model_fit(m, x, y, TD_LAB, &f) != DST_OK) {
        printf("    fit: %s\n", dst_model_error(m));
        dst_model_free(m);
        return NULL;
    }
    return m;
}

static int test_fit_augment_resume_and_nomem(void)
{
    static float x[TD_N * TD_D];
    static int y[TD_N];
    dst_layer_desc L[3] = { dst_dense(16), dst_relu(), dst_dense(3) };
    dst_model *t1 = t_model(L, 3, TD_D, 2), *t2 = t_model(L, 3, TD_D, 3), *whole, *parts;
    dst_teacher members[2], ens;
    int i, fail, same, saw_nomem = 0;
    T_CHECK(t1 && t2);
    t_toy_data(x, y, TD_N, TD_D);
    for (i = 0; i < TD_N; ++i) y[i] %= 3;
    members[0] = dst_teacher_model(t1);
    members[1] = dst_teacher_model(t2);
    ens = dst_teacher_ensemble(members, NULL, 2, 3);
    whole = ta_fit_noise_mix(&ens, x, y, NULL, NULL);
    parts = ta_fit_noise_mix(&ens, x, y, td_stop_mid_epoch, NULL);
    parts = ta_fit_noise_mix(&ens, x, y, NULL, parts);
    same = td_same(whole, parts);
    dst_model_free(whole); dst_model_free(parts);
    for (fail = 1; fail < 14; ++fail) {
        dst_layer_desc S[3] = { dst_dense(12), dst_relu(), dst_dense(3) };
        dst_model *m = t_model(S, 3, TD_D, 8);
        dst_fit_config f = dst_fit_default();
        dst_result r;
        if (!m) break;
        f.epochs = 1; f.batch_size = 16; f.teacher = &ens; f.temperature = 3;
        f.augment.noise = 0.1f; f.augment.mixup_alpha = 0.3f;
        t_alloc_count = 0;
        t_alloc_fail_at = fail;
        r = dst_model_fit(m, x, y, TD_LAB, &f);
        t_alloc_fail_at = 0;
        dst_model_free(m);
        T_CHECK(r == DST_OK || r == DST_ERR_NOMEM);
        saw_nomem |= r == DST_ERR_NOMEM;
    }
    dst_model_free(t1); dst_model_free(t2);
    T_CHECK(same);
    T_CHECK(saw_nomem);
    return 0;
}

/* Against PyTorch (tests/gen_kd_fixtures.py): dst_kd_loss_mixup's value
   and gradient with unlabelled rows, and KD against an ensemble of three
   weighted teachers (dst_teacher_ensemble's logits into dst_kd_loss). */
static int test_torch_mixup_and_ensemble(void)
{
    t_fixture fx;
    t_array *s, *t, *y, *yb, *lam, *wts, *ye, *tl[3];
    int ya[6], yba[6], yea[6], i, k;
    float g[42], out[42];
    dst_teacher members[3], ens;
    dst_error e;
    size_t idx[6] = { 0, 1, 2, 3, 4, 5 };
    if (!t_fixture_load("torch_mixup_ensemble", &fx)) return 1;
    T_CHECK((s = tt_get(&fx, "mixup.s", 0, 0)) && (t = tt_get(&fx, "mixup.t", 0, 0)) && s->count == 42);
    T_CHECK((y = tt_get(&fx, "mixup.y", 0, 0)) && (yb = tt_get(&fx, "mixup.yb", 0, 0)) && (lam = tt_get(&fx, "mixup.lam", 0, 0)));
    for (i = 0; i < 6; ++i) { ya[i] = (int)y->data[i]; yba[i] = (int)yb->data[i]; }
    for (k = 0; k < 4; ++k) {
        t_array *cfg = tt_get(&fx, "mixup%d.cfg", k, 0), *l = tt_get(&fx, "mixup%d.loss", k, 0), *gr = tt_get(&fx, "mixup%d.grad", k, 0);
        int yabs[6];
        float loss;
        T_CHECK(cfg && l && gr);
        for (i = 0; i < 6; ++i) yabs[i] = ya[i] < 0 ? -ya[i] : ya[i];
        loss = cfg->data[1] < 0 ? dst_kd_loss_mixup(s->data, NULL, yabs, yba, lam->data, 6, 7, 1, 0, g)
                                : dst_kd_loss_mixup(s->data, t->data, ya, yba, lam->data, 6, 7, cfg->data[0], cfg->data[1], g);
        T_CHECK_MSG(fabs((double)loss - l->data[0]) <= 1e-5 * fabs((double)l->data[0]), "mixup %d: loss %.9g, PyTorch %.9g",
                    k, (double)loss, (double)l->data[0]);
        T_CHECK_MSG(tt_rel(g, gr->data, 42, 1e-6) <= 1e-5, "mixup %d: gradient error %.3g", k, tt_rel(g, gr->data, 42, 1e-6));
    }
    T_CHECK((wts = tt_get(&fx, "ensemble.w", 0, 0)) && (ye = tt_get(&fx, "ensemble.y", 0, 0)));
    for (i = 0; i < 3; ++i) {
        T_CHECK((tl[i] = tt_get(&fx, "ensemble.t%d", i, 0)) != NULL);
        members[i] = dst_teacher_logits(tl[i]->data, 6, 7);
    }
    for (i = 0; i < 6; ++i) yea[i] = (int)ye->data[i];
    for (k = 0; k < 2; ++k) {
        t_array *T = tt_get(&fx, "ensemble%d.T", k, 0), *l = tt_get(&fx, "ensemble%d.loss", k, 0), *gr = tt_get(&fx, "ensemble%d.grad", k, 0);
        float loss;
        T_CHECK(T && l && gr);
        ens = dst_teacher_ensemble(members, wts->data, 3, T->data[0]);
        T_CHECK(dst__teacher_ok(&ens, 7, &e) == DST_OK);
        T_CHECK(dst__teacher_batch(&ens, NULL, idx, 6, out, &e) == DST_OK);
        loss = dst_kd_loss(s->data, out, yea, 6, 7, T->data[0], 0.7f, g);
        T_CHECK_MSG(fabs((double)loss - l->data[0]) <= 1e-5 * fabs((double)l->data[0]), "ensemble %d: loss %.9g, PyTorch %.9g",
                    k, (double)loss, (double)l->data[0]);
        T_CHECK_MSG(tt_rel(g, gr->data, 42, 1e-6) <= 1e-5, "ensemble %d: gradient error %.3g", k, tt_rel(g, gr->data, 42, 1e-6));
    }
    t_fixture_free(&fx);
    return 0;
}

static const t_case augment_tests[] = {
    { "augment_move_pixels", test_augment_move_pixels },
    { "fit_augment_teacher_sees_the_view", test_fit_augment_teacher_sees_the_view },
    { "fit_augment_same_bits_any_threads", test_fit_augment_same_bits_any_threads },
    { "augment_mixup_batch", test_augment_mixup_batch },
    { "kd_loss_mixup_gradient", test_kd_loss_mixup_gradient },
    { "fit_augment_rejects", test_fit_augment_rejects },
    { "teacher_ensemble_mean_probs", test_teacher_ensemble_mean_probs },
    { "teacher_ensemble_of_one_is_the_teacher", test_teacher_ensemble_of_one_is_the_teacher },
    { "fit_augment_resume_and_nomem", test_fit_augment_resume_and_nomem },
    { "torch_mixup_and_ensemble", test_torch_mixup_and_ensemble },
};

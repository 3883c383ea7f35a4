/* tests/test_torch.c - distill.h's numbers against PyTorch's.
   The fixtures come from tests/gen_fixtures.py (Debian's python3-torch, run
   in float64 on float32 inputs):
       /usr/bin/python3 tests/gen_fixtures.py
   Every check runs on the scalar path and on each SIMD path the CPU has.
   Kernels: dst_sgemm (every transpose, odd shapes, alpha / beta, wide leading
   dimensions), dst_softmax at T = 0.1 .. 100,
   dst_kd_loss (alpha x T, labels NULL, teacher NULL, logits of +-1e4, 300
   classes), dst_mse_loss, every activation; dense layers and every
   activation layer through the model API; SGD / Adam / AdamW traces, StepLR
   and cosine schedules, clip_grad_norm_.
   Training parity: two MLPs, a small CNN (conv, batch norm, ReLU, max
   pooling, dense) and a CNN with grouped / depthwise convolutions, average
   and global pooling, up to 8 runs each (SGD with momentum or Nesterov,
   Adam, AdamW, weight decay, clipping, StepLR; cross-entropy, KD from cached
   logits or from a teacher model; batches of 1 to 40, short last batches),
   trained for 20 steps by hand (dst_model_train_step,
   dst_model_distill_step) and through dst_model_fit, end where PyTorch's
   do: parameters, batch norm statistics, inference logits, to 1e-4 of the
   largest value of each tensor. Then NaN and infinity in a step:
   DST_ERR_NONFINITE and the model untouched. A transfer set: dst_kd_loss
   with unlabelled rows and dst_model_fit on labelled plus unlabelled samples
   (tests/fixtures/torch_transfer.bin).

   Tolerances follow float32's unit roundoff u = 2^-24 and the size of what
   is summed; each test prints its worst error, so a drift shows before it
   fails. */

#define TT_U 5.9604645e-8 /* 2^-24 */

/* The array called fmt (printf-style, one int or two), or NULL and a message. */
static t_array *tt_get(t_fixture *fx, const char *fmt, int i, int j)
{
    char name[64];
    int k;
    snprintf(name, sizeof name, fmt, i, j);
    for (k = 0; k < fx->n; ++k)
        if (strcmp(fx->arr[k].name, name) == 0) return &fx->arr[k];
    printf("    fixture has no array '%s'\n", name);
    return NULL;
}

/* max |a - b| / max(max |b|, floor); NaN anywhere gives infinity */
static double tt_rel(const float *a, const float *b, size_t n, double floor)
{
    size_t i;
    double worst = 0, scale = floor;
    for (i = 0; i < n; ++i) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= worst)) worst = d != d ? INFINITY : d;
        if (fabs((double)b[i]) > scale) scale = fabs((double)b[i]);
    }
    return worst / scale;
}

static double tt_max_abs(const float *v, size_t n)
{
    size_t i;
    double m = 0;
    for (i = 0; i < n; ++i) if (fabs((double)v[i]) > m) m = fabs((double)v[i]);
    return m;
}

/* 1 while a test runs on its first path: the summary lines print then only. */
static int tt_first_path = 1;

/* Runs body on the scalar path and on every SIMD path the CPU has, so a
   kernel that gains a SIMD version stays checked against PyTorch on each. */
static int tt_each_path(int (*body)(void))
{
    int lvl, bad = 0;
    tt_first_path = 1;
    for (lvl = DST_SIMD_SCALAR; lvl <= DST_SIMD_NEON && !bad; ++lvl) {
        if (dst_simd_force((dst_simd)lvl) != DST_OK) continue;
        if ((bad = body()) != 0) printf("    (on the %s path)\n", dst_simd_name((dst_simd)lvl));
        tt_first_path = 0;
    }
    dst_simd_force(DST_SIMD_AUTO);
    tt_first_path = 1;
    return bad;
}

/* ---- GEMM ---------------------------------------------------------------- */

/* Each element of C against PyTorch's float64 product, within the classic
   bound 2 (k + 2) u (|alpha| sum |a||b| + |beta c|); the columns beyond n
   untouched. On the scalar path and on every SIMD path the CPU has. */
static int test_torch_sgemm(void)
{
    t_fixture fx;
    t_array *cnt;
    int lvl, i, bad = 0, levels = 0;
    double worst = 0;
    if (!t_fixture_load("torch_gemm", &fx)) return 1;
    T_CHECK((cnt = tt_get(&fx, "count", 0, 0)) != NULL);
    for (lvl = DST_SIMD_SCALAR; lvl <= DST_SIMD_NEON; ++lvl) {
        if (dst_simd_force((dst_simd)lvl) != DST_OK) continue;
        levels++;
        for (i = 0; i < (int)cnt->data[0]; ++i) {
            t_array *cfg = tt_get(&fx, "g%d.cfg", i, 0), *a = tt_get(&fx, "g%d.a", i, 0);
            t_array *b = tt_get(&fx, "g%d.b", i, 0), *c0 = tt_get(&fx, "g%d.c0", i, 0);
            t_array *c = tt_get(&fx, "g%d.c", i, 0);
            const float *q;
            int ta, tb, m, n, k, lda, ldb, ldc, r, col, p;
            float alpha, beta, *out;
            T_CHECK(cfg && a && b && c0 && c);
            q = cfg->data;
            ta = (int)q[0]; tb = (int)q[1]; m = (int)q[2]; n = (int)q[3]; k = (int)q[4];
            alpha = q[5]; beta = q[6]; lda = (int)q[7]; ldb = (int)q[8]; ldc = (int)q[9];
            T_CHECK(c->count == (size_t)m * ldc);
            out = (float *)malloc(c->count * sizeof(float));
            memcpy(out, c0->data, c->count * sizeof(float));
            dst_sgemm(ta, tb, m, n, k, alpha, a->data, lda, b->data, ldb, beta, out, ldc);
            for (r = 0; r < m; ++r)
                for (col = 0; col < ldc; ++col) {
                    size_t at = (size_t)r * ldc + col;
                    double mag = 0, err, tol;
                    if (col >= n) { /* beyond the matrix: not written */
                        if (memcmp(&out[at], &c0->data[at], sizeof(float)) != 0) {
                            printf("    case %d: C[%d][%d] beyond n = %d was written\n", i, r, col, n);
                            bad = 1;
                        }
                        continue;
                    }
                    for (p = 0; p < k; ++p)
                        mag += fabs((double)(ta ? a->data[(size_t)p * lda + r] : a->data[(size_t)r * lda + p]) *
                                    (double)(tb ? b->data[(size_t)col * ldb + p] : b->data[(size_t)p * ldb + col]));
                    mag = fabs(alpha) * mag + (beta != 0 ? fabs((double)beta * c0->data[at]) : 0);
                    tol = 2.0 * (k + 2) * TT_U * mag + 1e-30;
                    err = fabs((double)out[at] - (double)c->data[at]);
                    if (!(err <= tol)) {
                        if (!bad)
                            printf("    %s case %d (ta %d tb %d m %d n %d k %d): C[%d][%d] = %.9g, PyTorch %.9g\n",
                                   dst_simd_name((dst_simd)lvl), i, ta, tb, m, n, k, r, col,
                                   (double)out[at], (double)c->data[at]);
                        bad = 1;
                    } else if (err / tol > worst) {
                        worst = err / tol;
                    }
                }
            free(out);
        }
    }
    printf("    sgemm vs PyTorch: %d cases x %d path(s), worst error %.2f of the bound\n",
           (int)cnt->data[0], levels, worst);
    t_fixture_free(&fx);
    T_CHECK(!bad && levels >= 1);
    return 0;
}

/* ---- softmax, KD loss, MSE ----------------------------------------------- */

/* Float32 inputs divided by T carry a relative error of about u |z / T| into
   each exponent, so a probability is good to about that, relatively. */
static int tt_softmax(void)
{
    t_fixture fx;
    t_array *z, *ts;
    int i, r, j, bad = 0;
    double worst = 0;
    float p[7 * 11];
    if (!t_fixture_load("torch_loss", &fx)) return 1;
    T_CHECK((z = tt_get(&fx, "sm.z", 0, 0)) && (ts = tt_get(&fx, "sm.T", 0, 0)));
    T_CHECK(z->ndim == 2 && z->dims[0] == 7 && z->dims[1] == 11);
    for (i = 0; i < (int)ts->count; ++i) {
        t_array *ref = tt_get(&fx, "sm.%d.p", i, 0);
        float T = ts->data[i];
        T_CHECK(ref != NULL);
        if (i % 2) { memcpy(p, z->data, sizeof p); dst_softmax(p, p, 7, 11, T); } /* in place */
        else dst_softmax(z->data, p, 7, 11, T);
        for (r = 0; r < 7; ++r) {
            double zmax = tt_max_abs(z->data + r * 11, 11) / T, sum = 0;
            for (j = 0; j < 11; ++j) {
                double want = ref->data[r * 11 + j], got = p[r * 11 + j];
                double rel_tol = 8 * TT_U * zmax + 4e-6, err = fabs(got - want);
                sum += got;
                if (!(err <= rel_tol * want + 1e-30)) {
                    /* an underflowing float32 result: within a float32 denormal */
                    if (want < 1e-37 && err < 1.5e-45 * 2) continue;
                    printf("    T %g row %d col %d: %.9g, PyTorch %.9g\n", (double)T, r, j, got, want);
                    bad = 1;
                } else if (want > 0 && err / want / rel_tol > worst) {
                    worst = err / want / rel_tol;
                }
            }
            if (!(fabs(sum - 1) < 1e-6)) { printf("    T %g row %d sums to %.9g\n", (double)T, r, sum); bad = 1; }
        }
    }
    if (tt_first_path) printf("    softmax at T = 0.1 .. 100: worst relative error %.2f of (8 u |z/T| + 4e-6)\n", worst);
    t_fixture_free(&fx);
    T_CHECK(!bad);
    return 0;
}
static int test_torch_softmax(void) { return tt_each_path(tt_softmax); }

/* The KD loss and its gradient for every (alpha, T), labels NULL, teacher
   NULL, on ordinary logits, on +-1e4, and with a teacher that rules a class
   out per row (-inf). Float32 logits divided by T give
   log-probabilities good to about lp(T) = 8 u max|z| / T absolutely (PyTorch
   in float32 has the same limit), so the loss is good to
   w_soft T^2 lp(T) + w_hard lp(1), and each gradient element, made of
   probabilities, to (w_soft T lp(T) + w_hard lp(1)) / rows. */
static int tt_kd_case(const char *key, const char *what, const float *s, const float *t, const int *labels,
                      float T, float alpha, t_array *want_loss, t_array *want_grad,
                      double *worst_loss, double *worst_grad)
{
    float grad[6 * 7], loss;
    double zmax = 0, lp_t, lp_1, ws, wh, tol_loss, tol_grad, e_loss, e_grad = 0;
    int j;
    for (j = 0; j < 42; ++j) { /* the teacher's -inf (a class ruled out) has no rounding to speak of */
        if (fabs((double)s[j]) > zmax) zmax = fabs((double)s[j]);
        if (t && fabs((double)t[j]) > zmax && t[j] - t[j] == 0) zmax = fabs((double)t[j]);
    }
    lp_t = 8 * TT_U * zmax / T + 1e-7;
    lp_1 = 8 * TT_U * zmax + 1e-7;
    ws = !t ? 0 : !labels ? 1 : alpha;
    wh = !t ? 1 : !labels ? 0 : 1 - alpha;
    loss = dst_kd_loss(s, t, labels, 6, 7, T, alpha, grad);
    tol_loss = ws * T * T * lp_t + wh * lp_1 + 4 * TT_U * fabs((double)want_loss->data[0]);
    tol_grad = (ws * T * lp_t + wh * lp_1) / 6;
    e_loss = fabs((double)loss - (double)want_loss->data[0]);
    for (j = 0; j < 42; ++j) {
        double e = fabs((double)grad[j] - (double)want_grad->data[j]);
        if (!(e <= e_grad)) e_grad = e != e ? INFINITY : e;
    }
    if (!(e_loss <= tol_loss) || !(e_grad <= tol_grad)) {
        printf("    %s %s T %g alpha %g: loss %.9g, PyTorch %.9g (tolerance %.3g); gradient error %.3g (tolerance %.3g)\n",
               key, what, (double)T, (double)alpha, (double)loss, (double)want_loss->data[0], tol_loss, e_grad, tol_grad);
        return 1;
    }
    if (e_loss / tol_loss > *worst_loss) *worst_loss = e_loss / tol_loss;
    if (e_grad / tol_grad > *worst_grad) *worst_grad = e_grad / tol_grad;
    return 0;
}

static int tt_kd_loss(void)
{
    t_fixture fx;
    t_array *y, *alphas, *temps;
    int labels[6], i, a, b, k, bad = 0, cases = 0;
    double worst_loss = 0, worst_grad = 0;
    static const char *keys[3] = { "n", "h", "m" }; /* ordinary, +-1e4, teacher with -inf */
    if (!t_fixture_load("torch_loss", &fx)) return 1;
    T_CHECK((y = tt_get(&fx, "kd.y", 0, 0)) && y->count == 6);
    T_CHECK((alphas = tt_get(&fx, "kd.alpha", 0, 0)) && (temps = tt_get(&fx, "kd.T", 0, 0)));
    for (i = 0; i < 6; ++i) labels[i] = (int)y->data[i];
    for (k = 0; k < 3; ++k) {
        char name[64];
        t_array *s, *t, *l, *g;
        snprintf(name, sizeof name, "kd.%s.s", keys[k]); T_CHECK((s = tt_get(&fx, name, 0, 0)) != NULL);
        snprintf(name, sizeof name, "kd.%s.t", keys[k]); T_CHECK((t = tt_get(&fx, name, 0, 0)) != NULL);
        for (a = 0; a < (int)alphas->count; ++a)
            for (b = 0; b < (int)temps->count; ++b) {
                snprintf(name, sizeof name, "kd.%s.%%d.%%d.loss", keys[k]); l = tt_get(&fx, name, a, b);
                snprintf(name, sizeof name, "kd.%s.%%d.%%d.grad", keys[k]); g = tt_get(&fx, name, a, b);
                T_CHECK(l && g);
                bad |= tt_kd_case(keys[k], "labels+teacher", s->data, t->data, labels, temps->data[b],
                                  alphas->data[a], l, g, &worst_loss, &worst_grad);
                cases++;
            }
        for (b = 0; b < (int)temps->count; ++b) { /* labels NULL: T^2 KL whatever alpha says */
            snprintf(name, sizeof name, "kd.%s.nolabels.%%d.loss", keys[k]); l = tt_get(&fx, name, b, 0);
            snprintf(name, sizeof name, "kd.%s.nolabels.%%d.grad", keys[k]); g = tt_get(&fx, name, b, 0);
            T_CHECK(l && g);
            bad |= tt_kd_case(keys[k], "labels NULL", s->data, t->data, NULL, temps->data[b], 0.3f, l, g,
                              &worst_loss, &worst_grad);
            cases++;
        }
        snprintf(name, sizeof name, "kd.%s.ce.loss", keys[k]); l = tt_get(&fx, name, 0, 0);
        snprintf(name, sizeof name, "kd.%s.ce.grad", keys[k]); g = tt_get(&fx, name, 0, 0);
        T_CHECK(l && g); /* teacher NULL: cross-entropy whatever T and alpha say */
        bad |= tt_kd_case(keys[k], "teacher NULL", s->data, NULL, labels, 7.0f, 0.3f, l, g,
                          &worst_loss, &worst_grad);
        cases++;
    }
    if (tt_first_path) printf("    kd_loss vs PyTorch, %d cases: worst loss error %.2f, gradient %.2f of the tolerance\n",
           cases, worst_loss, worst_grad);
    t_fixture_free(&fx);
    T_CHECK(!bad);
    return 0;
}
static int test_torch_kd_loss(void) { return tt_each_path(tt_kd_loss); }

/* 300 classes (the scratch rows no longer fit on dst_kd_loss's stack) */
static int tt_kd_loss_many_classes(void)
{
    t_fixture fx;
    t_array *s, *t, *y, *l, *g;
    int labels[3], i;
    float grad[900], loss;
    double e_grad = 0;
    if (!t_fixture_load("torch_loss", &fx)) return 1;
    T_CHECK((s = tt_get(&fx, "kdw.s", 0, 0)) && (t = tt_get(&fx, "kdw.t", 0, 0)) && (y = tt_get(&fx, "kdw.y", 0, 0)));
    T_CHECK((l = tt_get(&fx, "kdw.loss", 0, 0)) && (g = tt_get(&fx, "kdw.grad", 0, 0)) && s->count == 900);
    for (i = 0; i < 3; ++i) labels[i] = (int)y->data[i];
    loss = dst_kd_loss(s->data, t->data, labels, 3, 300, 3.0f, 0.7f, grad);
    for (i = 0; i < 900; ++i)
        if (!(fabs((double)grad[i] - g->data[i]) <= e_grad)) e_grad = fabs((double)grad[i] - g->data[i]);
    /* |z| <= 6: log-probabilities good to about 8 u 6 (see tt_kd_case) */
    T_CHECK_MSG(fabs((double)loss - l->data[0]) <= 9 * 8 * TT_U * 6 + 4 * TT_U * l->data[0],
                "loss %.9g, PyTorch %.9g", (double)loss, (double)l->data[0]);
    T_CHECK_MSG(e_grad <= 3 * 8 * TT_U * 6 / 3, "gradient error %.3g", e_grad);
    t_fixture_free(&fx);
    return 0;
}
static int test_torch_kd_loss_many_classes(void) { return tt_each_path(tt_kd_loss_many_classes); }

static int tt_mse_loss(void)
{
    t_fixture fx;
    t_array *p, *t, *l, *g;
    float grad[37], loss;
    if (!t_fixture_load("torch_loss", &fx)) return 1;
    T_CHECK((p = tt_get(&fx, "mse.pred", 0, 0)) && (t = tt_get(&fx, "mse.target", 0, 0)));
    T_CHECK((l = tt_get(&fx, "mse.loss", 0, 0)) && (g = tt_get(&fx, "mse.grad", 0, 0)) && p->count == 37);
    loss = dst_mse_loss(p->data, t->data, 37, grad);
    T_CHECK_MSG(fabs((double)loss - l->data[0]) <= 4 * TT_U * l->data[0], "%.9g vs %.9g", (double)loss, (double)l->data[0]);
    T_CHECK(t_close(grad, g->data, 37, 4 * (float)TT_U, 1e-12f, "mse gradient"));
    t_fixture_free(&fx);
    return 0;
}
static int test_torch_mse_loss(void) { return tt_each_path(tt_mse_loss); }

/* ---- activations --------------------------------------------------------- */

/* Forward and backward of each activation on inputs that include 0, -0,
   tiny values, +-100. Relative 4e-6 (a few ulp of libm's expf / erff /
   tanhf), absolute 2e-7: sigmoid's 1 - y near saturation cancels in float32. */
static int tt_activations(void)
{
    static const dst_activation acts[] = { DST_ACT_RELU, DST_ACT_LEAKY_RELU, DST_ACT_LEAKY_RELU,
                                            DST_ACT_SIGMOID, DST_ACT_TANH, DST_ACT_GELU };
    static const char *names[] = { "relu", "leaky_relu 0.01", "leaky_relu 0.2", "sigmoid", "tanh", "gelu" };
    t_fixture fx;
    t_array *x, *dy, *cnt;
    int i, bad = 0;
    if (!t_fixture_load("torch_act", &fx)) return 1;
    T_CHECK((x = tt_get(&fx, "x", 0, 0)) && (dy = tt_get(&fx, "dy", 0, 0)) && (cnt = tt_get(&fx, "count", 0, 0)));
    T_CHECK((int)cnt->data[0] == (int)(sizeof acts / sizeof acts[0]));
    for (i = 0; i < (int)cnt->data[0]; ++i) {
        t_array *param = tt_get(&fx, "a%d.param", i, 0), *y = tt_get(&fx, "a%d.y", i, 0);
        t_array *dx = tt_get(&fx, "a%d.dx", i, 0);
        size_t n = x->count;
        float *gy = (float *)malloc(n * 4), *gdx = (float *)malloc(n * 4), *tmp = (float *)malloc(n * 4);
        char what[64];
        T_CHECK(param && y && dx);
        dst_activation_forward(acts[i], param->data[0], x->data, gy, n);
        dst_activation_backward(acts[i], param->data[0], x->data, gy, dy->data, gdx, n);
        snprintf(what, sizeof what, "%s forward", names[i]);
        if (!t_close(gy, y->data, n, 4e-6f, 2e-7f, what)) bad = 1;
        snprintf(what, sizeof what, "%s backward", names[i]);
        if (!t_close(gdx, dx->data, n, 4e-6f, 2e-7f, what)) bad = 1;
        /* in place: y over x, dx over dy */
        memcpy(tmp, x->data, n * 4);
        dst_activation_forward(acts[i], param->data[0], tmp, tmp, n);
        if (memcmp(tmp, gy, n * 4) != 0) { printf("    %s forward in place differs\n", names[i]); bad = 1; }
        memcpy(tmp, dy->data, n * 4);
        dst_activation_backward(acts[i], param->data[0], x->data, gy, tmp, tmp, n);
        if (memcmp(tmp, gdx, n * 4) != 0) { printf("    %s backward in place differs\n", names[i]); bad = 1; }
        free(gy); free(gdx); free(tmp);
    }
    t_fixture_free(&fx);
    T_CHECK(!bad);
    return 0;
}
static int test_torch_activations(void) { return tt_each_path(tt_activations); }

/* ---- dense layers through the model API ---------------------------------- */

static dst_model *tt_model(const dst_layer_desc *layers, int count, int c, int h, int w)
{
    dst_model_desc d = dst_model_desc_default();
    dst_model *m = NULL;
    dst_error e;
    d.input_c = c; d.input_h = h; d.input_w = w;
    d.layers = layers; d.layer_count = count;
    if (dst_model_create(&m, &d, &e) != DST_OK) printf("    create: %s\n", e.message);
    return m;
}

/* Copies PREFIX.<layer>.w / .b (and batch norm's .rm / .rv) into the model. */
static int tt_set_state(dst_model *m, t_fixture *fx, const char *prefix)
{
    int i;
    char fmt[64];
    for (i = 0; i < dst_model_layer_count(m); ++i) {
        dst_layer_info info;
        t_array *w, *b;
        dst_model_layer(m, i, &info);
        if (info.weight_count == 0) continue;
        snprintf(fmt, sizeof fmt, "%s.%%d.w", prefix); w = tt_get(fx, fmt, i, 0);
        snprintf(fmt, sizeof fmt, "%s.%%d.b", prefix); b = info.bias_count ? tt_get(fx, fmt, i, 0) : NULL;
        if (!w || w->count != info.weight_count || (info.bias_count && (!b || b->count != info.bias_count))) {
            printf("    layer %d: fixture and model disagree on the parameter count\n", i);
            return 0;
        }
        memcpy(dst_model_params(m) + info.param_offset, w->data, w->count * 4);
        if (b) memcpy(dst_model_params(m) + info.param_offset + info.weight_count, b->data, b->count * 4);
        if (info.buffer_count) {
            t_array *rm, *rv;
            snprintf(fmt, sizeof fmt, "%s.%%d.rm", prefix); rm = tt_get(fx, fmt, i, 0);
            snprintf(fmt, sizeof fmt, "%s.%%d.rv", prefix); rv = tt_get(fx, fmt, i, 0);
            if (!rm || !rv || rm->count + rv->count != info.buffer_count) return 0;
            memcpy(dst_model_buffers(m) + info.buffer_offset, rm->data, rm->count * 4);
            memcpy(dst_model_buffers(m) + info.buffer_offset + rm->count, rv->data, rv->count * 4);
        }
    }
    return 1;
}

/* The model's parameters (or gradients) and buffers against PREFIX.<layer>.*:
   the worst tt_rel over the tensors, and a line per tensor over tol. */
static double tt_compare_state(dst_model *m, t_fixture *fx, const char *prefix, int grads, double tol)
{
    int i, k;
    double worst = 0;
    char fmt[64];
    static const char *what[4] = { "w", "b", "rm", "rv" };
    for (i = 0; i < dst_model_layer_count(m); ++i) {
        dst_layer_info info;
        dst_model_layer(m, i, &info);
        if (info.weight_count == 0) continue;
        for (k = 0; k < (grads || !info.buffer_count ? 2 : 4); ++k) {
            t_array *ref;
            const float *got;
            double e;
            size_t n = k == 0 ? info.weight_count : k == 1 ? info.bias_count : info.buffer_count / 2;
            if (n == 0) continue; /* no bias */
            snprintf(fmt, sizeof fmt, grads ? "%s.%%d.d%s" : "%s.%%d.%s", prefix, what[k]);
            if (!(ref = tt_get(fx, fmt, i, 0)) || ref->count != n) return INFINITY;
            if (k < 2) got = (grads ? dst_model_grads(m) : dst_model_params(m)) + info.param_offset + (k ? info.weight_count : 0);
            else got = dst_model_buffers(m) + info.buffer_offset + (k == 3 ? n : 0);
            e = tt_rel(got, ref->data, n, 1e-3);
            if (e > tol) printf("    %s layer %d %s%s: relative error %.3g\n", prefix, i, grads ? "d" : "", what[k], e);
            if (e > worst) worst = e;
        }
    }
    return worst;
}

/* y = x W^T + b twice, then backward: dW, db of both layers. The second
   layer's input gradient is what the first one's dW and db are made of, so
   they check it too. Then an MLP with every activation as a model layer,
   and a softmax layer. */
static int tt_dense_layers(void)
{
    dst_layer_desc two[2] = { dst_dense(6), dst_dense(4) };
    dst_layer_desc soft[2] = { dst_dense(5), dst_softmax_layer() };
    dst_layer_desc all[11] = { dst_dense(8), dst_gelu(), dst_dense(8), dst_tanh(), dst_dense(8), dst_sigmoid(),
                             dst_dense(8), dst_leaky_relu(0.1f), dst_dense(8), dst_relu(), dst_dense(3) };
    t_fixture fx;
    dst_model *m;
    const float *y;
    t_array *x, *dy, *ry;
    double e_y, e_g;
    if (!t_fixture_load("torch_dense", &fx)) return 1;

    /* two dense layers */
    T_CHECK((x = tt_get(&fx, "d.x", 0, 0)) && (dy = tt_get(&fx, "d.dy", 0, 0)) && (ry = tt_get(&fx, "d.y", 0, 0)));
    m = tt_model(two, 2, 9, 1, 1);
    T_CHECK(m && tt_set_state(m, &fx, "d"));
    T_CHECK(dst_model_forward(m, x->data, 5, 1, &y) == DST_OK);
    T_CHECK(dst_model_backward(m, dy->data) == DST_OK);
    e_y = tt_rel(y, ry->data, ry->count, 1e-3);
    e_g = tt_compare_state(m, &fx, "d", 1, 1e-5);
    if (tt_first_path) printf("    two dense layers: y %.2g, gradients %.2g relative\n", e_y, e_g);
    T_CHECK(e_y <= 1e-5 && e_g <= 1e-5);
    dst_model_free(m);

    /* every activation as a layer */
    T_CHECK((x = tt_get(&fx, "a.x", 0, 0)) && (dy = tt_get(&fx, "a.dy", 0, 0)) && (ry = tt_get(&fx, "a.y", 0, 0)));
    m = tt_model(all, 11, 7, 1, 1);
    T_CHECK(m && tt_set_state(m, &fx, "a"));
    T_CHECK(dst_model_forward(m, x->data, 4, 1, &y) == DST_OK);
    T_CHECK(dst_model_backward(m, dy->data) == DST_OK);
    e_y = tt_rel(y, ry->data, ry->count, 1e-3);
    e_g = tt_compare_state(m, &fx, "a", 1, 1e-5);
    if (tt_first_path) printf("    dense + every activation: y %.2g, gradients %.2g relative\n", e_y, e_g);
    T_CHECK(e_y <= 1e-5 && e_g <= 1e-5);
    dst_model_free(m);

    /* a softmax layer: probabilities forward, its Jacobian backward */
    T_CHECK((x = tt_get(&fx, "s.x", 0, 0)) && (dy = tt_get(&fx, "s.dy", 0, 0)) && (ry = tt_get(&fx, "s.y", 0, 0)));
    m = tt_model(soft, 2, 6, 1, 1);
    T_CHECK(m && tt_set_state(m, &fx, "s"));
    T_CHECK(dst_model_forward(m, x->data, 3, 1, &y) == DST_OK);
    T_CHECK(dst_model_backward(m, dy->data) == DST_OK);
    e_y = tt_rel(y, ry->data, ry->count, 1e-3);
    e_g = tt_compare_state(m, &fx, "s", 1, 1e-5);
    if (tt_first_path) printf("    dense + softmax layer: y %.2g, gradients %.2g relative\n", e_y, e_g);
    T_CHECK(e_y <= 1e-5 && e_g <= 1e-5);
    dst_model_free(m);
    t_fixture_free(&fx);
    return 0;
}
static int test_torch_dense_layers(void) { return tt_each_path(tt_dense_layers); }

/* ---- optimizers, schedules, clipping ------------------------------------- */

static dst_optimizer_config tt_optimizer(const float *c)
{
    dst_optimizer_config o = dst_optimizer_default((dst_optimizer_kind)(int)c[0]);
    o.lr = c[1]; o.momentum = c[2]; o.dampening = c[3]; o.nesterov = (int)c[4];
    if (o.kind != DST_SGD) { o.beta1 = c[5]; o.beta2 = c[6]; o.eps = c[7]; }
    o.weight_decay = c[8];
    return o;
}

/* 10 steps of each optimizer from the same parameters and gradients as
   torch.optim: every step's parameters. Among the parameters, one that never
   gets a gradient (weight decay alone moves it), one whose gradients are
   1e-9 (far below Adam's eps: where eps sits shows) and one whose gradient
   stops after 3 steps (momentum carries it). */
static int tt_optimizers(void)
{
    t_fixture fx;
    t_array *p0, *grads, *cnt;
    int i, s, bad = 0;
    double worst = 0;
    if (!t_fixture_load("torch_optim", &fx)) return 1;
    T_CHECK((p0 = tt_get(&fx, "p0", 0, 0)) && (grads = tt_get(&fx, "grads", 0, 0)) && (cnt = tt_get(&fx, "count", 0, 0)));
    for (i = 0; i < (int)cnt->data[0]; ++i) {
        t_array *cfg = tt_get(&fx, "o%d.cfg", i, 0), *trace = tt_get(&fx, "o%d.trace", i, 0);
        size_t n = p0->count;
        int steps = grads->dims[0];
        float *p = (float *)malloc(n * 4), *s0 = (float *)calloc(n, 4), *s1 = (float *)calloc(n, 4);
        dst_optimizer_config o;
        T_CHECK(cfg && trace && trace->count == (size_t)steps * n);
        o = tt_optimizer(cfg->data);
        T_CHECK(dst_optimizer_check(&o, NULL) == DST_OK);
        memcpy(p, p0->data, n * 4);
        for (s = 0; s < steps; ++s) {
            double e;
            dst_optimizer_update(&o, o.lr, s + 1, p, grads->data + (size_t)s * n, s0, s1, n);
            /* a few roundings per step, carried along */
            e = tt_rel(p, trace->data + (size_t)s * n, n, 1e-3);
            if (e > worst) worst = e;
            if (!(e <= 2e-6)) {
                printf("    optimizer %d (kind %d, momentum %g, nesterov %d, wd %g) step %d: relative error %.3g\n",
                       i, (int)o.kind, (double)o.momentum, o.nesterov, (double)o.weight_decay, s + 1, e);
                t_close(p, trace->data + (size_t)s * n, n, 2e-6f, 0, "parameters");
                bad = 1;
                break;
            }
        }
        free(p); free(s0); free(s1);
    }
    if (tt_first_path) printf("    %d optimizers x 10 steps vs torch.optim: worst relative error %.2g\n", (int)cnt->data[0], worst);
    t_fixture_free(&fx);
    T_CHECK(!bad);
    return 0;
}
static int test_torch_optimizers(void) { return tt_each_path(tt_optimizers); }

/* dst_lr_at against torch.optim.lr_scheduler's lr at each epoch (cosine up
   to T_max: beyond it distill.h holds min_lr where PyTorch's cosine climbs
   again, a documented difference). */
static int test_torch_lr_schedules(void)
{
    t_fixture fx;
    t_array *step, *cosine;
    dst_lr_schedule s;
    long t;
    if (!t_fixture_load("torch_optim", &fx)) return 1;
    T_CHECK((step = tt_get(&fx, "steplr", 0, 0)) && (cosine = tt_get(&fx, "cosine", 0, 0)));
    memset(&s, 0, sizeof s);
    s.kind = DST_LR_STEP; s.step_size = 3; s.gamma = 0.5f;
    for (t = 0; t < (long)step->count; ++t)
        T_CHECK_MSG(fabs((double)dst_lr_at(&s, 0.1f, t) - step->data[t]) <= 4 * TT_U * step->data[t],
                    "StepLR epoch %ld: %.9g, PyTorch %.9g", t, (double)dst_lr_at(&s, 0.1f, t), (double)step->data[t]);
    memset(&s, 0, sizeof s);
    s.kind = DST_LR_COSINE; s.total = 10; s.min_lr = 1e-3f;
    for (t = 0; t < (long)cosine->count; ++t)
        T_CHECK_MSG(fabs((double)dst_lr_at(&s, 0.1f, t) - cosine->data[t]) <= 8 * TT_U * 0.1,
                    "cosine epoch %ld: %.9g, PyTorch %.9g", t, (double)dst_lr_at(&s, 0.1f, t), (double)cosine->data[t]);
    T_CHECK((step = tt_get(&fx, "warmup_steplr", 0, 0)) && (cosine = tt_get(&fx, "warmup_cosine", 0, 0)));
    s.warmup = 2; /* the cosine schedule above after 2 epochs of warmup */
    for (t = 0; t < (long)cosine->count; ++t)
        T_CHECK_MSG(fabs((double)dst_lr_at(&s, 0.1f, t) - cosine->data[t]) <= 8 * TT_U * 0.1,
                    "warmup + cosine epoch %ld: %.9g, PyTorch %.9g", t, (double)dst_lr_at(&s, 0.1f, t),
                    (double)cosine->data[t]);
    memset(&s, 0, sizeof s);
    s.kind = DST_LR_STEP; s.step_size = 3; s.gamma = 0.5f; s.warmup = 3;
    for (t = 0; t < (long)step->count; ++t)
        T_CHECK_MSG(fabs((double)dst_lr_at(&s, 0.1f, t) - step->data[t]) <= 4 * TT_U * step->data[t],
                    "warmup + StepLR epoch %ld: %.9g, PyTorch %.9g", t, (double)dst_lr_at(&s, 0.1f, t),
                    (double)step->data[t]);
    t_fixture_free(&fx);
    return 0;
}

static int tt_clip_grad_norm(void)
{
    t_fixture fx;
    int j;
    if (!t_fixture_load("torch_optim", &fx)) return 1;
    for (j = 0; j < 2; ++j) {
        t_array *mx = tt_get(&fx, "clip%d.max_norm", j, 0), *g = tt_get(&fx, "clip%d.g", j, 0);
        t_array *norm = tt_get(&fx, "clip%d.norm", j, 0), *clipped = tt_get(&fx, "clip%d.clipped", j, 0);
        float v[24], got;
        T_CHECK(mx && g && norm && clipped && g->count == 24);
        memcpy(v, g->data, sizeof v);
        got = dst_clip_grad_norm(v, 24, mx->data[0]);
        T_CHECK_MSG(fabs((double)got - norm->data[0]) <= 4 * TT_U * norm->data[0], "norm %.9g, PyTorch %.9g",
                    (double)got, (double)norm->data[0]);
        T_CHECK(t_close(v, clipped->data, 24, 4 * (float)TT_U, 0, j ? "not clipped" : "clipped"));
    }
    t_fixture_free(&fx);
    return 0;
}
static int test_torch_clip_grad_norm(void) { return tt_each_path(tt_clip_grad_norm); }

/* ---- training parity ----------------------------------------------------- */

/* What a training fixture holds: 20 batches (x, labels, teacher logits) of
   one shape, and runs described by cfg arrays (see RUNS in gen_fixtures.py). */
typedef struct tt_train {
    t_fixture fx;
    int c, h, w, batch, classes, steps, stored, runs, *labels; /* stored batches of data */
    size_t in_size;
    const float *x, *teacher;
} tt_train;

/* One run from the fixture's initial state, as a user writes it: by hand
   (dst_model_set_optimizer, then dst_model_train_step or
   dst_model_distill_step with dst_teacher_logits and sample indices), or
   through dst_model_fit (no shuffling, so the batches come in the fixture's
   order; runs of several epochs with a StepLR schedule go only this way).
   Returns the worst relative error of any parameter, batch norm statistic,
   inference logit or dst_model_evaluate loss of the trained model against
   PyTorch's, infinity if the run could not be made or if it changed the
   teacher model (when it had one). */
static double tt_train_run(tt_train *d, const dst_layer_desc *layers, int count, int r, int use_fit)
{
    t_array *cfg = tt_get(&d->fx, "run%d.cfg", r, 0);
    dst_model *m = tt_model(layers, count, d->c, d->h, d->w), *tm = NULL;
    dst_optimizer_config o;
    dst_teacher teacher;
    char prefix[16];
    double e = INFINITY;
    int kd, with_labels, epoch_samples, fit_batch, s, j;
    float T, alpha, gamma;
    if (!cfg || cfg->count != 17 || !m || dst_model_output_size(m) != (size_t)d->classes ||
        !tt_set_state(m, &d->fx, "init")) {
        printf("    run %d: fixture and model disagree\n", r);
        dst_model_free(m);
        return INFINITY;
    }
    o = tt_optimizer(cfg->data);
    o.clip_norm = cfg->data[9];
    kd = (int)cfg->data[10]; T = cfg->data[11]; alpha = cfg->data[12]; with_labels = (int)cfg->data[13];
    epoch_samples = (int)cfg->data[14]; gamma = cfg->data[15]; fit_batch = (int)cfg->data[16];
    if (!epoch_samples) { epoch_samples = d->steps * d->batch; fit_batch = d->batch; }
    if (epoch_samples > d->stored * d->batch) goto done;
    if (dst_model_set_optimizer(m, &o) != DST_OK) goto done;
    if (kd == 2) { /* a teacher model of the student's shape, with its own state */
        tm = tt_model(layers, count, d->c, d->h, d->w);
        if (!tm || !tt_set_state(tm, &d->fx, "tmodel")) goto done;
    }
    if (use_fit) {
        dst_fit_config f = dst_fit_default();
        size_t n = (size_t)epoch_samples;
        teacher = tm ? dst_teacher_model(tm) : dst_teacher_logits(d->teacher, n, d->classes);
        f.epochs = d->steps / ((epoch_samples + fit_batch - 1) / fit_batch);
        f.batch_size = fit_batch; f.no_shuffle = 1;
        f.teacher = kd ? &teacher : NULL; f.temperature = T; f.alpha = alpha;
        if (gamma > 0) { f.schedule.kind = DST_LR_STEP; f.schedule.step_size = 1; f.schedule.gamma = gamma; }
        if (dst_model_fit(m, d->x, with_labels ? d->labels : NULL, n, &f) != DST_OK) {
            printf("    run %d, fit: %s\n", r, dst_model_error(m));
            goto done;
        }
    } else {
        size_t idx[64];
        if ((int)cfg->data[14] || gamma > 0 || d->batch > 64) goto done;
        teacher = tm ? dst_teacher_model(tm) : dst_teacher_logits(d->teacher, (size_t)d->steps * d->batch, d->classes);
        for (s = 0; s < d->steps; ++s) {
            const float *x = d->x + (size_t)s * d->batch * d->in_size;
            const int *y = d->labels + (size_t)s * d->batch;
            dst_result res;
            for (j = 0; j < d->batch; ++j) idx[j] = (size_t)s * d->batch + j;
            if (kd) res = dst_model_distill_step(m, &teacher, x, with_labels ? y : NULL, idx, d->batch, T, alpha, NULL);
            else res = dst_model_train_step(m, x, y, d->batch, NULL, 0, 0, NULL);
            if (res != DST_OK) { printf("    run %d step %d: %s\n", r, s, dst_model_error(m)); goto done; }
        }
    }
    if (dst_model_step_count(m) != d->steps) { printf("    run %d: %ld steps\n", r, dst_model_step_count(m)); goto done; }
    snprintf(prefix, sizeof prefix, "run%d", r);
    e = tt_compare_state(m, &d->fx, prefix, 0, 1e-4);
    { /* the trained model in inference mode, as PyTorch's model.eval() */
        t_array *ev = tt_get(&d->fx, "run%d.eval", r, 0);
        float *out = (float *)malloc((size_t)2 * d->batch * d->classes * sizeof(float));
        double e_eval = INFINITY;
        if (ev && ev->count == (size_t)2 * d->batch * d->classes &&
            dst_model_predict(m, d->x, (size_t)2 * d->batch, out) == DST_OK)
            e_eval = tt_rel(out, ev->data, ev->count, 1e-3);
        if (!(e_eval <= 1e-4)) printf("    %s inference logits: relative error %.3g\n", prefix, e_eval);
        if (!(e_eval <= e)) e = e_eval;
        free(out);
    }
    { /* dst_model_evaluate's mean cross-entropy on those samples */
        t_array *el = tt_get(&d->fx, "run%d.eval_loss", r, 0);
        float loss = NAN;
        double e_loss;
        dst_model_evaluate(m, d->x, d->labels, (size_t)2 * d->batch, 0, &loss, NULL);
        e_loss = el ? fabs((double)loss - el->data[0]) / el->data[0] : INFINITY;
        if (!(e_loss <= 1e-4)) printf("    %s evaluate: loss %.9g, PyTorch %.9g\n", prefix, (double)loss, el ? el->data[0] : 0.0);
        if (!(e_loss <= e)) e = e_loss;
    }
    if (tm && tt_compare_state(tm, &d->fx, "tmodel", 0, 0) != 0) {
        printf("    %s: distilling changed the teacher model\n", prefix);
        e = INFINITY;
    }
done:
    dst_model_free(m);
    dst_model_free(tm);
    return e;
}

/* Every run of the fixture, by hand and through dst_model_fit, on every SIMD
   path the CPU has: each parameter tensor and batch norm statistic within
   1e-4 of its largest value from PyTorch's after the 20 steps. */
static int tt_train_parity(const char *fixture, const dst_layer_desc *layers, int count)
{
    tt_train d;
    t_array *shape, *xs, *ys, *ts, *runs;
    int r, j, lvl, use_fit, bad = 0;
    if (!t_fixture_load(fixture, &d.fx)) return 1;
    T_CHECK((shape = tt_get(&d.fx, "shape", 0, 0)) && shape->count == 7);
    d.c = (int)shape->data[0]; d.h = (int)shape->data[1]; d.w = (int)shape->data[2];
    d.batch = (int)shape->data[3]; d.classes = (int)shape->data[4]; d.steps = (int)shape->data[5];
    d.stored = (int)shape->data[6];
    d.in_size = (size_t)d.c * d.h * d.w;
    T_CHECK((xs = tt_get(&d.fx, "x", 0, 0)) && xs->count == (size_t)d.stored * d.batch * d.in_size);
    T_CHECK((ys = tt_get(&d.fx, "y", 0, 0)) && ys->count == (size_t)d.stored * d.batch);
    T_CHECK((ts = tt_get(&d.fx, "teacher", 0, 0)) && ts->count == (size_t)d.stored * d.batch * d.classes);
    T_CHECK((runs = tt_get(&d.fx, "runs", 0, 0)) != NULL);
    d.runs = (int)runs->data[0]; d.x = xs->data; d.teacher = ts->data;
    d.labels = (int *)malloc(ys->count * sizeof(int));
    for (j = 0; j < (int)ys->count; ++j) d.labels[j] = (int)ys->data[j];
    for (r = 0; r < d.runs; ++r) {
        t_array *cfg = tt_get(&d.fx, "run%d.cfg", r, 0);
        double worst = 0;
        int paths = 0, by_hand;
        T_CHECK(cfg && cfg->count == 17);
        by_hand = cfg->data[14] == 0 && cfg->data[15] == 0;
        for (lvl = DST_SIMD_SCALAR; lvl <= DST_SIMD_NEON; ++lvl) {
            if (dst_simd_force((dst_simd)lvl) != DST_OK) continue;
            paths++;
            for (use_fit = by_hand ? 0 : 1; use_fit < 2; ++use_fit) {
                double e = tt_train_run(&d, layers, count, r, use_fit);
                if (!(e <= 1e-4)) {
                    printf("    run %d on %s%s: relative error %.3g\n", r, dst_simd_name((dst_simd)lvl),
                           use_fit ? " through dst_model_fit" : "", e);
                    bad = 1;
                }
                if (!(e <= worst)) worst = e;
            }
        }
        dst_simd_force(DST_SIMD_AUTO);
        printf("    %s run %d (%s%s%s%s, %s): worst relative error %.2g over %d path(s)%s\n", fixture, r,
               cfg->data[0] == DST_SGD ? (cfg->data[4] != 0 ? "SGD Nesterov" : "SGD momentum")
                                       : cfg->data[0] == DST_ADAM ? "Adam" : "AdamW",
               cfg->data[8] > 0 ? " + weight decay" : "", cfg->data[9] > 0 ? ", clipped" : "",
               cfg->data[15] > 0 ? ", StepLR over epochs" : "",
               cfg->data[10] == 0 ? "cross-entropy" : cfg->data[10] == 2 ? "KD from a teacher model"
                                  : cfg->data[13] != 0 ? "KD" : "KD soft targets only",
               worst, paths, by_hand ? ", by hand and through fit" : ", through fit");
    }
    free(d.labels);
    t_fixture_free(&d.fx);
    T_CHECK(!bad);
    return 0;
}

/* 20-16-8-5 with ReLU */
static int test_torch_training_parity_mlp(void)
{
    dst_layer_desc L[5] = { dst_dense(16), dst_relu(), dst_dense(8), dst_relu(), dst_dense(5) };
    return tt_train_parity("torch_train_mlp", L, 5);
}

/* 64-32-10 with ReLU, batches of 40: GEMMs of the blocked SIMD kernels' sizes */
static int test_torch_training_parity_mlp_wide(void)
{
    dst_layer_desc L[3] = { dst_dense(32), dst_relu(), dst_dense(10) };
    return tt_train_parity("torch_train_mlp_wide", L, 3);
}

/* 1x8x8 -> conv3x3(4, padding 1, no bias) -> batch norm -> ReLU -> maxpool 2
   -> flatten -> dense(5). No bias before batch norm, as usual: its gradient
   is zero up to rounding, and Adam would turn float32's rounding noise into
   full steps (tests/gen_fixtures.py says more). */
static int test_torch_training_parity_cnn(void)
{
    dst_layer_desc L[6] = { dst_conv2d(4, 3, 1, 1), dst_batchnorm(), dst_relu(), dst_maxpool2d(2, 0, 0),
                           dst_flatten(), dst_dense(5) };
    L[0].no_bias = 1;
    return tt_train_parity("torch_train_cnn", L, 6);
}

/* 2x8x8 -> conv3x3(6, padding 1, 2 groups, no bias) -> batch norm (momentum
   0.3, eps 1e-3) -> ReLU -> avgpool 2 -> depthwise conv3x3(stride 2,
   padding 1) -> GELU -> global average pooling -> flatten -> dense(5) */
static int test_torch_training_parity_cnn_groups(void)
{
    dst_layer_desc L[9] = { dst_conv2d(6, 3, 1, 1), dst_batchnorm(), dst_relu(), dst_avgpool2d(2, 0, 0),
                           dst_depthwise_conv2d(6, 3, 2, 1), dst_gelu(), dst_global_avgpool(), dst_flatten(),
                           dst_dense(5) };
    L[0].groups = 2;
    L[0].no_bias = 1;
    L[1].param = 0.3f;
    L[1].eps = 1e-3f;
    return tt_train_parity("torch_train_cnn2", L, 9);
}

/* ---- NaN and infinity in a step ------------------------------------------ */

/* A copy of everything a failed step must leave alone. */
typedef struct tt_snapshot { float *params, *buffers; long step; } tt_snapshot;

static void tt_snap(dst_model *m, tt_snapshot *sn)
{
    size_t np = dst_model_param_count(m), nb = dst_model_buffer_count(m);
    sn->params = (float *)malloc(np * 4 + 4);
    sn->buffers = (float *)malloc(nb * 4 + 4);
    memcpy(sn->params, dst_model_params(m), np * 4);
    if (nb) memcpy(sn->buffers, dst_model_buffers(m), nb * 4);
    sn->step = dst_model_step_count(m);
}

static int tt_unchanged(dst_model *m, const tt_snapshot *sn)
{
    size_t np = dst_model_param_count(m), nb = dst_model_buffer_count(m);
    int ok = memcmp(sn->params, dst_model_params(m), np * 4) == 0 &&
             (nb == 0 || memcmp(sn->buffers, dst_model_buffers(m), nb * 4) == 0) &&
             sn->step == dst_model_step_count(m);
    free(sn->params); free(sn->buffers);
    return ok;
}

/* A NaN or infinity anywhere in a step's data (input, teacher logits) or
   arising inside (a weight so large the logits overflow): the step returns
   DST_ERR_NONFINITE and leaves parameters, batch norm's running statistics,
   the optimizer state and the step count as they were; the next good step
   is then bit for bit the step a model that never saw the bad one takes. */
static int tt_nonfinite_case(const dst_layer_desc *layers, int count, int c, int h, int w, const char *what)
{
    enum { B = 4, K = 3 };
    size_t in = (size_t)c * h * w, i, idx[B] = { 0, 1, 2, 3 };
    float *x = (float *)malloc(B * in * 4), *x0 = (float *)malloc(B * in * 4), tl[B * K];
    int y[B] = { 0, 1, 2, 1 }, kind, bad = 0;
    dst_optimizer_config o = dst_optimizer_default(DST_ADAM);
    t_fill(x, B * in, 1);
    t_fill(tl, B * K, 2);
    memcpy(x0, x, B * in * 4);
    for (kind = 0; kind < 5 && !bad; ++kind) {
        dst_model *m = tt_model(layers, count, c, h, w), *fresh = tt_model(layers, count, c, h, w);
        dst_teacher t = dst_teacher_logits(tl, B, K);
        tt_snapshot sn;
        dst_result r = DST_OK;
        dst_layer_info info;
        float keep = 0, *pw = NULL;
        size_t at;
        static const char *names[5] = { "NaN in the input", "infinity in the input", "NaN in the teacher logits",
                                        "infinite teacher logit", "a weight of 1e38" };
        T_CHECK(m && fresh && dst_model_output_size(m) == K);
        dst_model_set_optimizer(m, &o);
        dst_model_set_optimizer(fresh, &o);
        /* one good step first, so the optimizer has state to spoil */
        T_CHECK(dst_model_train_step(m, x, y, B, NULL, 0, 0, NULL) == DST_OK);
        T_CHECK(dst_model_train_step(fresh, x, y, B, NULL, 0, 0, NULL) == DST_OK);
        tt_snap(m, &sn);
        switch (kind) {
        case 0: case 1:
            at = in + in / 2; keep = x[at]; x[at] = kind ? -INFINITY : NAN;
            r = dst_model_train_step(m, x, y, B, NULL, 0, 0, NULL);
            x[at] = keep;
            break;
        case 2: case 3:
            keep = tl[4]; tl[4] = kind == 2 ? NAN : INFINITY;
            r = dst_model_distill_step(m, &t, x, y, idx, B, 4.0f, 0.9f, NULL);
            tl[4] = keep;
            break;
        case 4: /* the first layer's first weight, times an input of 1e4 */
            dst_model_layer(m, 0, &info);
            pw = dst_model_params(m) + info.param_offset;
            keep = pw[0]; pw[0] = 1e38f;
            free(sn.params); free(sn.buffers);
            tt_snap(m, &sn);
            for (i = 0; i < B; ++i) x[i * in] = 1e4f;
            r = dst_model_train_step(m, x, y, B, NULL, 0, 0, NULL);
            memcpy(x, x0, B * in * 4);
            break;
        }
        if (r != DST_ERR_NONFINITE) { printf("    %s, %s: result %d, not DST_ERR_NONFINITE\n", what, names[kind], (int)r); bad = 1; }
        if (!tt_unchanged(m, &sn)) { printf("    %s, %s: the failed step changed the model\n", what, names[kind]); bad = 1; }
        if (pw) pw[0] = keep;
        if (!bad && kind < 4) {
            /* the state the bad step must not have touched decides the next step */
            T_CHECK(dst_model_train_step(m, x, y, B, NULL, 0, 0, NULL) == DST_OK);
            T_CHECK(dst_model_train_step(fresh, x, y, B, NULL, 0, 0, NULL) == DST_OK);
            if (memcmp(dst_model_params(m), dst_model_params(fresh), dst_model_param_count(m) * 4) != 0 ||
                (dst_model_buffer_count(m) &&
                 memcmp(dst_model_buffers(m), dst_model_buffers(fresh), dst_model_buffer_count(m) * 4) != 0)) {
                printf("    %s, %s: the next good step differs from a model that never saw the bad one\n", what, names[kind]);
                bad = 1;
            }
        }
        dst_model_free(m);
        dst_model_free(fresh);
    }
    free(x); free(x0);
    T_CHECK(!bad);
    return 0;
}

/* dst_model_fit over 5 batches whose third holds a NaN: DST_ERR_NONFINITE,
   and the model is bit for bit the one two good steps by hand give. */
static int tt_nonfinite_fit(const dst_layer_desc *layers, int count, int c, int h, int w)
{
    enum { B = 4, N = 5 * B, K = 3 };
    size_t in = (size_t)c * h * w, i;
    float *x = (float *)malloc(N * in * 4);
    int y[N];
    dst_model *m = tt_model(layers, count, c, h, w), *ref = tt_model(layers, count, c, h, w);
    dst_optimizer_config o = dst_optimizer_default(DST_SGD);
    dst_fit_config f = dst_fit_default();
    dst_result r;
    T_CHECK(m && ref);
    t_fill(x, N * in, 1);
    for (i = 0; i < N; ++i) y[i] = (int)(i % K);
    o.momentum = 0.9f;
    dst_model_set_optimizer(m, &o);
    dst_model_set_optimizer(ref, &o);
    x[2 * B * in + in + 1] = NAN; /* the third batch's second sample */
    f.epochs = 1; f.batch_size = B; f.no_shuffle = 1;
    r = dst_model_fit(m, x, y, N, &f);
    T_CHECK_MSG(r == DST_ERR_NONFINITE, "fit returned %d: %s", (int)r, dst_model_error(m));
    T_CHECK(strstr(dst_model_error(m), "step 3") != NULL);
    T_CHECK(dst_model_train_step(ref, x, y, B, NULL, 0, 0, NULL) == DST_OK);
    T_CHECK(dst_model_train_step(ref, x + B * in, y + B, B, NULL, 0, 0, NULL) == DST_OK);
    T_CHECK(dst_model_step_count(m) == 2);
    T_CHECK(memcmp(dst_model_params(m), dst_model_params(ref), dst_model_param_count(m) * 4) == 0);
    T_CHECK(dst_model_buffer_count(m) == 0 ||
            memcmp(dst_model_buffers(m), dst_model_buffers(ref), dst_model_buffer_count(m) * 4) == 0);
    dst_model_free(m);
    dst_model_free(ref);
    free(x);
    return 0;
}

static int test_torch_nonfinite_leaves_model_untouched(void)
{
    dst_layer_desc mlp[3] = { dst_dense(6), dst_relu(), dst_dense(3) };
    dst_layer_desc cnn[6] = { dst_conv2d(3, 3, 1, 1), dst_batchnorm(), dst_relu(), dst_maxpool2d(2, 0, 0),
                             dst_flatten(), dst_dense(3) };
    if (tt_nonfinite_case(mlp, 3, 5, 1, 1, "MLP")) return 1;
    if (tt_nonfinite_case(cnn, 6, 2, 4, 4, "CNN with batch norm")) return 1;
    if (tt_nonfinite_fit(mlp, 3, 5, 1, 1)) return 1;
    return tt_nonfinite_fit(cnn, 6, 2, 4, 4);
}

/* ---- a transfer set: labelled and unlabelled samples ---------------------- */

/* dst_kd_loss on a batch with DST_NO_LABEL rows against PyTorch's per-row
   loss (labelled alpha T^2 KL + (1 - alpha) CE, unlabelled T^2 KL, the mean
   over rows), then dst_model_fit on 50 labelled and 70 unlabelled samples in
   one stream (batches all labelled, mixed, all unlabelled) for 2 epochs:
   every parameter within 1e-4 of the largest value of its tensor. */
static int tt_transfer(void)
{
    t_fixture fx;
    t_array *s, *t, *y, *shape, *x, *tl, *runs;
    int labels[6], i, r, k;
    dst_layer_desc L[5] = { dst_dense(16), dst_relu(), dst_dense(8), dst_relu(), dst_dense(5) };
    double worst = 0;
    if (!t_fixture_load("torch_transfer", &fx)) return 1;
    T_CHECK((s = tt_get(&fx, "loss.s", 0, 0)) && (t = tt_get(&fx, "loss.t", 0, 0)));
    T_CHECK((y = tt_get(&fx, "loss.y", 0, 0)) && y->count == 6);
    for (i = 0; i < 6; ++i) labels[i] = y->data[i] < 0 ? DST_NO_LABEL : (int)y->data[i];
    for (k = 0; k < 3; ++k) {
        t_array *cfg = tt_get(&fx, "loss%d.cfg", k, 0), *l = tt_get(&fx, "loss%d.loss", k, 0);
        t_array *g = tt_get(&fx, "loss%d.grad", k, 0);
        float grad[42], loss;
        T_CHECK(cfg && l && g && g->count == 42);
        loss = dst_kd_loss(s->data, t->data, labels, 6, 7, cfg->data[0], cfg->data[1], grad);
        T_CHECK_MSG(fabs((double)loss - l->data[0]) <= 1e-5 * fabs((double)l->data[0]), "case %d: loss %.9g, PyTorch %.9g",
                    k, (double)loss, (double)l->data[0]);
        T_CHECK_MSG(tt_rel(grad, g->data, 42, 1e-3) <= 1e-5, "case %d: gradient error %.3g", k,
                    tt_rel(grad, g->data, 42, 1e-3));
    }
    T_CHECK((shape = tt_get(&fx, "shape", 0, 0)) && shape->count == 4);
    T_CHECK((x = tt_get(&fx, "x", 0, 0)) && (tl = tt_get(&fx, "teacher", 0, 0)) && (y = tt_get(&fx, "y", 0, 0)));
    T_CHECK((runs = tt_get(&fx, "runs", 0, 0)) != NULL);
    for (r = 0; r < (int)runs->data[0]; ++r) {
        int nl = (int)shape->data[0], nu = (int)shape->data[1], *ys = (int *)malloc((size_t)nl * sizeof(int));
        t_array *cfg = tt_get(&fx, "run%d.cfg", r, 0);
        dst_model *m = tt_model(L, 5, 20, 1, 1);
        dst_teacher teacher = dst_teacher_logits(tl->data, (size_t)(nl + nu), 5);
        dst_fit_config f = dst_fit_default();
        dst_optimizer_config o;
        char prefix[16];
        double e = INFINITY;
        T_CHECK(ys && cfg && cfg->count == 11 && m && tt_set_state(m, &fx, "init"));
        for (i = 0; i < nl; ++i) ys[i] = (int)y->data[i];
        o = tt_optimizer(cfg->data);
        f.epochs = (int)shape->data[3]; f.batch_size = (int)shape->data[2]; f.no_shuffle = 1;
        f.teacher = &teacher; f.temperature = cfg->data[9]; f.alpha = cfg->data[10];
        f.unlabeled_x = x->data + (size_t)nl * 20; f.unlabeled_count = (size_t)nu;
        snprintf(prefix, sizeof prefix, "run%d", r);
        if (dst_model_set_optimizer(m, &o) == DST_OK && dst_model_fit(m, x->data, ys, (size_t)nl, &f) == DST_OK)
            e = tt_compare_state(m, &fx, prefix, 0, 1e-4);
        else
            printf("    run %d: %s\n", r, dst_model_error(m));
        dst_model_free(m);
        free(ys);
        T_CHECK_MSG(e <= 1e-4, "run %d: relative error %.3g", r, e);
        if (e > worst) worst = e;
    }
    if (tt_first_path) printf("    transfer set vs PyTorch: loss and gradient, 2 runs through fit: worst parameter error %.2g\n", worst);
    t_fixture_free(&fx);
    return 0;
}
static int test_torch_transfer_set(void) { return tt_each_path(tt_transfer); }

/* ---- attention transfer --------------------------------------------------- */

/* dst_attention_loss against PyTorch's (value and gradient, student maps
   pooled and teacher maps pooled), then dst_model_fit with two attention
   terms and KD from a teacher model, 8 steps: every parameter within 1e-4
   of the largest value of its tensor. */
static int tt_attention(void)
{
    t_fixture fx;
    t_array *x, *y, *terms, *cfg;
    int k, i, ys[32];
    static const int sh[2] = { 8, 2 }, th[2] = { 4, 4 };
    dst_layer_desc S[5] = { dst_conv2d(4, 3, 1, 1), dst_relu(), dst_maxpool2d(2, 0, 0), dst_flatten(), dst_dense(5) };
    dst_layer_desc T[7] = { dst_conv2d(6, 3, 1, 1), dst_relu(), dst_conv2d(6, 3, 1, 1), dst_relu(), dst_maxpool2d(2, 0, 0),
                           dst_flatten(), dst_dense(5) };
    dst_model *m = NULL, *tm = NULL;
    dst_attention_term at[2];
    dst_teacher teacher;
    dst_fit_config f = dst_fit_default();
    dst_optimizer_config o = dst_optimizer_default(DST_ADAM);
    double e = INFINITY;
    if (!t_fixture_load("torch_attention", &fx)) return 1;
    for (k = 0; k < 2; ++k) {
        t_array *s = tt_get(&fx, "k%d.s", k, 0), *t = tt_get(&fx, "k%d.t", k, 0);
        t_array *l = tt_get(&fx, "k%d.loss", k, 0), *g = tt_get(&fx, "k%d.grad", k, 0);
        float grad[3 * 3 * 8 * 8], loss;
        T_CHECK(s && t && l && g && g->count == (size_t)9 * sh[k] * sh[k]);
        memset(grad, 0, sizeof grad);
        loss = dst_attention_loss(s->data, 3, sh[k], sh[k], t->data, 5, th[k], th[k], 3, 0.7f, grad);
        T_CHECK_MSG(fabs((double)loss - l->data[0]) <= 1e-5 * fabs((double)l->data[0]), "case %d: loss %.9g, PyTorch %.9g",
                    k, (double)loss, (double)l->data[0]);
        T_CHECK_MSG(tt_rel(grad, g->data, g->count, 1e-6) <= 1e-5, "case %d: gradient error %.3g", k,
                    tt_rel(grad, g->data, g->count, 1e-6));
    }
    T_CHECK((x = tt_get(&fx, "x", 0, 0)) && (y = tt_get(&fx, "y", 0, 0)) && y->count == 32);
    T_CHECK((terms = tt_get(&fx, "terms", 0, 0)) && terms->count == 6 && (cfg = tt_get(&fx, "cfg", 0, 0)));
    for (i = 0; i < 32; ++i) ys[i] = (int)y->data[i];
    for (k = 0; k < 2; ++k) {
        at[k].student_layer = (int)terms->data[3 * k];
        at[k].teacher_layer = (int)terms->data[3 * k + 1];
        at[k].weight = terms->data[3 * k + 2];
    }
    m = tt_model(S, 5, 1, 8, 8);
    tm = tt_model(T, 7, 1, 8, 8);
    if (m && tm && tt_set_state(m, &fx, "init") && tt_set_state(tm, &fx, "tmodel")) {
        o.lr = 0.01f;
        dst_model_set_optimizer(m, &o);
        teacher = dst_teacher_model(tm);
        f.epochs = (int)cfg->data[2]; f.batch_size = (int)cfg->data[1]; f.no_shuffle = 1;
        f.teacher = &teacher; f.temperature = cfg->data[3]; f.alpha = cfg->data[4];
        f.attention = at; f.attention_count = 2;
        if (dst_model_fit(m, x->data, ys, 32, &f) == DST_OK) e = tt_compare_state(m, &fx, "run0", 0, 1e-4);
        else printf("    fit: %s\n", dst_model_error(m));
    }
    dst_model_free(m);
    dst_model_free(tm);
    t_fixture_free(&fx);
    T_CHECK_MSG(e <= 1e-4, "relative error %.3g", e);
    if (tt_first_path) printf("    attention transfer vs PyTorch: loss, gradient, 8 steps through fit: worst parameter error %.2g\n", e);
    return 0;
}
static int test_torch_attention_transfer(void) { return tt_each_path(tt_attention); }

/* ---- FitNets hints --------------------------------------------------------- */

/* dst_hint_loss against PyTorch's (value, gradients wrt the student and the
   adapter: maps of one size, the student's pooled, the teacher's pooled,
   flat features), then dst_model_fit with three hint terms (adapters given
   by the fixture) and KD from a teacher model, 8 steps: every parameter
   within 1e-4 of the largest value of its tensor. */
static int tt_hint(void)
{
    t_fixture fx;
    t_array *x, *y, *terms, *cfg, *ad[3];
    int k, i, ys[32];
    static const int sh[4] = { 4, 8, 2, 1 }, th[4] = { 4, 4, 4, 1 };
    dst_layer_desc S[5] = { dst_conv2d(4, 3, 1, 1), dst_relu(), dst_maxpool2d(2, 0, 0), dst_flatten(), dst_dense(5) };
    dst_layer_desc T[7] = { dst_conv2d(6, 3, 1, 1), dst_relu(), dst_conv2d(6, 3, 1, 1), dst_relu(), dst_maxpool2d(2, 0, 0),
                           dst_flatten(), dst_dense(5) };
    dst_model *m = NULL, *tm = NULL;
    dst_hint_term h[3];
    dst_teacher teacher;
    dst_fit_config f = dst_fit_default();
    dst_optimizer_config o = dst_optimizer_default(DST_ADAM);
    double e = INFINITY;
    if (!t_fixture_load("torch_hint", &fx)) return 1;
    for (k = 0; k < 4; ++k) {
        t_array *s = tt_get(&fx, "k%d.s", k, 0), *t = tt_get(&fx, "k%d.t", k, 0), *a = tt_get(&fx, "k%d.adapter", k, 0);
        t_array *l = tt_get(&fx, "k%d.loss", k, 0), *g = tt_get(&fx, "k%d.grad", k, 0);
        t_array *ga = tt_get(&fx, "k%d.grad_adapter", k, 0);
        float grad[3 * 3 * 8 * 8], grad_a[20], loss;
        T_CHECK(s && t && a && l && g && ga && g->count == (size_t)9 * sh[k] * sh[k] && ga->count == 20);
        memset(grad, 0, sizeof grad);
        memset(grad_a, 0, sizeof grad_a);
        loss = dst_hint_loss(s->data, 3, sh[k], sh[k], t->data, 5, th[k], th[k], 3, a->data, 0.7f, grad, grad_a);
        T_CHECK_MSG(fabs((double)loss - l->data[0]) <= 1e-5 * fabs((double)l->data[0]), "case %d: loss %.9g, PyTorch %.9g",
                    k, (double)loss, (double)l->data[0]);
        T_CHECK_MSG(tt_rel(grad, g->data, g->count, 1e-6) <= 1e-5, "case %d: gradient error %.3g", k,
                    tt_rel(grad, g->data, g->count, 1e-6));
        T_CHECK_MSG(tt_rel(grad_a, ga->data, 20, 1e-6) <= 1e-5, "case %d: adapter gradient error %.3g", k,
                    tt_rel(grad_a, ga->data, 20, 1e-6));
    }
    T_CHECK((x = tt_get(&fx, "x", 0, 0)) && (y = tt_get(&fx, "y", 0, 0)) && y->count == 32);
    T_CHECK((terms = tt_get(&fx, "terms", 0, 0)) && terms->count == 9 && (cfg = tt_get(&fx, "cfg", 0, 0)));
    for (i = 0; i < 32; ++i) ys[i] = (int)y->data[i];
    for (k = 0; k < 3; ++k) {
        T_CHECK((ad[k] = tt_get(&fx, "adapter%d", k, 0)) != NULL);
        h[k].student_layer = (int)terms->data[3 * k];
        h[k].teacher_layer = (int)terms->data[3 * k + 1];
        h[k].weight = terms->data[3 * k + 2];
        h[k].adapter_init = ad[k]->data;
    }
    m = tt_model(S, 5, 1, 8, 8);
    tm = tt_model(T, 7, 1, 8, 8);
    if (m && tm && tt_set_state(m, &fx, "init") && tt_set_state(tm, &fx, "tmodel")) {
        o.lr = 0.01f;
        dst_model_set_optimizer(m, &o);
        teacher = dst_teacher_model(tm);
        f.epochs = (int)cfg->data[2]; f.batch_size = (int)cfg->data[1]; f.no_shuffle = 1;
        f.teacher = &teacher; f.temperature = cfg->data[3]; f.alpha = cfg->data[4];
        f.hint = h; f.hint_count = 3;
        if (dst_model_fit(m, x->data, ys, 32, &f) == DST_OK) e = tt_compare_state(m, &fx, "run0", 0, 1e-4);
        else printf("    fit: %s\n", dst_model_error(m));
    }
    dst_model_free(m);
    dst_model_free(tm);
    t_fixture_free(&fx);
    T_CHECK_MSG(e <= 1e-4, "relative error %.3g", e);
    if (tt_first_path) printf("    hints vs PyTorch: loss, gradients, 8 steps through fit: worst parameter error %.2g\n", e);
    return 0;
}
static int test_torch_hint(void) { return tt_each_path(tt_hint); }

static const t_case torch_tests[] = {
    { "torch_sgemm", test_torch_sgemm },
    { "torch_softmax", test_torch_softmax },
    { "torch_kd_loss", test_torch_kd_loss },
    { "torch_kd_loss_many_classes", test_torch_kd_loss_many_classes },
    { "torch_mse_loss", test_torch_mse_loss },
    { "torch_activations", test_torch_activations },
    { "torch_dense_layers", test_torch_dense_layers },
    { "torch_optimizers", test_torch_optimizers },
    { "torch_lr_schedules", test_torch_lr_schedules },
    { "torch_clip_grad_norm", test_torch_clip_grad_norm },
    { "torch_training_parity_mlp", test_torch_training_parity_mlp },
    { "torch_training_parity_mlp_wide", test_torch_training_parity_mlp_wide },
    { "torch_training_parity_cnn", test_torch_training_parity_cnn },
    { "torch_training_parity_cnn_groups", test_torch_training_parity_cnn_groups },
    { "torch_nonfinite_leaves_model_untouched", test_torch_nonfinite_leaves_model_untouched },
    { "torch_transfer_set", test_torch_transfer_set },
    { "torch_attention_transfer", test_torch_attention_transfer },
    { "torch_hint", test_torch_hint },
};

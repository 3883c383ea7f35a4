/* tests/test_conv.c - convolutional layers: conv2d (stride, padding,
   dilation, groups, depthwise, no bias, non-square), max / average / global
   pooling, batch norm, flatten, spatial dropout. PyTorch fixtures
   (tests/gen_conv_fixtures.py) for the kernels and the layers, gradients by
   finite differences through small models, shape errors at build time, a
   small CNN that learns, and no allocation per step. */

static dst_model *t_cnn(const dst_layer_desc *layers, int count, int c, int h, int w, uint64_t seed)
{
    dst_model_desc d = dst_model_desc_default();
    dst_model *m = NULL;
    dst_error e;
    d.input_c = c; d.input_h = h; d.input_w = w;
    d.layers = layers; d.layer_count = count; d.seed = seed;
    if (dst_model_create(&m, &d, &e) != DST_OK) printf("    create: %s\n", e.message);
    return m;
}

/* the array NAME (printf-style), or NULL without a message */
static t_array *t_find(t_fixture *fx, const char *fmt, int i)
{
    char name[64];
    int k;
    snprintf(name, sizeof name, fmt, i);
    for (k = 0; k < fx->n; ++k)
        if (strcmp(fx->arr[k].name, name) == 0) return &fx->arr[k];
    return NULL;
}

static double t_maxdiff(const float *a, const float *b, size_t n)
{
    size_t i;
    double worst = 0;
    for (i = 0; i < n; ++i) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= worst)) worst = d; /* NaN sticks */
    }
    return worst;
}

#define T_FX_TOL 2e-5 /* values of order 1, sums of up to ~100 products in float */

/* ---- PyTorch fixtures: conv2d --------------------------------------------- */

static int test_conv2d_matches_pytorch(void)
{
    t_fixture fx;
    t_array *cnt;
    int i, bad = 0;
    double worst[4] = { 0, 0, 0, 0 }; /* y, dx, dw, db */
    if (!t_fixture_load("conv_conv2d", &fx)) return 1;
    cnt = t_get(&fx, "count");
    T_CHECK(cnt != NULL);
    for (i = 0; i < (int)cnt->data[0] && !bad; ++i) {
        t_array *cfg = t_find(&fx, "c%d.cfg", i), *x = t_find(&fx, "c%d.x", i), *w = t_find(&fx, "c%d.w", i);
        t_array *b = t_find(&fx, "c%d.b", i), *y = t_find(&fx, "c%d.y", i), *dy = t_find(&fx, "c%d.dy", i);
        t_array *dx = t_find(&fx, "c%d.dx", i), *dw = t_find(&fx, "c%d.dw", i), *db = t_find(&fx, "c%d.db", i);
        const float *c;
        dst_conv2d_params p;
        float *gy, *gx, *gw, *gb, *work;
        int oh, ow, n, k;
        double e[4];
        dst_layer_desc L;
        dst_model *m;
        dst_layer_info info;
        const float *my;
        if (!cfg || !x || !w || !y || !dy || !dx || !dw) { printf("    case %d incomplete\n", i); bad = 1; break; }
        c = cfg->data;
        p.in_c = (int)c[0]; p.in_h = (int)c[1]; p.in_w = (int)c[2]; p.out_c = (int)c[3];
        p.kernel_h = (int)c[4]; p.kernel_w = (int)c[5]; p.stride_h = (int)c[6]; p.stride_w = (int)c[7];
        p.pad_h = (int)c[8]; p.pad_w = (int)c[9]; p.dilation_h = (int)c[10]; p.dilation_w = (int)c[11];
        p.groups = (int)c[12];
        n = (int)c[14];
        T_CHECK(dst_conv2d_check(&p, &oh, &ow, NULL) == DST_OK);
        T_CHECK((size_t)n * p.out_c * oh * ow == y->count);
        gy = (float *)malloc(y->count * 4); gx = (float *)malloc(x->count * 4);
        gw = (float *)malloc(w->count * 4); gb = (float *)malloc((size_t)p.out_c * 4);
        work = (float *)malloc(dst_conv2d_work_floats(&p) * 4 + 4);
        /* the low-level kernels */
        T_CHECK(dst_conv2d_forward(&p, n, x->data, w->data, b ? b->data : NULL, gy, work) == DST_OK);
        T_CHECK(dst_conv2d_backward(&p, n, x->data, w->data, dy->data, gx, gw, b ? gb : NULL, work) == DST_OK);
        e[0] = t_maxdiff(gy, y->data, y->count);
        e[1] = t_maxdiff(gx, dx->data, dx->count);
        e[2] = t_maxdiff(gw, dw->data, dw->count);
        e[3] = b ? t_maxdiff(gb, db->data, db->count) : 0;
        /* the same through a model: PyTorch's layout loads as is */
        L = dst_conv2d(p.out_c, p.kernel_h, p.stride_h, p.pad_h);
        L.kernel_w = p.kernel_w; L.stride_w = p.stride_w; L.pad_w = p.pad_w;
        L.dilation_h = p.dilation_h; L.dilation_w = p.dilation_w; L.groups = p.groups; L.no_bias = b == NULL;
        m = t_cnn(&L, 1, p.in_c, p.in_h, p.in_w, 1);
        T_CHECK(m != NULL);
        T_CHECK(dst_model_layer(m, 0, &info) == DST_OK);
        T_CHECK(info.out_c == p.out_c && info.out_h == oh && info.out_w == ow && info.weight_count == w->count);
        memcpy(dst_model_params(m) + info.param_offset, w->data, w->count * 4);
        if (b) memcpy(dst_model_params(m) + info.param_offset + info.weight_count, b->data, b->count * 4);
        T_CHECK(dst_model_forward(m, x->data, n, 1, &my) == DST_OK);
        T_CHECK(dst_model_backward(m, dy->data) == DST_OK);
        if (t_maxdiff(my, y->data, y->count) > e[0]) e[0] = t_maxdiff(my, y->data, y->count);
        if (t_maxdiff(dst_model_grads(m) + info.param_offset, dw->data, dw->count) > e[2])
            e[2] = t_maxdiff(dst_model_grads(m) + info.param_offset, dw->data, dw->count);
        if (b && t_maxdiff(dst_model_grads(m) + info.param_offset + info.weight_count, db->data, db->count) > e[3])
            e[3] = t_maxdiff(dst_model_grads(m) + info.param_offset + info.weight_count, db->data, db->count);
        dst_model_free(m);
        for (k = 0; k < 4; ++k) {
            if (!(e[k] <= T_FX_TOL * (k == 3 ? 4 : 1))) {
                printf("    case %d: %s max error %g\n", i, k == 0 ? "y" : k == 1 ? "dx" : k == 2 ? "dw" : "db", e[k]);
                bad = 1;
            }
            if (e[k] > worst[k]) worst[k] = e[k];
        }
        free(gy); free(gx); free(gw); free(gb); free(work);
    }
    printf("    conv2d vs PyTorch, %d configs, max abs error: y %.2g dx %.2g dw %.2g db %.2g\n",
           (int)cnt->data[0], worst[0], worst[1], worst[2], worst[3]);
    t_fixture_free(&fx);
    T_CHECK(!bad);
    return 0;
}

/* ---- PyTorch fixtures: pooling -------------------------------------------- */

static int test_pooling_matches_pytorch(void)
{
    t_fixture fx;
    t_array *cnt, *gx, *gy, *gdy, *gdx;
    int i, bad = 0;
    double worst[2] = { 0, 0 }; /* forward, backward */
    if (!t_fixture_load("conv_pool", &fx)) return 1;
    cnt = t_get(&fx, "count");
    T_CHECK(cnt != NULL);
    for (i = 0; i < (int)cnt->data[0]; ++i) {
        t_array *cfg = t_find(&fx, "p%d.cfg", i), *x = t_find(&fx, "p%d.x", i);
        int kind;
        T_CHECK(cfg && x);
        for (kind = 0; kind < 2; ++kind) {
            t_array *y = t_find(&fx, kind ? "p%d.avg.y" : "p%d.max.y", i);
            t_array *dy = t_find(&fx, kind ? "p%d.avg.dy" : "p%d.max.dy", i);
            t_array *dx = t_find(&fx, kind ? "p%d.avg.dx" : "p%d.max.dx", i);
            const float *c = cfg->data;
            dst_pool2d_params p;
            float *oy = (float *)malloc(y->count * 4), *ox = (float *)malloc(x->count * 4);
            int32_t *am = (int32_t *)malloc(y->count * 4);
            int n = (int)c[9], oh, ow;
            double ef, eb;
            dst_layer_desc L;
            dst_model *m;
            const float *my;
            p.channels = (int)c[0]; p.in_h = (int)c[1]; p.in_w = (int)c[2];
            p.kernel_h = (int)c[3]; p.kernel_w = (int)c[4]; p.stride_h = (int)c[5]; p.stride_w = (int)c[6];
            p.pad_h = (int)c[7]; p.pad_w = (int)c[8];
            T_CHECK(dst_pool2d_check(&p, &oh, &ow, NULL) == DST_OK && (size_t)n * p.channels * oh * ow == y->count);
            if (kind) {
                T_CHECK(dst_avgpool2d_forward(&p, n, x->data, oy) == DST_OK);
                T_CHECK(dst_avgpool2d_backward(&p, n, dy->data, ox) == DST_OK);
            } else {
                T_CHECK(dst_maxpool2d_forward(&p, n, x->data, oy, am) == DST_OK);
                T_CHECK(dst_maxpool2d_backward(&p, n, am, dy->data, ox) == DST_OK);
            }
            ef = t_maxdiff(oy, y->data, y->count);
            eb = t_maxdiff(ox, dx->data, dx->count);
            /* the layer in a model, forward */
            L = kind ? dst_avgpool2d(p.kernel_h, p.stride_h, p.pad_h) : dst_maxpool2d(p.kernel_h, p.stride_h, p.pad_h);
            L.kernel_w = p.kernel_w; L.stride_w = p.stride_w; L.pad_w = p.pad_w;
            m = t_cnn(&L, 1, p.channels, p.in_h, p.in_w, 1);
            T_CHECK(m && dst_model_forward(m, x->data, n, 0, &my) == DST_OK);
            if (t_maxdiff(my, y->data, y->count) > ef) ef = t_maxdiff(my, y->data, y->count);
            dst_model_free(m);
            if (!(ef <= T_FX_TOL && eb <= T_FX_TOL)) {
                printf("    case %d %s: forward error %g, backward %g\n", i, kind ? "avg" : "max", ef, eb);
                bad = 1;
            }
            if (ef > worst[0]) worst[0] = ef;
            if (eb > worst[1]) worst[1] = eb;
            free(oy); free(ox); free(am);
        }
    }
    /* global average pooling: the layer, and the kernel with a whole-plane window */
    gx = t_get(&fx, "g.x"); gy = t_get(&fx, "g.y"); gdy = t_get(&fx, "g.dy"); gdx = t_get(&fx, "g.dx");
    T_CHECK(gx && gy && gdy && gdx);
    {
        dst_layer_desc L[1] = { dst_global_avgpool() };
        dst_pool2d_params p;
        float y[12], dx[3 * 4 * 5 * 3];
        const float *my;
        double ef, eb;
        dst_model *m = t_cnn(L, 1, 4, 5, 3, 1);
        T_CHECK(m && dst_model_output_size(m) == 4);
        T_CHECK(dst_model_forward(m, gx->data, 3, 1, &my) == DST_OK);
        ef = t_maxdiff(my, gy->data, 12);
        dst_model_free(m);
        p.channels = 4; p.in_h = 5; p.in_w = 3; p.kernel_h = 5; p.kernel_w = 3;
        p.stride_h = p.stride_w = p.pad_h = p.pad_w = 0;
        T_CHECK(dst_avgpool2d_forward(&p, 3, gx->data, y) == DST_OK);
        T_CHECK(dst_avgpool2d_backward(&p, 3, gdy->data, dx) == DST_OK);
        if (t_maxdiff(y, gy->data, 12) > ef) ef = t_maxdiff(y, gy->data, 12);
        eb = t_maxdiff(dx, gdx->data, gdx->count);
        if (!(ef <= T_FX_TOL && eb <= T_FX_TOL)) { printf("    global: %g %g\n", ef, eb); bad = 1; }
        if (ef > worst[0]) worst[0] = ef;
        if (eb > worst[1]) worst[1] = eb;
    }
    printf("    pooling vs PyTorch, %d configs x max/avg + global, max abs error: y %.2g dx %.2g\n",
           (int)cnt->data[0], worst[0], worst[1]);
    t_fixture_free(&fx);
    T_CHECK(!bad);
    return 0;
}

/* ---- PyTorch fixtures: batch norm ------------------------------------------ */

static int test_batchnorm_matches_pytorch(void)
{
    t_fixture fx;
    t_array *cnt;
    int i, bad = 0;
    double worst[4] = { 0, 0, 0, 0 }; /* train y, grads, running stats, eval y */
    if (!t_fixture_load("conv_batchnorm", &fx)) return 1;
    cnt = t_get(&fx, "count");
    T_CHECK(cnt != NULL);
    for (i = 0; i < (int)cnt->data[0]; ++i) {
        t_array *cfg = t_find(&fx, "b%d.cfg", i), *x = t_find(&fx, "b%d.x", i);
        t_array *ga = t_find(&fx, "b%d.gamma", i), *be = t_find(&fx, "b%d.beta", i);
        t_array *rm0 = t_find(&fx, "b%d.rm0", i), *rv0 = t_find(&fx, "b%d.rv0", i);
        t_array *y = t_find(&fx, "b%d.y", i), *dy = t_find(&fx, "b%d.dy", i), *dx = t_find(&fx, "b%d.dx", i);
        t_array *dg = t_find(&fx, "b%d.dgamma", i), *db = t_find(&fx, "b%d.dbeta", i);
        t_array *rm1 = t_find(&fx, "b%d.rm1", i), *rv1 = t_find(&fx, "b%d.rv1", i), *ye = t_find(&fx, "b%d.y_eval", i);
        dst_batchnorm_params p;
        int C, H, W, n, pass;
        float *oy, *ox, *rm, *rv, sm[8], si[8], g[8], b[8];
        double e[4];
        T_CHECK(cfg && x && ga && be && rm0 && rv0 && y && dy && dx && dg && db && rm1 && rv1 && ye);
        C = (int)cfg->data[0]; H = (int)cfg->data[1]; W = (int)cfg->data[2]; n = (int)cfg->data[3];
        T_CHECK(C <= 8);
        p.channels = C; p.spatial = H * W; p.momentum = cfg->data[4]; p.eps = cfg->data[5];
        oy = (float *)malloc(x->count * 4); ox = (float *)malloc(x->count * 4);
        rm = (float *)malloc((size_t)C * 4); rv = (float *)malloc((size_t)C * 4);
        /* pass 0: the kernels; pass 1: a model with the layer */
        for (pass = 0; pass < 2; ++pass) {
            double e0, e1, e2, e3;
            if (pass == 0) {
                memcpy(rm, rm0->data, (size_t)C * 4); memcpy(rv, rv0->data, (size_t)C * 4);
                T_CHECK(dst_batchnorm_forward(&p, n, 1, x->data, ga->data, be->data, rm, rv, oy, sm, si) == DST_OK);
                T_CHECK(dst_batchnorm_backward(&p, n, x->data, ga->data, sm, si, dy->data, ox, g, b) == DST_OK);
                e0 = t_maxdiff(oy, y->data, y->count);
                e1 = t_maxdiff(ox, dx->data, dx->count);
                if (t_maxdiff(g, dg->data, (size_t)C) > e1) e1 = t_maxdiff(g, dg->data, (size_t)C);
                if (t_maxdiff(b, db->data, (size_t)C) > e1) e1 = t_maxdiff(b, db->data, (size_t)C);
                e2 = t_maxdiff(rm, rm1->data, (size_t)C);
                if (t_maxdiff(rv, rv1->data, (size_t)C) > e2) e2 = t_maxdiff(rv, rv1->data, (size_t)C);
                T_CHECK(dst_batchnorm_forward(&p, n, 0, x->data, ga->data, be->data, rm1->data, rv1->data, oy, NULL, NULL) == DST_OK);
                e3 = t_maxdiff(oy, ye->data, ye->count);
            } else {
                /* a 1x1 conv first (identity weights, zero bias) so that the
                   model computes batch norm's dx into the conv's dW */
                dst_layer_desc L[2];
                dst_layer_info ci, bi;
                dst_model *m;
                const float *my;
                float *pr;
                int c, k;
                L[0] = dst_conv2d(C, 1, 1, 0); L[1] = dst_batchnorm();
                L[1].param = p.momentum; L[1].eps = p.eps;
                m = t_cnn(L, 2, C, H, W, 1);
                T_CHECK(m != NULL);
                dst_model_layer(m, 0, &ci); dst_model_layer(m, 1, &bi);
                T_CHECK(bi.weight_count == (size_t)C && bi.bias_count == (size_t)C && bi.buffer_count == 2 * (size_t)C);
                T_CHECK(dst_model_buffer_count(m) == 2 * (size_t)C);
                pr = dst_model_params(m);
                for (c = 0; c < C; ++c) {
                    for (k = 0; k < C; ++k) pr[ci.param_offset + (size_t)c * C + k] = c == k ? 1.0f : 0.0f;
                    pr[ci.param_offset + ci.weight_count + c] = 0;
                }
                memcpy(pr + bi.param_offset, ga->data, (size_t)C * 4);
                memcpy(pr + bi.param_offset + (size_t)C, be->data, (size_t)C * 4);
                memcpy(dst_model_buffers(m) + bi.buffer_offset, rm0->data, (size_t)C * 4);
                memcpy(dst_model_buffers(m) + bi.buffer_offset + C, rv0->data, (size_t)C * 4);
                T_CHECK(dst_model_forward(m, x->data, n, 1, &my) == DST_OK);
                e0 = t_maxdiff(my, y->data, y->count);
                T_CHECK(dst_model_backward(m, dy->data) == DST_OK);
                e1 = t_maxdiff(dst_model_grads(m) + bi.param_offset, dg->data, (size_t)C);
                if (t_maxdiff(dst_model_grads(m) + bi.param_offset + C, db->data, (size_t)C) > e1)
                    e1 = t_maxdiff(dst_model_grads(m) + bi.param_offset + C, db->data, (size_t)C);
                /* the conv's dW[c][k] = sum over samples and pixels of dx[c] * x[k] */
                {
                    size_t S = (size_t)H * W, s;
                    int nn;
                    for (c = 0; c < C; ++c)
                        for (k = 0; k < C; ++k) {
                            double ref = 0, got = dst_model_grads(m)[ci.param_offset + (size_t)c * C + k];
                            for (nn = 0; nn < n; ++nn)
                                for (s = 0; s < S; ++s)
                                    ref += (double)dx->data[((size_t)nn * C + c) * S + s] * x->data[((size_t)nn * C + k) * S + s];
                            if (fabs(got - ref) > e1) e1 = fabs(got - ref);
                        }
                }
                e2 = t_maxdiff(dst_model_buffers(m) + bi.buffer_offset, rm1->data, (size_t)C);
                if (t_maxdiff(dst_model_buffers(m) + bi.buffer_offset + C, rv1->data, (size_t)C) > e2)
                    e2 = t_maxdiff(dst_model_buffers(m) + bi.buffer_offset + C, rv1->data, (size_t)C);
                memcpy(dst_model_buffers(m) + bi.buffer_offset, rm1->data, (size_t)C * 4);
                memcpy(dst_model_buffers(m) + bi.buffer_offset + C, rv1->data, (size_t)C * 4);
                T_CHECK(dst_model_forward(m, x->data, n, 0, &my) == DST_OK);
                e3 = t_maxdiff(my, ye->data, ye->count);
                dst_model_free(m);
            }
            e[0] = e0; e[1] = e1; e[2] = e2; e[3] = e3;
            {
                int k;
                for (k = 0; k < 4; ++k) {
                    if (!(e[k] <= 1e-4)) {
                        printf("    case %d pass %d: %s error %g\n", i, pass,
                               k == 0 ? "train y" : k == 1 ? "gradient" : k == 2 ? "running stats" : "eval y", e[k]);
                        bad = 1;
                    }
                    if (e[k] > worst[k]) worst[k] = e[k];
                }
            }
        }
        free(oy); free(ox); free(rm); free(rv);
    }
    printf("    batchnorm vs PyTorch, %d configs, max abs error: train y %.2g, dx/dgamma/dbeta %.2g, "
           "running stats %.2g, eval y %.2g\n", (int)cnt->data[0], worst[0], worst[1], worst[2], worst[3]);
    t_fixture_free(&fx);
    T_CHECK(!bad);
    return 0;
}

/* ---- gradients by finite differences --------------------------------------- */

/* Like t_model_gradcheck (test_model.c), for a model on C x H x W inputs,
   with the loss evaluated in training mode (batch norm's batch statistics,
   the same dropout masks: the model's generator is rewound before every
   forward). A parametrised layer first makes every later layer's input
   gradient show in its weight gradient. */
static int t_conv_gradcheck(const dst_layer_desc *layers, int count, int c, int h, int w, int soft)
{
    enum { B = 3 };
    dst_model *m = t_cnn(layers, count, c, h, w, 7);
    float *x, t[B * 8], *p, *g, *gsave, dl[B * 8];
    const float *y;
    int labels[B] = { 0, 2, 1 }, k;
    size_t n, i, stride, in;
    int fails = 0, kinks = 0;
    dst_rng rng0;
    if (!m) return 1;
    k = (int)dst_model_output_size(m);
    if (k < 3 || k > 8) { dst_model_free(m); printf("    the model must have 3..8 outputs\n"); return 1; }
    in = dst_model_input_size(m);
    x = (float *)malloc((size_t)B * in * sizeof(float));
    t_fill(x, (size_t)B * in, 1.5f);
    t_fill(t, (size_t)B * k, 3);
    n = dst_model_param_count(m);
    p = dst_model_params(m);
    g = dst_model_grads(m);
    gsave = (float *)malloc(n * sizeof(float));
    rng0 = m->rng;
    dst_model_forward(m, x, B, 1, &y);
    dst_kd_loss(y, soft ? t : NULL, labels, B, k, 2.0f, 0.6f, dl);
    dst_model_backward(m, dl);
    memcpy(gsave, g, n * sizeof(float));
    stride = n > 80 ? n / 80 : 1;
    for (i = 0; i < n; i += stride) {
        float keep = p[i];
        double num = 0, prev = 0, hh;
        int agree = 0, smooth = 1;
        for (hh = 1e-2; hh > 1e-4 && !agree; hh /= 8) {
            double lp, lm;
            p[i] = keep + (float)hh;
            m->rng = rng0;
            dst_model_forward(m, x, B, 1, &y);
            lp = dst_kd_loss(y, soft ? t : NULL, labels, B, k, 2.0f, 0.6f, NULL);
            p[i] = keep - (float)hh;
            m->rng = rng0;
            dst_model_forward(m, x, B, 1, &y);
            lm = dst_kd_loss(y, soft ? t : NULL, labels, B, k, 2.0f, 0.6f, NULL);
            p[i] = keep;
            prev = num;
            num = (lp - lm) / (2 * hh);
            agree = fabs(num - gsave[i]) <= 3e-3 + 3e-2 * fabs(num);
        }
        /* A ReLU or max-pool kink within the smallest steps makes the
           difference quotients disagree with each other too: such a point
           proves nothing either way (a wrong gradient gives quotients that
           agree with each other and not with it). At most a few per model. */
        if (!agree) smooth = fabs(num - prev) <= 3e-3 + 3e-2 * fabs(num);
        if (!agree && !smooth && ++kinks <= 3) continue;
        if (!agree && fails++ < 3) printf("    param %lu: numeric %g analytic %g\n", (unsigned long)i, num, (double)gsave[i]);
    }
    free(gsave);
    free(x);
    dst_model_free(m);
    return fails;
}

static int test_conv2d_gradients_every_option(void)
{
    dst_layer_desc plain[3] = { dst_conv2d(3, 3, 1, 0), dst_relu(), dst_dense(4) };
    dst_layer_desc strided[4] = { dst_conv2d(3, 3, 2, 1), dst_tanh(), dst_conv2d(4, 3, 2, 1), dst_dense(4) };
    dst_layer_desc dilated[3] = { dst_conv2d(3, 3, 1, 2), dst_tanh(), dst_dense(4) };
    dst_layer_desc grouped[5] = { dst_conv2d(4, 1, 1, 0), dst_tanh(), dst_conv2d(6, 3, 1, 1), dst_tanh(), dst_dense(4) };
    dst_layer_desc depthwise[6] = { dst_conv2d(4, 3, 1, 1), dst_tanh(), dst_depthwise_conv2d(4, 3, 1, 1), dst_tanh(),
                                   dst_depthwise_conv2d(8, 3, 2, 1), dst_dense(4) };
    dst_layer_desc nobias[4] = { dst_conv2d(3, 3, 1, 1), dst_tanh(), dst_conv2d(3, 1, 1, 0), dst_dense(4) };
    dst_layer_desc inits[4] = { dst_conv2d(3, 3, 1, 1), dst_gelu(), dst_conv2d(2, 3, 1, 0), dst_dense(4) };
    dilated[0].dilation_h = 2; dilated[0].dilation_w = 2;
    grouped[2].groups = 2;
    depthwise[4].groups = 4;                        /* multiplier 2 */
    strided[2].kernel_w = 2; strided[2].stride_w = 1; strided[2].pad_w = 0; /* 3x2, stride 2x1, pad 1x0 */
    nobias[0].no_bias = 1; nobias[0].kernel_w = 5; nobias[0].pad_w = 2;      /* 3x5 */
    nobias[2].no_bias = 1;
    inits[0].init = DST_INIT_HE_NORMAL; inits[2].init = DST_INIT_XAVIER_UNIFORM;
    T_CHECK(t_conv_gradcheck(plain, 3, 2, 6, 5, 0) == 0);
    T_CHECK(t_conv_gradcheck(plain, 3, 2, 6, 5, 1) == 0);
    T_CHECK(t_conv_gradcheck(strided, 4, 2, 7, 6, 1) == 0);
    T_CHECK(t_conv_gradcheck(dilated, 3, 2, 6, 6, 1) == 0);
    T_CHECK(t_conv_gradcheck(grouped, 5, 2, 5, 5, 1) == 0);
    T_CHECK(t_conv_gradcheck(depthwise, 6, 2, 6, 6, 1) == 0);
    T_CHECK(t_conv_gradcheck(nobias, 4, 2, 5, 7, 1) == 0);
    T_CHECK(t_conv_gradcheck(inits, 4, 3, 5, 5, 0) == 0);
    return 0;
}

static int test_pool_norm_dropout_gradients(void)
{
    dst_layer_desc maxp[5] = { dst_conv2d(3, 3, 1, 1), dst_maxpool2d(2, 0, 0), dst_conv2d(3, 3, 1, 1),
                              dst_maxpool2d(3, 2, 1), dst_dense(4) };
    dst_layer_desc avgp[5] = { dst_conv2d(3, 3, 1, 1), dst_avgpool2d(3, 2, 1), dst_tanh(), dst_avgpool2d(2, 0, 0),
                              dst_dense(4) };
    dst_layer_desc rect[4] = { dst_conv2d(2, 1, 1, 0), dst_maxpool2d(3, 1, 1), dst_avgpool2d(2, 1, 1), dst_dense(4) };
    dst_layer_desc bn[11] = { dst_conv2d(4, 3, 1, 1), dst_batchnorm(), dst_relu(), dst_conv2d(3, 3, 1, 0), dst_batchnorm(),
                            dst_global_avgpool(), dst_flatten(), dst_dense(5), dst_batchnorm(), dst_tanh(), dst_dense(4) };
    dst_layer_desc drop[7] = { dst_conv2d(4, 3, 1, 1), dst_dropout2d(0.5f), dst_tanh(), dst_conv2d(3, 3, 1, 0),
                              dst_dropout(0.3f), dst_flatten(), dst_dense(4) };
    rect[1].kernel_w = 2; rect[1].pad_w = 0;  /* 3x2 window, padding 1x0 */
    rect[2].stride_w = 2; rect[2].pad_w = 0;
    T_CHECK(t_conv_gradcheck(maxp, 5, 2, 8, 8, 1) == 0);
    T_CHECK(t_conv_gradcheck(avgp, 5, 2, 7, 8, 1) == 0);
    T_CHECK(t_conv_gradcheck(rect, 4, 2, 6, 7, 1) == 0);
    T_CHECK(t_conv_gradcheck(bn, 11, 2, 6, 6, 1) == 0);
    T_CHECK(t_conv_gradcheck(bn, 11, 2, 6, 6, 0) == 0);
    T_CHECK(t_conv_gradcheck(drop, 7, 2, 6, 6, 1) == 0);
    return 0;
}

/* ---- layers' behaviour ---------------------------------------------------- */

static int test_dropout2d_zeroes_whole_channels(void)
{
    enum { C = 1000, S = 6 };
    dst_layer_desc L[1] = { dst_dropout2d(0.25f) };
    dst_model *m = t_cnn(L, 1, C, 2, 3, 3);
    static float x[C * S], dy[C * S];
    const float *y;
    float *dx;
    int c, s, zeros = 0, bad = 0;
    T_CHECK(m != NULL);
    for (c = 0; c < C * S; ++c) { x[c] = 1.0f + (float)c; dy[c] = 2.0f; }
    T_CHECK(dst_model_forward(m, x, 1, 1, &y) == DST_OK);
    for (c = 0; c < C; ++c) {
        int z = y[c * S] == 0;
        zeros += z;
        for (s = 0; s < S; ++s) {
            float want = z ? 0.0f : x[c * S + s] / 0.75f;
            if (fabsf(y[c * S + s] - want) > 1e-3f * want) bad = 1;
        }
    }
    T_CHECK_MSG(!bad, "a channel is partly dropped or wrongly scaled");
    T_CHECK_MSG(zeros > 200 && zeros < 300, "%d of 1000 channels dropped at rate 0.25", zeros);
    /* backward: dy times the same mask (checked through a layer in front) */
    {
        dst_layer_desc L2[2] = { dst_flatten(), dst_dropout2d(0.25f) };
        dst_model *m2 = t_cnn(L2, 2, C, 2, 3, 3);
        const float *y2;
        T_CHECK(m2 != NULL);
        T_CHECK(dst_model_forward(m2, x, 1, 1, &y2) == DST_OK);  /* flatten: C*S channels of 1x1 */
        T_CHECK(dst_model_backward(m2, dy) == DST_OK);
        dx = m2->dbuf[0];
        for (c = 0; c < C * S; ++c)
            if (dx[c] != (y2[c] == 0 ? 0.0f : 2.0f / 0.75f) && fabsf(dx[c] - 2.0f / 0.75f) > 1e-5f) bad = 2;
        dst_model_free(m2);
    }
    T_CHECK_MSG(!bad, "case %d", bad);
    T_CHECK(dst_model_forward(m, x, 1, 0, &y) == DST_OK);  /* inference: identity */
    T_CHECK(memcmp(y, x, sizeof x) == 0);
    dst_model_free(m);
    return 0;
}

static int test_flatten_and_layout(void)
{
    dst_layer_desc L[5] = { dst_conv2d(5, 3, 1, 1), dst_batchnorm(), dst_maxpool2d(2, 0, 0), dst_flatten(),
                           dst_dense(3) };
    dst_model *m;
    dst_layer_info info;
    float x[2 * 3 * 6 * 4], *pr;
    const float *y;
    size_t i, fan_in = 3 * 3 * 3;
    int bad = 0;
    L[0].groups = 1;
    m = t_cnn(L, 5, 3, 6, 4, 5);
    T_CHECK(m != NULL);
    pr = dst_model_params(m);
    dst_model_layer(m, 0, &info);
    T_CHECK(info.out_c == 5 && info.out_h == 6 && info.out_w == 4);
    T_CHECK(info.weight_count == 5 * fan_in && info.bias_count == 5);
    /* PyTorch's Conv2d init: weight and bias within 1/sqrt(fan_in), not all tiny */
    for (i = 0; i < info.weight_count + info.bias_count; ++i)
        if (fabsf(pr[info.param_offset + i]) > 1 / sqrtf((float)fan_in)) bad = 1;
    dst_model_layer(m, 1, &info);
    T_CHECK(info.weight_count == 5 && info.bias_count == 5 && info.buffer_offset == 0 && info.buffer_count == 10);
    for (i = 0; i < 5; ++i)
        if (pr[info.param_offset + i] != 1 || pr[info.param_offset + 5 + i] != 0 ||
            dst_model_buffers(m)[i] != 0 || dst_model_buffers(m)[5 + i] != 1) bad = 2;
    dst_model_layer(m, 2, &info);
    T_CHECK(info.out_h == 3 && info.out_w == 2 && info.desc.stride_h == 2 && info.desc.stride_w == 2);
    dst_model_layer(m, 3, &info);
    T_CHECK(info.in_c == 5 && info.out_c == 30 && info.out_h == 1 && info.out_w == 1);
    T_CHECK(strcmp(dst_layer_name(info.desc.kind), "flatten") == 0);
    t_fill(x, sizeof x / sizeof x[0], 1);
    T_CHECK(dst_model_forward(m, x, 2, 1, &y) == DST_OK);
    T_CHECK(m->layers[3].out == m->layers[2].out); /* flatten copies nothing: its output is its input */
    dst_model_free(m);
    T_CHECK_MSG(!bad, "case %d", bad);
    /* after a dropout, which passes its input on in inference: the same outputs as with no dropout */
    {
        dst_layer_desc D[5] = { dst_conv2d(4, 3, 1, 1), dst_maxpool2d(2, 0, 0), dst_dropout(0.5f), dst_flatten(), dst_dense(3) };
        dst_layer_desc P[4] = { dst_conv2d(4, 3, 1, 1), dst_maxpool2d(2, 0, 0), dst_flatten(), dst_dense(3) };
        dst_model *md = t_cnn(D, 5, 3, 6, 4, 7), *mp = t_cnn(P, 4, 3, 6, 4, 7);
        float a[2 * 3], b[2 * 3];
        T_CHECK(md != NULL && mp != NULL && dst_model_param_count(md) == dst_model_param_count(mp));
        memcpy(dst_model_params(mp), dst_model_params(md), dst_model_param_count(md) * sizeof(float));
        T_CHECK(dst_model_forward(md, x, 2, 1, &y) == DST_OK); /* training first: the dropout buffer holds values */
        T_CHECK(dst_model_predict(md, x, 2, a) == DST_OK && dst_model_predict(mp, x, 2, b) == DST_OK);
        T_CHECK(memcmp(a, b, sizeof a) == 0);
        dst_model_free(md);
        dst_model_free(mp);
    }
    return 0;
}

/* ---- shape errors at build time ------------------------------------------------ */

static int t_expect_build_error(const dst_layer_desc *layers, int count, int c, int h, int w,
                                const char *a, const char *b)
{
    dst_model_desc d = dst_model_desc_default();
    dst_model *m = (dst_model *)1;
    dst_error e;
    d.input_c = c; d.input_h = h; d.input_w = w; d.layers = layers; d.layer_count = count;
    if (dst_model_create(&m, &d, &e) != DST_ERR_ARG || m != NULL) {
        printf("    built a model that should fail (%s)\n", a);
        dst_model_free(m);
        return 1;
    }
    if (!strstr(e.message, a) || (b && !strstr(e.message, b))) {
        printf("    message \"%s\" lacks \"%s\" / \"%s\"\n", e.message, a, b ? b : "");
        return 1;
    }
    return 0;
}

static int test_conv_shape_errors_at_build(void)
{
    dst_layer_desc big[1] = { dst_conv2d(4, 5, 1, 0) };
    dst_layer_desc groups[1] = { dst_conv2d(4, 3, 1, 1) };
    dst_layer_desc stride0[1] = { dst_conv2d(4, 3, 0, 1) };
    dst_layer_desc units0[1] = { dst_conv2d(0, 3, 1, 1) };
    dst_layer_desc dil0[1] = { dst_conv2d(4, 3, 1, 1) };
    dst_layer_desc padneg[1] = { dst_conv2d(4, 3, 1, -1) };
    dst_layer_desc dilated[1] = { dst_conv2d(4, 3, 1, 0) };
    dst_layer_desc later[4] = { dst_conv2d(4, 3, 1, 0), dst_relu(), dst_maxpool2d(2, 0, 0), dst_conv2d(8, 5, 1, 0) };
    dst_layer_desc pool_big[1] = { dst_maxpool2d(4, 0, 0) };
    dst_layer_desc pool_pad[1] = { dst_avgpool2d(3, 1, 2) };
    dst_layer_desc bn_mom[1] = { dst_batchnorm() };
    dst_layer_desc bn_eps[1] = { dst_batchnorm() };
    dst_layer_desc drop[1] = { dst_dropout2d(1.0f) };
    dst_layer_desc init[1] = { dst_conv2d(4, 3, 1, 1) };
    groups[0].groups = 2;
    dil0[0].dilation_w = 0;
    dilated[0].dilation_h = 3; /* spans 7 rows of 6 */
    bn_mom[0].param = 1.5f;
    bn_eps[0].eps = 0;
    init[0].init = (dst_init)99;
    T_CHECK(t_expect_build_error(big, 1, 3, 3, 3, "layer 0 (conv2d)", "larger than the padded input 3x3") == 0);
    T_CHECK(t_expect_build_error(groups, 1, 3, 5, 5, "layer 0 (conv2d)", "groups 2") == 0);
    T_CHECK(t_expect_build_error(stride0, 1, 3, 5, 5, "layer 0 (conv2d)", "stride") == 0);
    T_CHECK(t_expect_build_error(units0, 1, 3, 5, 5, "layer 0 (conv2d)", "output channels 0") == 0);
    T_CHECK(t_expect_build_error(dil0, 1, 3, 5, 5, "layer 0 (conv2d)", "dilation") == 0);
    T_CHECK(t_expect_build_error(padneg, 1, 3, 5, 5, "layer 0 (conv2d)", "padding") == 0);
    T_CHECK(t_expect_build_error(dilated, 1, 1, 6, 9, "layer 0 (conv2d)", "spans 7x3") == 0);
    T_CHECK(t_expect_build_error(later, 4, 1, 8, 8, "layer 3 (conv2d)", "padded input 3x3") == 0);
    T_CHECK(t_expect_build_error(pool_big, 1, 2, 3, 3, "layer 0 (maxpool2d)", "larger") == 0);
    T_CHECK(t_expect_build_error(pool_pad, 1, 2, 6, 6, "layer 0 (avgpool2d)", "half the kernel") == 0);
    T_CHECK(t_expect_build_error(bn_mom, 1, 2, 3, 3, "layer 0 (batchnorm)", "momentum") == 0);
    T_CHECK(t_expect_build_error(bn_eps, 1, 2, 3, 3, "layer 0 (batchnorm)", "eps") == 0);
    T_CHECK(t_expect_build_error(drop, 1, 2, 3, 3, "layer 0 (dropout2d)", "rate") == 0);
    T_CHECK(t_expect_build_error(init, 1, 2, 3, 3, "layer 0 (conv2d)", "init") == 0);
    /* batch norm training needs two values per channel: an error, not a NaN */
    {
        dst_layer_desc L[2] = { dst_dense(3), dst_batchnorm() };
        dst_model *m = t_cnn(L, 2, 4, 1, 1, 1);
        float x[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
        T_CHECK(m != NULL);
        T_CHECK(dst_model_forward(m, x, 1, 1, NULL) == DST_ERR_ARG);
        T_CHECK(strstr(dst_model_error(m), "layer 1 (batchnorm)") != NULL);
        T_CHECK(dst_model_forward(m, x, 1, 0, NULL) == DST_OK);
        T_CHECK(dst_model_forward(m, x, 2, 1, NULL) == DST_OK);
        dst_model_free(m);
    }
    /* the low-level kernels refuse bad arguments */
    {
        dst_conv2d_params p = dst_conv2d_params_make(2, 5, 5, 3, 3, 1, 1);
        dst_pool2d_params q;
        dst_batchnorm_params b;
        dst_error e;
        float x[50], y[75], w[54];
        t_fill(x, 50, 1); t_fill(w, 54, 1);
        int oh, ow;
        T_CHECK(dst_conv2d_check(&p, &oh, &ow, &e) == DST_OK && oh == 5 && ow == 5);
        T_CHECK(dst_conv2d_work_floats(&p) == 2 * 9 * 25);
        T_CHECK(dst_conv2d_forward(&p, 1, x, w, NULL, y, NULL) == DST_ERR_ARG);  /* needs work */
        p.groups = 3;
        T_CHECK(dst_conv2d_check(&p, NULL, NULL, &e) == DST_ERR_ARG && strstr(e.message, "groups 3"));
        p = dst_conv2d_params_make(2, 5, 5, 2, 1, 1, 0);
        T_CHECK(dst_conv2d_work_floats(&p) == 0);
        p.groups = 2;
        T_CHECK(dst_conv2d_work_floats(&p) == 0);
        memset(&q, 0, sizeof q);
        q.channels = 1; q.in_h = q.in_w = 4; q.kernel_h = q.kernel_w = 2;
        T_CHECK(dst_pool2d_check(&q, &oh, &ow, NULL) == DST_OK && oh == 2 && ow == 2);
        q.pad_h = 2;
        T_CHECK(dst_maxpool2d_forward(&q, 1, x, y, NULL) == DST_ERR_ARG);
        b.channels = 2; b.spatial = 1; b.eps = 1e-5f; b.momentum = 0.1f;
        T_CHECK(dst_batchnorm_forward(&b, 1, 1, x, NULL, NULL, NULL, NULL, y, w, w + 2) == DST_ERR_ARG);
        T_CHECK(dst_batchnorm_forward(&b, 2, 1, x, NULL, NULL, NULL, NULL, y, w, w + 2) == DST_OK);
    }
    return 0;
}

/* ---- training ---------------------------------------------------------------- */

/* 8x8 images: a bright 3x3 blob in one of four quadrants on noise; the class
   is the quadrant. */
static void t_blob_data(float *x, int *y, int n)
{
    int i, r, c;
    for (i = 0; i < n; ++i) {
        float *img = x + i * 64;
        int q = (int)((t_rand() + 1) * 2) & 3, r0 = (q >> 1) * 4 + ((t_rand() > 0) ? 1 : 0);
        int c0 = (q & 1) * 4 + ((t_rand() > 0) ? 1 : 0);
        for (r = 0; r < 64; ++r) img[r] = 0.3f * t_rand();
        for (r = 0; r < 3; ++r)
            for (c = 0; c < 3; ++c)
                if (r0 + r < 8 && c0 + c < 8) img[(r0 + r) * 8 + c0 + c] += 1.0f;
        y[i] = q;
    }
}

static int test_small_cnn_learns(void)
{
    enum { N = 384, T = 256 };
    static float x[N * 64], tx[T * 64];
    static int y[N], ty[T];
    dst_layer_desc L[12] = { dst_conv2d(6, 3, 1, 1), dst_batchnorm(), dst_relu(), dst_maxpool2d(2, 0, 0),
                           dst_depthwise_conv2d(6, 3, 1, 1), dst_relu(), dst_dropout2d(0.1f),
                           dst_conv2d(8, 1, 1, 0), dst_relu(), dst_avgpool2d(2, 0, 0), dst_flatten(), dst_dense(4) };
    int n = (int)(sizeof L / sizeof L[0]);
    dst_model *a = t_cnn(L, n, 1, 8, 8, 4), *b = t_cnn(L, n, 1, 8, 8, 4);
    dst_optimizer_config o = dst_optimizer_default(DST_ADAM);
    dst_fit_config f = dst_fit_default();
    float acc0, acc1;
    int same;
    T_CHECK(a && b);
    t_blob_data(x, y, N);
    t_blob_data(tx, ty, T);
    o.lr = 0.01f;
    dst_model_set_optimizer(a, &o);
    dst_model_set_optimizer(b, &o);
    dst_model_evaluate(a, tx, ty, T, 0, NULL, &acc0);
    f.epochs = 8; f.batch_size = 32;
    T_CHECK(dst_model_fit(a, x, y, N, &f) == DST_OK);
    T_CHECK(dst_model_fit(b, x, y, N, &f) == DST_OK);
    dst_model_evaluate(a, tx, ty, T, 0, NULL, &acc1);
    same = memcmp(dst_model_params(a), dst_model_params(b), dst_model_param_count(a) * sizeof(float)) == 0 &&
           memcmp(dst_model_buffers(a), dst_model_buffers(b), dst_model_buffer_count(a) * sizeof(float)) == 0;
    dst_model_free(a); dst_model_free(b);
    T_CHECK_MSG(acc1 > 0.9f && acc1 > acc0, "held-out accuracy %g -> %g", (double)acc0, (double)acc1);
    T_CHECK(same);
    return 0;
}

/* Every allocation of a CNN's creation and first step failed in turn:
   DST_ERR_NOMEM, no crash, no leak. After the first step, none at all. */
static int test_cnn_allocation_failure_and_none_per_step(void)
{
    float x[4 * 2 * 6 * 6], t[4 * 3];
    int y[4] = { 0, 1, 2, 0 }, fail, saw_nomem = 0, ok_from = 0;
    long before;
    dst_layer_desc L[11] = { dst_conv2d(4, 3, 1, 1), dst_batchnorm(), dst_relu(), dst_maxpool2d(2, 0, 0),
                           dst_depthwise_conv2d(4, 3, 1, 1), dst_dropout2d(0.2f), dst_conv2d(4, 1, 1, 0),
                           dst_avgpool2d(3, 0, 0), dst_global_avgpool(), dst_flatten(), dst_dense(3) };
    int n = (int)(sizeof L / sizeof L[0]);
    t_fill(x, sizeof x / sizeof x[0], 1); t_fill(t, 12, 1);
    for (fail = 1; fail < 16; ++fail) {
        dst_model_desc d = dst_model_desc_default();
        dst_model *m = NULL;
        dst_result r;
        d.input_c = 2; d.input_h = 6; d.input_w = 6; d.layers = L; d.layer_count = n;
        t_alloc_count = 0;
        t_alloc_fail_at = fail;
        r = dst_model_create(&m, &d, NULL);
        if (r == DST_OK) r = dst_model_train_step(m, x, y, 4, t, 2, 0.5f, NULL);
        t_alloc_fail_at = 0;
        T_CHECK(r == DST_OK || r == DST_ERR_NOMEM);
        if (r == DST_ERR_NOMEM) saw_nomem = 1;
        else if (!ok_from) ok_from = fail;
        dst_model_free(m);
    }
    T_CHECK(saw_nomem && ok_from > 0);
    {
        dst_model *m = t_cnn(L, n, 2, 6, 6, 1);
        float out[4 * 3], loss, acc;
        T_CHECK(m != NULL);
        T_CHECK(dst_model_train_step(m, x, y, 4, NULL, 0, 0, NULL) == DST_OK);
        before = t_alloc_count;
        T_CHECK(dst_model_train_step(m, x, y, 4, t, 2, 0.5f, NULL) == DST_OK);
        T_CHECK(dst_model_train_step(m, x, y, 3, NULL, 0, 0, NULL) == DST_OK);
        T_CHECK(dst_model_predict(m, x, 4, out) == DST_OK);
        T_CHECK(dst_model_evaluate(m, x, y, 4, 4, &loss, &acc) == DST_OK);
        T_CHECK_MSG(t_alloc_count == before, "%ld allocations in steps after the first", t_alloc_count - before);
        dst_model_free(m);
    }
    return 0;
}

/* ---- the convolution entries of the kernel tables ---------------------------------- */

/* What each level's table runs for convolutions against the scalar
   table (forced level against forced scalar), on odd sizes:
   - im2col and col2im (the row loops): the same bits;
   - the direct path (depthwise planes, grouped row loops): forward the
     same bits (each output adds its taps in the same order), backward
     within 1e-5 relative + 1e-5 absolute (partial sums in other orders);
   - Winograd's transforms (wino_input, wino_output with bias and ReLU,
     wino_grad) against the plain C ones: the same bits (the same
     operations per tile; only the tiles per instruction differ).
   "The same bits" where plain C computes float in float (t_plain_c_bits). */
static int t_conv_level_vs_scalar(dst_simd level, const dst_conv2d_params *p, int batch)
{
    int oh, ow, k;
    size_t xn, yn, wn, cn, i;
    float *x, *w, *b, *dy, *y[2], *dx[2], *dw[2], *db[2], *col[2], *img[2];
    T_CHECK(dst_conv2d_check(p, &oh, &ow, NULL) == DST_OK);
    xn = (size_t)batch * p->in_c * p->in_h * p->in_w;
    yn = (size_t)batch * p->out_c * oh * ow;
    wn = (size_t)p->out_c * (p->in_c / p->groups) * p->kernel_h * p->kernel_w;
    cn = (size_t)p->in_c * p->kernel_h * p->kernel_w * oh * ow;
    x = (float *)malloc(xn * 4); w = (float *)malloc(wn * 4); b = (float *)malloc((size_t)p->out_c * 4);
    dy = (float *)malloc(yn * 4);
    for (k = 0; k < 2; ++k) {
        y[k] = (float *)malloc(yn * 4); dx[k] = (float *)malloc(xn * 4); dw[k] = (float *)malloc(wn * 4);
        db[k] = (float *)malloc((size_t)p->out_c * 4); col[k] = (float *)malloc(cn * 4);
        img[k] = (float *)malloc((size_t)p->in_c * p->in_h * p->in_w * 4);
    }
    t_fill(x, xn, 1); t_fill(w, wn, 1); t_fill(b, (size_t)p->out_c, 1); t_fill(dy, yn, 1);
    for (k = 0; k < 2; ++k) {
        T_CHECK(dst_simd_force(k == 0 ? DST_SIMD_SCALAR : level) == DST_OK);
        dst__conv2d_forward(p, DST__CONV_DIRECT, batch, x, w, b, y[k], NULL, 1, NULL);
        dst__conv2d_backward(p, DST__CONV_DIRECT, batch, x, w, dy, dx[k], dw[k], db[k], NULL, 1, NULL);
        dst_im2col(p, p->in_c, x, col[k]);
        memset(img[k], 0, (size_t)p->in_c * p->in_h * p->in_w * 4);
        dst_col2im(p, p->in_c, col[0], img[k]);
    }
    dst_simd_force(DST_SIMD_AUTO);
    T_CHECK(memcmp(col[0], col[1], cn * 4) == 0);
    T_CHECK(t_plain_c_bits(img[1], img[0], (size_t)p->in_c * p->in_h * p->in_w, "col2im"));
    T_CHECK(t_plain_c_bits(y[1], y[0], yn, "direct forward"));
    T_CHECK(t_close(dx[1], dx[0], xn, 1e-5f, 1e-5f, "direct dx"));
    T_CHECK(t_close(dw[1], dw[0], wn, 1e-5f, 1e-5f, "direct dw"));
    T_CHECK(t_close(db[1], db[0], (size_t)p->out_c, 1e-5f, 1e-5f, "direct db"));
    for (i = 0; i < 2; ++i) { free(y[i]); free(dx[i]); free(dw[i]); free(db[i]); free(col[i]); free(img[i]); }
    free(x); free(w); free(b); free(dy);
    return 0;
}

static int t_wino_level_vs_scalar(const dst__kernels *kt, int c, int k, int h, int w, int pad, int batch)
{
    const dst__kernels *s = dst__kernels_for(DST_SIMD_SCALAR);
    dst__wino q = dst__wino_of(c, k, h, w, pad, pad);
    size_t total = (size_t)batch * q.ntiles, g0, xn = (size_t)batch * c * h * w, yn = (size_t)batch * k * q.out_hgt * q.out_wid;
    size_t vn = 16 * (size_t)(c > k ? c : k) * q.ld;
    float *x = (float *)malloc(xn * 4), *bias = (float *)malloc((size_t)k * 4), *m = (float *)malloc(vn * 4);
    float *dyv = (float *)malloc(yn * 4), *v[2], *y[2];
    int t, r, e, ch;
    v[0] = (float *)malloc(vn * 4); v[1] = (float *)malloc(vn * 4);
    y[0] = (float *)malloc(yn * 4); y[1] = (float *)malloc(yn * 4);
    t_fill(x, xn, 1); t_fill(bias, (size_t)k, 1); t_fill(m, vn, 2); t_fill(dyv, yn, 1);
    for (g0 = 0; g0 < total; g0 += (size_t)q.per_chunk) {
        int cnt = total - g0 < (size_t)q.per_chunk ? (int)(total - g0) : q.per_chunk;
        for (t = 0; t < 2; ++t) {
            memset(v[t], 0, vn * 4);
            dst__wino_inputs(&q, t ? kt : s, x, g0, cnt, v[t]);
        }
        for (ch = 0; ch < c; ++ch)
            for (e = 0; e < 16; ++e)
                T_CHECK_MSG(t_plain_c_bits(v[1] + ((size_t)ch * 16 + e) * q.ld, v[0] + ((size_t)ch * 16 + e) * q.ld, (size_t)cnt, "wino_input"),
                            "wino_input %s, %d x %d x %d, channel %d position %d", dst_simd_name(kt->level), c, h, w, ch, e);
        if (kt->wino_grad) {
            for (t = 0; t < 2; ++t) {
                memset(v[t], 0, vn * 4);
                if (t) kt->wino_grad(&q, dyv, g0, cnt, v[t]);
                else dst__wino_grad_scalar(&q, dyv, g0, cnt, v[t]);
            }
            for (ch = 0; ch < k; ++ch)
                for (e = 0; e < 16; ++e)
                    T_CHECK_MSG(t_plain_c_bits(v[1] + ((size_t)ch * 16 + e) * q.ld, v[0] + ((size_t)ch * 16 + e) * q.ld, (size_t)cnt, "wino_grad"),
                                "wino_grad %s, channel %d position %d", dst_simd_name(kt->level), ch, e);
        }
        for (r = 0; r < 2; ++r) {
            for (t = 0; t < 2; ++t) {
                memset(y[t], 0, yn * 4);
                dst__wino_outputs(&q, t ? kt : s, m, r ? bias : NULL, r, g0, cnt, y[t]);
            }
            T_CHECK_MSG(t_plain_c_bits(y[1], y[0], yn, "wino_output"), "wino_output %s, relu %d", dst_simd_name(kt->level), r);
        }
    }
    free(x); free(bias); free(m); free(dyv); free(v[0]); free(v[1]); free(y[0]); free(y[1]);
    return 0;
}

static int test_conv_table_kernels_match_scalar(void)
{
    dst_simd levels[8];
    int nlev = t_simd_levels(levels), l, t, wino = 0;
    for (l = 0; l < nlev; ++l) {
        const dst__kernels *kt = dst__kernels_for(levels[l]);
        for (t = 0; t < 12; ++t) {
            dst_conv2d_params p = dst_conv2d_params_make(3 + t % 4, 5 + t, 7 + 2 * t, 3 + t % 4, 1 + 2 * (t % 3), 1, t % 3);
            if (t % 2) { p.groups = p.in_c; p.out_c = 2 * p.in_c; } /* depthwise, two outputs per channel */
            if (t % 4 == 3) p.stride_h = 2;                              /* no plane path for dx */
            if (t % 6 == 5) p.dilation_w = 2;
            if (t_conv_level_vs_scalar(levels[l], &p, 1 + t % 3)) {
                printf("    case %d at %s\n", t, dst_simd_name(levels[l]));
                return 1;
            }
        }
        if (kt->wino_input || kt->wino_output || kt->wino_grad) {
            static const int shapes[][6] = { { 3, 5, 9, 13, 1, 2 }, { 8, 8, 6, 35, 0, 3 }, { 17, 9, 30, 17, 2, 1 },
                                             { 4, 7, 5, 5, 1, 7 }, { 16, 24, 26, 26, 1, 2 } };
            int si;
            for (si = 0; si < 5; ++si) {
                const int *sh = shapes[si];
                if (t_wino_level_vs_scalar(kt, sh[0], sh[1], sh[2], sh[3], sh[4], sh[5])) return 1;
            }
            wino++;
        }
    }
    printf("    %d level(s): im2col, col2im, direct (planes and rows); Winograd transforms at %d\n", nlev, wino);
    return 0;
}

static const t_case conv_tests[] = {
    { "conv2d_matches_pytorch", test_conv2d_matches_pytorch },
    { "conv_pooling_matches_pytorch", test_pooling_matches_pytorch },
    { "conv_batchnorm_matches_pytorch", test_batchnorm_matches_pytorch },
    { "conv2d_gradients_every_option", test_conv2d_gradients_every_option },
    { "conv_pool_norm_dropout_gradients", test_pool_norm_dropout_gradients },
    { "conv_dropout2d_zeroes_whole_channels", test_dropout2d_zeroes_whole_channels },
    { "conv_flatten_and_layout", test_flatten_and_layout },
    { "conv_shape_errors_at_build", test_conv_shape_errors_at_build },
    { "conv_small_cnn_learns", test_small_cnn_learns },
    { "conv_cnn_allocation_failure_and_none_per_step", test_cnn_allocation_failure_and_none_per_step },
    { "conv_table_kernels_match_scalar", test_conv_table_kernels_match_scalar },
};

/* tests/test_layers.c - the table of layer kinds: every kind in
   DST_LAYER_KIND_LIST has a name, a row of operations, and builds, trains,
   saves and loads back; what is not a kind is refused everywhere. A new kind
   gets one line in t_layers_sample below. Uses t_same_model of test_file.c. */

/* One layer of kind k that takes a 2 x 6 x 6 input; 0 when the test does not
   know the kind yet (add it here). */
static int t_layers_sample(int k, dst_layer_desc *d)
{
    switch (k) {
    case DST_LAYER_DENSE: *d = dst_dense(4); d->init = DST_INIT_XAVIER_UNIFORM; return 1;
    case DST_LAYER_RELU: *d = dst_relu(); return 1;
    case DST_LAYER_LEAKY_RELU: *d = dst_leaky_relu(0.2f); return 1;
    case DST_LAYER_SIGMOID: *d = dst_sigmoid(); return 1;
    case DST_LAYER_TANH: *d = dst_tanh(); return 1;
    case DST_LAYER_GELU: *d = dst_gelu(); return 1;
    case DST_LAYER_SOFTMAX: *d = dst_softmax_layer(); return 1;
    case DST_LAYER_DROPOUT: *d = dst_dropout(0.25f); return 1;
    case DST_LAYER_CONV2D: *d = dst_conv2d(4, 3, 1, 1); d->groups = 2; return 1;
    case DST_LAYER_MAXPOOL2D: *d = dst_maxpool2d(2, 0, 0); return 1;
    case DST_LAYER_AVGPOOL2D: *d = dst_avgpool2d(3, 2, 1); return 1;
    case DST_LAYER_GLOBAL_AVGPOOL: *d = dst_global_avgpool(); return 1;
    case DST_LAYER_BATCHNORM: *d = dst_batchnorm(); return 1;
    case DST_LAYER_FLATTEN: *d = dst_flatten(); return 1;
    case DST_LAYER_DROPOUT2D: *d = dst_dropout2d(0.5f); return 1;
    default: return 0;
    }
}

static void t_layers_p32(unsigned char *p, unsigned long v)
{
    p[0] = (unsigned char)(v & 255); p[1] = (unsigned char)((v >> 8) & 255);
    p[2] = (unsigned char)((v >> 16) & 255); p[3] = (unsigned char)((v >> 24) & 255);
}

/* Names and rows: one of each per value, nothing beyond the count. */
static int test_layers_every_kind_has_a_name_and_a_row(void)
{
    int k, j;
    T_CHECK(DST_LAYER_KIND_COUNT == (int)(sizeof dst__layer_kinds / sizeof dst__layer_kinds[0]));
    for (k = 0; k < DST_LAYER_KIND_COUNT; ++k) {
        const char *name = dst_layer_name((dst_layer_kind)k), *c;
        const dst__layer_ops *ops = dst__layer_kinds[k];
        T_CHECK_MSG(name && name[0] && strcmp(name, "unknown") != 0, "kind %d has no name", k);
        for (c = name; *c; ++c) T_CHECK_MSG((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_', "%s", name);
        for (j = 0; j < k; ++j) T_CHECK_MSG(strcmp(name, dst_layer_name((dst_layer_kind)j)) != 0, "%s twice", name);
        T_CHECK_MSG(ops && ops->shape && ops->forward && ops->backward, "kind %d (%s) has no row", k, name);
    }
    T_CHECK(strcmp(dst_layer_name(DST_LAYER_DENSE), "dense") == 0);
    T_CHECK(strcmp(dst_layer_name(DST_LAYER_DROPOUT2D), "dropout2d") == 0 && DST_LAYER_DROPOUT2D == 14);
    T_CHECK(strcmp(dst_layer_name((dst_layer_kind)DST_LAYER_KIND_COUNT), "unknown") == 0);
    return 0;
}

/* A model of kind k (input 2 x 6 x 6): the sample layer then a dense layer
   of 3, or a dense layer then the sample when the sample must end a model. */
static dst_model *t_layers_model(int k)
{
    dst_layer_desc l[2];
    dst_model_desc d = dst_model_desc_default();
    dst_model *m;
    int at = k == DST_LAYER_SOFTMAX ? 1 : 0;
    if (!t_layers_sample(k, &l[at])) return NULL;
    l[1 - at] = dst_dense(3);
    d.input_c = 2; d.input_h = 6; d.input_w = 6;
    d.layers = l; d.layer_count = 2; d.seed = 11;
    return dst_model_create(&m, &d, NULL) == DST_OK ? m : NULL;
}

/* Every kind builds, trains (forward and backward), and comes back from the
   weight file with the same description, parameters, buffers and outputs. */
static int test_layers_every_kind_trains_and_round_trips(void)
{
    int k;
    for (k = 0; k < DST_LAYER_KIND_COUNT; ++k) {
        dst_model *m = t_layers_model(k), *l = NULL;
        dst_optimizer_config o = dst_optimizer_default(DST_ADAM);
        float x[4 * 72], keep[4 * 3], loss = 0;
        const float *y;
        int labels[4] = { 0, 1, 2, 0 }, s, bad = 0, i;
        unsigned char *buf = NULL;
        size_t len = 0;
        dst_error e;
        dst_layer_desc sample;
        T_CHECK_MSG(t_layers_sample(k, &sample), "kind %d (%s): give it a sample layer in tests/test_layers.c", k,
                    dst_layer_name((dst_layer_kind)k));
        T_CHECK_MSG(m != NULL, "kind %d (%s): the sample model does not build", k, dst_layer_name((dst_layer_kind)k));
        t_fill(x, sizeof x / sizeof x[0], 1);
        dst_model_set_optimizer(m, &o);
        for (s = 0; s < 2 && !bad; ++s)
            bad = dst_model_train_step(m, x, labels, 4, NULL, 0, 0, &loss) != DST_OK || !(loss == loss);
        bad = bad || dst_model_forward(m, x, 4, 0, &y) != DST_OK;
        if (!bad) memcpy(keep, y, sizeof keep);
        bad = bad || dst_model_save_memory(m, &buf, &len, &e) != DST_OK;
        bad = bad || dst_model_load_memory(&l, buf, len, &e) != DST_OK;
        if (!bad) {
            bad = t_same_model(m, l);
            bad = bad || dst_model_forward(l, x, 4, 0, &y) != DST_OK || memcmp(keep, y, sizeof keep) != 0;
        }
        for (i = 0; i < 2 && !bad; ++i) {
            dst_layer_info info;
            int want = i == (k == DST_LAYER_SOFTMAX ? 1 : 0) ? k : (int)DST_LAYER_DENSE;
            bad = dst_model_layer(l, i, &info) != DST_OK || (int)info.desc.kind != want;
        }
        if (bad) printf("    kind %d (%s): %s\n", k, dst_layer_name((dst_layer_kind)k), l ? "differs after loading" : e.message);
        dst_free(buf);
        dst_model_free(l);
        dst_model_free(m);
        if (bad) return 1;
    }
    return 0;
}

/* A value past the list is no kind: refused by create, and by the reader. */
static int test_layers_unknown_kind_refused(void)
{
    dst_layer_desc l[2];
    dst_model_desc d = dst_model_desc_default();
    dst_model *m = NULL, *l2 = NULL;
    dst_error e;
    unsigned char *buf = NULL;
    size_t len = 0;
    const size_t record0 = 32 + 16 + 32; /* the header, ARCH's chunk header, ARCH's own */
    dst_result r;
    l[0] = dst_dense(3);
    l[0].kind = (dst_layer_kind)DST_LAYER_KIND_COUNT;
    d.input_c = 4; d.layers = l; d.layer_count = 1;
    T_CHECK(dst_model_create(&m, &d, &e) == DST_ERR_ARG && m == NULL && strstr(e.message, "unknown kind"));
    l[0] = dst_dense(3);
    l[1] = dst_relu();
    d.layer_count = 2;
    T_CHECK(dst_model_create(&m, &d, NULL) == DST_OK);
    T_CHECK(dst_model_save_memory(m, &buf, &len, &e) == DST_OK);
    dst_model_free(m);
    T_CHECK(len > record0 + 64 && memcmp(buf + 32, "ARCH", 4) == 0 && buf[record0 + 64] == DST_LAYER_RELU);
    t_layers_p32(buf + record0 + 64, (unsigned long)DST_LAYER_KIND_COUNT);
    t_layers_p32(buf + 24, dst_crc32(0, buf + 32, len - 32));
    t_layers_p32(buf + 28, dst_crc32(0, buf, 28));
    r = dst_model_load_memory(&l2, buf, len, &e);
    dst_free(buf);
    T_CHECK_MSG(r == DST_ERR_FORMAT && l2 == NULL && strstr(e.message, "layer 1: unknown layer kind"), "%s", e.message);
    return 0;
}

static const t_case layers_tests[] = {
    { "layers_every_kind_has_a_name_and_a_row", test_layers_every_kind_has_a_name_and_a_row },
    { "layers_every_kind_trains_and_round_trips", test_layers_every_kind_trains_and_round_trips },
    { "layers_unknown_kind_refused", test_layers_unknown_kind_refused },
};

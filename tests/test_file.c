/* tests/test_file.c - the weight file (docs/FORMAT.md): round trips of every
   layer kind, loading in place, broken files, a host-independent writer,
   atomic saves, checkpoints that resume bit for bit, metadata and .npy. */

/* A model with every layer kind (conv part then dense part), trained a few
   steps so that nothing is at its initial value. */
static dst_model *t_file_model(int train)
{
    dst_layer_desc L[16];
    dst_model_desc d = dst_model_desc_default();
    dst_model *m;
    int n = 0;
    L[n++] = dst_conv2d(4, 3, 1, 1);
    L[n] = dst_conv2d(6, 3, 2, 1); L[n].kernel_w = 2; L[n].dilation_h = 2; L[n].groups = 2; L[n].pad_w = 0; n++;
    L[n++] = dst_batchnorm();
    L[n++] = dst_relu();
    L[n++] = dst_depthwise_conv2d(6, 3, 1, 1);
    L[n++] = dst_maxpool2d(2, 0, 0);
    L[n++] = dst_dropout2d(0.25f);
    L[n++] = dst_avgpool2d(3, 1, 1);
    L[n++] = dst_leaky_relu(0.05f);
    L[n++] = dst_flatten();
    L[n] = dst_dense(12); L[n].init = DST_INIT_HE_NORMAL; n++;
    L[n++] = dst_gelu();
    L[n++] = dst_dropout(0.1f);
    L[n++] = dst_tanh();
    L[n] = dst_dense(5); L[n].no_bias = 1; n++;
    L[n++] = dst_sigmoid();
    d.input_c = 2; d.input_h = 9; d.input_w = 8;
    d.layers = L; d.layer_count = n; d.seed = 7;
    if (dst_model_create(&m, &d, NULL) != DST_OK) return NULL;
    if (train) {
        float x[4 * 2 * 9 * 8];
        int y[4] = { 0, 1, 2, 3 }, s;
        dst_optimizer_config o = dst_optimizer_default(DST_ADAM);
        t_fill(x, sizeof x / sizeof x[0], 1);
        dst_model_set_optimizer(m, &o);
        for (s = 0; s < 3; ++s) dst_model_train_step(m, x, y, 4, NULL, 0, 0, NULL);
    }
    return m;
}

static dst_model *t_file_model_global_softmax(void)
{
    dst_layer_desc L[4];
    dst_model_desc d = dst_model_desc_default();
    dst_model *m;
    L[0] = dst_conv2d(3, 1, 1, 0);
    L[1] = dst_global_avgpool();
    L[2] = dst_dense(4);
    L[3] = dst_softmax_layer();
    d.input_c = 2; d.input_h = 5; d.input_w = 5; d.layers = L; d.layer_count = 4;
    return dst_model_create(&m, &d, NULL) == DST_OK ? m : NULL;
}

/* Same descriptions, parameters and buffers, bit for bit. */
static int t_same_model(dst_model *a, dst_model *b)
{
    int i;
    T_CHECK(dst_model_layer_count(a) == dst_model_layer_count(b));
    T_CHECK(dst_model_param_count(a) == dst_model_param_count(b));
    T_CHECK(dst_model_buffer_count(a) == dst_model_buffer_count(b));
    T_CHECK(dst_model_input_size(a) == dst_model_input_size(b));
    for (i = 0; i < dst_model_layer_count(a); ++i) {
        dst_layer_info x, y;
        memset(&x, 0, sizeof x); /* the padding too: the structs are compared whole */
        memset(&y, 0, sizeof y);
        T_CHECK(dst_model_layer(a, i, &x) == DST_OK && dst_model_layer(b, i, &y) == DST_OK);
        T_CHECK_MSG(memcmp(&x, &y, sizeof x) == 0, "layer %d differs", i);
        T_CHECK(memcmp(dst_model_params(a) + x.param_offset, dst_model_params(b) + y.param_offset,
                       (x.weight_count + x.bias_count) * sizeof(float)) == 0);
    }
    if (dst_model_buffer_count(a))
        T_CHECK(memcmp(dst_model_buffers(a), dst_model_buffers(b), dst_model_buffer_count(a) * sizeof(float)) == 0);
    return 0;
}

/* Both models' inference outputs on the same input, bit for bit. */
static int t_same_outputs(dst_model *a, dst_model *b)
{
    float x[3 * 2 * 9 * 8];
    const float *ya, *yb;
    float keep[3 * 16];
    size_t n = dst_model_input_size(a), k = dst_model_output_size(a);
    T_CHECK(n * 3 <= sizeof x / sizeof x[0] && k * 3 <= sizeof keep / sizeof keep[0]);
    t_fill(x, n * 3, 2);
    T_CHECK(dst_model_forward(a, x, 3, 0, &ya) == DST_OK);
    memcpy(keep, ya, k * 3 * sizeof(float));
    T_CHECK(dst_model_forward(b, x, 3, 0, &yb) == DST_OK);
    T_CHECK(memcmp(keep, yb, k * 3 * sizeof(float)) == 0);
    return 0;
}

static int test_file_round_trip_every_layer_kind(void)
{
    dst_model *m = t_file_model(1), *g = t_file_model_global_softmax(), *l = NULL;
    unsigned char *buf = NULL;
    size_t len;
    dst_error e;
    int bad = 0;
    T_CHECK(m && g);
    T_CHECK(dst_model_meta_set_string(m, "classes", "a,b,c,d,e") == DST_OK);
    T_CHECK(dst_model_meta_set_number(m, "temperature", 4.5) == DST_OK);
    T_CHECK(dst_model_save_memory(m, &buf, &len, &e) == DST_OK);
    T_CHECK_MSG(dst_model_load_memory(&l, buf, len, &e) == DST_OK, "%s", e.message);
    bad = t_same_model(m, l) || t_same_outputs(m, l);
    if (!bad) {
        double t = 0;
        bad = !(dst_model_meta_count(l) == 2 && strcmp(dst_model_meta_key(l, 0), "classes") == 0 &&
                strcmp(dst_model_meta_string(l, "classes"), "a,b,c,d,e") == 0 &&
                dst_model_meta_number(l, "temperature", &t) == 1 && t == 4.5 &&
                dst_model_meta_string(l, "temperature") == NULL && dst_model_meta_number(l, "classes", &t) == 0);
    }
    dst_model_free(l);
    dst_free(buf);
    buf = NULL;
    l = NULL;
    if (!bad && dst_model_save_memory(g, &buf, &len, &e) == DST_OK && dst_model_load_memory(&l, buf, len, &e) == DST_OK)
        bad = t_same_model(g, l) || t_same_outputs(g, l);
    else
        bad = 1;
    dst_model_free(l);
    dst_free(buf);
    dst_model_free(m);
    dst_model_free(g);
    return bad;
}

static int test_file_save_load_path(void)
{
    const char *path = "build/test_file_model.dst";
    dst_model *m = t_file_model(1), *l = NULL;
    dst_error e;
    int bad;
    T_CHECK(m);
    T_CHECK_MSG(dst_model_save(m, path, &e) == DST_OK, "%s", e.message);
    T_CHECK_MSG(dst_model_load(&l, path, &e) == DST_OK, "%s", e.message);
    bad = t_same_model(m, l) || t_same_outputs(m, l);
    dst_model_free(l);
    dst_model_free(m);
    remove(path);
    T_CHECK(dst_model_load(&l, path, &e) == DST_ERR_IO && l == NULL);
    return bad;
}

static const t_case file_tests[] = {
    { "file_round_trip_every_layer_kind", test_file_round_trip_every_layer_kind },
    { "file_save_load_path", test_file_save_load_path },
};

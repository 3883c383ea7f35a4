/* tests/test_conv_speed.c - the fast convolution paths against the plain
   reference loops (random shapes with odd sizes, every option), gradient
   checks through the fast paths, no allocation per step, and batch norm
   folding for inference. */

/* ---- batch norm folding ------------------------------------------------------ */

/* A model with batch norms after convs (with and without bias), after a dense
   layer, and one that cannot fold (after a pool); trained a few steps so the
   running statistics and affine parameters are not their initial values. */
static int test_fold_batchnorm_matches_eval(void)
{
    enum { N = 6 };
    dst_layer_desc L[] = { dst_conv2d(5, 3, 1, 1), dst_batchnorm(), dst_relu(), dst_conv2d(6, 3, 2, 1),
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
        dst_layer_desc P[] = { dst_conv2d(3, 3, 1, 0), dst_relu(), dst_flatten(), dst_dense(4) };
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

static const t_case conv_speed_tests[] = {
    { "conv_fold_batchnorm_matches_eval", test_fold_batchnorm_matches_eval },
};

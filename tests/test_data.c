/* tests/test_data.c - IDX parsing (good and broken buffers), gzip through
   stb_image, CRC32, and a short end-to-end run on real Fashion-MNIST. */

static const char *t_fashion_dir = "/usr/share/datasets/fashion-mnist";

static int test_idx_parse_types_and_shapes(void)
{
    unsigned char u8[] = { 0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 1, 2, 255, 0 };
    unsigned char f32[] = { 0, 0, 0x0D, 1, 0, 0, 0, 1, 0x3F, 0xC0, 0, 0 }; /* 1.5f big-endian */
    unsigned char i16[] = { 0, 0, 0x0B, 1, 0, 0, 0, 1, 0xFF, 0xFE };     /* -2 */
    dst_idx idx;
    dst_error e;
    T_CHECK(dst_idx_parse(u8, sizeof u8, &idx, &e) == DST_OK);
    T_CHECK(idx.ndim == 3 && idx.dims[0] == 2 && idx.dims[2] == 2 && idx.count == 4);
    T_CHECK(idx.data[0] == 1 && idx.data[2] == 255);
    dst_idx_free(&idx);
    T_CHECK(dst_idx_parse(f32, sizeof f32, &idx, &e) == DST_OK && idx.data[0] == 1.5f);
    dst_idx_free(&idx);
    T_CHECK(dst_idx_parse(i16, sizeof i16, &idx, &e) == DST_OK && idx.data[0] == -2);
    dst_idx_free(&idx);
    return 0;
}

static int test_idx_parse_rejects_broken_buffers(void)
{
    unsigned char good[] = { 0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4 };
    unsigned char b[sizeof good];
    dst_idx idx;
    dst_error e;
    size_t cut;
    for (cut = 0; cut < sizeof good; ++cut) /* every truncation */
        T_CHECK(dst_idx_parse(good, cut, &idx, &e) == DST_ERR_FORMAT && idx.data == NULL);
    memcpy(b, good, sizeof b); b[0] = 0x1f;
    T_CHECK(dst_idx_parse(b, sizeof b, &idx, &e) == DST_ERR_FORMAT && strstr(e.message, "magic"));
    memcpy(b, good, sizeof b); b[2] = 0x07;
    T_CHECK(dst_idx_parse(b, sizeof b, &idx, &e) == DST_ERR_FORMAT && strstr(e.message, "type"));
    memcpy(b, good, sizeof b); b[3] = 9;
    T_CHECK(dst_idx_parse(b, sizeof b, &idx, &e) == DST_ERR_FORMAT && strstr(e.message, "dimensions"));
    memcpy(b, good, sizeof b); b[4] = b[5] = b[6] = b[7] = 0xFF; /* huge count: no allocation attempted */
    T_CHECK(dst_idx_parse(b, sizeof b, &idx, &e) == DST_ERR_FORMAT);
    memcpy(b, good, sizeof b); b[7] = 0;
    T_CHECK(dst_idx_parse(b, sizeof b, &idx, &e) == DST_ERR_FORMAT && strstr(e.message, "dimension 0"));
    T_CHECK(dst_idx_parse(NULL, 4, &idx, &e) == DST_ERR_ARG);
    return 0;
}

static int test_crc32_known_value(void)
{
    T_CHECK(dst_crc32(0, "123456789", 9) == 0xCBF43926u);
    T_CHECK(dst_crc32(dst_crc32(0, "1234", 4), "56789", 5) == 0xCBF43926u);
    return 0;
}

static int test_gunzip_real_file_and_corruption(void)
{
    char path[512];
    unsigned char *gz = NULL, *plain = NULL;
    size_t len = 0, plain_len = 0;
    dst_error e;
    dst_idx idx;
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte.gz", t_fashion_dir);
    T_CHECK_MSG(dst__read_file(path, &gz, &len, NULL, &e) == DST_OK, "%s (install Debian's dataset-fashion-mnist)", e.message);
    T_CHECK(dst_gunzip(gz, len, &plain, &plain_len, &e) == DST_OK);
    T_CHECK(plain_len == 10008 && plain[2] == 0x08);
    dst_free(plain);
    gz[len / 2] ^= 0x10; /* a flipped bit: caught by inflate or the CRC */
    T_CHECK(dst_gunzip(gz, len, &plain, &plain_len, &e) == DST_ERR_FORMAT && plain == NULL);
    gz[len / 2] ^= 0x10;
    T_CHECK(dst_gunzip(gz, len - 5, &plain, &plain_len, &e) == DST_ERR_FORMAT);
    T_CHECK(dst_gunzip(gz, 10, &plain, &plain_len, &e) == DST_ERR_FORMAT);
    dst_free(gz);
    T_CHECK(dst_idx_load(path, &idx, &e) == DST_OK && idx.count == 10000);
    dst_idx_free(&idx);
    T_CHECK(dst_idx_load("/nonexistent/x.gz", &idx, &e) == DST_ERR_IO && strstr(e.message, "/nonexistent"));
    return 0;
}

/* Real data end to end: a teacher, a label-only student and a distilled one
   (from cached logits) on a slice of Fashion-MNIST. */
static int test_fashion_mnist_end_to_end(void)
{
    dst_mnist d;
    dst_error e;
    dst_layer_desc T[3] = { dst_dense(128), dst_relu(), dst_dense(10) };
    dst_layer_desc S[3] = { dst_dense(16), dst_relu(), dst_dense(10) };
    dst_model *teacher, *plain, *distilled;
    dst_optimizer_config o = dst_optimizer_default(DST_ADAM);
    dst_fit_config f = dst_fit_default();
    dst_teacher t;
    float *cache, acc_t, acc_p, acc_d, min_t = 0.78f, min_s = 0.70f;
    size_t N = 8000, NT = 2000;
    int batch = 64;
    if (t_quick()) { /* an eighth of the work: batches of 16 keep the steps up (measured 0.75, 0.65, 0.66) */
        N = 1000; NT = 1000; batch = 16; min_t = 0.70f; min_s = 0.58f;
        printf("    DST_TEST_QUICK: %lu training images in batches of %d and %lu test images (not 8000, 64 and 2000); "
               "accuracy above %.2f (teacher) and %.2f (students)\n", (unsigned long)N, batch, (unsigned long)NT,
               (double)min_t, (double)min_s);
    }
    T_CHECK_MSG(dst_mnist_load(t_fashion_dir, &d, &e) == DST_OK, "%s (install Debian's dataset-fashion-mnist)", e.message);
    T_CHECK(d.train_count == 60000 && d.test_count == 10000 && d.rows == 28 && d.classes == 10);
    teacher = t_model(T, 3, 784, 1);
    plain = t_model(S, 3, 784, 2);
    distilled = t_model(S, 3, 784, 2);
    dst_model_set_optimizer(teacher, &o);
    dst_model_set_optimizer(plain, &o);
    dst_model_set_optimizer(distilled, &o);
    f.epochs = 3; f.batch_size = batch;
    T_CHECK(dst_model_fit(teacher, d.train_x, d.train_y, N, &f) == DST_OK);
    T_CHECK(dst_model_fit(plain, d.train_x, d.train_y, N, &f) == DST_OK);
    cache = (float *)malloc((size_t)N * 10 * sizeof(float));
    t = dst_teacher_model(teacher);
    T_CHECK(dst_teacher_cache(&t, d.train_x, 784, N, cache, &e) == DST_OK);
    t = dst_teacher_logits(cache, N, 10);
    f.teacher = &t; f.temperature = 4; f.alpha = 0.9f;
    T_CHECK(dst_model_fit(distilled, d.train_x, d.train_y, N, &f) == DST_OK);
    dst_model_evaluate(teacher, d.test_x, d.test_y, NT, 0, NULL, &acc_t);
    dst_model_evaluate(plain, d.test_x, d.test_y, NT, 0, NULL, &acc_p);
    dst_model_evaluate(distilled, d.test_x, d.test_y, NT, 0, NULL, &acc_d);
    free(cache);
    dst_model_free(teacher); dst_model_free(plain); dst_model_free(distilled);
    dst_mnist_free(&d);
    T_CHECK_MSG(acc_t > min_t && acc_p > min_s && acc_d > min_s, "teacher %.3f plain %.3f distilled %.3f",
                (double)acc_t, (double)acc_p, (double)acc_d);
    return 0;
}

static const t_case data_tests[] = {
    { "idx_parse_types_and_shapes", test_idx_parse_types_and_shapes },
    { "idx_parse_rejects_broken_buffers", test_idx_parse_rejects_broken_buffers },
    { "crc32_known_value", test_crc32_known_value },
    { "gunzip_real_file_and_corruption", test_gunzip_real_file_and_corruption },
    { "fashion_mnist_end_to_end", test_fashion_mnist_end_to_end },
};

/* tests/test_dataset.c - data sets of your own: the CSV reader (every
   feature, every error), .npy tables, stratified splits, normalisation
   through the weight file, keep-best and patience in fit, image folders
   (PNG and BMP files written at run time with stb_image_write). */

static dst_result t_csv(const char *text, const char *label, int header, dst_dataset *d, dst_error *e)
{
    dst_csv_options o = dst_csv_options_default();
    o.label = label;
    o.header = header;
    return dst_csv_parse(text, strlen(text), &o, d, e);
}

static int test_csv_header_names_quotes_crlf_comments(void)
{
    const char *text = "\xEF\xBB\xBF# a game's table\r\n"
                       "speed, \"size\",species,score\r\n"
                       "\r\n"
                       "1.5,2,\"cat, big\",7\r\n"
                       "  # a comment between rows\n"
                       "-3e1,\"4\",dog,8\r\n"
                       "0.25 ,6,\"say \"\"hi\"\"\",9";
    dst_dataset d;
    dst_error e;
    T_CHECK_MSG(t_csv(text, "species", -1, &d, &e) == DST_OK, "%s", e.message);
    T_CHECK(d.count == 3 && d.channels == 1 && d.height == 1 && d.width == 3 && d.classes == 3);
    T_CHECK(d.x[0] == 1.5f && d.x[1] == 2 && d.x[2] == 7 && d.x[3] == -30 && d.x[4] == 4 && d.x[8] == 9);
    T_CHECK(d.x[6] == 0.25f);
    /* names sorted by byte value: "cat, big" < "dog" < "say "hi"" */
    T_CHECK(d.class_names && strcmp(d.class_names[0], "cat, big") == 0 && strcmp(d.class_names[1], "dog") == 0 &&
            strcmp(d.class_names[2], "say \"hi\"") == 0);
    T_CHECK(d.y[0] == 0 && d.y[1] == 1 && d.y[2] == 2);
    T_CHECK(dst_dataset_sample_size(&d) == 3);
    dst_dataset_free(&d);
    /* the same column by its 0-based index, and the header given */
    T_CHECK(t_csv(text, "2", 1, &d, &e) == DST_OK && d.count == 3 && d.classes == 3);
    dst_dataset_free(&d);
    /* a header name made of digits is found by name first */
    T_CHECK(t_csv("a,0\n1,5\n2,6\n", "0", 1, &d, &e) == DST_OK && d.classes == 7 && d.x[0] == 1);
    dst_dataset_free(&d);
    return 0;
}

static int test_csv_whole_number_labels_and_guessing(void)
{
    dst_dataset d;
    dst_error e;
    dst_csv_options o = dst_csv_options_default();
    const char *const names[3] = { "setosa", "versicolor", "virginica" };
    /* sklearn's iris.csv: a first line that is not column names but is not numbers either */
    const char *iris = "150,4,setosa,versicolor,virginica\n5.1,3.5,1.4,0.2,0\n7.0,3.2,4.7,1.4,1\n6.3,3.3,6.0,2.5,2\n";
    T_CHECK_MSG(t_csv(iris, NULL, -1, &d, &e) == DST_OK, "%s", e.message);
    T_CHECK(d.count == 3 && d.width == 4 && d.classes == 3 && d.class_names == NULL);
    T_CHECK(d.y[0] == 0 && d.y[1] == 1 && d.y[2] == 2 && d.x[4] == 7.0f);
    dst_dataset_free(&d);
    /* sklearn's wine_data.csv: a first line of another length is a preamble, skipped */
    T_CHECK_MSG(t_csv("178,13,class_0,class_1,class_2\n14.23,1.71,2.43,0\n13.2,1.78,2.14,1\n", "3", -1, &d, &e) == DST_OK,
                "%s", e.message);
    T_CHECK(d.count == 2 && d.width == 3 && d.classes == 2 && d.x[0] == (float)14.23f && d.y[1] == 1);
    dst_dataset_free(&d);
    /* no header: the label first, whole numbers are the class numbers (5 -> classes 6) */
    T_CHECK(t_csv("5,1,2\n0,3,4\n", "0", -1, &d, &e) == DST_OK && d.count == 2 && d.classes == 6 && d.y[0] == 5 &&
            d.x[0] == 1 && d.x[3] == 4);
    dst_dataset_free(&d);
    /* "07" or "1.0" are names, not numbers */
    T_CHECK(t_csv("1,07\n2,1.0\n", NULL, 0, &d, &e) == DST_OK && d.classes == 2 && d.class_names &&
            strcmp(d.class_names[0], "07") == 0);
    dst_dataset_free(&d);
    /* a test file numbered by the training set's names, in their order; a semicolon delimiter */
    o.classes = names;
    o.class_count = 3;
    o.delimiter = ';';
    T_CHECK(dst_csv_parse("1;virginica\n2;setosa\n", 20, &o, &d, &e) == DST_OK && d.classes == 3 &&
            d.y[0] == 2 && d.y[1] == 0 && strcmp(d.class_names[1], "versicolor") == 0);
    dst_dataset_free(&d);
    T_CHECK(dst_csv_parse("1;virginica\n2;tulip\n", 20, &o, &d, &e) == DST_ERR_FORMAT &&
            strstr(e.message, "line 2: class 'tulip' is not one of the 3 known classes"));
    T_CHECK(d.x == NULL && d.y == NULL && d.count == 0);
    return 0;
}

static int test_csv_errors(void)
{
    static const struct { const char *text, *label; int header; const char *want; } bad[] = {
        { "", NULL, -1, "no rows" },
        { "# only a comment\n\n  \n", NULL, -1, "no rows" },
        { "a,b\n", NULL, 1, "no data rows" },
        { "a,b\n1,\n", NULL, 1, "line 2, column 1: empty field (a missing value)" },
        { "a,b,c\n1,2,3\n4,,6\n", NULL, 1, "line 3, column 1: empty field" },
        { "a,b,c\n1,2,3\n\"\",5,6\n", NULL, 1, "line 3, column 0: empty field" },
        { "a,b\n1,x\n2,y\n1e,x\n", "b", 1, "line 4, column 0: '1e' is not a finite number" },
        { "1,2\n3,nan\n", "0", 0, "line 2, column 1: 'nan' is not a finite number" },
        { "1,2\n1e99,3\n", "1", 0, "'1e99' is not a finite number" },
        { "1,2,3\n4,5\n", NULL, 0, "line 2: 2 fields, the first row has 3" },
        { "1,2\n4,5,6\n", NULL, 0, "line 2: 3 fields, the first row has 2" },
        { "a,b\n1,2\n", "species", 1, "no column is named 'species'" },
        { "1,2\n3,4\n", "species", 0, "label column 'species': the file has no header row" },
        { "1,2\n3,4\n", "2", 0, "label column 2: the rows have 2 columns (0 to 1)" },
        { "1\n2\n", NULL, 0, "line 1: one column" },
        { "1,\"2\n3,4\n", NULL, 0, "line 1, column 1: the quote opened here is never closed" },
        { "1,\"2\"x\n", NULL, 0, "line 1, column 1: text after the closing quote" },
        { "1,2\n3,xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n", "0", 0,
          "line 2, column 1: '(a long field)' is not a finite number" },
    };
    dst_dataset d;
    dst_error e;
    size_t i;
    char big[400];
    for (i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        dst_result r = t_csv(bad[i].text, bad[i].label, bad[i].header, &d, &e);
        T_CHECK_MSG(r == DST_ERR_FORMAT && strstr(e.message, bad[i].want), "case %lu: %s, '%s'", (unsigned long)i,
                    dst_result_string(r), e.message);
        T_CHECK(d.x == NULL && d.class_names == NULL);
    }
    memset(big, 'a', sizeof big);
    memcpy(big, "1,", 2);
    big[sizeof big - 1] = 0;
    T_CHECK(t_csv(big, NULL, 0, &d, &e) == DST_ERR_FORMAT && strstr(e.message, "a label over 255 bytes"));
    {   /* more different labels than DST_CSV_MAX_CLASSES */
        size_t cap = (DST_CSV_MAX_CLASSES + 2) * 12, n = 0;
        char *many = (char *)malloc(cap);
        int k;
        T_CHECK(many != NULL);
        for (k = 0; k <= DST_CSV_MAX_CLASSES; ++k) n += (size_t)sprintf(many + n, "1,c%d\n", k);
        T_CHECK(t_csv(many, NULL, 0, &d, &e) == DST_ERR_FORMAT && strstr(e.message, "more than 4096 different labels"));
        free(many);
    }
    T_CHECK(dst_csv_parse(NULL, 0, NULL, NULL, &e) == DST_ERR_ARG);
    T_CHECK(dst_csv_load("build/no-such.csv", NULL, &d, &e) == DST_ERR_IO && strstr(e.message, "no-such.csv"));
    return 0;
}

static int test_csv_load_file_and_alloc_failures(void)
{
    const char *path = "build/test_dataset.csv", *text = "x,y,label\n1,2,a\n3,4,b\n5,6,a\n";
    dst_dataset d;
    dst_error e;
    FILE *f = fopen(path, "wb");
    long k;
    T_CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
    T_CHECK(dst_csv_load(path, NULL, &d, &e) == DST_OK && d.count == 3 && d.classes == 2 && d.y[2] == 0);
    dst_dataset_free(&d);
    T_CHECK(dst_csv_load(path, NULL, &d, &e) == DST_OK);
    dst_dataset_free(&d);
    for (k = 1; k < 40; ++k) { /* every allocation failing in turn: an error, nothing leaked */
        dst_result r;
        t_alloc_fail_at = t_alloc_count + k;
        r = dst_csv_parse(text, strlen(text), NULL, &d, &e);
        t_alloc_fail_at = 0;
        T_CHECK(r == DST_OK || r == DST_ERR_NOMEM);
        dst_dataset_free(&d);
    }
    f = fopen(path, "wb");
    T_CHECK(f != NULL);
    fputs("x,y\n1,\n", f);
    fclose(f);
    T_CHECK(dst_csv_load(path, NULL, &d, &e) == DST_ERR_FORMAT &&
            strstr(e.message, "build/test_dataset.csv: line 2, column 1: empty field"));
    remove(path);
    return 0;
}

/* An IDX file: type, dims, then the values big-endian (float32 or bytes). */
static int t_write_idx(const char *path, int type, int ndim, const int *dims, const float *v)
{
    unsigned char b[4];
    int i, n = 1;
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    b[0] = b[1] = 0; b[2] = (unsigned char)type; b[3] = (unsigned char)ndim;
    fwrite(b, 1, 4, f);
    for (i = 0; i < ndim; ++i) {
        b[0] = 0; b[1] = 0; b[2] = (unsigned char)(dims[i] >> 8); b[3] = (unsigned char)dims[i];
        fwrite(b, 1, 4, f);
        n *= dims[i];
    }
    for (i = 0; i < n; ++i) {
        if (type == 0x0D) {
            uint32_t u;
            memcpy(&u, &v[i], 4);
            b[0] = (unsigned char)(u >> 24); b[1] = (unsigned char)(u >> 16); b[2] = (unsigned char)(u >> 8); b[3] = (unsigned char)u;
            fwrite(b, 1, 4, f);
        } else {
            b[0] = (unsigned char)v[i];
            fwrite(b, 1, 1, f);
        }
    }
    fclose(f);
    return 1;
}

/* Features written as float IDX are features: never divided by 255 (bytes are pixels and are). */
static int test_mnist_float_idx_not_scaled(void)
{
    static const int img_dims[3] = { 2, 1, 3 }, lab_dims[1] = { 2 };
    static const float feats[6] = { 1500, -2, 0.25f, 7, 8, 9 }, bytes[6] = { 7, 8, 9, 10, 11, 12 }, labels[2] = { 1, 0 };
    const char *names[4] = { "build/train-images-idx3-ubyte", "build/train-labels-idx1-ubyte",
                             "build/t10k-images-idx3-ubyte", "build/t10k-labels-idx1-ubyte" };
    dst_mnist d;
    dst_error e;
    int i;
    T_CHECK(t_write_idx(names[0], 0x0D, 3, img_dims, feats) && t_write_idx(names[1], 0x08, 1, lab_dims, labels) &&
            t_write_idx(names[2], 0x0D, 3, img_dims, feats) && t_write_idx(names[3], 0x08, 1, lab_dims, labels));
    T_CHECK_MSG(dst_mnist_load("build", &d, &e) == DST_OK, "%s", e.message);
    T_CHECK(d.pixels == 0 && d.train_x[0] == 1500 && d.train_x[1] == -2 && d.test_x[2] == 0.25f && d.train_y[0] == 1);
    dst_mnist_free(&d);
    T_CHECK(t_write_idx(names[2], 0x08, 3, img_dims, bytes)); /* bytes beside floats: refused */
    T_CHECK(dst_mnist_load("build", &d, &e) == DST_ERR_FORMAT && strstr(e.message, "IDX type 0x0d, the test images 0x08"));
    T_CHECK(t_write_idx(names[0], 0x08, 3, img_dims, bytes));
    T_CHECK(dst_mnist_load("build", &d, &e) == DST_OK && d.pixels == 1 && fabsf(d.train_x[0] - 7 / 255.0f) < 1e-7f);
    dst_mnist_free(&d);
    for (i = 0; i < 4; ++i) remove(names[i]);
    return 0;
}

static int test_dataset_npy_tables(void)
{
    dst_npy fx, fy;
    dst_dataset d;
    dst_error e;
    float x[6] = { 1, 2, 3, 4, 5, 6 };
    int32_t y[3] = { 2, 0, 1 };
    memset(&fx, 0, sizeof fx);
    memset(&fy, 0, sizeof fy);
    fx.dtype = DST_NPY_FLOAT32; fx.ndim = 2; fx.shape[0] = 3; fx.shape[1] = 2; fx.count = 6; fx.data = x;
    fy.dtype = DST_NPY_INT32; fy.ndim = 1; fy.shape[0] = 3; fy.count = 3; fy.data = y;
    T_CHECK(dst_dataset_from_npy(&fx, &fy, &d, &e) == DST_OK && d.count == 3 && d.width == 2 && d.classes == 3 &&
            d.x[5] == 6 && d.y[0] == 2);
    dst_dataset_free(&d);
    fy.shape[0] = 2;
    T_CHECK(dst_dataset_from_npy(&fx, &fy, &d, &e) == DST_ERR_FORMAT && strstr(e.message, "3 feature rows and 2 labels"));
    fy.shape[0] = 3;
    fy.dtype = DST_NPY_FLOAT32;
    T_CHECK(dst_dataset_from_npy(&fx, &fy, &d, &e) == DST_ERR_FORMAT && strstr(e.message, "int32"));
    fy.dtype = DST_NPY_INT32;
    y[1] = -1;
    T_CHECK(dst_dataset_from_npy(&fx, &fy, &d, &e) == DST_ERR_FORMAT && strstr(e.message, "label 1 is -1"));
    y[1] = 0;
    x[3] = NAN;
    T_CHECK(dst_dataset_from_npy(&fx, &fy, &d, &e) == DST_ERR_NONFINITE && strstr(e.message, "sample 1, value 1"));
    return 0;
}

static int test_split_stratified(void)
{
    int labels[100], counts[3] = { 0, 0, 0 }, seen[100];
    size_t order[100], order2[100], held = 0, held2 = 0, i;
    dst_error e;
    for (i = 0; i < 100; ++i) labels[i] = i < 60 ? 0 : i < 90 ? 1 : 2; /* 60, 30, 10 */
    T_CHECK(dst_split_stratified(labels, 100, 0.2f, 7, order, &held, &e) == DST_OK);
    T_CHECK(held == 12 + 6 + 2);
    memset(seen, 0, sizeof seen);
    for (i = 0; i < 100; ++i) seen[order[i]]++;
    for (i = 0; i < 100; ++i) T_CHECK(seen[i] == 1);
    for (i = 100 - held; i < 100; ++i) counts[labels[order[i]]]++;
    T_CHECK(counts[0] == 12 && counts[1] == 6 && counts[2] == 2);
    for (i = 1; i < 100 - held; ++i) T_CHECK(order[i] > order[i - 1]); /* the kept part in order */
    T_CHECK(dst_split_stratified(labels, 100, 0.2f, 7, order2, &held2, &e) == DST_OK && held2 == held &&
            memcmp(order, order2, sizeof order) == 0); /* same seed, same split */
    T_CHECK(dst_split_stratified(labels, 100, 0.2f, 8, order2, &held2, &e) == DST_OK &&
            memcmp(order, order2, sizeof order) != 0);
    /* a class of one stays whole; a class of two gives one away */
    labels[0] = 5; labels[1] = 6; labels[2] = 6;
    T_CHECK(dst_split_stratified(labels, 3, 0.1f, 1, order, &held, &e) == DST_OK && held == 1 && labels[order[2]] == 6);
    T_CHECK(dst_split_stratified(labels, 3, 0, 1, order, &held, &e) == DST_OK && held == 0);
    T_CHECK(dst_split_stratified(labels, 3, 1, 1, order, &held, &e) == DST_ERR_ARG);
    labels[0] = -1;
    T_CHECK(dst_split_stratified(labels, 3, 0.5f, 1, order, &held, &e) == DST_ERR_ARG);
    return 0;
}

static int test_dataset_subset(void)
{
    dst_dataset d, s;
    dst_error e;
    dst_csv_options o = dst_csv_options_default();
    size_t idx[2] = { 2, 0 }, wrong = 3;
    const char *text = "1,2,b\n3,4,a\n5,6,b\n";
    T_CHECK(dst_csv_parse(text, strlen(text), &o, &d, &e) == DST_OK);
    T_CHECK(dst_dataset_subset(&d, idx, 2, &s, &e) == DST_OK && s.count == 2 && s.x[0] == 5 && s.x[3] == 2 &&
            s.y[0] == 1 && s.classes == 2 && strcmp(s.class_names[1], "b") == 0 && s.width == 2);
    dst_dataset_free(&s);
    T_CHECK(dst_dataset_subset(&d, &wrong, 1, &s, &e) == DST_ERR_ARG);
    dst_dataset_free(&d);
    return 0;
}

static int test_normalization_travels_with_the_model(void)
{
    dst_layer_desc L[2];
    dst_model_desc desc = dst_model_desc_default();
    dst_model *m, *back;
    dst_error e;
    float x[2 * 6], mean[6], std[6], got_mean[6], got_std[6], scale;
    unsigned char *buf;
    size_t len;
    int i;
    dst_image_prep p;
    for (i = 0; i < 12; ++i) x[i] = (float)(i * i % 5) + (float)i;
    T_CHECK(dst_normalization_stats(x, 2, 6, 6, mean, std, &e) == DST_OK);
    T_CHECK(fabsf(mean[0] - (0 + 7) / 2.0f) < 1e-6f && fabsf(std[0] - 3.5f) < 1e-6f);
    L[0] = dst_dense(2);
    L[1] = dst_relu();
    desc.input_c = 1; desc.input_h = 1; desc.input_w = 6; desc.layers = L; desc.layer_count = 1;
    T_CHECK(dst_model_create(&m, &desc, &e) == DST_OK);
    T_CHECK(dst_model_normalization(m, &scale, got_mean, got_std, 6) == 0 && scale == 1);
    T_CHECK(dst_model_set_normalization(m, 1, mean, std, 6) == DST_OK);
    T_CHECK(dst_model_set_normalization(m, 1, mean, std, 4) == DST_ERR_ARG); /* neither 1, channels nor inputs */
    std[0] = 0;
    T_CHECK(dst_model_set_normalization(m, 1, mean, std, 6) == DST_ERR_ARG);
    std[0] = 3.5f;
    T_CHECK(dst_model_write_memory(m, &buf, &len, &e) == DST_OK);
    T_CHECK(dst_model_parse(&back, buf, len, &e) == DST_OK);
    T_CHECK(dst_model_normalization(back, &scale, got_mean, got_std, 6) == 6 && scale == 1);
    T_CHECK(memcmp(got_mean, mean, sizeof mean) == 0 && memcmp(got_std, std, sizeof std) == 0); /* bit for bit */
    T_CHECK(dst_model_normalize(back, x, 2) == DST_OK);
    for (i = 0; i < 6; ++i) T_CHECK(fabsf(x[i] + x[6 + i]) < 1e-5f && fabsf(fabsf(x[i]) - 1) < 1e-5f);
    dst_model_free(back);
    dst_free(buf);
    dst_model_free(m);
    /* per channel on a 3-channel image model; the prep carries it to dst_image_load */
    L[0] = dst_conv2d(2, 3, 1, 1);
    desc.input_c = 3; desc.input_h = 4; desc.input_w = 5;
    T_CHECK(dst_model_create(&m, &desc, &e) == DST_OK);
    mean[0] = 0.5f; mean[1] = 0.4f; mean[2] = 0.3f; std[0] = 0.25f; std[1] = 0.2f; std[2] = 0.1f;
    T_CHECK(dst_model_set_normalization(m, 1.0f / 255, mean, std, 3) == DST_OK);
    p = dst_image_prep_from_model(m);
    T_CHECK(p.channels == 3 && p.height == 4 && p.width == 5 && p.scale == (float)(1.0f / 255) &&
            p.mean[2] == (float)0.3f && p.std[1] == (float)0.2f);
    {
        float img[60];
        for (i = 0; i < 60; ++i) img[i] = 0.5f;
        T_CHECK(dst_model_normalize(m, img, 1) == DST_OK);
        T_CHECK(img[0] == 0 && fabsf(img[20] - 0.5f) < 1e-6f && fabsf(img[59] - 2) < 1e-5f);
    }
    dst_model_free(m);
    return 0;
}

/* Two blobs of points and a validation set drawn the same way. */
static void t_blobs(float *x, int *y, int n, float noise)
{
    int i;
    for (i = 0; i < n; ++i) {
        y[i] = i % 2;
        x[2 * i] = (y[i] ? 1.0f : -1.0f) + noise * t_rand();
        x[2 * i + 1] = noise * t_rand();
    }
}

typedef struct t_best { dst_model *m; float *at_best; size_t n; int epochs_seen, best; } t_best;

/* At each epoch's end: a copy of the parameters when this epoch is the best so far. */
static int t_keep_best_copy(void *user, const dst_progress *p)
{
    t_best *b = (t_best *)user;
    if (!p->epoch_done) return 0;
    b->epochs_seen++;
    b->best = p->best_epoch;
    if (p->best_epoch == p->epoch) memcpy(b->at_best, dst_model_params(b->m), b->n * sizeof(float));
    return 0;
}

static int test_fit_keep_best_and_patience(void)
{
    float x[400], vx[200], saved[128];
    int y[200], vy[100], i;
    dst_layer_desc L[3];
    dst_model_desc desc = dst_model_desc_default();
    dst_optimizer_config opt = dst_optimizer_default(DST_SGD);
    dst_fit_config fit = dst_fit_default();
    dst_model *m;
    dst_error e;
    t_best b;
    t_blobs(x, y, 200, 1.5f);
    t_blobs(vx, vy, 100, 1.5f);
    for (i = 0; i < 100; ++i) vy[i] = (int)(t_rand() > 0); /* validation labels at random: its accuracy wanders */
    L[0] = dst_dense(8); L[1] = dst_relu(); L[2] = dst_dense(2);
    desc.input_c = 2; desc.layers = L; desc.layer_count = 3;
    T_CHECK(dst_model_create(&m, &desc, &e) == DST_OK);
    opt.lr = 0.5f;
    dst_model_set_optimizer(m, &opt);
    fit.epochs = 30;
    fit.batch_size = 16;
    fit.keep_best = 1;
    T_CHECK(dst_model_fit(m, x, y, 200, &fit) == DST_ERR_ARG && strstr(dst_model_error(m), "keep_best needs validation"));
    fit.val_x = vx; fit.val_labels = vy; fit.val_count = 100;
    fit.patience = -1;
    T_CHECK(dst_model_fit(m, x, y, 200, &fit) == DST_ERR_ARG);
    fit.patience = 3;
    memset(&b, 0, sizeof b);
    b.at_best = saved;
    b.m = m;
    b.n = dst_model_param_count(m);
    T_CHECK(b.n <= 128);
    fit.progress = t_keep_best_copy;
    fit.progress_user = &b;
    T_CHECK(dst_model_fit(m, x, y, 200, &fit) == DST_OK);
    T_CHECK_MSG(b.epochs_seen < 30, "patience 3 never stopped (%d epochs)", b.epochs_seen);
    T_CHECK(b.best >= 0 && b.best == b.epochs_seen - 1 - 3); /* stopped 3 epochs after the best */
    T_CHECK(memcmp(dst_model_params(m), saved, b.n * sizeof(float)) == 0); /* the best epoch's parameters */
    dst_model_free(m);
    return 0;
}

#if defined(STBI_INCLUDE_STB_IMAGE_H) && !defined(DST_NO_STDIO) && !defined(_WIN32)
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#include <sys/stat.h>

/* An image w x h of comp components, every byte v (plus the pixel's column, so it is not flat). */
static int t_write_picture(const char *path, int w, int h, int comp, int v)
{
    unsigned char px[16 * 16 * 4];
    int i, n = strlen(path) > 4 && strcmp(path + strlen(path) - 4, ".bmp") == 0;
    for (i = 0; i < w * h * comp; ++i) px[i] = (unsigned char)(v + (i / comp) % w);
    return n ? stbi_write_bmp(path, w, h, comp, px) : stbi_write_png(path, w, h, comp, px, w * comp);
}

static int test_image_folder_load(void)
{
    const char *root = "build/test-folder";
    const char *const given[2] = { "zebra", "ant" };
    dst_image_prep p = dst_image_prep_default(3, 0, 0);
    dst_dataset d;
    dst_error e;
    FILE *f;
    mkdir("build", 0755);
    mkdir(root, 0755);
    mkdir("build/test-folder/zebra", 0755);
    mkdir("build/test-folder/ant", 0755);
    mkdir("build/test-folder/.hidden", 0755);
    T_CHECK(t_write_picture("build/test-folder/zebra/b.png", 4, 3, 1, 200));
    T_CHECK(t_write_picture("build/test-folder/zebra/a.BMP", 4, 3, 3, 100));
    T_CHECK(t_write_picture("build/test-folder/ant/z.png", 4, 3, 3, 10));
    T_CHECK((f = fopen("build/test-folder/ant/notes.txt", "w")) != NULL);
    fputs("not a picture", f);
    fclose(f);
    T_CHECK_MSG(dst_image_folder_load(root, &p, NULL, 0, &d, &e) == DST_OK, "%s", e.message);
    T_CHECK(d.count == 3 && d.classes == 2 && d.channels == 3 && d.height == 3 && d.width == 4);
    T_CHECK(strcmp(d.class_names[0], "ant") == 0 && strcmp(d.class_names[1], "zebra") == 0);
    T_CHECK(d.y[0] == 0 && d.y[1] == 1 && d.y[2] == 1);
    T_CHECK(fabsf(d.x[0] - 10 / 255.0f) < 1e-6f);          /* ant/z.png, red of pixel 0 */
    T_CHECK(fabsf(d.x[36 + 1] - 101 / 255.0f) < 1e-6f);    /* zebra/a.BMP (sorted before b.png), pixel 1 */
    T_CHECK(fabsf(d.x[72 + 12 + 3] - 203 / 255.0f) < 1e-6f); /* zebra/b.png, gray to the green plane */
    dst_dataset_free(&d);
    /* the classes given (a test folder read with the training set's names) and a size */
    p = dst_image_prep_default(1, 6, 8);
    T_CHECK(dst_image_folder_load(root, &p, given, 2, &d, &e) == DST_OK && d.count == 3 && d.channels == 1 &&
            d.height == 6 && d.width == 8 && d.y[0] == 1 && d.y[1] == 0 && strcmp(d.class_names[0], "zebra") == 0);
    dst_dataset_free(&d);
    T_CHECK(dst_image_folder_load(root, &p, given + 1, 1, &d, &e) == DST_ERR_FORMAT &&
            strstr(e.message, "build/test-folder/zebra: not one of the 1 known classes"));
    /* images of two sizes with no size given: the odd one named */
    T_CHECK(t_write_picture("build/test-folder/zebra/c.png", 5, 3, 1, 0));
    p = dst_image_prep_default(1, 0, 0);
    T_CHECK(dst_image_folder_load(root, &p, NULL, 0, &d, &e) == DST_ERR_FORMAT &&
            strstr(e.message, "build/test-folder/zebra/c.png is 3x5, the first image 3x4: give the size"));
    remove("build/test-folder/zebra/c.png");
    /* a picture stb_image cannot read, a class folder without pictures, no folders at all */
    T_CHECK((f = fopen("build/test-folder/zebra/d.png", "w")) != NULL);
    fputs("not a png", f);
    fclose(f);
    T_CHECK(dst_image_folder_load(root, &p, NULL, 0, &d, &e) == DST_ERR_FORMAT &&
            strstr(e.message, "build/test-folder/zebra/d.png: not an image"));
    remove("build/test-folder/zebra/d.png");
    mkdir("build/test-folder/empty", 0755);
    T_CHECK(dst_image_folder_load(root, &p, NULL, 0, &d, &e) == DST_ERR_FORMAT &&
            strstr(e.message, "build/test-folder/empty: no images"));
    rmdir("build/test-folder/empty");
    T_CHECK(dst_image_folder_load("build/test-folder/ant", &p, NULL, 0, &d, &e) == DST_ERR_FORMAT &&
            strstr(e.message, "no class folders"));
    T_CHECK(dst_image_folder_load("build/no-such-folder", &p, NULL, 0, &d, &e) == DST_ERR_IO);
    p.channels = 2;
    T_CHECK(dst_image_folder_load(root, &p, NULL, 0, &d, &e) == DST_ERR_ARG);
    return 0;
}

/* Streaming from disk through the batch source trains the same bits as the folder loaded into memory. */
static int test_image_folder_streams_into_fit(void)
{
    static const char *names[3] = { "build/test-stream/a", "build/test-stream/b", "build/test-stream/c" };
    char path[256];
    dst_image_prep p = dst_image_prep_default(3, 0, 0);
    dst_image_folder *f;
    dst_dataset d;
    dst_error e;
    dst_layer_desc L[4];
    dst_model_desc desc = dst_model_desc_default();
    dst_model *mem, *disk;
    dst_fit_config fit = dst_fit_default();
    int k, i;
    mkdir("build", 0755);
    mkdir("build/test-stream", 0755);
    for (k = 0; k < 3; ++k) {
        mkdir(names[k], 0755);
        for (i = 0; i < 5; ++i) {
            snprintf(path, sizeof path, "%s/%d.png", names[k], i);
            T_CHECK(t_write_picture(path, 6, 5, 3, 40 * k + 7 * i));
        }
    }
    T_CHECK_MSG(dst_image_folder_open(&f, "build/test-stream", &p, NULL, 0, &e) == DST_OK, "%s", e.message);
    T_CHECK(dst_image_folder_info(f)->count == 15 && dst_image_folder_info(f)->x == NULL &&
            dst_image_folder_info(f)->y[14] == 2 && dst_image_folder_info(f)->height == 5 &&
            strcmp(dst_image_folder_info(f)->class_names[1], "b") == 0);
    T_CHECK(dst_image_folder_load("build/test-stream", &p, NULL, 0, &d, &e) == DST_OK && d.count == 15);
    L[0] = dst_conv2d(4, 3, 1, 1); L[1] = dst_relu(); L[2] = dst_flatten(); L[3] = dst_dense(3);
    desc.input_c = 3; desc.input_h = 5; desc.input_w = 6; desc.layers = L; desc.layer_count = 4;
    T_CHECK(dst_model_create(&mem, &desc, &e) == DST_OK && dst_model_create(&disk, &desc, &e) == DST_OK);
    fit.epochs = 3;
    fit.batch_size = 4;
    T_CHECK(dst_model_fit(mem, d.x, d.y, d.count, &fit) == DST_OK);
    fit.source = dst_image_folder_batch;
    fit.source_user = f;
    T_CHECK(dst_model_fit(disk, d.x, NULL, d.count, &fit) == DST_ERR_ARG); /* a source gives x and labels */
    T_CHECK_MSG(dst_model_fit(disk, NULL, NULL, dst_image_folder_info(f)->count, &fit) == DST_OK, "%s", dst_model_error(disk));
    T_CHECK(memcmp(dst_model_params(mem), dst_model_params(disk), dst_model_param_count(mem) * sizeof(float)) == 0);
    /* a picture that goes bad on disk stops the fit with the source's result, the folder says which */
    remove("build/test-stream/b/3.png");
    T_CHECK(dst_model_fit(disk, NULL, NULL, 15, &fit) == DST_ERR_FORMAT && strstr(dst_model_error(disk), "batch source"));
    T_CHECK(strstr(dst_image_folder_error(f), "build/test-stream/b/3.png: not an image"));
    dst_model_free(mem);
    dst_model_free(disk);
    dst_dataset_free(&d);
    dst_image_folder_close(f);
    return 0;
}
#endif

/* ---- the CSV reader's corpus, replayed (tests/corpus-csv/, what tests/fuzz_csv.c fuzzes) ---- */

#include "fuzz_csv_one.h"

static int test_csv_corpus_replay(void)
{
    static const char *names[] = { "iris.csv", "game.csv", "quoted.csv", "crlf.csv", "ragged.csv", "missing.csv",
                                   "open-quote.csv", "no-header-index.csv", "bom-comments.csv", "junk.csv", "preamble.csv" };
    static unsigned char buf[1 << 16];
    char path[512];
    size_t i, n;
    int ok = 0;
    for (i = 0; i < sizeof names / sizeof names[0]; ++i) {
        FILE *f;
        snprintf(path, sizeof path, "%s/../corpus-csv/%s", t_fixture_dir, names[i]);
        T_CHECK_MSG((f = fopen(path, "rb")) != NULL, "cannot open %s", path);
        n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        ok += fuzz_csv_one(buf, n);
    }
    T_CHECK_MSG(ok >= 5, "%d of the corpus files parsed", ok);
    return 0;
}

static const t_case dataset_tests[] = {
    { "csv_header_names_quotes_crlf_comments", test_csv_header_names_quotes_crlf_comments },
    { "csv_whole_number_labels_and_guessing", test_csv_whole_number_labels_and_guessing },
    { "csv_errors", test_csv_errors },
    { "csv_load_file_and_alloc_failures", test_csv_load_file_and_alloc_failures },
    { "csv_corpus_replay", test_csv_corpus_replay },
    { "dataset_npy_tables", test_dataset_npy_tables },
    { "mnist_float_idx_not_scaled", test_mnist_float_idx_not_scaled },
    { "dataset_subset", test_dataset_subset },
    { "split_stratified", test_split_stratified },
    { "normalization_travels_with_the_model", test_normalization_travels_with_the_model },
    { "fit_keep_best_and_patience", test_fit_keep_best_and_patience },
#if defined(STBI_INCLUDE_STB_IMAGE_H) && !defined(DST_NO_STDIO) && !defined(_WIN32)
    { "image_folder_load", test_image_folder_load },
    { "image_folder_streams_into_fit", test_image_folder_streams_into_fit },
#endif
};

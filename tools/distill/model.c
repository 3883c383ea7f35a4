/* tools/distill/model.c - the commands that use a trained model: eval (accuracy,
   loss, confusion matrix), predict (pictures through stb_image), info and
   quantize (an int8 model).
   Part of the distill command (built through distill.c). */
#include "cli.h"

/* ==== eval, predict, info ================================================= */

static void cmd_eval(const args *a)
{
    sets d;
    dst_model *m;
    const char *names;
    float *x;
    const int *y;
    size_t count, i, chunk = 1024;
    float loss, acc, *out;
    long *conf;
    int k, j, classes, width = 5, batch = 0, train;
    char buf[64];
    dst_dataset *set;
    dst_pool *pool;
    no_positional(a);
    need(a->model, "--model");
    if (a->split && strcmp(a->split, "test") != 0 && strcmp(a->split, "train") != 0)
        fail(2, "--split: '%s' is not test or train", a->split);
    train = a->split && strcmp(a->split, "train") == 0;
    if (a->batch) batch = (int)parse_int("--batch", a->batch, 1, 1 << 16);
    pool = threads_start(a);
    m = load_model(a->model, "--model");
    threads_attach(m, pool, "--model");
    load_sets(a, m, 1, &d);
    check_model_fits_sets(m, &d, "--model");
    set = train ? &d.train : &d.test;
    x = normalized_copy(m, set); /* the model's own normalisation, from its metadata */
    y = set->y;
    count = set->count;
    if (a->limit && !train) {
        size_t lim = (size_t)parse_int("--limit", a->limit, 1, 0x7fffffffL);
        if (lim < count) count = lim;
    }
    if (dst_model_evaluate(m, x, y, count, batch, &loss, &acc) != DST_OK) fail(1, "%s", dst_model_error(m));
    printf("accuracy: %.4f\nloss: %.4f\n", (double)acc, (double)loss);
    /* the confusion matrix: rows are the true classes, columns the predictions */
    classes = (int)dst_model_output_size(m);
    names = dst_model_meta_string(m, "classes");
    out = (float *)malloc(chunk * (size_t)classes * sizeof(float));
    conf = (long *)calloc((size_t)classes * (size_t)classes, sizeof(long));
    if (!out || !conf) fail(1, "out of memory");
    for (i = 0; i < count; i += chunk) {
        size_t n = count - i < chunk ? count - i : chunk, s;
        if (dst_model_predict(m, x + i * dst_model_input_size(m), n, out) != DST_OK)
            fail(1, "%s", dst_model_error(m));
        for (s = 0; s < n; ++s) conf[(size_t)y[i + s] * (size_t)classes + (size_t)argmax(out + s * (size_t)classes, classes)]++;
    }
    if (count >= 10000) width = 6;
    printf("confusion matrix (%s set, rows: true class, columns: predicted):\n", train ? "training" : "test");
    printf("%*s", 4, "");
    for (j = 0; j < classes; ++j) printf("%*d", width, j);
    printf("  recall\n");
    for (k = 0; k < classes; ++k) {
        long row = 0;
        for (j = 0; j < classes; ++j) row += conf[k * classes + j];
        printf("%4d", k);
        for (j = 0; j < classes; ++j) printf("%*ld", width, conf[k * classes + j]);
        if (row) printf("  %.4f", (double)conf[k * classes + k] / (double)row);
        else printf("  -");
        if (names) printf("  %s", class_name(names, k, buf, sizeof buf));
        printf("\n");
    }
    free(out);
    free(conf);
    free(x);
    dst_model_free(m);
    free_sets(&d);
    dst_pool_stop(pool);
}

/* The mean of the image's one-pixel border, in [0, 1] (gray). */
static double image_border(const unsigned char *px, int w, int h, int comp)
{
    double sum = 0;
    long n = 0;
    int r, c, k, colors = comp >= 3 ? 3 : 1;
    for (r = 0; r < h; ++r)
        for (c = 0; c < w; ++c) {
            const unsigned char *p = px + ((size_t)r * (size_t)w + (size_t)c) * (size_t)comp;
            double v = 0, alpha = comp == 2 || comp == 4 ? p[comp - 1] / 255.0 : 1;
            if (r != 0 && c != 0 && r != h - 1 && c != w - 1) continue;
            for (k = 0; k < colors; ++k) v += p[k];
            v = v / colors / 255.0;
            sum += alpha * v + (1 - alpha); /* transparent counts as white, as in dst_image_to_input */
            ++n;
        }
    return n ? sum / (double)n : 0;
}

static void cmd_predict(const args *a)
{
    dst_model *m;
    dst_image_prep prep;
    dst_error e;
    dst_pool *pool;
    const char *names;
    float *x, *probs;
    int *order, i, j, k, classes, top = 3, bad = 0, c, h, w, invert_mode;
    double background;
    char buf[64];
    need(a->model, "--model");
    if (a->npos == 0) fail(2, "no IMAGE given");
    if (a->top) top = (int)parse_int("--top", a->top, 1, 1000);
    if (!a->invert || strcmp(a->invert, "auto") == 0) invert_mode = -1;
    else if (strcmp(a->invert, "yes") == 0) invert_mode = 1;
    else if (strcmp(a->invert, "no") == 0) invert_mode = 0;
    else fail(2, "--invert: '%s' is not auto, yes or no", a->invert);
    pool = threads_start(a);
    m = load_model(a->model, "--model");
    threads_attach(m, pool, "--model");
    input_shape(m, &c, &h, &w);
    if (c != 1 && c != 3) fail(1, "--model takes %d channels; predict reads gray (1) or RGB (3) images", c);
    /* a model of table rows or vectors (1 x N) would take any picture squeezed to one line */
    if (h < 2 || w < 2)
        fail(1, "--model takes %dx%dx%d inputs, not images: the input shape does not fit a picture (predict "
                "needs at least 2x2 pixels)", c, h, w);
    classes = (int)dst_model_output_size(m);
    if (top > classes) top = classes;
    names = dst_model_meta_string(m, "classes");
    prep = dst_image_prep_from_model(m); /* size, scale and per-channel mean / std from the model */
    if (dst_model_normalization(m, NULL, NULL, NULL, 0) > 3)
        fail(1, "--model standardises each input on its own (a table's normalisation); predict reads pictures");
    background = meta_number_or(m, "input.background", -1);
    x = (float *)malloc(dst_model_input_size(m) * sizeof(float));
    probs = (float *)malloc((size_t)classes * sizeof(float));
    order = (int *)malloc((size_t)classes * sizeof(int));
    if (!x || !probs || !order) fail(1, "out of memory");
    for (i = 0; i < a->npos; ++i) {
        const char *path = a->pos[i];
        int iw, ih, comp, inverted;
        unsigned char *px = stbi_load(path, &iw, &ih, &comp, 0);
        if (!px) {
            FILE *f = fopen(path, "rb");
            fflush(stdout);
            if (!f) fprintf(stderr, "%s: cannot open %s\n", g_cmd, path);
            else { fclose(f); fprintf(stderr, "%s: %s: not an image stb_image can read (%s)\n", g_cmd, path, stbi_failure_reason()); }
            bad = 1;
            continue;
        }
        /* auto: invert when the picture's background is the opposite of the training images' */
        prep.invert = invert_mode >= 0 ? invert_mode : 0;
        if (invert_mode < 0 && background >= 0) {
            double b = image_border(px, iw, ih, comp);
            prep.invert = (b > 0.5) != (background > 0.5);
        }
        if (meta_number_or(m, "input.invert", 0) != 0) prep.invert = !prep.invert;
        inverted = prep.invert;
        if (dst_image_to_input(px, iw, ih, comp, &prep, x, &e) != DST_OK) {
            stbi_image_free(px);
            fflush(stdout);
            fprintf(stderr, "%s: %s: %s\n", g_cmd, path, e.message);
            bad = 1;
            continue;
        }
        stbi_image_free(px);
        if (dst_model_predict(m, x, 1, probs) != DST_OK) fail(1, "%s", dst_model_error(m));
        dst_softmax(probs, probs, 1, classes, 1.0f);
        for (k = 0; k < classes; ++k) order[k] = k;
        for (k = 0; k < top; ++k) /* partial selection sort: the top few */
            for (j = k + 1; j < classes; ++j)
                if (probs[order[j]] > probs[order[k]]) { int t = order[k]; order[k] = order[j]; order[j] = t; }
        printf("%s:", path);
        for (k = 0; k < top; ++k) {
            printf("%s %d", k ? "," : "", order[k]);
            if (names) printf(" %s", class_name(names, order[k], buf, sizeof buf));
            printf(" %.4f", (double)probs[order[k]]);
        }
        printf("%s\n", inverted ? "  (inverted)" : "");
    }
    free(x);
    free(probs);
    free(order);
    dst_model_free(m);
    dst_pool_stop(pool);
    if (bad) exit(1);
}

static void cmd_info(const args *a)
{
    const char *path = model_arg(a);
    dst_model *m = load_model(path, NULL);
    int i, n = dst_model_layer_count(m), c, h, w;
    size_t params = 0, int8 = 0, int32 = 0;
    char buf[160];
    input_shape(m, &c, &h, &w);
    printf("model: %s (%ld bytes)\n", path, file_size(path));
    printf("input: %dx%dx%d\noutputs: %lu\nlayers:\n", c, h, w, (unsigned long)dst_model_output_size(m));
    for (i = 0; i < n; ++i) {
        dst_layer_info li;
        char shape[64];
        dst_model_layer(m, i, &li);
        describe_layer(&li, buf, sizeof buf);
        snprintf(shape, sizeof shape, "%dx%dx%d -> %dx%dx%d", li.in_c, li.in_h, li.in_w, li.out_c, li.out_h, li.out_w);
        printf("  %2d  %-46s %-24s %8lu params%s\n", i, buf, shape, (unsigned long)(li.weight_count + li.bias_count),
               li.int8 ? "  int8" : "");
        params += li.weight_count + li.bias_count;
        if (li.int8) int8 += li.weight_count, int32 += li.bias_count;
    }
    if (dst_model_is_quantized(m)) {
        printf("parameters: %lu (%.1f KiB: int8 weights, int32 biases, float32 for the rest)\n", (unsigned long)params,
               (double)(int8 + 4 * (params - int8)) / 1024);
        printf("int8 tensors (activations uint8, one scale and zero point each; weights one scale per output channel):\n");
        for (i = 0; i < n; ++i) {
            dst_layer_info li;
            dst_model_layer(m, i, &li);
            if (li.int8) printf("  %d.weight int8%s\n", i, li.bias_count ? ", bias int32" : "");
        }
    } else {
        printf("parameters: %lu (%.1f KiB as float32)\n", (unsigned long)params, (double)params * 4 / 1024);
    }
    printf("metadata:\n");
    for (i = 0; i < dst_model_meta_count(m); ++i) {
        const char *key = dst_model_meta_key(m, i), *s = dst_model_meta_string(m, key);
        double v;
        if (s) printf("  %s = %s\n", key, s);
        else if (dst_model_meta_number(m, key, &v)) printf("  %s = %.6g\n", key, v);
    }
    dst_model_free(m);
}

static void cmd_quantize(const args *a)
{
    sets d;
    dst_model *m, *q;
    dst_quantize_options o = dst_quantize_default();
    dst_error e;
    float *x, *xt, acc_f = 0, acc_q = 0;
    size_t n = 1000;
    no_positional(a);
    need(a->model, "--model");
    need(a->out, "--out");
    if (a->calibration) n = (size_t)parse_int("--calibration", a->calibration, 1, 1 << 24);
    if (a->percentile && a->minmax) fail(2, "give --percentile or --minmax, not both");
    if (a->minmax) o.calibration = DST_CALIBRATE_MINMAX;
    if (a->percentile) {
        o.calibration = DST_CALIBRATE_PERCENTILE;
        o.percentile = (float)parse_real("--percentile", a->percentile, 50, 100, 1);
    }
    m = load_model(a->model, "--model");
    if (dst_model_is_quantized(m)) {
        dst_model_free(m); /* (the sanitized build's leak check runs at exit) */
        fail(1, "--model %s is an int8 model already", a->model);
    }
    load_sets(a, m, 1, &d);
    check_model_fits_sets(m, &d, "--model");
    if (n > d.train.count) n = d.train.count;
    x = normalized_copy(m, &d.train); /* the model's own normalisation, from its metadata */
    if (dst_model_quantize(m, x, n, &o, &q, &e) != DST_OK) {
        dst_model_free(m);
        free(x);
        free_sets(&d);
        fail(1, "%s", e.message);
    }
    copy_meta(m, q);
    dst_model_meta_set_string(q, "quant.source", a->model);
    dst_model_meta_set_string(q, "quant.calibration", a->percentile ? "percentile" : a->minmax ? "minmax" : "mse");
    if (a->percentile) dst_model_meta_set_number(q, "quant.percentile", (double)o.percentile);
    dst_model_meta_set_number(q, "quant.samples", (double)n);
    printf("calibration: %lu training %s\n", (unsigned long)n, d.what);
    if (d.test.count) {
        xt = normalized_copy(m, &d.test);
        if (dst_model_evaluate(m, xt, d.test.y, d.test.count, 0, NULL, &acc_f) != DST_OK ||
            dst_model_evaluate(q, xt, d.test.y, d.test.count, 0, NULL, &acc_q) != DST_OK)
            fail(1, "%s", dst_model_error(q));
        dst_model_meta_set_number(q, "quant.float_accuracy", acc_f);
        dst_model_meta_set_number(q, "test.accuracy", acc_q);
        printf("test: float accuracy %.4f, int8 accuracy %.4f (%lu %s)\n", (double)acc_f, (double)acc_q,
               (unsigned long)d.test.count, d.what);
        free(xt);
    }
    if (dst_model_save(q, a->out, &e) != DST_OK) fail(1, "--out %s", e.message);
    printf("saved %s (%ld bytes; float %ld)\n", a->out, file_size(a->out), file_size(a->model));
    free(x);
    dst_model_free(q);
    dst_model_free(m);
    free_sets(&d);
}

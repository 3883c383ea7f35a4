/* tools/distill/data.c - where the commands' data comes from: an IDX
   directory (MNIST format), a CSV table, .npy arrays or a folder of images,
   split into training, validation and test sets; and the normalisation the
   command chooses for it, which travels in the model.
   Part of the distill command (built through distill.c). */
#include "cli.h"
#include <sys/stat.h>

/* ==== what the data is ==================================================== */

static int is_dir(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

static int is_idx_dir(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", dir);
    if (is_file(path)) return 1;
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
    return is_file(path);
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && strcmp(s + n - k, tail) == 0;
}

/* "HxW" into h, w. */
static void parse_size(const char *s, int *h, int *w)
{
    char extra;
    if (sscanf(s, "%dx%d%c", h, w, &extra) != 2 || *h < 1 || *w < 1 || *h > 4096 || *w > 4096)
        fail(2, "--size: '%s' is not HxW (e.g. 32x32, each 1 to 4096)", s);
}

/* ==== loading ============================================================= */

/* The class names in a model's metadata, split at the commas (NULL when it has none). */
static char **split_names(const char *names, int *count)
{
    char **v, *text;
    const char *p;
    int n = 1, i = 0;
    *count = 0;
    if (!names) return NULL;
    for (p = names; *p; ++p) n += *p == ',';
    v = (char **)malloc((size_t)n * sizeof(char *) + strlen(names) + 1);
    if (!v) fail(1, "out of memory");
    text = (char *)(v + n);
    strcpy(text, names);
    v[i++] = text;
    for (; *text; ++text)
        if (*text == ',') { *text = 0; v[i++] = text + 1; }
    *count = n;
    return v;
}

static void load_idx(const args *a, sets *s)
{
    dst_mnist d;
    dst_error e;
    if (a->test) fail(2, "--test: an IDX directory holds its own test set (t10k-*)");
    if (dst_mnist_load(a->data, &d, &e) != DST_OK) fail(1, "--data %s: %s", a->data, e.message);
    if (d.train_count == 0 || d.test_count == 0) fail(1, "--data %s: the training or test set is empty", a->data);
    s->train.x = d.train_x; s->train.y = d.train_y; s->train.count = d.train_count;
    s->test.x = d.test_x; s->test.y = d.test_y; s->test.count = d.test_count;
    s->train.channels = s->test.channels = 1;
    s->train.height = s->test.height = d.rows;
    s->train.width = s->test.width = d.cols;
    s->train.classes = s->test.classes = d.classes;
    s->idx = 1;
    s->pixels = d.pixels;
    s->what = "images";
}

static void load_npy_pair(const char *xf, const char *yf, const char *flag, dst_dataset *out)
{
    dst_npy x, y;
    dst_error e;
    if (!xf || !yf) fail(2, "%s: give both the features (-x) and the labels (-y)", flag);
    if (dst_npy_load(xf, &x, &e) != DST_OK) fail(1, "%s-x %s", flag, e.message);
    if (dst_npy_load(yf, &y, &e) != DST_OK) fail(1, "%s-y %s", flag, e.message);
    if (dst_dataset_from_npy(&x, &y, out, &e) != DST_OK) fail(1, "%s-x %s, %s-y %s: %s", flag, xf, flag, yf, e.message);
    dst_npy_free(&x);
    dst_npy_free(&y);
}

static void load_csv(const char *path, const char *flag, const args *a, char **classes, int class_count, dst_dataset *out)
{
    dst_csv_options o = dst_csv_options_default();
    dst_error e;
    o.label = a->label;
    o.classes = (const char *const *)classes;
    o.class_count = class_count;
    if (dst_csv_load(path, &o, out, &e) != DST_OK) fail(1, "%s %s", flag, e.message);
}

static void load_folder(const char *dir, const char *flag, const dst_image_prep *p, char **classes, int class_count,
                        dst_dataset *out)
{
    dst_error e;
    if (dst_image_folder_load(dir, p, (const char *const *)classes, class_count, out, &e) != DST_OK)
        fail(1, "%s %s", flag, e.message);
}

/* The training set (and a test set when there is one of its own). */
static void load_sources(const args *a, const dst_model *model, sets *s)
{
    char **classes = NULL;
    int class_count = 0;
    if (model && dst_model_meta_string(model, "data.labels")) /* numbered by the model's class names */
        classes = split_names(dst_model_meta_string(model, "classes"), &class_count);
    if (a->train_x || a->train_y) {
        if (a->data) fail(2, "give --data or --train-x/--train-y, not both");
        if (a->test) fail(2, "--test: with .npy data the test set is --test-x/--test-y");
        load_npy_pair(a->train_x, a->train_y, "--train", &s->train);
        if (a->test_x || a->test_y) load_npy_pair(a->test_x, a->test_y, "--test", &s->test);
        s->what = "rows";
    } else if (!a->data) {
        fail(2, "--data is required (an IDX directory, a CSV file or a folder of images; or --train-x/--train-y)");
    } else if (a->test_x || a->test_y) {
        fail(2, "--test-x/--test-y go with --train-x/--train-y; with --data the test set is --test");
    } else if (!is_dir(a->data) && !is_file(a->data)) {
        fail(1, "--data %s: no such file or folder (an IDX directory, a CSV file or a folder of images)", a->data);
    } else if (is_dir(a->data) && is_idx_dir(a->data)) {
        load_idx(a, s);
    } else if (is_dir(a->data)) {
        dst_image_prep p;
        char tr[1024], te[1024];
        int c = 3, h = 0, w = 0;
        if (a->channels) c = (int)parse_int("--channels", a->channels, 1, 3);
        if (c == 2) fail(2, "--channels: 1 (gray) or 3 (RGB)");
        if (a->size) parse_size(a->size, &h, &w);
        if (model) { /* the model's own input */
            int mc, mh, mw;
            input_shape(model, &mc, &mh, &mw);
            if (mc == 1 || mc == 3) { c = mc; h = mh; w = mw; }
        }
        p = dst_image_prep_default(c, h, w);
        snprintf(tr, sizeof tr, "%s/train", a->data);
        snprintf(te, sizeof te, "%s/test", a->data);
        if (is_dir(tr) && is_dir(te) && !a->test) {
            load_folder(tr, "--data", &p, classes, class_count, &s->train);
            p.height = s->train.height;
            p.width = s->train.width;
            load_folder(te, "--data", &p, s->train.class_names, s->train.classes, &s->test);
        } else {
            load_folder(a->data, "--data", &p, classes, class_count, &s->train);
            p.height = s->train.height;
            p.width = s->train.width;
            if (a->test) load_folder(a->test, "--test", &p, s->train.class_names, s->train.classes, &s->test);
        }
        s->pixels = 1;
        s->folder = 1;
        s->what = "images";
    } else if (ends_with(a->data, ".npy")) {
        fail(2, "--data %s: for .npy arrays give --train-x FEATURES.npy --train-y LABELS.npy", a->data);
    } else {
        load_csv(a->data, "--data", a, classes, class_count, &s->train);
        if (a->test) load_csv(a->test, "--test", a, s->train.class_names ? s->train.class_names : classes,
                              s->train.class_names ? s->train.classes : class_count, &s->test);
        s->what = "rows";
    }
    free(classes);
    if ((a->size || a->channels) && !s->folder) fail(2, "--size and --channels apply to a folder of images");
    if (a->label && (s->folder || s->idx || a->train_x))
        fail(2, "--label names the label column of a CSV table (a plot's name for the run is --name)");
}

/* Splits set into what is kept (in *set) and what is held out (in *held);
   rows maps the kept samples to rows of the training file. */
static void hold_out(dst_dataset *set, float fraction, uint64_t seed, dst_dataset *held, size_t **rows, const char *why)
{
    dst_dataset kept;
    dst_error e;
    size_t *order, n, i, *mapped;
    if (!(order = (size_t *)malloc(set->count * sizeof(size_t)))) fail(1, "out of memory");
    if (dst_split_stratified(set->y, set->count, fraction, seed, order, &n, &e) != DST_OK) fail(1, "%s: %s", why, e.message);
    if (n == 0 || n == set->count) fail(1, "%s: %lu samples are too few to hold %g of them out", why, (unsigned long)set->count, (double)fraction);
    if (dst_dataset_subset(set, order, set->count - n, &kept, &e) != DST_OK ||
        dst_dataset_subset(set, order + set->count - n, n, held, &e) != DST_OK)
        fail(1, "%s: %s", why, e.message);
    if (!(mapped = (size_t *)malloc((set->count - n) * sizeof(size_t)))) fail(1, "out of memory");
    for (i = 0; i < set->count - n; ++i) mapped[i] = *rows ? (*rows)[order[i]] : order[i];
    free(*rows);
    *rows = mapped;
    free(order);
    dst_dataset_free(set);
    *set = kept;
}

/* The data of a command: training (less validation), validation and test
   sets. model: eval's model (its classes, input size and training split). */
static void load_sets(const args *a, const dst_model *model, uint64_t seed, sets *s)
{
    float test_fraction = 0.2f;
    size_t i;
    memset(s, 0, sizeof *s);
    load_sources(a, model, s);
    s->source_rows = s->train.count;
    if (model) {
        double v;
        if (dst_model_meta_number(model, "train.seed", &v)) seed = (uint64_t)v;
        if (dst_model_meta_number(model, "test.fraction", &v)) test_fraction = (float)v;
    }
    if (a->test_fraction) {
        if (s->test.count) fail(2, "--test-fraction: the data has a test set of its own");
        test_fraction = (float)parse_real("--test-fraction", a->test_fraction, 0, 0.9, 1);
    }
    if (!s->test.count) { /* held out of the training data, the same way every time (seed) */
        s->test_fraction = test_fraction;
        hold_out(&s->train, test_fraction, seed, &s->test, &s->train_rows, "test split");
    }
    if (a->val) {
        float f = (float)parse_real("--val", a->val, 0, 0.9, 1);
        hold_out(&s->train, f, seed + 1, &s->val, &s->train_rows, "--val");
    }
    if (a->limit) {
        size_t lim = (size_t)parse_int("--limit", a->limit, 1, 0x7fffffffL);
        if (lim < s->train.count) s->train.count = lim;
    }
    for (i = 0; i < s->train.count; ++i)
        if (s->train.y[i] + 1 > s->train.classes) s->train.classes = s->train.y[i] + 1;
    if (s->test.classes > s->train.classes) s->train.classes = s->test.classes;
    if (s->test.width != s->train.width || s->test.height != s->train.height || s->test.channels != s->train.channels)
        fail(1, "the test samples are %dx%dx%d, the training samples %dx%dx%d", s->test.channels, s->test.height,
             s->test.width, s->train.channels, s->train.height, s->train.width);
}

static void free_sets(sets *s)
{
    dst_dataset_free(&s->train);
    dst_dataset_free(&s->val);
    dst_dataset_free(&s->test);
    free(s->train_rows);
    memset(s, 0, sizeof *s);
}

/* The class names of the data, comma-separated (malloc'd), or NULL. */
static char *data_class_names(const args *a, const sets *s)
{
    char *out;
    size_t n = 1;
    int k;
    if (!a->classes && !s->train.class_names && !s->idx) return NULL; /* classes.txt: IDX directories only */
    if (a->classes || !s->train.class_names) return class_names(a->classes, a->data ? a->data : ".", s->train.classes);
    for (k = 0; k < s->train.classes; ++k) {
        if (strchr(s->train.class_names[k], ','))
            fail(1, "class '%s' has a comma in its name; the model lists its classes separated by commas "
                    "(rename it, or give --classes)", s->train.class_names[k]);
        n += strlen(s->train.class_names[k]) + 1;
    }
    if (!(out = (char *)malloc(n))) fail(1, "out of memory");
    out[0] = 0;
    for (k = 0; k < s->train.classes; ++k) {
        if (k) strcat(out, ",");
        strcat(out, s->train.class_names[k]);
    }
    return out;
}

/* ==== normalisation ======================================================= */

/* What the command does to the inputs, chosen from the data and stored in
   the model: IDX bytes are pixels (x 1/255, no more); a folder's pictures
   are pixels scaled to [0, 1], then standardised per channel; everything
   else (tables, float IDX, .npy) is standardised per feature and never
   divided by 255. Statistics come from the training set only. */
static void choose_normalization(const sets *s, dst_model *m, int quiet)
{
    size_t ss = dst_dataset_sample_size(&s->train);
    int count = s->idx && s->pixels ? 0 : s->folder ? s->train.channels : (int)ss, k;
    float *mean = NULL, *std = NULL;
    dst_error e;
    if (count) {
        mean = (float *)malloc(2 * (size_t)count * sizeof(float));
        if (!mean) fail(1, "out of memory");
        std = mean + count;
        if (dst_normalization_stats(s->train.x, s->train.count, ss, count, mean, std, &e) != DST_OK)
            fail(1, "normalisation: %s", e.message);
    }
    if (dst_model_set_normalization(m, s->pixels ? 1.0f / 255.0f : 1.0f, mean, std, count) != DST_OK)
        fail(1, "normalisation: %s", dst_model_error(m));
    if (!quiet) {
        if (!count) printf("normalisation: pixels x 1/255 (the IDX images are bytes)\n");
        else if (s->folder) {
            printf("normalisation: pixels x 1/255, then per channel (v - mean) / std from the training images: mean");
            for (k = 0; k < count; ++k) printf("%s%.4f", k ? "," : " ", (double)mean[k]);
            printf(" std");
            for (k = 0; k < count; ++k) printf("%s%.4f", k ? "," : " ", (double)std[k]);
            printf("\n");
        } else
            printf("normalisation: per feature (v - mean) / std from the %lu training %s (not pixels: no 1/255)\n",
                   (unsigned long)s->train.count, s->what);
    }
    free(mean);
}

/* A copy of count samples x as model m takes them (its normalisation applied). */
static float *normalized_rows(dst_model *m, const float *x, size_t count, size_t sample_size)
{
    size_t n = count * sample_size;
    float *y = (float *)malloc((n ? n : 1) * sizeof(float));
    if (!y) fail(1, "out of memory");
    if (n) memcpy(y, x, n * sizeof(float));
    if (dst_model_normalize(m, y, count) != DST_OK) fail(1, "normalisation: %s", dst_model_error(m));
    return y;
}

static float *normalized_copy(dst_model *m, const dst_dataset *d)
{
    return normalized_rows(m, d->x, d->count, dst_dataset_sample_size(d));
}

/* The model's input against the data's samples, and its outputs against the classes. */
static void check_model_fits_sets(const dst_model *m, const sets *s, const char *what)
{
    int c, h, w;
    input_shape(m, &c, &h, &w);
    if (dst_model_input_size(m) != dst_dataset_sample_size(&s->train))
        fail(1, "%s takes %dx%dx%d inputs, the data's %s are %dx%dx%d", what, c, h, w, s->what, s->train.channels,
             s->train.height, s->train.width);
    if ((int)dst_model_output_size(m) < s->train.classes)
        fail(1, "%s has %lu outputs, the data has %d classes", what, (unsigned long)dst_model_output_size(m),
             s->train.classes);
}

/* tools/distill/unlabeled.c - `distill distill --unlabeled FILE`: a transfer
   set of images without labels (an IDX images file, plain or .gz, or a .npy
   array), distilled on with the teacher's soft targets alone; --attention
   S:T[:W]; and the learning-rate options (--schedule, --warmup) of train and
   distill.
   Part of the distill command (built through distill.c). */
#include "cli.h"

/* ".npy" at the end of path */
static int is_npy(const char *path)
{
    size_t n = strlen(path);
    return n >= 4 && strcmp(path + n - 4, ".npy") == 0;
}

/* The images of a .npy array: float32, pixels / 255 like the training
   images, shaped (N, H, W), (N, 1, H, W) or (N, H * W). */
static void unlabeled_from_npy(const char *path, int rows, int cols, unlabeled *u)
{
    dst_error e;
    const dst_npy *a = &u->npy;
    size_t plane = (size_t)rows * (size_t)cols, i;
    int shaped;
    if (dst_npy_load(path, &u->npy, &e) != DST_OK) fail(1, "--unlabeled %s", e.message);
    if (a->dtype != DST_NPY_FLOAT32)
        fail(1, "--unlabeled %s: an int32 array; expected float32 images scaled like the training images "
                "(pixels / 255, in [0, 1])", path);
    shaped = (a->ndim == 3 && a->shape[1] == (size_t)rows && a->shape[2] == (size_t)cols) ||
             (a->ndim == 4 && a->shape[1] == 1 && a->shape[2] == (size_t)rows && a->shape[3] == (size_t)cols) ||
             (a->ndim == 2 && a->shape[1] == plane);
    if (!shaped || a->shape[0] == 0)
        fail(1, "--unlabeled %s: a %d-D array of shape (%lu%s); expected images like the data's: (N, %d, %d), "
                "(N, 1, %d, %d) or (N, %lu)", path, a->ndim, (unsigned long)(a->ndim ? a->shape[0] : 0),
             a->ndim > 1 ? ", ..." : "", rows, cols, rows, cols, (unsigned long)plane);
    u->x = (const float *)a->data;
    u->count = a->shape[0];
    for (i = 0; i < a->count; ++i)
        if (!(u->x[i] >= -1e30f && u->x[i] <= 1e30f)) fail(1, "--unlabeled %s: value %lu is not finite", path, (unsigned long)i);
}

/* The images of an IDX file (the MNIST format: N x H x W bytes), / 255. */
static void unlabeled_from_idx(const char *path, int rows, int cols, unlabeled *u)
{
    dst_error e;
    size_t i;
    if (dst_idx_load(path, &u->idx, &e) != DST_OK) fail(1, "--unlabeled %s", e.message);
    if (u->idx.ndim != 3 || u->idx.dims[0] < 1)
        fail(1, "--unlabeled %s: %d-D IDX data; expected images (N x %d x %d)", path, u->idx.ndim, rows, cols);
    if (u->idx.dims[1] != rows || u->idx.dims[2] != cols)
        fail(1, "--unlabeled %s: images of %dx%d; the data's are %dx%d", path, u->idx.dims[1], u->idx.dims[2], rows, cols);
    for (i = 0; i < u->idx.count; ++i) u->idx.data[i] *= 1.0f / 255.0f;
    u->x = u->idx.data;
    u->count = (size_t)u->idx.dims[0];
}

static void unlabeled_load(const char *path, int rows, int cols, unlabeled *u)
{
    size_t i, step, above = 0;
    memset(u, 0, sizeof *u);
    if (is_npy(path)) unlabeled_from_npy(path, rows, cols, u);
    else unlabeled_from_idx(path, rows, cols, u);
    /* a .npy of raw pixels (0 to 255) would train on inputs 255 times too large */
    step = u->count > 1000 ? u->count / 1000 : 1;
    for (i = 0; i < u->count; i += step)
        above += u->x[i * (size_t)rows * (size_t)cols + (size_t)(rows / 2) * (size_t)cols + (size_t)(cols / 2)] > 1.5f;
    if (above) warn("--unlabeled %s: values above 1; the training images are pixels / 255, in [0, 1]", path);
}

static void unlabeled_free(unlabeled *u)
{
    dst_npy_free(&u->npy);
    dst_idx_free(&u->idx);
    memset(u, 0, sizeof *u);
}

/* Teacher logits from a .npy for the stream fit distills on: rows for every
   training image in order, then one per unlabelled image. With --limit the
   stream takes the first train_count training rows and the unlabelled ones;
   *owned is then a compacted copy (freed by the caller), else NULL. */
static const float *stream_logits(const args *a, const dst_npy *npy, size_t data_count, size_t train_count,
                                  size_t unlabeled_count, int classes, float **owned)
{
    const float *all = (const float *)npy->data;
    size_t k = (size_t)classes;
    *owned = NULL;
    if (npy->shape[0] != data_count + unlabeled_count)
        fail(1, "--teacher-logits %s: %lu rows, expected %lu: one per training image, then one per --unlabeled image",
             a->teacher_logits, (unsigned long)npy->shape[0], (unsigned long)(data_count + unlabeled_count));
    if (train_count == data_count) return all;
    if (!(*owned = (float *)malloc((train_count + unlabeled_count) * k * sizeof(float)))) fail(1, "out of memory");
    memcpy(*owned, all, train_count * k * sizeof(float));
    memcpy(*owned + train_count * k, all + data_count * k, unlabeled_count * k * sizeof(float));
    return *owned;
}

/* --schedule cosine|step:E:G and --warmup E into fit->schedule (after the
   epochs are known). cosine decays to 0 over the epochs after the warmup. */
static void schedule_settings(const args *a, dst_fit_config *fit)
{
    dst_lr_schedule *s = &fit->schedule;
    memset(s, 0, sizeof *s);
    s->kind = DST_LR_CONSTANT;
    if (a->warmup) {
        s->warmup = parse_int("--warmup", a->warmup, 0, 1000000);
        if (s->warmup >= fit->epochs) fail(2, "--warmup: %ld epochs leave none of the %d to train at the full rate",
                                           s->warmup, fit->epochs);
    }
    if (!a->schedule || strcmp(a->schedule, "constant") == 0) return;
    if (strcmp(a->schedule, "cosine") == 0) {
        s->kind = DST_LR_COSINE;
        s->total = fit->epochs - s->warmup;
        s->min_lr = 0;
    } else if (strncmp(a->schedule, "step:", 5) == 0) {
        char buf[64], *colon;
        snprintf(buf, sizeof buf, "%s", a->schedule + 5);
        if (!(colon = strchr(buf, ':'))) fail(2, "--schedule: '%s' is not step:E:G (every E epochs, lr times G)", a->schedule);
        *colon = 0;
        s->kind = DST_LR_STEP;
        s->step_size = parse_int("--schedule step: epochs", buf, 1, 1000000);
        s->gamma = (float)parse_real("--schedule step: factor", colon + 1, 0, 1, 1);
    } else {
        fail(2, "--schedule: '%s' is not constant, cosine or step:E:G", a->schedule);
    }
}

/* The schedule as --schedule spells it, for the metadata. */
static void schedule_name(const dst_lr_schedule *s, char *buf, size_t cap)
{
    if (s->kind == DST_LR_COSINE) snprintf(buf, cap, "cosine");
    else if (s->kind == DST_LR_STEP) snprintf(buf, cap, "step:%ld:%g", s->step_size, (double)s->gamma);
    else snprintf(buf, cap, "constant");
}

/* --attention S:T[:W]: the student's layer S learns the attention maps of
   the teacher's layer T, weight W (1). */
static void attention_settings(const args *a, dst_attention_term *term)
{
    char buf[64], *second, *third;
    snprintf(buf, sizeof buf, "%s", a->attention);
    if (!(second = strchr(buf, ':'))) fail(2, "--attention: '%s' is not S:T[:W] (layer positions, weight)", a->attention);
    *second++ = 0;
    if ((third = strchr(second, ':')) != NULL) *third++ = 0;
    term->student_layer = (int)parse_int("--attention: student layer", buf, 0, SPEC_MAX_LAYERS - 1);
    term->teacher_layer = (int)parse_int("--attention: teacher layer", second, 0, DST_MAX_LAYERS - 1);
    term->weight = third ? (float)parse_real("--attention: weight", third, 0, 1e6, 0) : 1.0f;
}

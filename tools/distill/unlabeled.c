/* tools/distill/unlabeled.c - `distill distill --unlabeled FILE`: a transfer
   set of samples without labels (an IDX file, plain or .gz, a .npy array, or
   a folder of images), distilled on with the teacher's soft targets alone; --attention
   S:T[:W] and --hint S:T[:W]; and the learning-rate options (--schedule, --warmup) of train and
   distill.
   Part of the distill command (built through distill.c). */
#include "cli.h"

/* ".npy" at the end of path */
static int is_npy(const char *path)
{
    size_t n = strlen(path);
    return n >= 4 && strcmp(path + n - 4, ".npy") == 0;
}

/* The samples of a .npy float32 array, as the data's samples are loaded
   (images as pixels / 255), shaped (N, C, H, W), (N, H, W) for one channel,
   or (N, C x H x W). */
static void unlabeled_from_npy(const char *path, const sets *d, unlabeled *u)
{
    dst_error e;
    const dst_npy *a = &u->npy;
    const dst_dataset *t = &d->train;
    size_t ss = dst_dataset_sample_size(t), i;
    int shaped;
    if (dst_npy_load(path, &u->npy, &e) != DST_OK) fail(1, "--unlabeled %s", e.message);
    if (a->dtype != DST_NPY_FLOAT32)
        fail(1, "--unlabeled %s: an int32 array; expected float32 samples like the data's%s", path,
             d->pixels ? " (pixels / 255, in [0, 1])" : "");
    shaped = (a->ndim == 4 && a->shape[1] == (size_t)t->channels && a->shape[2] == (size_t)t->height &&
              a->shape[3] == (size_t)t->width) ||
             (a->ndim == 3 && t->channels == 1 && a->shape[1] == (size_t)t->height && a->shape[2] == (size_t)t->width) ||
             (a->ndim == 2 && a->shape[1] == ss);
    if (!shaped || a->shape[0] == 0)
        fail(1, "--unlabeled %s: a %d-D array of shape (%lu%s); expected samples like the data's: (N, %d, %d, %d) "
                "or (N, %lu)", path, a->ndim, (unsigned long)(a->ndim ? a->shape[0] : 0), a->ndim > 1 ? ", ..." : "",
             t->channels, t->height, t->width, (unsigned long)ss);
    u->x = (const float *)a->data;
    u->count = a->shape[0];
    for (i = 0; i < a->count; ++i)
        if (!(u->x[i] >= -1e30f && u->x[i] <= 1e30f)) fail(1, "--unlabeled %s: value %lu is not finite", path, (unsigned long)i);
}

/* The samples of an IDX file (N x H x W images, or N x F rows); bytes are
   pixels (/ 255) when the training data's are. */
static void unlabeled_from_idx(const char *path, const sets *d, unlabeled *u)
{
    dst_error e;
    const dst_dataset *t = &d->train;
    size_t i, per;
    if (dst_idx_load(path, &u->idx, &e) != DST_OK) fail(1, "--unlabeled %s", e.message);
    per = u->idx.ndim >= 1 && u->idx.dims[0] > 0 ? u->idx.count / (size_t)u->idx.dims[0] : 0;
    if (u->idx.ndim == 3 && (u->idx.dims[1] != t->height || u->idx.dims[2] != t->width))
        fail(1, "--unlabeled %s: images of %dx%d; the data's are %dx%d", path, u->idx.dims[1], u->idx.dims[2], t->height,
             t->width);
    if (u->idx.ndim < 2 || u->idx.dims[0] < 1 || per != dst_dataset_sample_size(t) ||
        (u->idx.ndim == 3 && (u->idx.dims[1] != t->height || u->idx.dims[2] != t->width)))
        fail(1, "--unlabeled %s: %d-D IDX data of %lu values a sample; the data's samples are %dx%dx%d", path,
             u->idx.ndim, (unsigned long)per, t->channels, t->height, t->width);
    if (d->pixels && u->idx.type == 0x08)
        for (i = 0; i < u->idx.count; ++i) u->idx.data[i] *= 1.0f / 255.0f;
    u->x = u->idx.data;
    u->count = (size_t)u->idx.dims[0];
}

/* The pictures of a folder DIR/<any name>/ of .png, .jpg or .bmp files (the names are
   not used), at the training images' size and channels, pixels / 255. */
static void unlabeled_from_folder(const char *dir, const sets *d, unlabeled *u)
{
    dst_error e;
    dst_image_prep p = dst_image_prep_default(d->train.channels, d->train.height, d->train.width);
    if (!d->pixels) fail(1, "--unlabeled %s: a folder of images, but the training data are not images", dir);
    if (dst_image_folder_load(dir, &p, NULL, 0, &u->folder, &e) != DST_OK) fail(1, "--unlabeled %s", e.message);
    u->x = u->folder.x;
    u->count = u->folder.count;
}

static void unlabeled_load(const char *path, const sets *d, unlabeled *u)
{
    size_t i, step, above = 0, ss = dst_dataset_sample_size(&d->train);
    memset(u, 0, sizeof *u);
    if (is_dir(path)) unlabeled_from_folder(path, d, u);
    else if (is_npy(path)) unlabeled_from_npy(path, d, u);
    else unlabeled_from_idx(path, d, u);
    /* a .npy of raw pixels (0 to 255) would train on inputs 255 times too large */
    step = u->count > 1000 ? u->count / 1000 : 1;
    for (i = 0; d->pixels && i < u->count; i += step) above += u->x[i * ss + ss / 2] > 1.5f;
    if (above) warn("--unlabeled %s: values above 1; the training images are pixels / 255, in [0, 1]", path);
}

static void unlabeled_free(unlabeled *u)
{
    dst_npy_free(&u->npy);
    dst_idx_free(&u->idx);
    dst_dataset_free(&u->folder);
    memset(u, 0, sizeof *u);
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

/* One S:T[:W] of --attention or --hint (flag): layer positions, weight (1). */
static void feature_term(const char *flag, const char *text, int *student, int *teacher, float *weight)
{
    char buf[64], what[64], *second, *third;
    if (strlen(text) >= sizeof buf || !(second = strchr(strcpy(buf, text), ':')))
        fail(2, "%s: '%s' is not S:T[:W] (layer positions, weight)", flag, text);
    *second++ = 0;
    if ((third = strchr(second, ':')) != NULL) *third++ = 0;
    snprintf(what, sizeof what, "%s: student layer", flag);
    *student = (int)parse_int(what, buf, 0, SPEC_MAX_LAYERS - 1);
    snprintf(what, sizeof what, "%s: teacher layer", flag);
    *teacher = (int)parse_int(what, second, 0, DST_MAX_LAYERS - 1);
    snprintf(what, sizeof what, "%s: weight", flag);
    *weight = third ? (float)parse_real(what, third, 0, 1e6, 0) : 1.0f;
}

/* --attention S:T[:W] (the student's layer S learns the attention maps of
   the teacher's layer T) and --hint S:T[:W] (it learns, through an adapter,
   the teacher's layer T's outputs), each as often as given, into fit. */
static void feature_settings(const args *a, feature_terms *ft, dst_fit_config *fit)
{
    int k;
    const char *flag = a->attention.n ? "--attention" : "--hint";
    if (!a->attention.n && !a->hint.n) return;
    if (!a->teacher) fail(2, "%s needs --teacher (a model: its layers' outputs), not --teacher-logits", flag);
    memset(ft, 0, sizeof *ft);
    for (k = 0; k < a->attention.n; ++k)
        feature_term("--attention", a->attention.v[k], &ft->attention[k].student_layer,
                     &ft->attention[k].teacher_layer, &ft->attention[k].weight);
    for (k = 0; k < a->hint.n; ++k)
        feature_term("--hint", a->hint.v[k], &ft->hint[k].student_layer, &ft->hint[k].teacher_layer,
                     &ft->hint[k].weight);
    fit->attention = ft->attention;
    fit->attention_count = a->attention.n;
    fit->hint = ft->hint;
    fit->hint_count = a->hint.n;
}

/* The terms as given, comma-separated: what the model's metadata records. */
static void feature_text(const arg_list *l, char *buf, size_t cap)
{
    int k;
    size_t used = 0;
    buf[0] = 0;
    for (k = 0; k < l->n && used < cap; ++k)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", k ? "," : "", l->v[k]);
}

/* tools/distill/train.c - `distill train` and `distill distill`: the model
   built from its SPEC, the teacher (a model or cached logits), dst_model_fit
   with a progress line, the metadata saved with the model, the log and plot.
   Part of the distill command (built through distill.c). */
#include "cli.h"

/* ==== models: build and describe ========================================= */

static dst_model *build_model(const char *arch, const sets *d, uint64_t seed)
{
    spec sp;
    char msg[300];
    dst_model_desc desc = dst_model_desc_default();
    dst_model *m;
    dst_error e;
    int layer;
    if (!spec_parse(arch, d->train.channels, &sp, msg, sizeof msg)) fail(2, "--arch: %s", msg);
    desc.input_c = d->train.channels;
    desc.input_h = d->train.height;
    desc.input_w = d->train.width;
    desc.layers = sp.layers;
    desc.layer_count = sp.count;
    desc.seed = seed;
    if (dst_model_create(&m, &desc, &e) != DST_OK) {
        if (sscanf(e.message, "layer %d", &layer) == 1 && layer >= 0 && layer < sp.count)
            fail(2, "--arch: position %d (%.*s): %s", sp.pos[layer], sp.len[layer], arch + sp.pos[layer] - 1, e.message);
        fail(2, "--arch: %s", e.message);
    }
    /* one output per class: fewer cannot name every class, more are never
       a label and only dilute the softmax */
    if ((int)dst_model_output_size(m) != d->train.classes)
        fail(2, "--arch: the model ends with %lu outputs but the data has %d classes (end the SPEC with dense:%d)",
             (unsigned long)dst_model_output_size(m), d->train.classes, d->train.classes);
    return m;
}

/* Weights and biases (dst_model_param_count includes the alignment padding). */
static size_t count_params(const dst_model *m)
{
    size_t n = 0;
    int i;
    for (i = 0; i < dst_model_layer_count(m); ++i) {
        dst_layer_info li;
        if (dst_model_layer(m, i, &li) == DST_OK) n += li.weight_count + li.bias_count;
    }
    return n;
}

static void meta_string(dst_model *m, const char *key, const char *value)
{
    if (value && dst_model_meta_set_string(m, key, value) != DST_OK)
        fail(1, "metadata %s: %s", key, dst_model_error(m));
}

static void meta_number(dst_model *m, const char *key, double value)
{
    if (dst_model_meta_set_number(m, key, value) != DST_OK) fail(1, "metadata %s: %s", key, dst_model_error(m));
}

/* The mean pixel of the training images' one-pixel border (all channels):
   the background the model learned on, which predict compares a picture with. */
static double border_mean(const dst_dataset *d)
{
    double sum = 0;
    size_t i, n = 0, step = d->count > 1000 ? d->count / 1000 : 1;
    int r, c, ch, rows = d->height, cols = d->width;
    for (i = 0; i < d->count; i += step)
        for (ch = 0; ch < d->channels; ++ch) {
            const float *img = d->x + (i * (size_t)d->channels + (size_t)ch) * (size_t)rows * (size_t)cols;
            for (r = 0; r < rows; ++r)
                for (c = 0; c < cols; ++c)
                    if (r == 0 || c == 0 || r == rows - 1 || c == cols - 1) { sum += (double)img[r * cols + c]; ++n; }
        }
    return n ? sum / (double)n : 0;
}

/* ==== training: progress on a terminal, curves for logs and plots ========= */

typedef struct run {
    int tty, quiet, line_len;
    double last_print;
    curves cv;
    dst_model *m;           /* with a validation set: the test set, evaluated for the display only */
    const float *test_x;
    const int *test_y;
    size_t test_count;
    int best;               /* keep-best: the best epoch so far (0-based), -1 none */
} run;

static void clear_line(run *r)
{
    if (r->line_len) printf("\r%*s\r", r->line_len, "");
    r->line_len = 0;
}

static void format_time(double s, char *buf, size_t cap)
{
    if (s >= 3600) snprintf(buf, cap, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else if (s >= 60) snprintf(buf, cap, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else snprintf(buf, cap, "%.1fs", s);
}

/* The columns of the terminal stdout is on: asked of the terminal (it may
   have been resized since the last line), else $COLUMNS, else 80. */
static int terminal_width(void)
{
    const char *env = getenv("COLUMNS");
    long cols;
#if defined(_WIN32)
    CONSOLE_SCREEN_BUFFER_INFO info;
    if (GetConsoleScreenBufferInfo(GetStdHandle(STD_OUTPUT_HANDLE), &info) &&
        info.srWindow.Right > info.srWindow.Left)
        return info.srWindow.Right - info.srWindow.Left + 1;
#elif defined(TIOCGWINSZ)
    struct winsize ws;
    if (ioctl(fileno(stdout), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
#endif
    cols = env ? strtol(env, NULL, 10) : 0;
    return cols > 0 && cols < 100000 ? (int)cols : 80;
}

/* The live line: its fields in the order shown, each with its rank (0 the
   most useful). A terminal narrower than the whole line loses the least
   useful fields first (the speed, then the loss, the accuracy, the time
   left, the batch) and then the line's end, so it never reaches the last
   column: a line that wraps cannot be taken back by a carriage return. */
static int print_live_line(const dst_progress *p, const char *left)
{
    enum { FIELDS = 6 };
    static const int rank[FIELDS] = { 0, 1, 4, 3, 5, 2 }; /* epoch, batch, loss, accuracy, speed, left */
    char f[FIELDS][48], line[FIELDS * 50];
    int i, keep, len, room = terminal_width() - 1;
    snprintf(f[0], sizeof f[0], "epoch %d/%d", p->epoch + 1, p->epochs);
    snprintf(f[1], sizeof f[1], "batch %lu/%lu", (unsigned long)p->batch, (unsigned long)p->batches);
    snprintf(f[2], sizeof f[2], "loss %.4f", (double)p->loss);
    snprintf(f[3], sizeof f[3], "accuracy %.4f", (double)p->accuracy);
    snprintf(f[4], sizeof f[4], "%.0f samples/s", p->samples_per_second);
    snprintf(f[5], sizeof f[5], "%s left", left);
    for (keep = FIELDS; keep > 1; --keep) { /* the fields ranked below keep */
        for (len = -2, i = 0; i < FIELDS; ++i)
            if (rank[i] < keep) len += 2 + (int)strlen(f[i]);
        if (len <= room) break;
    }
    for (line[0] = 0, i = 0; i < FIELDS; ++i)
        if (rank[i] < keep) {
            if (line[0]) strcat(line, "  ");
            strcat(line, f[i]);
        }
    if (room < 1) room = 1;
    len = (int)strlen(line);
    if (len > room) line[len = room] = 0;
    fputs(line, stdout);
    return len;
}

/* dst_model_fit calls this every batch (on a terminal) and at each epoch's end. */
static int on_progress(void *user, const dst_progress *p)
{
    run *r = (run *)user;
    char left[32], spent[32];
    double total = (double)p->epochs * (double)p->batches;
    double done = (double)p->epoch * (double)p->batches + (double)p->batch;
    format_time(done > 0 ? p->seconds * (total - done) / done : 0, left, sizeof left);
    format_time(p->seconds, spent, sizeof spent);
    if (p->epoch_done) {
        float *v, test_loss = p->val_loss, test_acc = p->val_accuracy;
        if (r->test_x && dst_model_evaluate(r->m, r->test_x, r->test_y, r->test_count, 0, &test_loss, &test_acc) != DST_OK)
            fail(1, "test set: %s", dst_model_error(r->m));
        v = curve_push(&r->cv);
        v[0] = p->loss; v[1] = p->accuracy; v[2] = test_loss; v[3] = test_acc; v[4] = (float)p->seconds;
        if (r->quiet) return 0;
        clear_line(r);
        printf("epoch %d/%d  loss %.4f  accuracy %.4f  ", p->epoch + 1, p->epochs, (double)p->loss, (double)p->accuracy);
        if (r->test_x) printf("val loss %.4f  val accuracy %.4f%s  ", (double)p->val_loss, (double)p->val_accuracy,
                              p->best_epoch == p->epoch ? " *" : "");
        printf("test loss %.4f  test accuracy %.4f  %.0f samples/s  %s\n", (double)test_loss, (double)test_acc,
               p->samples_per_second, spent);
        fflush(stdout);
        return 0;
    }
    if (!r->tty || r->quiet || p->seconds - r->last_print < 0.2) return 0;
    r->last_print = p->seconds;
    clear_line(r);
    r->line_len = print_live_line(p, left);
    fflush(stdout);
    return 0;
}

static void write_log(const char *path, const args *a, const char *label, const curves *cv)
{
    FILE *f = fopen(path, "w");
    int i, k;
    if (!f) fail(1, "--log: cannot write %s", path);
    fprintf(f, "# distill");
    for (i = 1; i < a->argc; ++i) fprintf(f, " %s", a->argv[i]);
    fprintf(f, "\n# label: %s\nepoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds\n", label);
    for (i = 0; i < cv->n; ++i) {
        fprintf(f, "%d", i + 1);
        for (k = 0; k < CURVE_COLS; ++k) fprintf(f, ",%.6g", (double)cv->v[i * CURVE_COLS + k]);
        fputc('\n', f);
    }
    if (fclose(f) != 0) fail(1, "--log: error writing %s", path);
}

/* The training options into fit, opt and seed; every bad value stops here,
   before anything is read. */
static void train_settings(const args *a, dst_fit_config *fit, dst_optimizer_config *opt, uint64_t *seed)
{
    no_positional(a);
    need(a->arch, "--arch");
    need(a->epochs, "--epochs");
    need(a->out, "--out");
    if (a->cmd == C_DISTILL) {
        if (!a->teacher && !a->teacher_logits) fail(2, "--teacher (a model) or --teacher-logits (a .npy) is required");
        if (a->teacher && a->teacher_logits) fail(2, "give --teacher or --teacher-logits, not both");
        if (a->teacher_weights) {
            float w[MAX_TEACHERS];
            teacher_weights(a, w);
        }
        need(a->temperature, "--temperature");
        need(a->alpha, "--alpha");
        fit->temperature = (float)parse_real("--temperature", a->temperature, 0, 1000, 1);
        fit->alpha = (float)parse_real("--alpha", a->alpha, 0, 1, 0);
    }
    fit->epochs = (int)parse_int("--epochs", a->epochs, 1, 1000000);
    schedule_settings(a, fit);
    augment_settings(a, &fit->augment);
    if (a->augment && a->teacher_logits)
        fail(2, "--augment with --teacher-logits: cached logits belong to the samples as they were, not to the "
                "augmented views the student sees; give --teacher MODEL (run on every augmented batch)");
    if (a->batch) fit->batch_size = (int)parse_int("--batch", a->batch, 1, 1 << 16);
    if (a->seed) *seed = (uint64_t)parse_int("--seed", a->seed, 0, 0x7fffffffL);
    fit->seed = *seed;
    if (!a->optimizer || strcmp(a->optimizer, "adam") == 0) *opt = dst_optimizer_default(DST_ADAM);
    else if (strcmp(a->optimizer, "adamw") == 0) *opt = dst_optimizer_default(DST_ADAMW);
    else if (strcmp(a->optimizer, "sgd") == 0) { *opt = dst_optimizer_default(DST_SGD); opt->momentum = 0.9f; }
    else fail(2, "--optimizer: '%s' is not one of sgd, adam, adamw", a->optimizer);
    if (a->lr) opt->lr = (float)parse_real("--lr", a->lr, 0, 1000, 1);
    if (a->momentum) {
        if (opt->kind != DST_SGD) fail(2, "--momentum applies to --optimizer sgd");
        opt->momentum = (float)parse_real("--momentum", a->momentum, 0, 1, 0);
    }
    if (a->weight_decay) opt->weight_decay = (float)parse_real("--weight-decay", a->weight_decay, 0, 1000, 0);
    if (a->keep_best && !a->val) fail(2, "--keep-best needs --val FRACTION (a validation set; the test set never picks)");
    if (a->patience) {
        if (!a->keep_best) fail(2, "--patience goes with --keep-best");
        fit->patience = (int)parse_int("--patience", a->patience, 1, 1000000);
    }
    fit->keep_best = a->keep_best;
    if (a->plot) {
        const char *dot = strrchr(a->plot, '.');
        if (!dot || (strcmp(dot, ".png") != 0 && strcmp(dot, ".svg") != 0))
            fail(2, "--plot %s: the name must end in .png or .svg", a->plot);
    }
}

/* A teacher of logits another framework saved (one row per row or image of
   the training data, in order, then one per --unlabeled sample) into *t,
   gathered to the training samples left after the splits and --limit, then
   the unlabelled ones, into *gathered; returns their accuracy on the
   training labels. */
static float teacher_from_npy(const args *a, const dst_model *m, const sets *d, size_t unlabeled_count,
                              const dst_npy *npy, float **gathered, dst_teacher *t)
{
    size_t k, right = 0, row, total = d->train.count + unlabeled_count;
    int classes = (int)dst_model_output_size(m);
    const float *rows;
    if (npy->dtype != DST_NPY_FLOAT32 || npy->ndim != 2)
        fail(1, "--teacher-logits %s: a %d-D %s array, expected 2-D float32 (%s x classes)", a->teacher_logits,
             npy->ndim, npy->dtype == DST_NPY_FLOAT32 ? "float32" : "int32", d->what);
    if (npy->shape[0] != d->source_rows + unlabeled_count || npy->shape[1] != (size_t)classes)
        fail(1, "--teacher-logits %s: shape (%lu, %lu), expected (%lu, %d): one row per training %s%s, one "
                "column per output", a->teacher_logits, (unsigned long)npy->shape[0], (unsigned long)npy->shape[1],
             (unsigned long)(d->source_rows + unlabeled_count), classes, d->what[0] == 'i' ? "image" : "row",
             unlabeled_count ? ", then one per --unlabeled sample" : "");
    *gathered = (float *)malloc((total ? total : 1) * (size_t)classes * sizeof(float));
    if (!*gathered) fail(1, "out of memory");
    rows = (const float *)npy->data;
    for (k = 0; k < d->train.count; ++k) {
        row = d->train_rows ? d->train_rows[k] : k;
        memcpy(*gathered + k * (size_t)classes, rows + row * (size_t)classes, (size_t)classes * sizeof(float));
        right += argmax(*gathered + k * (size_t)classes, classes) == d->train.y[k];
    }
    if (unlabeled_count)
        memcpy(*gathered + d->train.count * (size_t)classes, rows + d->source_rows * (size_t)classes,
               unlabeled_count * (size_t)classes * sizeof(float));
    *t = dst_teacher_logits(*gathered, total, classes);
    return (float)right / (float)d->train.count;
}

/* Whether two models normalise their inputs alike (on the first sample). */
static int same_normalization(dst_model *a, dst_model *b, const dst_dataset *d)
{
    size_t ss = dst_dataset_sample_size(d);
    float *x = normalized_rows(a, d->x, 1, ss), *y = normalized_rows(b, d->x, 1, ss);
    int same = memcmp(x, y, ss * sizeof(float)) == 0;
    free(x);
    free(y);
    return same;
}

/* A teacher model as *t; returns its test accuracy. Without feature terms
   (--attention, --hint) or augmentation it runs here once over the training
   samples, then the unlabelled ones, each with its own normalisation, into
   *cache (every epoch reads the cache). With them (live: the option that
   asks) fit runs it on the student's batches, so the two must normalise
   their inputs alike. */
static float teacher_from_model(dst_model *teacher, dst_model *m, const sets *d, const unlabeled *u, const char *live,
                                float **cache, dst_teacher *t)
{
    dst_teacher run;
    dst_error e;
    float tacc = 0, *x;
    size_t in = dst_model_input_size(m), classes = dst_model_output_size(m);
    check_model_fits_sets(teacher, d, "--teacher");
    if (dst_model_output_size(teacher) != dst_model_output_size(m))
        fail(1, "--teacher has %lu outputs, the student %lu", (unsigned long)dst_model_output_size(teacher),
             (unsigned long)dst_model_output_size(m));
    x = normalized_copy(teacher, &d->test);
    if (dst_model_evaluate(teacher, x, d->test.y, d->test.count, 0, NULL, &tacc) != DST_OK)
        fail(1, "--teacher: %s", dst_model_error(teacher));
    free(x);
    run = dst_teacher_model(teacher);
    if (live) {
        if (!same_normalization(teacher, m, &d->train))
            fail(1, "%s: the teacher normalises its inputs differently from the student (it was trained on other "
                    "data or statistics), and %s runs both on the same batch", live,
                 strcmp(live, "--augment") == 0 ? "augmentation" : "a feature term");
        *t = run;
        return tacc;
    }
    *cache = (float *)malloc((d->train.count + u->count) * classes * sizeof(float));
    if (!*cache) fail(1, "out of memory for the teacher's logits");
    x = normalized_copy(teacher, &d->train);
    if (dst_teacher_cache(&run, x, in, d->train.count, *cache, &e) != DST_OK) fail(1, "--teacher: %s", e.message);
    free(x);
    if (u->count) {
        x = normalized_rows(teacher, u->x, u->count, in);
        if (dst_teacher_cache(&run, x, in, u->count, *cache + d->train.count * classes, &e) != DST_OK)
            fail(1, "--teacher: %s", e.message);
        free(x);
    }
    *t = dst_teacher_logits(*cache, d->train.count + u->count, (int)classes);
    return tacc;
}

/* Several --teacher models as one ensemble teacher: each as
   teacher_from_model makes it (its own cache, or live), in members[] and
   caches[], then their ensemble at the fit's temperature with the
   --teacher-weights into *t. Returns the ensemble's test accuracy: the
   argmax of the weighted mean of the teachers' tempered probabilities. */
static float teachers_ensemble(const args *a, dst_model **models, dst_model *m, const sets *d, const unlabeled *u,
                               const char *live, float temperature, float *weights, float **caches,
                               dst_teacher *members, dst_teacher *t)
{
    int n = a->teachers.n, i, j, classes = (int)dst_model_output_size(m);
    size_t k, right = 0, cells = d->test.count * (size_t)classes;
    float *mean = (float *)calloc(cells ? cells : 1, sizeof(float)), *out = (float *)malloc((cells ? cells : 1) * sizeof(float));
    if (!mean || !out) fail(1, "out of memory");
    teacher_weights(a, weights);
    for (i = 0; i < n; ++i) {
        float *x, tacc = teacher_from_model(models[i], m, d, u, live, &caches[i], &members[i]);
        if (!a->quiet) printf("teacher %d (%s): test accuracy %.4f, weight %g\n", i + 1, a->teachers.v[i],
                              (double)tacc, (double)weights[i]);
        x = normalized_copy(models[i], &d->test);
        if (dst_model_predict(models[i], x, d->test.count, out) != DST_OK) fail(1, "--teacher: %s", dst_model_error(models[i]));
        free(x);
        dst_softmax(out, out, (int)d->test.count, classes, temperature);
        for (k = 0; k < cells; ++k) mean[k] += weights[i] * out[k];
    }
    for (k = 0; k < d->test.count; ++k) {
        const float *row = mean + k * (size_t)classes;
        for (j = 1, i = 0; j < classes; ++j) if (row[j] > row[i]) i = j;
        right += i == d->test.y[k];
    }
    free(mean);
    free(out);
    *t = dst_teacher_ensemble(members, weights, n, temperature);
    return d->test.count ? (float)right / (float)d->test.count : 0;
}

/* What a later `distill info / predict` needs to know (docs/FORMAT.md lists
   the keys), then the model file. */
static void save_with_metadata(const args *a, dst_model *m, const sets *d, const dst_fit_config *fit,
                               const dst_optimizer_config *opt, uint64_t seed, const char *names, float tacc,
                               float acc, float loss)
{
    dst_error e;
    char *cmdline, text[64], terms[ARG_LIST_MAX * 65];
    size_t cmdlen = 8;
    int i;
    /* the command line without --threads N: the threads change the time, not
       one bit of the model, and a file trained on 1 or 8 threads is the same
       file byte for byte */
    for (i = 1; i < a->argc; ++i) cmdlen += strlen(a->argv[i]) + 1;
    if (!(cmdline = (char *)malloc(cmdlen))) fail(1, "out of memory");
    strcpy(cmdline, "distill");
    for (i = 1; i < a->argc; ++i) {
        if (i == a->threads_at) { i += a->threads_argc - 1; continue; }
        strcat(cmdline, " ");
        strcat(cmdline, a->argv[i]);
    }
    meta_string(m, "command", cmdline);
    meta_string(m, "arch", a->arch);
    meta_string(m, "classes", names);
    if (names && d->train.class_names && !a->classes) meta_string(m, "data.labels", "names");
    snprintf(text, sizeof text, "%dx%dx%d", d->train.channels, d->train.height, d->train.width);
    meta_string(m, "input.shape", text);
    if (d->pixels) { /* input.scale, input.mean and input.std are set by choose_normalization */
        meta_number(m, "input.invert", 0);
        meta_number(m, "input.background", border_mean(&d->train));
    }
    meta_string(m, "train.data", a->data ? a->data : a->train_x);
    meta_number(m, "train.samples", (double)d->train.count);
    if (d->val.count) meta_number(m, "train.val_samples", (double)d->val.count);
    if (d->test_fraction > 0) meta_number(m, "test.fraction", (double)d->test_fraction);
    meta_number(m, "train.epochs", fit->epochs);
    meta_number(m, "train.batch", fit->batch_size);
    meta_string(m, "train.optimizer", opt->kind == DST_SGD ? "sgd" : opt->kind == DST_ADAM ? "adam" : "adamw");
    meta_number(m, "train.lr", (double)opt->lr);
    schedule_name(&fit->schedule, text, sizeof text);
    meta_string(m, "train.schedule", text);
    meta_number(m, "train.warmup", (double)fit->schedule.warmup);
    meta_number(m, "train.seed", (double)seed);
    if (a->augment) meta_string(m, "train.augment", a->augment);
    if (a->cmd == C_DISTILL) {
        if (a->teachers.n > 1) { /* an ensemble: the files, comma-separated */
            size_t len = 1;
            char *list;
            for (i = 0; i < a->teachers.n; ++i) len += strlen(a->teachers.v[i]) + 1;
            if (!(list = (char *)malloc(len))) fail(1, "out of memory");
            list[0] = 0;
            for (i = 0; i < a->teachers.n; ++i) { if (i) strcat(list, ","); strcat(list, a->teachers.v[i]); }
            meta_string(m, "kd.teacher", list);
            free(list);
            meta_number(m, "kd.teachers", a->teachers.n);
            if (a->teacher_weights) meta_string(m, "kd.teacher_weights", a->teacher_weights);
        } else {
            meta_string(m, "kd.teacher", a->teacher ? a->teacher : a->teacher_logits);
        }
        meta_number(m, "kd.temperature", (double)fit->temperature);
        meta_number(m, "kd.alpha", (double)fit->alpha);
        meta_number(m, a->teacher ? "kd.teacher_accuracy" : "kd.teacher_train_accuracy", (double)tacc);
        if (a->attention.n) {
            feature_text(&a->attention, terms, sizeof terms);
            meta_string(m, "kd.attention", terms);
        }
        if (a->hint.n) {
            feature_text(&a->hint, terms, sizeof terms);
            meta_string(m, "kd.hint", terms);
        }
        if (a->unlabeled) {
            meta_string(m, "kd.unlabeled", a->unlabeled);
            meta_number(m, "kd.unlabeled_samples", (double)fit->unlabeled_count);
        }
    }
    meta_number(m, "test.accuracy", (double)acc);
    meta_number(m, "test.loss", (double)loss);
    free(cmdline);
    if (dst_model_save(m, a->out, &e) != DST_OK) fail(1, "--out %s", e.message);
}

/* A warning when the SPEC ends in an activation; called once the model is
   built, so that a refused SPEC still gets exactly one line on stderr. */
static void warn_final_activation(const char *arch)
{
    spec sp;
    char msg[300];
    int last;
    if (spec_parse(arch, 1, &sp, msg, sizeof msg) && (last = spec_final_activation(&sp)) >= 0)
        warn("--arch: position %d (%.*s): the SPEC ends in an activation, but the last layer's outputs are the "
             "logits; end it with dense:N (N classes)", sp.pos[last], sp.len[last], arch + sp.pos[last] - 1);
}

/* keep-best: which epoch's parameters the model ends with. */
static void report_best(const args *a, const run *r, const dst_fit_config *fit, int best)
{
    if (!a->keep_best || a->quiet || best < 0) return;
    printf("keep-best: the parameters of epoch %d (best validation accuracy)", best + 1);
    if (fit->patience && r->cv.n < fit->epochs)
        printf("; stopped after epoch %d, %d epochs without a better one", r->cv.n, fit->patience);
    printf("\n");
}

static int track_best(void *user, const dst_progress *p)
{
    run *r = (run *)user;
    if (p->epoch_done) r->best = p->best_epoch;
    return on_progress(user, p);
}

/* --quant-aware E: E more epochs of quantization-aware training (the batch
   norms folded first) at a tenth of the lr, constant, on the same data with
   the same teacher and validation; then the int8 model from the ranges they
   tracked. *mp becomes the folded model (its metadata kept); returns the
   int8 model. */
static dst_model *quant_aware_epochs(const args *a, dst_model **mp, dst_fit_config *fit, dst_optimizer_config *opt,
                                     dst_pool *pool, const float *train_x, const sets *d, run *r)
{
    dst_model *m = *mp, *f, *q;
    dst_quantize_options qo = dst_quantize_default();
    dst_error e;
    dst_result res;
    if (dst_model_fold_batchnorm(m, &f, &e) != DST_OK) fail(1, "--quant-aware: %s", e.message);
    copy_meta(m, f);
    dst_model_free(m);
    *mp = m = f;
    r->m = m;
    threads_attach(m, pool, "the model");
    opt->lr *= 0.1f;
    if (dst_model_set_optimizer(m, opt) != DST_OK || dst_model_set_quant_aware(m, 1) != DST_OK)
        fail(2, "--quant-aware: %s", dst_model_error(m));
    fit->epochs = (int)parse_int("--quant-aware", a->quant_aware, 1, 1000000);
    memset(&fit->schedule, 0, sizeof fit->schedule); /* constant */
    if (!a->quiet) printf("quantization-aware: %d epochs at lr %g\n", fit->epochs, (double)opt->lr);
    r->best = -1;
    res = dst_model_fit(m, train_x, d->train.y, d->train.count, fit);
    clear_line(r);
    if (res != DST_OK) fail(1, "quantization-aware training stopped: %s", dst_model_error(m));
    report_best(a, r, fit, r->best);
    qo.calibration = DST_CALIBRATE_TRAINED;
    if (dst_model_quantize(m, NULL, 0, &qo, &q, &e) != DST_OK) fail(1, "--quant-aware: %s", e.message);
    copy_meta(m, q);
    return q;
}

static void cmd_train(const args *a)
{
    sets d;
    dst_model *m, *teacher = NULL, *q = NULL;
    dst_optimizer_config opt;
    dst_fit_config fit = dst_fit_default();
    dst_teacher t, members[MAX_TEACHERS];
    dst_model *teachers[MAX_TEACHERS];
    float *caches[MAX_TEACHERS], weights[MAX_TEACHERS];
    const char *live = a->attention.n ? "--attention" : a->hint.n ? "--hint" : a->augment ? "--augment" : NULL;
    int i;
    dst_npy npy;
    dst_error e;
    dst_result res;
    unlabeled u;
    feature_terms terms;
    dst_pool *pool;
    float *cache = NULL, loss = 0, acc = 0, tacc = 0, *train_x, *val_x = NULL, *test_x, *unlabeled_x = NULL;
    char *names, label[64];
    run r;
    uint64_t seed = 1;

    memset(&npy, 0, sizeof npy);
    memset(&u, 0, sizeof u);
    train_settings(a, &fit, &opt, &seed);
    pool = threads_start(a);
    if (a->name) snprintf(label, sizeof label, "%s", a->name);
    else base_label(a->out, label, sizeof label);
    {   /* check what can be checked before the data set is read */
        spec sp;
        char msg[300];
        if (!spec_parse(a->arch, 1, &sp, msg, sizeof msg)) fail(2, "--arch: %s", msg);
    }
    feature_settings(a, &terms, &fit);
    if ((a->attention.n || a->hint.n) && a->teachers.n > 1)
        fail(2, "%s takes one --teacher (the outputs of one model's layers)", a->attention.n ? "--attention" : "--hint");
    memset(caches, 0, sizeof caches);
    for (i = 0; i < a->teachers.n; ++i) {
        teachers[i] = load_model(a->teachers.v[i], "--teacher");
        threads_attach(teachers[i], pool, "--teacher");
    }
    if (a->teacher) teacher = teachers[0];
    if (a->teacher_logits && dst_npy_load(a->teacher_logits, &npy, &e) != DST_OK)
        fail(1, "--teacher-logits %s", e.message);
    load_sets(a, NULL, seed, &d);
    if ((fit.augment.shift || fit.augment.flip) && d.train.height < 2)
        fail(2, "--augment: shift and flip move pixels, and the data's samples are rows of %d features, not images "
                "(noise:S and mixup:A suit tables)", d.train.width * d.train.channels);
    if (a->unlabeled) unlabeled_load(a->unlabeled, &d, &u);
    names = data_class_names(a, &d);
    m = build_model(a->arch, &d, seed);
    warn_final_activation(a->arch);
    threads_attach(m, pool, "the model");
    if (dst_model_set_optimizer(m, &opt) != DST_OK) fail(2, "optimizer: %s", dst_model_error(m));
    if (!a->quiet) {
        printf("data: %lu training", (unsigned long)d.train.count);
        if (d.val.count) printf(", %lu validation", (unsigned long)d.val.count);
        printf(" and %lu test %s of %dx%dx%d", (unsigned long)d.test.count, d.what, d.train.channels, d.train.height,
               d.train.width);
        if (d.test_fraction > 0) printf(" (test: %g held out)", (double)d.test_fraction);
        printf(", %d classes; model: %lu parameters; threads: %d\n", d.train.classes,
               (unsigned long)count_params(m), dst_pool_size(pool));
    }
    choose_normalization(&d, m, a->quiet);
    if (u.count) {
        unlabeled_x = normalized_rows(m, u.x, u.count, dst_dataset_sample_size(&d.train));
        fit.unlabeled_x = unlabeled_x;
        fit.unlabeled_count = u.count;
        if (!a->quiet)
            printf("transfer set: %lu %s without labels from %s (soft targets only)\n", (unsigned long)u.count, d.what,
                   a->unlabeled);
    }
    if (a->teacher_logits || teacher) {
        int logits = a->teacher_logits != NULL;
        tacc = logits ? teacher_from_npy(a, m, &d, u.count, &npy, &cache, &t)
             : a->teachers.n > 1 ? teachers_ensemble(a, teachers, m, &d, &u, live, fit.temperature, weights, caches,
                                                     members, &t)
                                 : teacher_from_model(teacher, m, &d, &u, live, &cache, &t);
        fit.teacher = &t;
        if (!a->quiet)
            printf("%s accuracy %.4f, T = %g, alpha = %g\n", logits ? "teacher logits: training"
                   : a->teachers.n > 1 ? "ensemble: test" : "teacher: test",
                   (double)tacc, (double)fit.temperature, (double)fit.alpha);
    }
    train_x = normalized_copy(m, &d.train);
    test_x = normalized_copy(m, &d.test);
    memset(&r, 0, sizeof r);
    r.last_print = -1; /* the first batch shows at once */
    r.tty = isatty(fileno(stdout));
    r.quiet = a->quiet;
    r.best = -1;
    if (d.val.count) { /* validation steers (keep-best); the test set is only shown */
        val_x = normalized_copy(m, &d.val);
        fit.val_x = val_x;
        fit.val_labels = d.val.y;
        fit.val_count = d.val.count;
        r.m = m;
        r.test_x = test_x;
        r.test_y = d.test.y;
        r.test_count = d.test.count;
    } else {
        fit.val_x = test_x;
        fit.val_labels = d.test.y;
        fit.val_count = d.test.count;
    }
    fit.progress = track_best;
    fit.progress_user = &r;
    fit.progress_every = r.tty && !a->quiet ? 1 : 0;
    res = dst_model_fit(m, train_x, d.train.y, d.train.count, &fit);
    clear_line(&r);
    if (res != DST_OK) fail(1, "training stopped: %s", dst_model_error(m));
    report_best(a, &r, &fit, r.best);
    if (dst_model_evaluate(m, test_x, d.test.y, d.test.count, 0, &loss, &acc) != DST_OK)
        fail(1, "evaluation: %s", dst_model_error(m));
    printf("accuracy: %.4f\nloss: %.4f\n", (double)acc, (double)loss);
    if (a->quant_aware) {
        float facc = acc;
        int train_epochs = fit.epochs;
        float train_lr = opt.lr;
        dst_lr_schedule train_schedule = fit.schedule;
        q = quant_aware_epochs(a, &m, &fit, &opt, pool, train_x, &d, &r);
        if (dst_model_evaluate(q, test_x, d.test.y, d.test.count, 0, &loss, &acc) != DST_OK)
            fail(1, "evaluation: %s", dst_model_error(q));
        printf("int8 accuracy: %.4f\nint8 loss: %.4f\n", (double)acc, (double)loss);
        meta_number(q, "quant.float_accuracy", (double)facc);
        meta_string(q, "quant.calibration", "trained");
        meta_number(q, "quant.aware_epochs", fit.epochs);
        meta_number(q, "quant.aware_lr", (double)opt.lr);
        fit.epochs = train_epochs; /* the metadata's train.* are the float training's */
        fit.schedule = train_schedule;
        opt.lr = train_lr;
    }
    save_with_metadata(a, q ? q : m, &d, &fit, &opt, seed, names, tacc, acc, loss);
    if (!a->quiet) printf("saved %s\n", a->out);
    if (a->log) write_log(a->log, a, label, &r.cv);
    if (a->plot) {
        plot_series s;
        memset(&s, 0, sizeof s);
        snprintf(s.label, sizeof s.label, "%s", label);
        s.cv = r.cv;
        plot_write(a->plot, label, &s, 1);
    }
    free(train_x);
    free(val_x);
    free(test_x);
    free(cache);
    free(names);
    free(r.cv.v);
    dst_model_free(q);
    dst_model_free(m);
    for (i = 0; i < a->teachers.n; ++i) {
        dst_model_free(teachers[i]);
        free(caches[i]);
    }
    dst_npy_free(&npy);
    free(unlabeled_x);
    unlabeled_free(&u);
    free_sets(&d);
    dst_pool_stop(pool);
}

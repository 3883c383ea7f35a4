/* tools/distill/train.c - `distill train` and `distill distill`: the model
   built from its SPEC, the teacher (a model or cached logits), dst_model_fit
   with a progress line, the metadata saved with the model, the log and plot.
   Part of the distill command (built through distill.c). */
#include "cli.h"

/* ==== models: build and describe ========================================= */

static dst_model *build_model(const char *arch, const dst_mnist *d, uint64_t seed)
{
    spec sp;
    char msg[300];
    dst_model_desc desc = dst_model_desc_default();
    dst_model *m;
    dst_error e;
    int layer;
    if (!spec_parse(arch, 1, &sp, msg, sizeof msg)) fail(2, "--arch: %s", msg);
    desc.input_c = 1;
    desc.input_h = d->rows;
    desc.input_w = d->cols;
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
    if ((int)dst_model_output_size(m) != d->classes)
        fail(2, "--arch: the model ends with %lu outputs but the data has %d classes (end the SPEC with dense:%d)",
             (unsigned long)dst_model_output_size(m), d->classes, d->classes);
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

/* The mean pixel of the training images' one-pixel border: the background
   the model learned on, which predict compares a picture with. */
static double border_mean(const float *x, size_t count, int rows, int cols)
{
    double sum = 0;
    size_t i, n = 0, step = count > 1000 ? count / 1000 : 1;
    int r, c;
    for (i = 0; i < count; i += step) {
        const float *img = x + i * (size_t)rows * (size_t)cols;
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
        float *v;
        v = curve_push(&r->cv);
        v[0] = p->loss; v[1] = p->accuracy; v[2] = p->val_loss; v[3] = p->val_accuracy; v[4] = (float)p->seconds;
        if (r->quiet) return 0;
        clear_line(r);
        printf("epoch %d/%d  loss %.4f  accuracy %.4f  test loss %.4f  test accuracy %.4f  %.0f samples/s  %s\n",
               p->epoch + 1, p->epochs, (double)p->loss, (double)p->accuracy, (double)p->val_loss,
               (double)p->val_accuracy, p->samples_per_second, spent);
        fflush(stdout);
        return 0;
    }
    if (!r->tty || r->quiet || p->seconds - r->last_print < 0.2) return 0;
    r->last_print = p->seconds;
    clear_line(r);
    r->line_len = printf("epoch %d/%d  batch %lu/%lu  loss %.4f  accuracy %.4f  %.0f samples/s  %s left",
                         p->epoch + 1, p->epochs, (unsigned long)p->batch, (unsigned long)p->batches,
                         (double)p->loss, (double)p->accuracy, p->samples_per_second, left);
    if (r->line_len < 0) r->line_len = 0;
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
    need(a->data, "--data");
    need(a->arch, "--arch");
    need(a->epochs, "--epochs");
    need(a->out, "--out");
    if (a->cmd == C_DISTILL) {
        if (!a->teacher && !a->teacher_logits) fail(2, "--teacher (a model) or --teacher-logits (a .npy) is required");
        if (a->teacher && a->teacher_logits) fail(2, "give --teacher or --teacher-logits, not both");
        need(a->temperature, "--temperature");
        need(a->alpha, "--alpha");
        fit->temperature = (float)parse_real("--temperature", a->temperature, 0, 1000, 1);
        fit->alpha = (float)parse_real("--alpha", a->alpha, 0, 1, 0);
    }
    fit->epochs = (int)parse_int("--epochs", a->epochs, 1, 1000000);
    schedule_settings(a, fit);
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
    if (a->plot) {
        const char *dot = strrchr(a->plot, '.');
        if (!dot || (strcmp(dot, ".png") != 0 && strcmp(dot, ".svg") != 0))
            fail(2, "--plot %s: the name must end in .png or .svg", a->plot);
    }
}

/* A teacher of logits another framework saved (one row per training image,
   in order, then one per --unlabeled image) into *t, over the training
   stream (*owned: a copy when --limit cuts it, else NULL); returns their
   accuracy on the training labels. */
static float teacher_from_npy(const args *a, const dst_model *m, const dst_mnist *d, size_t train_count,
                              size_t unlabeled_count, const dst_npy *npy, dst_teacher *t, float **owned)
{
    size_t k, right = 0;
    int classes = (int)dst_model_output_size(m);
    const float *rows;
    if (npy->dtype != DST_NPY_FLOAT32 || npy->ndim != 2)
        fail(1, "--teacher-logits %s: a %d-D %s array, expected 2-D float32 (images x classes)", a->teacher_logits,
             npy->ndim, npy->dtype == DST_NPY_FLOAT32 ? "float32" : "int32");
    if ((!unlabeled_count && npy->shape[0] != d->train_count) || npy->shape[1] != (size_t)classes)
        fail(1, "--teacher-logits %s: shape (%lu, %lu), expected (%lu, %d): one row per training image, one "
                "column per output", a->teacher_logits, (unsigned long)npy->shape[0], (unsigned long)npy->shape[1],
             (unsigned long)d->train_count, classes);
    rows = stream_logits(a, npy, d->train_count, train_count, unlabeled_count, classes, owned);
    *t = dst_teacher_logits(rows, train_count + unlabeled_count, classes);
    for (k = 0; k < train_count; ++k) right += argmax(rows + k * (size_t)classes, classes) == d->train_y[k];
    return (float)right / (float)train_count;
}

/* A teacher model as *t (dst_model_fit runs it once over the labelled and
   unlabelled images and caches its logits); returns its test accuracy. */
static float teacher_from_model(dst_model *teacher, const dst_model *m, const dst_mnist *d, dst_teacher *t)
{
    float tacc = 0;
    check_model_fits_data(teacher, d, "--teacher");
    if (dst_model_output_size(teacher) != dst_model_output_size(m))
        fail(1, "--teacher has %lu outputs, the student %lu", (unsigned long)dst_model_output_size(teacher),
             (unsigned long)dst_model_output_size(m));
    if (dst_model_evaluate(teacher, d->test_x, d->test_y, d->test_count, 0, NULL, &tacc) != DST_OK)
        fail(1, "--teacher: %s", dst_model_error(teacher));
    *t = dst_teacher_model(teacher);
    return tacc;
}

/* What a later `distill info / predict` needs to know (docs/FORMAT.md lists
   the keys), then the model file. */
static void save_with_metadata(const args *a, dst_model *m, const dst_mnist *d, size_t train_count,
                               const dst_fit_config *fit, const dst_optimizer_config *opt, uint64_t seed,
                               const char *names, float tacc, float acc, float loss)
{
    dst_error e;
    char *cmdline, text[64];
    size_t cmdlen = 8;
    int i;
    for (i = 1; i < a->argc; ++i) cmdlen += strlen(a->argv[i]) + 1;
    if (!(cmdline = (char *)malloc(cmdlen))) fail(1, "out of memory");
    strcpy(cmdline, "distill");
    for (i = 1; i < a->argc; ++i) { strcat(cmdline, " "); strcat(cmdline, a->argv[i]); }
    meta_string(m, "command", cmdline);
    meta_string(m, "arch", a->arch);
    meta_string(m, "classes", names);
    snprintf(text, sizeof text, "1x%dx%d", d->rows, d->cols);
    meta_string(m, "input.shape", text);
    meta_number(m, "input.scale", 1.0 / 255.0);
    meta_number(m, "input.invert", 0);
    meta_number(m, "input.mean", 0);
    meta_number(m, "input.std", 1);
    meta_number(m, "input.background", border_mean(d->train_x, train_count, d->rows, d->cols));
    meta_string(m, "train.data", a->data);
    meta_number(m, "train.samples", (double)train_count);
    meta_number(m, "train.epochs", fit->epochs);
    meta_number(m, "train.batch", fit->batch_size);
    meta_string(m, "train.optimizer", opt->kind == DST_SGD ? "sgd" : opt->kind == DST_ADAM ? "adam" : "adamw");
    meta_number(m, "train.lr", (double)opt->lr);
    schedule_name(&fit->schedule, text, sizeof text);
    meta_string(m, "train.schedule", text);
    meta_number(m, "train.warmup", (double)fit->schedule.warmup);
    meta_number(m, "train.seed", (double)seed);
    if (a->cmd == C_DISTILL) {
        meta_string(m, "kd.teacher", a->teacher ? a->teacher : a->teacher_logits);
        meta_number(m, "kd.temperature", (double)fit->temperature);
        meta_number(m, "kd.alpha", (double)fit->alpha);
        meta_number(m, a->teacher ? "kd.teacher_accuracy" : "kd.teacher_train_accuracy", (double)tacc);
        if (a->attention) meta_string(m, "kd.attention", a->attention);
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

static void cmd_train(const args *a)
{
    dst_mnist d;
    dst_model *m, *teacher = NULL;
    dst_optimizer_config opt;
    dst_fit_config fit = dst_fit_default();
    dst_teacher t;
    dst_npy npy;
    dst_error e;
    dst_result res;
    unlabeled u;
    dst_attention_term term;
    float *cache = NULL, loss = 0, acc = 0, tacc = 0;
    char *names, label[64];
    run r;
    size_t train_count;
    uint64_t seed = 1;

    memset(&npy, 0, sizeof npy);
    memset(&u, 0, sizeof u);
    train_settings(a, &fit, &opt, &seed);
    if (a->label) snprintf(label, sizeof label, "%s", a->label);
    else base_label(a->out, label, sizeof label);
    {   /* check what can be checked before the data set is read */
        spec sp;
        char msg[300];
        if (!spec_parse(a->arch, 1, &sp, msg, sizeof msg)) fail(2, "--arch: %s", msg);
    }
    if (a->attention) {
        if (!a->teacher) fail(2, "--attention needs --teacher (a model: its layers' outputs), not --teacher-logits");
        attention_settings(a, &term);
        fit.attention = &term;
        fit.attention_count = 1;
    }
    if (a->teacher) teacher = load_model(a->teacher, "--teacher");
    if (a->teacher_logits && dst_npy_load(a->teacher_logits, &npy, &e) != DST_OK)
        fail(1, "--teacher-logits %s", e.message);
    load_data(a->data, &d);
    train_count = d.train_count;
    if (a->limit) {
        size_t lim = (size_t)parse_int("--limit", a->limit, 1, 0x7fffffffL);
        if (lim < train_count) train_count = lim;
    }
    if (a->unlabeled) unlabeled_load(a->unlabeled, d.rows, d.cols, &u);
    names = class_names(a->classes, a->data, d.classes);
    m = build_model(a->arch, &d, seed);
    warn_final_activation(a->arch);
    if (dst_model_set_optimizer(m, &opt) != DST_OK) fail(2, "optimizer: %s", dst_model_error(m));
    if (!a->quiet)
        printf("data: %lu training and %lu test images of %dx%d, %d classes; model: %lu parameters\n",
               (unsigned long)train_count, (unsigned long)d.test_count, d.rows, d.cols, d.classes,
               (unsigned long)count_params(m));
    if (u.count) {
        fit.unlabeled_x = u.x;
        fit.unlabeled_count = u.count;
        if (!a->quiet)
            printf("transfer set: %lu images without labels from %s (soft targets only)\n", (unsigned long)u.count,
                   a->unlabeled);
    }
    if (a->teacher_logits || teacher) {
        int logits = a->teacher_logits != NULL;
        tacc = logits ? teacher_from_npy(a, m, &d, train_count, u.count, &npy, &t, &cache)
                      : teacher_from_model(teacher, m, &d, &t);
        fit.teacher = &t;
        if (!a->quiet)
            printf("%s accuracy %.4f, T = %g, alpha = %g\n", logits ? "teacher logits: training" : "teacher: test",
                   (double)tacc, (double)fit.temperature, (double)fit.alpha);
    }
    memset(&r, 0, sizeof r);
    r.last_print = -1; /* the first batch shows at once */
    r.tty = isatty(fileno(stdout));
    r.quiet = a->quiet;
    fit.val_x = d.test_x;
    fit.val_labels = d.test_y;
    fit.val_count = d.test_count;
    fit.progress = on_progress;
    fit.progress_user = &r;
    fit.progress_every = r.tty && !a->quiet ? 1 : 0;
    res = dst_model_fit(m, d.train_x, d.train_y, train_count, &fit);
    clear_line(&r);
    if (res != DST_OK) fail(1, "training stopped: %s", dst_model_error(m));
    if (dst_model_evaluate(m, d.test_x, d.test_y, d.test_count, 0, &loss, &acc) != DST_OK)
        fail(1, "evaluation: %s", dst_model_error(m));
    printf("accuracy: %.4f\nloss: %.4f\n", (double)acc, (double)loss);
    save_with_metadata(a, m, &d, train_count, &fit, &opt, seed, names, tacc, acc, loss);
    if (!a->quiet) printf("saved %s\n", a->out);
    if (a->log) write_log(a->log, a, label, &r.cv);
    if (a->plot) {
        plot_series s;
        memset(&s, 0, sizeof s);
        snprintf(s.label, sizeof s.label, "%s", label);
        s.cv = r.cv;
        plot_write(a->plot, label, &s, 1);
    }
    free(cache);
    free(names);
    free(r.cv.v);
    dst_model_free(m);
    dst_model_free(teacher);
    dst_npy_free(&npy);
    unlabeled_free(&u);
    dst_mnist_free(&d);
}

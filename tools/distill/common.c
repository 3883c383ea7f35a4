/* tools/distill/common.c - what every command uses: errors and numbers, the
   data set and its class names, loading a model and reading its shape and
   metadata, the pool of --threads. Part of the distill command (built
   through distill.c). */
#include "cli.h"

/* ==== errors and numbers ================================================== */

static char g_cmd[64] = "distill"; /* "distill train": the start of every message */

/* One line on stderr, then exit: 1 = a failure at work, 2 = a bad command line. */
static void fail(int status, const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "%s: ", g_cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(status);
}

/* One line on stderr that does not stop the command. */
static void warn(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "%s: warning: ", g_cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static long parse_int(const char *what, const char *s, long lo, long hi)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (!*s || *end || errno == ERANGE) fail(2, "%s: '%s' is not a whole number", what, s);
    if (v < lo || v > hi) fail(2, "%s: %ld is out of range (%ld to %ld)", what, v, lo, hi);
    return v;
}

/* A finite number in [lo, hi]; lo_open makes it (lo, hi]. */
static double parse_real(const char *what, const char *s, double lo, double hi, int lo_open)
{
    char *end;
    double v;
    errno = 0;
    v = strtod(s, &end);
    if (!*s || *end || errno == ERANGE || v != v || v - v != 0) fail(2, "%s: '%s' is not a number", what, s);
    if ((lo_open ? v <= lo : v < lo) || v > hi)
        fail(2, "%s: %g is out of range (%s%g to %g)", what, v, lo_open ? "above " : "", lo, hi);
    return v;
}

static void need(const char *value, const char *flag)
{
    if (!value) fail(2, "%s is required (see distill help)", flag);
}

static void no_positional(const args *a)
{
    if (a->npos) fail(2, "unexpected argument '%s'", a->pos[0]);
}

/* ==== data and class names ================================================ */

static const char *fashion_classes =
    "t-shirt/top,trouser,pullover,dress,coat,sandal,shirt,sneaker,bag,ankle boot";

/* Class names as one comma-separated string (malloc'd), or NULL if unknown. */
static char *class_names(const char *given, const char *dir, int classes)
{
    char path[1024], line[256], *out = NULL;
    size_t len = 0;
    int count = 0;
    FILE *f;
    if (given) {
        const char *p;
        for (p = given, count = 1; *p; ++p) count += *p == ',';
        if (count != classes) fail(2, "--classes: %d names for %d classes", count, classes);
        out = (char *)malloc(strlen(given) + 1);
        if (!out) fail(1, "out of memory");
        strcpy(out, given);
        return out;
    }
    snprintf(path, sizeof path, "%s/classes.txt", dir);
    if ((f = fopen(path, "r")) != NULL) {
        out = (char *)calloc(1, 1);
        while (out && fgets(line, sizeof line, f)) {
            size_t n = strcspn(line, "\r\n"), j;
            char *grown;
            if (n == 0) continue;
            for (j = 0; j < n; ++j)
                if (line[j] == ',') line[j] = ' ';
            if (!(grown = (char *)realloc(out, len + n + 2))) { free(out); out = NULL; break; }
            out = grown;
            if (len) out[len++] = ',';
            memcpy(out + len, line, n);
            out[len += n] = 0;
            ++count;
        }
        fclose(f);
        if (!out) fail(1, "out of memory");
        if (count != classes) fail(1, "%s: %d names for %d classes", path, count, classes);
        return out;
    }
    if (classes == 10 && strstr(dir, "fashion")) {
        out = (char *)malloc(strlen(fashion_classes) + 1);
        if (!out) fail(1, "out of memory");
        strcpy(out, fashion_classes);
    }
    return out;
}

/* The name of class k from a comma-separated list into buf ("" if none). */
static const char *class_name(const char *names, int k, char *buf, size_t cap)
{
    const char *p = names, *e;
    buf[0] = 0;
    if (!names) return buf;
    while (k-- > 0 && p) {
        p = strchr(p, ',');
        if (p) ++p;
    }
    if (!p) return buf;
    e = strchr(p, ',');
    snprintf(buf, cap, "%.*s", (int)(e ? (size_t)(e - p) : strlen(p)), p);
    return buf;
}

/* ==== models: load, shape, metadata ====================================== */

static dst_model *load_model(const char *path, const char *flag)
{
    dst_model *m;
    dst_error e;
    if (dst_model_load(&m, path, &e) != DST_OK) fail(1, "%s%s%s", flag ? flag : "", flag ? " " : "", e.message);
    return m;
}

/* The model's input shape from its first layer. */
static void input_shape(const dst_model *m, int *c, int *h, int *w)
{
    dst_layer_info li;
    if (dst_model_layer(m, 0, &li) != DST_OK) fail(1, "the model has no layers");
    *c = li.in_c;
    *h = li.in_h < 1 ? 1 : li.in_h;
    *w = li.in_w < 1 ? 1 : li.in_w;
}

static double meta_number_or(const dst_model *m, const char *key, double fallback)
{
    double v;
    return dst_model_meta_number(m, key, &v) ? v : fallback;
}

static int argmax(const float *v, int n)
{
    int i, best = 0;
    for (i = 1; i < n; ++i)
        if (v[i] > v[best]) best = i;
    return best;
}

/* "runs/teacher.bin" -> "teacher" */
static void base_label(const char *path, char *buf, size_t cap)
{
    const char *b = strrchr(path, '/'), *dot;
    b = b ? b + 1 : path;
    dot = strrchr(b, '.');
    snprintf(buf, cap, "%.*s", (int)(dot && dot > b ? (size_t)(dot - b) : strlen(b)), b);
}

static const char *model_arg(const args *a)
{
    if (a->npos != 1) fail(2, a->npos ? "one MODEL only, got '%s' too" : "no MODEL given", a->npos ? a->pos[1] : "");
    return a->pos[0];
}

static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    long n;
    if (!f) return -1;
    if (fseek(f, 0, SEEK_END) != 0) { fclose(f); return -1; }
    n = ftell(f);
    fclose(f);
    return n;
}

static void describe_layer(const dst_layer_info *li, char *buf, size_t cap)
{
    const dst_layer_desc *L = &li->desc;
    switch (L->kind) {
    case DST_LAYER_DENSE: snprintf(buf, cap, "dense %d%s", L->units, L->no_bias ? " no bias" : ""); break;
    case DST_LAYER_CONV2D:
        snprintf(buf, cap, "conv2d %d %dx%d stride %dx%d pad %dx%d", L->units, L->kernel_h, L->kernel_w,
                 L->stride_h, L->stride_w, L->pad_h, L->pad_w);
        if (L->groups > 1) snprintf(buf + strlen(buf), cap - strlen(buf), " groups %d", L->groups);
        if (L->dilation_h > 1 || L->dilation_w > 1)
            snprintf(buf + strlen(buf), cap - strlen(buf), " dilation %dx%d", L->dilation_h, L->dilation_w);
        break;
    case DST_LAYER_MAXPOOL2D: case DST_LAYER_AVGPOOL2D:
        snprintf(buf, cap, "%s %dx%d stride %dx%d", dst_layer_name(L->kind), L->kernel_h, L->kernel_w,
                 L->stride_h ? L->stride_h : L->kernel_h, L->stride_w ? L->stride_w : L->kernel_w);
        if (L->pad_h || L->pad_w) snprintf(buf + strlen(buf), cap - strlen(buf), " pad %dx%d", L->pad_h, L->pad_w);
        break;
    case DST_LAYER_LEAKY_RELU: snprintf(buf, cap, "leaky_relu %g", (double)L->param); break;
    case DST_LAYER_DROPOUT: case DST_LAYER_DROPOUT2D:
        snprintf(buf, cap, "%s %g", dst_layer_name(L->kind), (double)L->param);
        break;
    default: snprintf(buf, cap, "%s", dst_layer_name(L->kind)); break;
    }
}

/* ==== --threads: the pool train, distill, eval and predict compute on ===== */

/* The pool of --threads N, N threads in all (this one included), or one per
   core without the option; 1 starts none (NULL). The library gives the same
   bits on any number of threads, so a pool that cannot start costs time
   only: a warning, and the command goes on on this thread. A build without
   threads (DST_NO_THREADS) warns only when more than one was asked for. */
static dst_pool *threads_start(const args *a)
{
    dst_pool *pool = NULL;
    int n = a->threads ? (int)parse_int("--threads", a->threads, 1, THREADS_MAX) : 0;
    dst_result r;
    if (n == 0 && dst_cpu_count() > THREADS_MAX) n = THREADS_MAX; /* more would wait idle */
    if (n == 1) return NULL;
    r = dst_pool_start(&pool, n);
    if (r == DST_ERR_UNSUPPORTED) {
        if (n > 1) warn("--threads %d: this build has no threads (DST_NO_THREADS); running on one", n);
    } else if (r != DST_OK) {
        warn("cannot start %d threads (%s); running on one", n ? n : dst_cpu_count(), dst_result_string(r));
    }
    return r == DST_OK ? pool : NULL;
}

/* m computes on the pool's threads (nothing to do for one). */
static void threads_attach(dst_model *m, dst_pool *pool, const char *what)
{
    dst_threads t = dst_pool_threads(pool);
    if (dst_pool_size(pool) > 1 && dst_model_set_threads(m, &t) != DST_OK)
        warn("%s: %s; it runs on one thread", what, dst_model_error(m));
}

/* A new row at the end of a set of curves, growing it as needed. */
static float *curve_push(curves *cv)
{
    if (cv->n == cv->cap) {
        int cap = cv->cap ? 2 * cv->cap : 16;
        float *nv = (float *)realloc(cv->v, (size_t)cap * CURVE_COLS * sizeof(float));
        if (!nv) fail(1, "out of memory");
        cv->v = nv;
        cv->cap = cap;
    }
    return cv->v + (size_t)cv->n++ * CURVE_COLS;
}

/* Every metadata entry of from, into to. */
static void copy_meta(const dst_model *from, dst_model *to)
{
    int i;
    for (i = 0; i < dst_model_meta_count(from); ++i) {
        const char *key = dst_model_meta_key(from, i), *str = dst_model_meta_string(from, key);
        double v;
        if (str) dst_model_meta_set_string(to, key, str);
        else if (dst_model_meta_number(from, key, &v)) dst_model_meta_set_number(to, key, v);
    }
}

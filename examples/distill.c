/* examples/distill.c - the `distill` command: train, distill, evaluate,
   predict with and export small networks from the shell, no C to write.

   cc -O2 -I. -I/usr/include/stb examples/distill.c -lm -o build/distill

   distill train   --data DIR --arch SPEC --epochs N [options] --out MODEL
   distill distill --data DIR --teacher MODEL --arch SPEC --temperature T --alpha A
                   --epochs N [options] --out MODEL      (or --teacher-logits FILE.npy)
   distill eval    --data DIR --model MODEL [--split test|train]
   distill predict --model MODEL [--top K] [--invert auto|yes|no] IMAGE...
   distill info    MODEL
   distill export-c     MODEL [--name NAME] > model.h
   distill export-bytes MODEL [--name NAME] > model_bytes.h
   distill plot    --out FILE.png|FILE.svg [--title TEXT] LOG.csv...
   `distill help` prints every option and the SPEC grammar (README.md too).

   It shows the library as a program uses it: data sets (dst_mnist_load),
   models built from a text description, dst_model_fit with a progress
   callback, distillation from a cached teacher, the weight file and its
   metadata, image input through stb_image, and C source generation.
   Exit status: 0 success, 1 a failure while working (a file, the data, the
   training), 2 a bad command line. Errors are one line on stderr. */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* isatty, fileno, clock_gettime */
#endif
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <io.h>
#define isatty _isatty
#define fileno _fileno
#else
#include <unistd.h>
#endif

/* stb headers trip -Wextra; they are not ours to fix */
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wmissing-braces"
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>
#include <stb_easy_font.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#define DISTILL_IMPLEMENTATION
#include "distill.h"

/* ==== errors and numbers ================================================== */

static char g_cmd[64] = "distill"; /* "distill train": the start of every message */

/* One line on stderr, then exit: 1 = a failure at work, 2 = a bad command line. */
#if defined(__GNUC__)
__attribute__((noreturn, format(printf, 2, 3)))
#endif
static void fail(int status, const char *fmt, ...);
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

/* ==== SPEC: a sequential model in one line ================================

   SPEC   = layer { "," layer }
   layer  = name { ":" value }
   dense:N                 fully connected, N outputs
   conv:C:K[:S[:P]]        convolution, C channels, K x K kernel, stride S (1),
                           padding P (0) or "same" (K / 2, odd K, stride 1)
   dwconv:K[:S[:P]]        depthwise convolution, one K x K filter per channel
   maxpool:K[:S]           max pooling, stride S (K)
   avgpool:K[:S]           average pooling
   gap                     global average pooling (C x H x W -> C)
   bn                      batch normalization (also "batchnorm")
   flatten
   dropout:R  dropout2d:R  rate R in [0, 1)
   relu  leaky[:S]  sigmoid  tanh  gelu      activations (leaky slope 0.01)
   Spaces around names and values are ignored. Positions in messages count
   characters from 1. */

#define SPEC_MAX_LAYERS 64
#define SPEC_MAX_FIELDS 5

typedef struct spec {
    dst_layer_desc layers[SPEC_MAX_LAYERS];
    int pos[SPEC_MAX_LAYERS]; /* where each layer starts in the text, from 1 */
    int len[SPEC_MAX_LAYERS]; /* and how many characters it spans */
    int count;
} spec;

typedef struct spec_field { const char *s; int n, pos; } spec_field;

static int spec_error(char *msg, size_t cap, int pos, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(msg, cap, "position %d: ", pos);
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < cap) vsnprintf(msg + n, cap - (size_t)n, fmt, ap);
    va_end(ap);
    return 0;
}

static int field_is(const spec_field *f, const char *name)
{
    return (int)strlen(name) == f->n && strncmp(f->s, name, (size_t)f->n) == 0;
}

static int spec_int(const spec_field *f, const char *what, long lo, long hi, int *out, char *msg, size_t cap)
{
    long v = 0;
    int i;
    if (f->n == 0) return spec_error(msg, cap, f->pos, "%s is empty", what);
    for (i = 0; i < f->n; ++i) {
        if (f->s[i] < '0' || f->s[i] > '9')
            return spec_error(msg, cap, f->pos + i, "%s '%.*s' is not a whole number", what, f->n, f->s);
        if (v <= hi) v = v * 10 + (f->s[i] - '0');
    }
    if (v < lo || v > hi) return spec_error(msg, cap, f->pos, "%s %.*s is out of range (%ld to %ld)", what, f->n, f->s, lo, hi);
    *out = (int)v;
    return 1;
}

static int spec_real(const spec_field *f, const char *what, double lo, double hi, int hi_open, float *out,
                     char *msg, size_t cap)
{
    char buf[64], *end;
    double v;
    if (f->n == 0) return spec_error(msg, cap, f->pos, "%s is empty", what);
    if (f->n >= (int)sizeof buf) return spec_error(msg, cap, f->pos, "%s is too long", what);
    memcpy(buf, f->s, (size_t)f->n);
    buf[f->n] = 0;
    v = strtod(buf, &end);
    if (*end || v != v || v - v != 0)
        return spec_error(msg, cap, f->pos + (int)(end - buf), "%s '%s' is not a number", what, buf);
    if (v < lo || (hi_open ? v >= hi : v > hi))
        return spec_error(msg, cap, f->pos, "%s %s is out of range (%g to %g%s)", what, buf, lo, hi,
                          hi_open ? ", not included" : "");
    *out = (float)v;
    return 1;
}

/* Parses text into sp. in_channels is the data's (for dwconv). Returns 1, or
   0 with msg = "position P: what is wrong". */
static int spec_parse(const char *text, int in_channels, spec *sp, char *msg, size_t cap)
{
    static const char *known = "dense, conv, dwconv, maxpool, avgpool, gap, bn, flatten, dropout, dropout2d, "
                               "relu, leaky, sigmoid, tanh, gelu";
    const char *p = text;
    int channels = in_channels;
    memset(sp, 0, sizeof *sp);
    if (!*text) return spec_error(msg, cap, 1, "the SPEC is empty; e.g. dense:128,relu,dense:10");
    for (;;) {
        spec_field f[SPEC_MAX_FIELDS + 1];
        int nf = 0, nargs, i;
        const char *item = p, *end = p;
        dst_layer_desc L;
        while (*end && *end != ',') ++end;
        /* split item..end at ':' and trim spaces */
        for (;;) {
            const char *a = p, *b;
            while (p < end && *p != ':') ++p;
            b = p;
            while (a < b && *a == ' ') ++a;
            while (b > a && b[-1] == ' ') --b;
            if (nf == SPEC_MAX_FIELDS + 1) {
                f[nf - 1].s = a; /* keep only the position of the extra field */
                f[nf - 1].pos = (int)(a - text) + 1;
            } else {
                f[nf].s = a;
                f[nf].n = (int)(b - a);
                f[nf].pos = (int)(a - text) + 1;
                ++nf;
            }
            if (p == end) break;
            ++p;
        }
        if (f[0].n == 0)
            return spec_error(msg, cap, f[0].pos, *item == ',' || item == end ? "empty layer (two commas, or a comma at an end)"
                                                                             : "a layer name is missing before ':'");
        if (sp->count == SPEC_MAX_LAYERS) return spec_error(msg, cap, f[0].pos, "more than %d layers", SPEC_MAX_LAYERS);
        nargs = nf - 1;
        memset(&L, 0, sizeof L);
#define SPEC_ARGS(min, max, example)                                                                        \
    do {                                                                                                    \
        if (nargs < (min))                                                                                  \
            return spec_error(msg, cap, f[nf - 1].pos + f[nf - 1].n, "%.*s needs %d value%s, e.g. %s",      \
                              f[0].n, f[0].s, (min), (min) == 1 ? "" : "s", example);                       \
        if (nargs > (max))                                                                                  \
            return spec_error(msg, cap, f[(max) + 1].pos, "%.*s takes at most %d value%s, e.g. %s", f[0].n, \
                              f[0].s, (max), (max) == 1 ? "" : "s", example);                               \
    } while (0)
        if (field_is(&f[0], "dense")) {
            SPEC_ARGS(1, 1, "dense:128");
            L = dst_dense(0);
            if (!spec_int(&f[1], "dense size", 1, 1 << 20, &L.units, msg, cap)) return 0;
            channels = L.units;
        } else if (field_is(&f[0], "conv") || field_is(&f[0], "dwconv")) {
            int dw = f[0].n == 6, k, s = 1, pad = 0, a = 1;
            if (dw) SPEC_ARGS(1, 3, "dwconv:3 or dwconv:3:1:same");
            else SPEC_ARGS(2, 4, "conv:32:3 or conv:32:3:1:same");
            if (dw) L = dst_depthwise_conv2d(channels, 1, 1, 0);
            else {
                L = dst_conv2d(0, 1, 1, 0);
                if (!spec_int(&f[1], "conv channels", 1, 1 << 16, &L.units, msg, cap)) return 0;
                a = 2;
            }
            if (!spec_int(&f[a], "kernel", 1, 1024, &k, msg, cap)) return 0;
            if (nargs > a && !spec_int(&f[a + 1], "stride", 1, 1024, &s, msg, cap)) return 0;
            if (nargs > a + 1) {
                if (field_is(&f[a + 2], "same")) {
                    if (k % 2 == 0 || s != 1)
                        return spec_error(msg, cap, f[a + 2].pos, "'same' padding needs an odd kernel and stride 1");
                    pad = k / 2;
                } else if (!spec_int(&f[a + 2], "padding", 0, 1024, &pad, msg, cap)) return 0;
            }
            L.kernel_h = L.kernel_w = k;
            L.stride_h = L.stride_w = s;
            L.pad_h = L.pad_w = pad;
            if (!dw) channels = L.units;
        } else if (field_is(&f[0], "maxpool") || field_is(&f[0], "avgpool")) {
            int k, s = 0;
            SPEC_ARGS(1, 2, "maxpool:2");
            if (!spec_int(&f[1], "pool size", 1, 1024, &k, msg, cap)) return 0;
            if (nargs > 1 && !spec_int(&f[2], "stride", 1, 1024, &s, msg, cap)) return 0;
            L = f[0].s[0] == 'm' ? dst_maxpool2d(k, s, 0) : dst_avgpool2d(k, s, 0);
        } else if (field_is(&f[0], "dropout") || field_is(&f[0], "dropout2d")) {
            float r;
            SPEC_ARGS(1, 1, "dropout:0.5");
            if (!spec_real(&f[1], "dropout rate", 0, 1, 1, &r, msg, cap)) return 0;
            L = f[0].n == 7 ? dst_dropout(r) : dst_dropout2d(r);
        } else if (field_is(&f[0], "leaky")) {
            float slope = 0.01f;
            SPEC_ARGS(0, 1, "leaky or leaky:0.1");
            if (nargs == 1 && !spec_real(&f[1], "slope", -1e6, 1e6, 0, &slope, msg, cap)) return 0;
            L = dst_leaky_relu(slope);
        } else {
            static const struct { const char *name; dst_layer_desc (*make)(void); } simple[] = {
                { "relu", dst_relu }, { "sigmoid", dst_sigmoid }, { "tanh", dst_tanh }, { "gelu", dst_gelu },
                { "gap", dst_global_avgpool }, { "bn", dst_batchnorm }, { "batchnorm", dst_batchnorm },
                { "flatten", dst_flatten } };
            for (i = 0; i < (int)(sizeof simple / sizeof simple[0]); ++i)
                if (field_is(&f[0], simple[i].name)) break;
            if (i == (int)(sizeof simple / sizeof simple[0])) {
                if (field_is(&f[0], "softmax"))
                    return spec_error(msg, cap, f[0].pos, "leave softmax out: the model ends in logits "
                                                          "(the losses and predict apply softmax)");
                return spec_error(msg, cap, f[0].pos, "unknown layer '%.*s' (known: %s)", f[0].n, f[0].s, known);
            }
            SPEC_ARGS(0, 0, simple[i].name);
            L = simple[i].make();
        }
#undef SPEC_ARGS
        sp->layers[sp->count] = L;
        sp->pos[sp->count] = (int)(item - text) + 1;
        sp->len[sp->count] = (int)(end - item);
        sp->count++;
        if (!*end) break;
        p = end + 1;
        if (!*p) return spec_error(msg, cap, (int)(p - text) + 1, "empty layer (two commas, or a comma at an end)");
    }
    return 1;
}

/* ==== the command line ==================================================== */

enum { C_TRAIN = 1, C_DISTILL = 2, C_EVAL = 4, C_PREDICT = 8, C_INFO = 16, C_EXPORT_C = 32,
       C_EXPORT_BYTES = 64, C_PLOT = 128 };
enum { O_STR, O_INT, O_REAL, O_FLAG };

typedef struct args {
    const char *data, *arch, *out, *teacher, *teacher_logits, *model, *optimizer, *plot, *log, *label, *classes;
    const char *name, *title, *invert, *split;
    const char *epochs, *batch, *lr, *momentum, *weight_decay, *seed, *temperature, *alpha, *top, *limit;
    int quiet;
    const char **pos; /* the arguments that are not options */
    int npos;
    int cmd;
    const char *cmd_name;
    int argc;
    char **argv;
} args;

typedef struct option { const char *name; int flag; int cmds; size_t off; } option;

#define OPT(name, flag, cmds, field) { name, flag, cmds, offsetof(args, field) }
static const option options[] = {
    OPT("--data", O_STR, C_TRAIN | C_DISTILL | C_EVAL, data),
    OPT("--arch", O_STR, C_TRAIN | C_DISTILL, arch),
    OPT("--epochs", O_STR, C_TRAIN | C_DISTILL, epochs),
    OPT("--batch", O_STR, C_TRAIN | C_DISTILL | C_EVAL, batch),
    OPT("--lr", O_STR, C_TRAIN | C_DISTILL, lr),
    OPT("--optimizer", O_STR, C_TRAIN | C_DISTILL, optimizer),
    OPT("--momentum", O_STR, C_TRAIN | C_DISTILL, momentum),
    OPT("--weight-decay", O_STR, C_TRAIN | C_DISTILL, weight_decay),
    OPT("--seed", O_STR, C_TRAIN | C_DISTILL, seed),
    OPT("--limit", O_STR, C_TRAIN | C_DISTILL | C_EVAL, limit),
    OPT("--out", O_STR, C_TRAIN | C_DISTILL | C_PLOT, out),
    OPT("--teacher", O_STR, C_DISTILL, teacher),
    OPT("--teacher-logits", O_STR, C_DISTILL, teacher_logits),
    OPT("--temperature", O_STR, C_DISTILL, temperature),
    OPT("--alpha", O_STR, C_DISTILL, alpha),
    OPT("--classes", O_STR, C_TRAIN | C_DISTILL, classes),
    OPT("--plot", O_STR, C_TRAIN | C_DISTILL, plot),
    OPT("--log", O_STR, C_TRAIN | C_DISTILL, log),
    OPT("--label", O_STR, C_TRAIN | C_DISTILL, label),
    OPT("--quiet", O_FLAG, C_TRAIN | C_DISTILL, quiet),
    OPT("--model", O_STR, C_EVAL | C_PREDICT, model),
    OPT("--split", O_STR, C_EVAL, split),
    OPT("--top", O_STR, C_PREDICT, top),
    OPT("--invert", O_STR, C_PREDICT, invert),
    OPT("--name", O_STR, C_EXPORT_C | C_EXPORT_BYTES, name),
    OPT("--title", O_STR, C_PLOT, title),
};

static const char usage_text[] =
    "usage:\n"
    "  distill train   --data DIR --arch SPEC --epochs N [training options] --out MODEL\n"
    "  distill distill --data DIR --teacher MODEL --arch SPEC --temperature T --alpha A\n"
    "                  --epochs N [training options] --out MODEL\n"
    "                  (or --teacher-logits FILE.npy: float32, one row per training image)\n"
    "  distill eval    --data DIR --model MODEL [--split test|train] [--batch B] [--limit N]\n"
    "  distill predict --model MODEL [--top K] [--invert auto|yes|no] IMAGE...\n"
    "  distill info    MODEL\n"
    "  distill export-c     MODEL [--name NAME] > model.h\n"
    "  distill export-bytes MODEL [--name NAME] > model_bytes.h\n"
    "  distill plot    --out FILE.png|FILE.svg [--title TEXT] LOG.csv...\n"
    "\n"
    "training options:\n"
    "  --batch B (128)  --lr X (optimizer's default)  --optimizer sgd|adam|adamw (adam)\n"
    "  --momentum X (sgd, 0.9)  --weight-decay X  --seed S (1)  --limit N (first N training images)\n"
    "  --classes a,b,c (class names; else DIR/classes.txt, or Fashion-MNIST's for a DIR named *fashion*)\n"
    "  --log FILE.csv (per-epoch curves)  --plot FILE.png|.svg  --label TEXT (the run's name in plots)\n"
    "  --quiet (no progress line)\n"
    "\n"
    "DIR holds train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and\n"
    "t10k-labels-idx1-ubyte, each plain or .gz (the MNIST format).\n"
    "\n"
    "SPEC is the model, layers separated by commas, e.g.\n"
    "  conv:32:3,relu,conv:64:3,relu,maxpool:2,dropout:0.25,flatten,dense:128,relu,dropout:0.5,dense:10\n"
    "  dense:N  conv:C:K[:S[:P|same]]  dwconv:K[:S[:P|same]]  maxpool:K[:S]  avgpool:K[:S]  gap  bn\n"
    "  flatten  dropout:R  dropout2d:R  relu  leaky[:SLOPE]  sigmoid  tanh  gelu\n"
    "The last layer's size is the number of classes.\n";

static void usage(FILE *f) { fputs(usage_text, f); }

static const struct { const char *name; int cmd; } commands[] = {
    { "train", C_TRAIN }, { "distill", C_DISTILL }, { "eval", C_EVAL }, { "predict", C_PREDICT },
    { "info", C_INFO }, { "export-c", C_EXPORT_C }, { "export-bytes", C_EXPORT_BYTES }, { "plot", C_PLOT } };

static void parse_args(int argc, char **argv, args *a)
{
    int i, k;
    memset(a, 0, sizeof *a);
    a->argc = argc;
    a->argv = argv;
    for (k = 0; k < (int)(sizeof commands / sizeof commands[0]); ++k)
        if (strcmp(argv[1], commands[k].name) == 0) break;
    if (k == (int)(sizeof commands / sizeof commands[0]))
        fail(2, "unknown command '%s' (commands: train, distill, eval, predict, info, export-c, export-bytes, "
                "plot; see distill help)", argv[1]);
    a->cmd = commands[k].cmd;
    a->cmd_name = commands[k].name;
    snprintf(g_cmd, sizeof g_cmd, "distill %s", a->cmd_name);
    a->pos = (const char **)calloc((size_t)argc, sizeof *a->pos);
    if (!a->pos) fail(1, "out of memory");
    for (i = 2; i < argc; ++i) {
        const char *s = argv[i], *eq, *value = NULL;
        size_t n;
        const option *o = NULL;
        if (strncmp(s, "--", 2) != 0 || s[2] == 0) {
            if (s[0] == '-' && s[1] && strcmp(s, "--") != 0) fail(2, "unknown option %s (options start with --)", s);
            a->pos[a->npos++] = s;
            continue;
        }
        eq = strchr(s, '=');
        n = eq ? (size_t)(eq - s) : strlen(s);
        for (k = 0; k < (int)(sizeof options / sizeof options[0]); ++k)
            if (strlen(options[k].name) == n && strncmp(options[k].name, s, n) == 0) { o = &options[k]; break; }
        if (!o) fail(2, "unknown option %.*s (see distill help)", (int)n, s);
        if (!(o->cmds & a->cmd)) fail(2, "option %s does not apply to %s", o->name, a->cmd_name);
        if (o->flag == O_FLAG) {
            if (eq) fail(2, "option %s takes no value", o->name);
            *(int *)((char *)a + o->off) = 1;
            continue;
        }
        if (eq) value = eq + 1;
        else if (i + 1 < argc) value = argv[++i];
        else fail(2, "option %s needs a value", o->name);
        if (*(const char **)((char *)a + o->off)) fail(2, "option %s given twice", o->name);
        *(const char **)((char *)a + o->off) = value;
    }
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

static void load_data(const char *dir, dst_mnist *d)
{
    dst_error e;
    if (dst_mnist_load(dir, d, &e) != DST_OK) fail(1, "--data %s: %s", dir, e.message);
    if (d->train_count == 0 || d->test_count == 0) fail(1, "--data %s: the training or test set is empty", dir);
}

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

/* ==== models: build, load, save, metadata ================================ */

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
    if ((int)dst_model_output_size(m) < d->classes)
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

static void check_model_fits_data(const dst_model *m, const dst_mnist *d, const char *what)
{
    int c, h, w;
    input_shape(m, &c, &h, &w);
    if (dst_model_input_size(m) != (size_t)d->rows * (size_t)d->cols)
        fail(1, "%s takes %dx%dx%d inputs, the data's images are 1x%dx%d", what, c, h, w, d->rows, d->cols);
    if ((int)dst_model_output_size(m) < d->classes)
        fail(1, "%s has %lu outputs, the data has %d classes", what, (unsigned long)dst_model_output_size(m),
             d->classes);
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

static double meta_number_or(const dst_model *m, const char *key, double fallback)
{
    double v;
    return dst_model_meta_number(m, key, &v) ? v : fallback;
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
                if (r == 0 || c == 0 || r == rows - 1 || c == cols - 1) { sum += img[r * cols + c]; ++n; }
    }
    return n ? sum / (double)n : 0;
}

/* ==== training: progress on a terminal, curves for logs and plots ========= */

static int argmax(const float *v, int n)
{
    int i, best = 0;
    for (i = 1; i < n; ++i)
        if (v[i] > v[best]) best = i;
    return best;
}

typedef struct curves {
    int n, cap;
    float *v; /* per epoch: train loss, train accuracy, test loss, test accuracy, seconds */
} curves;
#define CURVE_COLS 5

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
        if (r->cv.n == r->cv.cap) {
            int cap = r->cv.cap ? 2 * r->cv.cap : 16;
            float *nv = (float *)realloc(r->cv.v, (size_t)cap * CURVE_COLS * sizeof(float));
            if (!nv) fail(1, "out of memory");
            r->cv.v = nv;
            r->cv.cap = cap;
        }
        v = r->cv.v + (size_t)r->cv.n++ * CURVE_COLS;
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

typedef struct plot_series { char label[64]; curves cv; } plot_series;
static void plot_write(const char *path, const char *title, const plot_series *s, int count);

/* "runs/teacher.bin" -> "teacher" */
static void base_label(const char *path, char *buf, size_t cap)
{
    const char *b = strrchr(path, '/'), *dot;
    b = b ? b + 1 : path;
    dot = strrchr(b, '.');
    snprintf(buf, cap, "%.*s", (int)(dot && dot > b ? (size_t)(dot - b) : strlen(b)), b);
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
    float *cache = NULL, loss = 0, acc = 0, tacc = 0;
    char *names, label[64], text[64];
    run r;
    size_t train_count;
    int distill = a->cmd == C_DISTILL, i;
    uint64_t seed = 1;
    char *cmdline;
    size_t cmdlen = 8;

    memset(&npy, 0, sizeof npy);
    no_positional(a);
    need(a->data, "--data");
    need(a->arch, "--arch");
    need(a->epochs, "--epochs");
    need(a->out, "--out");
    if (distill) {
        if (!a->teacher && !a->teacher_logits) fail(2, "--teacher (a model) or --teacher-logits (a .npy) is required");
        if (a->teacher && a->teacher_logits) fail(2, "give --teacher or --teacher-logits, not both");
        need(a->temperature, "--temperature");
        need(a->alpha, "--alpha");
        fit.temperature = (float)parse_real("--temperature", a->temperature, 0, 1000, 1);
        fit.alpha = (float)parse_real("--alpha", a->alpha, 0, 1, 0);
    }
    fit.epochs = (int)parse_int("--epochs", a->epochs, 1, 1000000);
    if (a->batch) fit.batch_size = (int)parse_int("--batch", a->batch, 1, 1 << 16);
    if (a->seed) seed = (uint64_t)parse_int("--seed", a->seed, 0, 0x7fffffffL);
    fit.seed = seed;
    if (!a->optimizer || strcmp(a->optimizer, "adam") == 0) opt = dst_optimizer_default(DST_ADAM);
    else if (strcmp(a->optimizer, "adamw") == 0) opt = dst_optimizer_default(DST_ADAMW);
    else if (strcmp(a->optimizer, "sgd") == 0) { opt = dst_optimizer_default(DST_SGD); opt.momentum = 0.9f; }
    else fail(2, "--optimizer: '%s' is not one of sgd, adam, adamw", a->optimizer);
    if (a->lr) opt.lr = (float)parse_real("--lr", a->lr, 0, 1000, 1);
    if (a->momentum) {
        if (opt.kind != DST_SGD) fail(2, "--momentum applies to --optimizer sgd");
        opt.momentum = (float)parse_real("--momentum", a->momentum, 0, 1, 0);
    }
    if (a->weight_decay) opt.weight_decay = (float)parse_real("--weight-decay", a->weight_decay, 0, 1000, 0);
    if (a->plot) {
        const char *dot = strrchr(a->plot, '.');
        if (!dot || (strcmp(dot, ".png") != 0 && strcmp(dot, ".svg") != 0))
            fail(2, "--plot %s: the name must end in .png or .svg", a->plot);
    }
    if (a->label) snprintf(label, sizeof label, "%s", a->label);
    else base_label(a->out, label, sizeof label);

    /* check what can be checked before the data set is read */
    {
        spec sp;
        char msg[300];
        if (!spec_parse(a->arch, 1, &sp, msg, sizeof msg)) fail(2, "--arch: %s", msg);
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
    names = class_names(a->classes, a->data, d.classes);
    m = build_model(a->arch, &d, seed);
    if (dst_model_set_optimizer(m, &opt) != DST_OK) fail(2, "optimizer: %s", dst_model_error(m));
    if (!a->quiet)
        printf("data: %lu training and %lu test images of %dx%d, %d classes; model: %lu parameters\n",
               (unsigned long)train_count, (unsigned long)d.test_count, d.rows, d.cols, d.classes,
               (unsigned long)count_params(m));
    if (a->teacher_logits) {
        /* logits another framework saved: one row per training image, in order */
        size_t k, right = 0;
        int classes = (int)dst_model_output_size(m);
        if (npy.dtype != DST_NPY_FLOAT32 || npy.ndim != 2)
            fail(1, "--teacher-logits %s: a %d-D %s array, expected 2-D float32 (images x classes)", a->teacher_logits,
                 npy.ndim, npy.dtype == DST_NPY_FLOAT32 ? "float32" : "int32");
        if (npy.shape[0] != d.train_count || npy.shape[1] != (size_t)classes)
            fail(1, "--teacher-logits %s: shape (%lu, %lu), expected (%lu, %d): one row per training image, one "
                    "column per output", a->teacher_logits, (unsigned long)npy.shape[0], (unsigned long)npy.shape[1],
                 (unsigned long)d.train_count, classes);
        if (dst_teacher_from_npy(&npy, &t, &e) != DST_OK) fail(1, "--teacher-logits %s", e.message);
        for (k = 0; k < train_count; ++k) right += argmax((const float *)npy.data + k * (size_t)classes, classes) == d.train_y[k];
        tacc = (float)right / (float)train_count;
        fit.teacher = &t;
        if (!a->quiet) printf("teacher logits: training accuracy %.4f, T = %g, alpha = %g\n", (double)tacc,
                              (double)fit.temperature, (double)fit.alpha);
    } else if (distill) {
        check_model_fits_data(teacher, &d, "--teacher");
        if (dst_model_output_size(teacher) != dst_model_output_size(m))
            fail(1, "--teacher has %lu outputs, the student %lu", (unsigned long)dst_model_output_size(teacher),
                 (unsigned long)dst_model_output_size(m));
        if (dst_model_evaluate(teacher, d.test_x, d.test_y, d.test_count, 0, NULL, &tacc) != DST_OK)
            fail(1, "--teacher: %s", dst_model_error(teacher));
        /* the teacher runs once over the training set; every epoch reads the cache */
        t = dst_teacher_model(teacher);
        cache = (float *)malloc(train_count * dst_model_output_size(m) * sizeof(float));
        if (!cache) fail(1, "out of memory for the teacher's logits");
        if (dst_teacher_cache(&t, d.train_x, dst_model_input_size(m), train_count, cache, &e) != DST_OK)
            fail(1, "--teacher: %s", e.message);
        t = dst_teacher_logits(cache, train_count, (int)dst_model_output_size(m));
        fit.teacher = &t;
        if (!a->quiet) printf("teacher: test accuracy %.4f, T = %g, alpha = %g\n", (double)tacc,
                              (double)fit.temperature, (double)fit.alpha);
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

    /* what a later `distill info / predict` needs to know */
    for (i = 1; i < a->argc; ++i) cmdlen += strlen(a->argv[i]) + 1;
    if (!(cmdline = (char *)malloc(cmdlen))) fail(1, "out of memory");
    strcpy(cmdline, "distill");
    for (i = 1; i < a->argc; ++i) { strcat(cmdline, " "); strcat(cmdline, a->argv[i]); }
    meta_string(m, "command", cmdline);
    meta_string(m, "arch", a->arch);
    meta_string(m, "classes", names);
    snprintf(text, sizeof text, "1x%dx%d", d.rows, d.cols);
    meta_string(m, "input.shape", text);
    meta_number(m, "input.scale", 1.0 / 255.0);
    meta_number(m, "input.invert", 0);
    meta_number(m, "input.mean", 0);
    meta_number(m, "input.std", 1);
    meta_number(m, "input.background", border_mean(d.train_x, train_count, d.rows, d.cols));
    meta_string(m, "train.data", a->data);
    meta_number(m, "train.samples", (double)train_count);
    meta_number(m, "train.epochs", fit.epochs);
    meta_number(m, "train.batch", fit.batch_size);
    meta_string(m, "train.optimizer", opt.kind == DST_SGD ? "sgd" : opt.kind == DST_ADAM ? "adam" : "adamw");
    meta_number(m, "train.lr", opt.lr);
    meta_number(m, "train.seed", (double)seed);
    if (distill) {
        meta_string(m, "kd.teacher", a->teacher ? a->teacher : a->teacher_logits);
        meta_number(m, "kd.temperature", fit.temperature);
        meta_number(m, "kd.alpha", fit.alpha);
        meta_number(m, a->teacher ? "kd.teacher_accuracy" : "kd.teacher_train_accuracy", tacc);
    }
    meta_number(m, "test.accuracy", acc);
    meta_number(m, "test.loss", loss);
    if (dst_model_save(m, a->out, &e) != DST_OK) fail(1, "--out %s", e.message);
    if (!a->quiet) printf("saved %s\n", a->out);
    if (a->log) write_log(a->log, a, label, &r.cv);
    if (a->plot) {
        plot_series s;
        memset(&s, 0, sizeof s);
        snprintf(s.label, sizeof s.label, "%s", label);
        s.cv = r.cv;
        plot_write(a->plot, label, &s, 1);
    }
    free(cmdline);
    free(cache);
    free(names);
    free(r.cv.v);
    dst_model_free(m);
    dst_model_free(teacher);
    dst_npy_free(&npy);
    dst_mnist_free(&d);
}

/* ==== eval, predict, info ================================================= */

static void cmd_eval(const args *a)
{
    dst_mnist d;
    dst_model *m;
    const char *names;
    const float *x;
    const int *y;
    size_t count, i, chunk = 1024;
    float loss, acc, *out;
    long *conf;
    int k, j, classes, width = 5, batch = 0, train;
    char buf[64];
    no_positional(a);
    need(a->data, "--data");
    need(a->model, "--model");
    if (a->split && strcmp(a->split, "test") != 0 && strcmp(a->split, "train") != 0)
        fail(2, "--split: '%s' is not test or train", a->split);
    train = a->split && strcmp(a->split, "train") == 0;
    if (a->batch) batch = (int)parse_int("--batch", a->batch, 1, 1 << 16);
    m = load_model(a->model, "--model");
    load_data(a->data, &d);
    check_model_fits_data(m, &d, "--model");
    x = train ? d.train_x : d.test_x;
    y = train ? d.train_y : d.test_y;
    count = train ? d.train_count : d.test_count;
    if (a->limit) {
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
    dst_model_free(m);
    dst_mnist_free(&d);
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
    m = load_model(a->model, "--model");
    input_shape(m, &c, &h, &w);
    if (c != 1 && c != 3) fail(1, "--model takes %d channels; predict reads gray (1) or RGB (3) images", c);
    classes = (int)dst_model_output_size(m);
    if (top > classes) top = classes;
    names = dst_model_meta_string(m, "classes");
    prep = dst_image_prep_default(c, h, w);
    prep.scale = (float)meta_number_or(m, "input.scale", 1.0 / 255.0);
    for (k = 0; k < 3; ++k) {
        prep.mean[k] = (float)meta_number_or(m, "input.mean", 0);
        prep.std[k] = (float)meta_number_or(m, "input.std", 1);
    }
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
    if (bad) exit(1);
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

static void cmd_info(const args *a)
{
    const char *path = model_arg(a);
    dst_model *m = load_model(path, NULL);
    int i, n = dst_model_layer_count(m), c, h, w;
    size_t params = 0;
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
        printf("  %2d  %-46s %-24s %8lu params\n", i, buf, shape, (unsigned long)(li.weight_count + li.bias_count));
        params += li.weight_count + li.bias_count;
    }
    printf("parameters: %lu (%.1f KiB as float32)\n", (unsigned long)params, (double)params * 4 / 1024);
    printf("metadata:\n");
    for (i = 0; i < dst_model_meta_count(m); ++i) {
        const char *key = dst_model_meta_key(m, i), *s = dst_model_meta_string(m, key);
        double v;
        if (s) printf("  %s = %s\n", key, s);
        else if (dst_model_meta_number(m, key, &v)) printf("  %s = %.6g\n", key, v);
    }
    dst_model_free(m);
}

/* ==== export-c: the model as C source ===================================== */

/* A float literal that reads back as the same float ("%.9g" round-trips). */
static void put_float(FILE *f, float v)
{
    char buf[32];
    if (v != v || v - v != 0) fail(1, "the model holds a NaN or infinity; it cannot be exported");
    snprintf(buf, sizeof buf, "%.9g", (double)v);
    if (!strpbrk(buf, ".e")) strcat(buf, ".0");
    fprintf(f, "%sf", buf);
}

static void put_array(FILE *f, const char *name, const char *suffix, int index, const float *v, size_t n)
{
    size_t i;
    fprintf(f, "static const float %s_%s%d[%lu] = {", name, suffix, index, (unsigned long)(n ? n : 1));
    for (i = 0; i < n; ++i) {
        fputs(i % 8 ? " " : "\n    ", f);
        put_float(f, v[i]);
        if (i + 1 < n) fputc(',', f);
    }
    if (!n) fputs(" 0", f);
    fputs("\n};\n", f);
}

/* The helpers, emitted only when a layer uses them (unused static functions
   would be warnings in the user's build). */
/* Dense weights are written transposed, [in][out], so the inner loop runs
   along the outputs: contiguous, independent sums the compiler vectorizes
   without reordering any of them; zero inputs (after a ReLU) are skipped. */
static const char *exp_dense =
    "static void NAME__dense(const float *x, float *y, const float *wt, const float *b, int in, int out)\n"
    "{\n"
    "    int o, i;\n"
    "    for (o = 0; o < out; ++o) y[o] = b ? b[o] : 0.0f;\n"
    "    for (i = 0; i < in; ++i) {\n"
    "        const float xi = x[i], *wr = wt + (long)i * out;\n"
    "        if (xi == 0.0f) continue;\n"
    "        for (o = 0; o < out; ++o) y[o] += wr[o] * xi;\n"
    "    }\n"
    "}\n";
/* One weight at a time over the output rows it reaches: the range of output
   columns that stay inside the input is worked out once, so the inner loop
   has no test and, at stride 1, reads contiguous inputs. */
static const char *exp_conv =
    "/* s: in_c in_h in_w out_c out_h out_w kernel_h kernel_w stride_h stride_w pad_h pad_w dil_h dil_w groups */\n"
    "static void NAME__conv(const float *x, float *y, const float *w, const float *b, const int *s)\n"
    "{\n"
    "    int icg = s[0] / s[14], ocg = s[3] / s[14], plane = s[4] * s[5], o, c, ky, kx, oy, ox, i;\n"
    "    for (o = 0; o < s[3]; ++o) {\n"
    "        float *yo = y + (long)o * plane;\n"
    "        for (i = 0; i < plane; ++i) yo[i] = b ? b[o] : 0.0f;\n"
    "        for (c = 0; c < icg; ++c) {\n"
    "            const float *xc = x + (long)((o / ocg) * icg + c) * s[1] * s[2];\n"
    "            for (ky = 0; ky < s[6]; ++ky)\n"
    "                for (kx = 0; kx < s[7]; ++kx) {\n"
    "                    float wv = w[(((long)o * icg + c) * s[6] + ky) * s[7] + kx];\n"
    "                    int off = kx * s[13] - s[11], lo = 0, hi = s[5] - 1;\n"
    "                    if (off < 0) lo = (-off + s[9] - 1) / s[9];\n"
    "                    if (s[2] - 1 - off < 0) continue;\n"
    "                    if ((s[2] - 1 - off) / s[9] < hi) hi = (s[2] - 1 - off) / s[9];\n"
    "                    for (oy = 0; oy < s[4]; ++oy) {\n"
    "                        int iy = oy * s[8] - s[10] + ky * s[12];\n"
    "                        const float *xr;\n"
    "                        float *yr = yo + (long)oy * s[5];\n"
    "                        if (iy < 0 || iy >= s[1]) continue;\n"
    "                        xr = xc + (long)iy * s[2] + off;\n"
    "                        if (s[9] == 1) for (ox = lo; ox <= hi; ++ox) yr[ox] += wv * xr[ox];\n"
    "                        else for (ox = lo; ox <= hi; ++ox) yr[ox] += wv * xr[ox * s[9]];\n"
    "                    }\n"
    "                }\n"
    "        }\n"
    "    }\n"
    "}\n";
static const char *exp_pool =
    "/* s: channels in_h in_w out_h out_w kernel_h kernel_w stride_h stride_w pad_h pad_w; max or mean\n"
    "   (padding counted in the mean, as PyTorch's count_include_pad) */\n"
    "static void NAME__pool(const float *x, float *y, const int *s, int is_max)\n"
    "{\n"
    "    int c, oy, ox, ky, kx;\n"
    "    for (c = 0; c < s[0]; ++c)\n"
    "        for (oy = 0; oy < s[3]; ++oy)\n"
    "            for (ox = 0; ox < s[4]; ++ox) {\n"
    "                float acc = is_max ? -3.402823466e38f : 0.0f;\n"
    "                for (ky = 0; ky < s[5]; ++ky)\n"
    "                    for (kx = 0; kx < s[6]; ++kx) {\n"
    "                        int iy = oy * s[7] - s[9] + ky, ix = ox * s[8] - s[10] + kx;\n"
    "                        float v;\n"
    "                        if (iy < 0 || iy >= s[1] || ix < 0 || ix >= s[2]) continue;\n"
    "                        v = x[((long)c * s[1] + iy) * s[2] + ix];\n"
    "                        if (is_max) { if (v > acc) acc = v; } else acc += v;\n"
    "                    }\n"
    "                y[((long)c * s[3] + oy) * s[4] + ox] = is_max ? acc : acc / (float)(s[5] * s[6]);\n"
    "            }\n"
    "}\n";
static const char *exp_gap =
    "static void NAME__global_avgpool(const float *x, float *y, int channels, int plane)\n"
    "{\n"
    "    int c, i;\n"
    "    for (c = 0; c < channels; ++c) {\n"
    "        float s = 0.0f;\n"
    "        for (i = 0; i < plane; ++i) s += x[(long)c * plane + i];\n"
    "        y[c] = s / (float)plane;\n"
    "    }\n"
    "}\n";
static const char *exp_bn =
    "/* batch normalization with its running statistics folded in: y = x * scale + shift */\n"
    "static void NAME__scale_shift(const float *x, float *y, const float *scale, const float *shift, int channels, int plane)\n"
    "{\n"
    "    int c, i;\n"
    "    for (c = 0; c < channels; ++c)\n"
    "        for (i = 0; i < plane; ++i) y[(long)c * plane + i] = x[(long)c * plane + i] * scale[c] + shift[c];\n"
    "}\n";
static const char *exp_act =
    "/* 0 relu, 1 leaky relu (slope), 2 sigmoid, 3 tanh, 4 gelu (erf form) */\n"
    "static void NAME__activation(const float *x, float *y, int n, int kind, float slope)\n"
    "{\n"
    "    int i;\n"
    "    for (i = 0; i < n; ++i) {\n"
    "        float v = x[i];\n"
    "        switch (kind) {\n"
    "        case 0: v = v > 0.0f ? v : 0.0f; break;\n"
    "        case 1: v = v > 0.0f ? v : v * slope; break;\n"
    "        case 2: v = 1.0f / (1.0f + expf(-v)); break;\n"
    "        case 3: v = tanhf(v); break;\n"
    "        default: v = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f)); break;\n"
    "        }\n"
    "        y[i] = v;\n"
    "    }\n"
    "}\n";
static const char *exp_softmax =
    "static void NAME__softmax(const float *x, float *y, int n)\n"
    "{\n"
    "    int i;\n"
    "    float mx = x[0], s = 0.0f;\n"
    "    for (i = 1; i < n; ++i) if (x[i] > mx) mx = x[i];\n"
    "    for (i = 0; i < n; ++i) s += (y[i] = expf(x[i] - mx));\n"
    "    for (i = 0; i < n; ++i) y[i] /= s;\n"
    "}\n";

/* Writes text with every "NAME" replaced by name. */
static void put_named(FILE *f, const char *text, const char *name)
{
    const char *p;
    while ((p = strstr(text, "NAME")) != NULL) {
        fwrite(text, 1, (size_t)(p - text), f);
        fputs(name, f);
        text = p + 4;
    }
    fputs(text, f);
}

static void check_c_name(const char *name)
{
    const char *p;
    if (!*name || (*name >= '0' && *name <= '9')) fail(2, "--name: '%s' is not a C identifier", name);
    for (p = name; *p; ++p)
        if (!(*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            fail(2, "--name: '%s' is not a C identifier", name);
}

static void cmd_export_c(const args *a)
{
    const char *path = model_arg(a), *name = a->name ? a->name : "model", *names;
    dst_model *m;
    float *params, *buffers;
    int n, i, c, h, w, uses[8] = { 0 }, cur = -1;
    size_t biggest = 0;
    char upper[128], buf[160];
    FILE *f = stdout;
    check_c_name(name);
    if (strlen(name) > 100) fail(2, "--name: at most 100 characters");
    for (i = 0; name[i]; ++i) upper[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
    upper[i] = 0;
    m = load_model(path, NULL);
    n = dst_model_layer_count(m);
    params = dst_model_params(m);
    buffers = dst_model_buffers(m);
    input_shape(m, &c, &h, &w);
    for (i = 0; i < n; ++i) {
        dst_layer_info li;
        size_t out_n;
        dst_model_layer(m, i, &li);
        out_n = (size_t)li.out_c * (size_t)(li.out_h < 1 ? 1 : li.out_h) * (size_t)(li.out_w < 1 ? 1 : li.out_w);
        if (out_n > biggest) biggest = out_n;
        switch (li.desc.kind) {
        case DST_LAYER_DENSE: uses[0] = 1; break;
        case DST_LAYER_CONV2D: uses[1] = 1; break;
        case DST_LAYER_MAXPOOL2D: case DST_LAYER_AVGPOOL2D: uses[2] = 1; break;
        case DST_LAYER_GLOBAL_AVGPOOL: uses[3] = 1; break;
        case DST_LAYER_BATCHNORM: uses[4] = 1; break;
        case DST_LAYER_RELU: case DST_LAYER_LEAKY_RELU: case DST_LAYER_SIGMOID: case DST_LAYER_TANH:
        case DST_LAYER_GELU: uses[5] = 1; break;
        case DST_LAYER_SOFTMAX: uses[6] = 1; break;
        case DST_LAYER_DROPOUT: case DST_LAYER_DROPOUT2D: case DST_LAYER_FLATTEN: break;
        default: fail(1, "layer %d (%s) cannot be exported to C", i, dst_layer_name(li.desc.kind));
        }
    }
    fprintf(f, "/* %s.h - generated by `distill export-c %s --name %s` (distill.h %s).\n", name, path, name,
            dst_version());
    fprintf(f, "   The model as C: no file I/O, no allocation, only <math.h>.\n"
               "     %s_predict(in, out): in = %s_INPUT_C x _H x _W floats (NCHW, prepared as in\n"
               "       training), out = %s_OUTPUTS floats (logits). Uses a static scratch buffer:\n"
               "       not reentrant. %s_predict_scratch(in, out, scratch) takes your own buffer of\n"
               "       %s_SCRATCH_FLOATS floats instead (one per thread).\n",
            name, upper, upper, name, upper);
    if ((names = dst_model_meta_string(m, "classes")) != NULL) fprintf(f, "   Classes: %s\n", names);
    fprintf(f, "*/\n#ifndef %s_H\n#define %s_H\n#include <math.h>\n\n", upper, upper);
    fprintf(f, "#define %s_INPUT_C %d\n#define %s_INPUT_H %d\n#define %s_INPUT_W %d\n#define %s_OUTPUTS %lu\n",
            upper, c, upper, h, upper, w, upper, (unsigned long)dst_model_output_size(m));
    fprintf(f, "#define %s_SCRATCH_FLOATS %lu\n", upper, (unsigned long)(2 * biggest));
    fprintf(f, "#if defined(__GNUC__)\n#define %s_UNUSED __attribute__((unused))\n#else\n#define %s_UNUSED\n#endif\n\n",
            upper, upper);
    if (names) {
        int k;
        fprintf(f, "static const char *const %s_classes[%lu] %s_UNUSED = {", name,
                (unsigned long)dst_model_output_size(m), upper);
        for (k = 0; k < (int)dst_model_output_size(m); ++k) {
            const char *p;
            fputs(k ? ", \"" : " \"", f);
            for (p = class_name(names, k, buf, sizeof buf); *p; ++p) {
                if (*p == '"' || *p == '\\') fputc('\\', f);
                fputc(*p, f);
            }
            fputc('"', f);
        }
        fputs(" };\n\n", f);
    }
    /* parameters */
    for (i = 0; i < n; ++i) {
        dst_layer_info li;
        dst_model_layer(m, i, &li);
        describe_layer(&li, buf, sizeof buf);
        if (li.desc.kind == DST_LAYER_DENSE || li.desc.kind == DST_LAYER_CONV2D) {
            fprintf(f, "/* layer %d: %s */\n", i, buf);
            if (li.desc.kind == DST_LAYER_DENSE) { /* transposed: [in][out] */
                size_t in_n = li.weight_count / (size_t)li.out_c, r, k;
                float *wt = (float *)malloc(li.weight_count * sizeof(float) + 1);
                const float *w = params + li.param_offset;
                if (!wt) fail(1, "out of memory");
                for (r = 0; r < (size_t)li.out_c; ++r)
                    for (k = 0; k < in_n; ++k) wt[k * (size_t)li.out_c + r] = w[r * in_n + k];
                put_array(f, name, "wt", i, wt, li.weight_count);
                free(wt);
            } else {
                put_array(f, name, "w", i, params + li.param_offset, li.weight_count);
            }
            if (li.bias_count) put_array(f, name, "b", i, params + li.param_offset + li.weight_count, li.bias_count);
        } else if (li.desc.kind == DST_LAYER_BATCHNORM) {
            /* y = (x - mean) / sqrt(var + eps) * weight + bias = x * scale + shift */
            int k, ch = li.out_c;
            float *sc = (float *)malloc((size_t)ch * 2 * sizeof(float));
            const float *wt = params + li.param_offset, *bs = wt + li.weight_count;
            const float *mean = buffers + li.buffer_offset, *var = mean + ch;
            if (!sc) fail(1, "out of memory");
            for (k = 0; k < ch; ++k) {
                double s = (double)wt[k] / sqrt((double)var[k] + (double)li.desc.eps);
                sc[k] = (float)s;
                sc[ch + k] = (float)((double)bs[k] - (double)mean[k] * s);
            }
            fprintf(f, "/* layer %d: batch normalization, eps %g, folded into scale and shift */\n", i,
                    (double)li.desc.eps);
            put_array(f, name, "scale", i, sc, (size_t)ch);
            put_array(f, name, "shift", i, sc + ch, (size_t)ch);
            free(sc);
        }
    }
    fputc('\n', f);
    if (uses[0]) put_named(f, exp_dense, name);
    if (uses[1]) put_named(f, exp_conv, name);
    if (uses[2]) put_named(f, exp_pool, name);
    if (uses[3]) put_named(f, exp_gap, name);
    if (uses[4]) put_named(f, exp_bn, name);
    if (uses[5]) put_named(f, exp_act, name);
    if (uses[6]) put_named(f, exp_softmax, name);
    fprintf(f, "\n%s_UNUSED static void %s_predict_scratch(const float *in, float *out, float *scratch)\n{\n",
            upper, name);
    fprintf(f, "    float *s0 = scratch, *s1 = scratch + %lu;\n    int i;\n", (unsigned long)biggest);
    for (i = 0; i < n; ++i) {
        dst_layer_info li;
        const dst_layer_desc *L;
        char src[8], dst[8];
        int plane_in, size_in;
        dst_model_layer(m, i, &li);
        L = &li.desc;
        strcpy(src, cur < 0 ? "in" : cur == 0 ? "s0" : "s1");
        strcpy(dst, cur == 0 ? "s1" : "s0");
        plane_in = (li.in_h < 1 ? 1 : li.in_h) * (li.in_w < 1 ? 1 : li.in_w);
        size_in = li.in_c * plane_in;
        describe_layer(&li, buf, sizeof buf);
        fprintf(f, "    /* %d: %s */\n", i, buf);
        switch (L->kind) {
        case DST_LAYER_DENSE:
            fprintf(f, "    %s__dense(%s, %s, %s_wt%d, ", name, src, dst, name, i);
            if (li.bias_count) fprintf(f, "%s_b%d", name, i); else fputs("0", f);
            fprintf(f, ", %d, %d);\n", size_in, li.out_c);
            break;
        case DST_LAYER_CONV2D:
            fprintf(f, "    {\n        static const int s[15] = { %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d };\n",
                    li.in_c, li.in_h, li.in_w, li.out_c, li.out_h, li.out_w, L->kernel_h, L->kernel_w, L->stride_h,
                    L->stride_w, L->pad_h, L->pad_w, L->dilation_h < 1 ? 1 : L->dilation_h,
                    L->dilation_w < 1 ? 1 : L->dilation_w, L->groups < 1 ? 1 : L->groups);
            fprintf(f, "        %s__conv(%s, %s, %s_w%d, ", name, src, dst, name, i);
            if (li.bias_count) fprintf(f, "%s_b%d", name, i); else fputs("0", f);
            fputs(", s);\n    }\n", f);
            break;
        case DST_LAYER_MAXPOOL2D: case DST_LAYER_AVGPOOL2D:
            fprintf(f, "    {\n        static const int s[11] = { %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d };\n",
                    li.in_c, li.in_h, li.in_w, li.out_h, li.out_w, L->kernel_h, L->kernel_w,
                    L->stride_h ? L->stride_h : L->kernel_h, L->stride_w ? L->stride_w : L->kernel_w, L->pad_h, L->pad_w);
            fprintf(f, "        %s__pool(%s, %s, s, %d);\n    }\n", name, src, dst, L->kind == DST_LAYER_MAXPOOL2D);
            break;
        case DST_LAYER_GLOBAL_AVGPOOL:
            fprintf(f, "    %s__global_avgpool(%s, %s, %d, %d);\n", name, src, dst, li.in_c, plane_in);
            break;
        case DST_LAYER_BATCHNORM:
            fprintf(f, "    %s__scale_shift(%s, %s, %s_scale%d, %s_shift%d, %d, %d);\n", name, src, dst, name, i, name,
                    i, li.in_c, plane_in);
            break;
        case DST_LAYER_RELU: case DST_LAYER_LEAKY_RELU: case DST_LAYER_SIGMOID: case DST_LAYER_TANH:
        case DST_LAYER_GELU: {
            int kind = L->kind == DST_LAYER_RELU ? 0 : L->kind == DST_LAYER_LEAKY_RELU ? 1
                     : L->kind == DST_LAYER_SIGMOID ? 2 : L->kind == DST_LAYER_TANH ? 3 : 4;
            fprintf(f, "    %s__activation(%s, %s, %d, %d, ", name, src, dst, size_in, kind);
            put_float(f, L->kind == DST_LAYER_LEAKY_RELU ? L->param : 0.0f);
            fputs(");\n", f);
            break;
        }
        case DST_LAYER_SOFTMAX:
            fprintf(f, "    %s__softmax(%s, %s, %d);\n", name, src, dst, size_in);
            break;
        default: /* dropout, flatten: nothing at inference */
            fputs("    /* nothing to do at inference */\n", f);
            continue;
        }
        cur = cur == 0 ? 1 : 0;
    }
    fprintf(f, "    for (i = 0; i < %s_OUTPUTS; ++i) out[i] = %s[i];\n", upper, cur < 0 ? "in" : cur == 0 ? "s0" : "s1");
    fprintf(f, "    (void)s0; (void)s1;\n}\n\n");
    fprintf(f, "%s_UNUSED static void %s_predict(const float *in, float *out)\n{\n", upper, name);
    fprintf(f, "    static float scratch[%s_SCRATCH_FLOATS];\n    %s_predict_scratch(in, out, scratch);\n}\n\n", upper, name);
    fprintf(f, "#endif /* %s_H */\n", upper);
    if (fflush(f) != 0 || ferror(f)) fail(1, "error writing the C source");
    dst_model_free(m);
}

/* ==== export-bytes: the weight file as a byte array ======================= */

static void cmd_export_bytes(const args *a)
{
    const char *path = model_arg(a), *name = a->name ? a->name : "model_bytes";
    unsigned char *buf;
    long n, i;
    FILE *in;
    check_c_name(name);
    dst_model_free(load_model(path, NULL)); /* only a weight file that loads */
    n = file_size(path);
    in = fopen(path, "rb");
    if (n < 0 || !in) fail(1, "cannot open %s", path);
    if (!(buf = (unsigned char *)malloc((size_t)n + 1))) fail(1, "out of memory");
    if ((long)fread(buf, 1, (size_t)n, in) != n) fail(1, "error reading %s", path);
    fclose(in);
    printf("/* %s.h - generated by `distill export-bytes %s --name %s`: the weight file as bytes,\n"
           "   for dst_model_parse(&m, %s, sizeof %s, &err). 64-byte aligned where the\n"
           "   compiler can say so, so the model can use the tensors in place. */\n",
           name, path, name, name, name);
    printf("#if defined(__GNUC__)\n__attribute__((aligned(64)))\n#elif defined(_MSC_VER)\n__declspec(align(64))\n#endif\n");
    printf("static const unsigned char %s[%ld] = {", name, n ? n : 1);
    for (i = 0; i < n; ++i) printf("%s0x%02x%s", i % 16 ? " " : "\n    ", buf[i], i + 1 < n ? "," : "");
    printf("%s\n};\n", n ? "" : " 0");
    if (fflush(stdout) != 0 || ferror(stdout)) fail(1, "error writing the C source");
    free(buf);
}

/* ==== plots: training curves as SVG or PNG ================================ */

/* One drawing, two back ends: SVG text, or an RGB raster saved with
   stb_image_write (lines anti-aliased by their distance to each pixel,
   text from stb_easy_font). */
typedef struct canvas {
    FILE *svg;
    unsigned char *px;
    int w, h;
} canvas;

static const unsigned plot_colors[] = { 0x1f77b4, 0xd62728, 0x2ca02c, 0xff7f0e, 0x9467bd, 0x8c564b };
#define TEXT_SCALE 2.0f

static void px_blend(canvas *c, int x, int y, unsigned rgb, float a)
{
    unsigned char *p;
    int k;
    if (x < 0 || y < 0 || x >= c->w || y >= c->h || a <= 0) return;
    if (a > 1) a = 1;
    p = c->px + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    for (k = 0; k < 3; ++k) {
        float v = (float)((rgb >> (16 - 8 * k)) & 255);
        p[k] = (unsigned char)(p[k] + (v - p[k]) * a + 0.5f);
    }
}

static void cv_rect(canvas *c, float x0, float y0, float x1, float y1, unsigned rgb)
{
    int x, y;
    if (c->svg) {
        fprintf(c->svg, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#%06x\"/>\n", x0, y0,
                x1 - x0, y1 - y0, rgb);
        return;
    }
    for (y = (int)floorf(y0); y < (int)ceilf(y1); ++y)
        for (x = (int)floorf(x0); x < (int)ceilf(x1); ++x) {
            float cx = fminf(x + 1.0f, x1) - fmaxf((float)x, x0), cy = fminf(y + 1.0f, y1) - fmaxf((float)y, y0);
            if (cx > 0 && cy > 0) px_blend(c, x, y, rgb, cx * cy);
        }
}

/* A solid segment of the given width: each pixel covered by how close its centre is. */
static void cv_segment(canvas *c, float x0, float y0, float x1, float y1, unsigned rgb, float width)
{
    float dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy, r = width / 2 + 1;
    int x, y, xa = (int)floorf(fminf(x0, x1) - r), xb = (int)ceilf(fmaxf(x0, x1) + r);
    int ya = (int)floorf(fminf(y0, y1) - r), yb = (int)ceilf(fmaxf(y0, y1) + r);
    for (y = ya; y <= yb; ++y)
        for (x = xa; x <= xb; ++x) {
            float px = x + 0.5f - x0, py = y + 0.5f - y0, t = len2 > 0 ? (px * dx + py * dy) / len2 : 0, ex, ey;
            if (t < 0) t = 0;
            if (t > 1) t = 1;
            ex = px - t * dx;
            ey = py - t * dy;
            px_blend(c, x, y, rgb, width / 2 + 0.5f - sqrtf(ex * ex + ey * ey));
        }
}

static void cv_line(canvas *c, float x0, float y0, float x1, float y1, unsigned rgb, float width, int dashed)
{
    if (c->svg) {
        fprintf(c->svg, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#%06x\" stroke-width=\"%.1f\"%s/>\n",
                x0, y0, x1, y1, rgb, width, dashed ? " stroke-dasharray=\"7,5\"" : "");
        return;
    }
    if (!dashed) { cv_segment(c, x0, y0, x1, y1, rgb, width); return; }
    {
        float len = sqrtf((x1 - x0) * (x1 - x0) + (y1 - y0) * (y1 - y0)), s;
        for (s = 0; s < len; s += 12) {
            float e = fminf(s + 7, len);
            cv_segment(c, x0 + (x1 - x0) * s / len, y0 + (y1 - y0) * s / len, x0 + (x1 - x0) * e / len,
                       y0 + (y1 - y0) * e / len, rgb, width);
        }
    }
}

static void cv_dot(canvas *c, float x, float y, float radius, unsigned rgb)
{
    int px, py;
    if (c->svg) {
        fprintf(c->svg, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"#%06x\"/>\n", x, y, radius, rgb);
        return;
    }
    for (py = (int)(y - radius - 1); py <= (int)(y + radius + 1); ++py)
        for (px = (int)(x - radius - 1); px <= (int)(x + radius + 1); ++px) {
            float dx = px + 0.5f - x, dy = py + 0.5f - y;
            px_blend(c, px, py, rgb, radius + 0.5f - sqrtf(dx * dx + dy * dy));
        }
}

/* Text centred vertically on y; align -1 left, 0 centre, 1 right. */
static void cv_text(canvas *c, float x, float y, const char *s, unsigned rgb, int align)
{
    if (c->svg) {
        const char *anchor = align < 0 ? "start" : align == 0 ? "middle" : "end";
        fprintf(c->svg, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#%06x\" text-anchor=\"%s\" dominant-baseline=\"middle\">",
                x, y, rgb, anchor);
        for (; *s; ++s) {
            if (*s == '<') fputs("&lt;", c->svg);
            else if (*s == '&') fputs("&amp;", c->svg);
            else if (*s == '>') fputs("&gt;", c->svg);
            else fputc(*s, c->svg);
        }
        fputs("</text>\n", c->svg);
        return;
    }
    {
        static char vb[60000];
        char text[256];
        float w, s2 = TEXT_SCALE;
        int quads, q;
        snprintf(text, sizeof text, "%s", s);
        w = (float)stb_easy_font_width(text) * s2;
        x -= align < 0 ? 0 : align == 0 ? w / 2 : w;
        y -= 3.5f * s2;
        quads = stb_easy_font_print(0, 0, text, NULL, vb, (int)sizeof vb);
        for (q = 0; q < quads; ++q) {
            float *v0 = (float *)(vb + q * 64), *v2 = (float *)(vb + q * 64 + 32);
            cv_rect(c, x + v0[0] * s2, y + v0[1] * s2, x + v2[0] * s2, y + v2[1] * s2, rgb);
        }
    }
}

/* A step of 1, 2 or 5 times a power of ten, giving about n ticks. */
static double nice_step(double range, int n)
{
    double raw = range / n, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

typedef struct panel { float x0, y0, x1, y1; double lo, hi; int epochs; } panel;

static float panel_x(const panel *p, double epoch)
{
    return p->epochs > 1 ? p->x0 + (float)((epoch - 1) / (p->epochs - 1)) * (p->x1 - p->x0) : (p->x0 + p->x1) / 2;
}
static float panel_y(const panel *p, double v) { return p->y1 - (float)((v - p->lo) / (p->hi - p->lo)) * (p->y1 - p->y0); }

static void draw_panel(canvas *c, panel *p, const char *title, const plot_series *s, int count, int col_train, int col_test)
{
    double lo = 1e30, hi = -1e30, step, t;
    int i, k, e, xstep;
    char buf[32];
    for (i = 0; i < count; ++i)
        for (e = 0; e < s[i].cv.n; ++e)
            for (k = col_train < 0; k < 2; ++k) {
                double v = s[i].cv.v[e * CURVE_COLS + (k ? col_test : col_train)];
                if (v < 0) continue; /* -1: no test set */
                if (v < lo) lo = v;
                if (v > hi) hi = v;
            }
    if (lo > hi) lo = 0, hi = 1;
    if (hi - lo < 1e-6) lo -= 0.05, hi += 0.05;
    step = nice_step(hi - lo, 5);
    p->lo = floor(lo / step) * step;
    p->hi = ceil(hi / step) * step;
    cv_rect(c, p->x0, p->y0, p->x1, p->y1, 0xf6f6f6);
    for (t = p->lo; t <= p->hi + step * 0.01; t += step) {
        float y = panel_y(p, t);
        cv_line(c, p->x0, y, p->x1, y, 0xdddddd, 1, 0);
        snprintf(buf, sizeof buf, step < 0.01 ? "%.3f" : step < 0.1 ? "%.2f" : step < 1 ? "%.1f" : "%.0f", t);
        cv_text(c, p->x0 - 6, y, buf, 0x444444, 1);
    }
    xstep = p->epochs <= 10 ? 1 : (int)nice_step(p->epochs - 1, 6);
    if (xstep < 1) xstep = 1;
    for (e = 1; e <= p->epochs; e += xstep) {
        snprintf(buf, sizeof buf, "%d", e);
        cv_text(c, panel_x(p, e), p->y1 + 14, buf, 0x444444, 0);
    }
    cv_text(c, (p->x0 + p->x1) / 2, p->y1 + 34, "epoch", 0x444444, 0);
    cv_text(c, (p->x0 + p->x1) / 2, p->y0 - 14, title, 0x000000, 0);
    for (i = 0; i < count; ++i) {
        unsigned rgb = plot_colors[i % (int)(sizeof plot_colors / sizeof plot_colors[0])];
        for (k = col_train < 0; k < 2; ++k) {
            int col = k ? col_test : col_train;
            for (e = 0; e < s[i].cv.n; ++e) {
                double v = s[i].cv.v[e * CURVE_COLS + col];
                if (v < 0) continue;
                if (e > 0 && s[i].cv.v[(e - 1) * CURVE_COLS + col] >= 0)
                    cv_line(c, panel_x(p, e), panel_y(p, s[i].cv.v[(e - 1) * CURVE_COLS + col]), panel_x(p, e + 1),
                            panel_y(p, v), rgb, 2, !k);
                cv_dot(c, panel_x(p, e + 1), panel_y(p, v), 2.5f, rgb);
            }
        }
    }
}

static void plot_write(const char *path, const char *title, const plot_series *s, int count)
{
    canvas c;
    panel loss, acc;
    int i, epochs = 1, png;
    float ly;
    const char *dot = strrchr(path, '.');
    png = dot && strcmp(dot, ".png") == 0;
    if (!png && !(dot && strcmp(dot, ".svg") == 0)) fail(2, "%s: a plot's name ends in .png or .svg", path);
    memset(&c, 0, sizeof c);
    c.w = 960;
    c.h = 400;
    for (i = 0; i < count; ++i) { /* room for the longest label on the right */
        int need = 832 + (png ? (int)(stb_easy_font_width((char *)s[i].label) * TEXT_SCALE) : 8 * (int)strlen(s[i].label)) + 16;
        if (need > c.w) c.w = need;
        if (s[i].cv.n > epochs) epochs = s[i].cv.n;
    }
    if (png) {
        if (!(c.px = (unsigned char *)malloc((size_t)c.w * (size_t)c.h * 3))) fail(1, "out of memory");
        memset(c.px, 255, (size_t)c.w * (size_t)c.h * 3);
    } else {
        if (!(c.svg = fopen(path, "w"))) fail(1, "cannot write %s", path);
        fprintf(c.svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                       "font-family=\"sans-serif\" font-size=\"13\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n",
                c.w, c.h, c.w, c.h);
    }
    cv_text(&c, c.w / 2.0f, 18, title, 0x000000, 0);
    loss.x0 = 70; loss.x1 = 380; loss.y0 = 60; loss.y1 = c.h - 60; loss.epochs = epochs;
    acc = loss;
    acc.x0 = 460; acc.x1 = 770;
    /* the training loss of a distilled run is the KD objective, not comparable
       with cross-entropy: the loss panel shows the test loss only */
    draw_panel(&c, &loss, "test loss", s, count, -1, 2);
    draw_panel(&c, &acc, "accuracy", s, count, 1, 3);
    /* legend */
    ly = 70;
    for (i = 0; i < count; ++i, ly += 24) {
        unsigned rgb = plot_colors[i % (int)(sizeof plot_colors / sizeof plot_colors[0])];
        cv_line(&c, 795, ly, 825, ly, rgb, 3, 0);
        cv_text(&c, 832, ly, s[i].label, 0x000000, -1);
    }
    ly += 12;
    cv_line(&c, 795, ly, 825, ly, 0x666666, 2, 0);
    cv_text(&c, 832, ly, "test", 0x444444, -1);
    cv_line(&c, 795, ly + 22, 825, ly + 22, 0x666666, 2, 1);
    cv_text(&c, 832, ly + 22, "training", 0x444444, -1);
    cv_text(&c, 832, ly + 40, "(accuracy)", 0x444444, -1);
    if (png) {
        if (!stbi_write_png(path, c.w, c.h, 3, c.px, c.w * 3)) fail(1, "cannot write %s", path);
        free(c.px);
    } else {
        fputs("</svg>\n", c.svg);
        if (fclose(c.svg) != 0) fail(1, "error writing %s", path);
    }
}

/* Reads a log written by --log: "# label: X" and rows of numbers. */
static void read_log(const char *path, plot_series *s)
{
    FILE *f = fopen(path, "r");
    char line[512];
    int lineno = 0;
    memset(s, 0, sizeof *s);
    if (!f) fail(1, "cannot open %s", path);
    base_label(path, s->label, sizeof s->label);
    while (fgets(line, sizeof line, f)) {
        float v[CURVE_COLS], *row;
        int epoch, k, used;
        char *p = line;
        ++lineno;
        if (strncmp(line, "# label: ", 9) == 0) {
            snprintf(s->label, sizeof s->label, "%.*s", (int)strcspn(line + 9, "\r\n"), line + 9);
            continue;
        }
        if (line[0] == '#' || strncmp(line, "epoch,", 6) == 0 || line[strspn(line, " \r\n")] == 0) continue;
        if (sscanf(p, "%d%n", &epoch, &used) != 1) fail(1, "%s:%d: expected epoch,numbers...", path, lineno);
        p += used;
        for (k = 0; k < CURVE_COLS; ++k) {
            if (sscanf(p, " ,%f%n", &v[k], &used) != 1 || v[k] != v[k])
                fail(1, "%s:%d: expected %d numbers after the epoch", path, lineno, CURVE_COLS);
            p += used;
        }
        if (epoch != s->cv.n + 1) fail(1, "%s:%d: epoch %d, expected %d", path, lineno, epoch, s->cv.n + 1);
        if (s->cv.n == s->cv.cap) {
            int cap = s->cv.cap ? 2 * s->cv.cap : 16;
            float *nv = (float *)realloc(s->cv.v, (size_t)cap * CURVE_COLS * sizeof(float));
            if (!nv) fail(1, "out of memory");
            s->cv.v = nv;
            s->cv.cap = cap;
        }
        row = s->cv.v + (size_t)s->cv.n++ * CURVE_COLS;
        memcpy(row, v, sizeof v);
    }
    fclose(f);
    if (s->cv.n == 0) fail(1, "%s: no epochs in the log", path);
}

static void cmd_plot(const args *a)
{
    plot_series *s;
    int i;
    need(a->out, "--out");
    if (a->npos == 0) fail(2, "no LOG.csv given (write them with train --log)");
    if (!(s = (plot_series *)calloc((size_t)a->npos, sizeof *s))) fail(1, "out of memory");
    for (i = 0; i < a->npos; ++i) read_log(a->pos[i], &s[i]);
    plot_write(a->out, a->title ? a->title : "training curves", s, a->npos);
    for (i = 0; i < a->npos; ++i) free(s[i].cv.v);
    free(s);
}

/* ==== main ================================================================ */

int main(int argc, char **argv)
{
    args a;
    if (argc < 2) fail(2, "no command given (train, distill, eval, predict, info, export-c, export-bytes, plot; "
                          "distill help shows every option)");
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("distill %s\n", dst_version());
        return 0;
    }
    parse_args(argc, argv, &a);
    switch (a.cmd) {
    case C_TRAIN: case C_DISTILL: cmd_train(&a); break;
    case C_EVAL: cmd_eval(&a); break;
    case C_PREDICT: cmd_predict(&a); break;
    case C_INFO: cmd_info(&a); break;
    case C_EXPORT_C: cmd_export_c(&a); break;
    case C_EXPORT_BYTES: cmd_export_bytes(&a); break;
    default: cmd_plot(&a); break;
    }
    free((void *)a.pos);
    return 0;
}

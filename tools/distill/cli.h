/* tools/distill/cli.h - what the parts of the distill command share: the
   includes (stb_image, stb_image_write, stb_easy_font and the distill.h
   implementation), the parsed command line, the training curves, and the
   functions one part calls in another. tools/distill/distill.c includes
   every part into one translation unit, so everything here is static. */
#ifndef DISTILL_CLI_H
#define DISTILL_CLI_H
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
#include <sys/ioctl.h> /* the terminal's width: TIOCGWINSZ */
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

/* ==== the parsed command line ============================================= */

enum { C_TRAIN = 1, C_DISTILL = 2, C_EVAL = 4, C_PREDICT = 8, C_INFO = 16, C_EXPORT_C = 32,
       C_EXPORT_BYTES = 64, C_PLOT = 128, C_QUANTIZE = 256 };
enum { O_STR, O_INT, O_REAL, O_FLAG, O_LIST };

/* An option that may be given more than once (O_LIST), in the order given. */
#define ARG_LIST_MAX 16
typedef struct arg_list {
    const char *v[ARG_LIST_MAX];
    int n;
} arg_list;

typedef struct args {
    const char *data, *arch, *out, *teacher, *teacher_logits, *model, *optimizer, *plot, *log, *label, *classes;
    const char *name, *title, *invert, *split;
    const char *epochs, *batch, *lr, *momentum, *weight_decay, *seed, *temperature, *alpha, *top, *limit;
    const char *test, *size, *channels, *val, *patience, *test_fraction, *train_x, *train_y, *test_x, *test_y;
    const char *unlabeled, *schedule, *warmup, *threads, *calibration, *quant_aware, *percentile;
    const char *augment, *teacher_weights;
    arg_list teachers;           /* every --teacher; teacher is the first */
    arg_list attention, hint;    /* --attention S:T[:W], --hint S:T[:W], each as often as given */
    int quiet, keep_best, minmax;
    int threads_at, threads_argc; /* --threads is argv[threads_at] (0: not given), with its value
                                     threads_argc entries; the command line a model keeps leaves them out */
    const char **pos; /* the arguments that are not options */
    int npos;
    int cmd;
    const char *cmd_name;
    int argc;
    char **argv;
} args;


/* ==== the data: training, validation and test sets (data.c) =============== */

typedef struct sets {
    dst_dataset train, val, test;  /* as loaded (pictures scaled to [0, 1]), not normalised */
    size_t *train_rows;            /* training sample i is row train_rows[i] of the training data
                                      (NULL: the same row); teacher logits are given per row */
    size_t  source_rows;           /* rows (images) in the training data as given */
    float   test_fraction;         /* held out of the training data as the test set; 0: a test set of its own */
    int     idx, folder, pixels;   /* an IDX directory, a folder of images; inputs are pixels */
    const char *what;              /* "images" or "rows", for messages */
} sets;

/* ==== training curves: one row per epoch ================================== */

typedef struct curves {
    int n, cap;
    float *v; /* per epoch: train loss, train accuracy, test loss, test accuracy, seconds */
} curves;
#define CURVE_COLS 5

typedef struct plot_series { char label[64]; curves cv; } plot_series;

/* ==== what one part calls in another ====================================== */

/* common.c */
#if defined(__GNUC__)
__attribute__((noreturn, format(printf, 2, 3)))
#endif
static void fail(int status, const char *fmt, ...);
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static void warn(const char *fmt, ...);
static long parse_int(const char *what, const char *s, long lo, long hi);
static double parse_real(const char *what, const char *s, double lo, double hi, int lo_open);
static void need(const char *value, const char *flag);
static void no_positional(const args *a);
static char *class_names(const char *given, const char *dir, int classes);
static const char *class_name(const char *names, int k, char *buf, size_t cap);
static dst_model *load_model(const char *path, const char *flag);
static void input_shape(const dst_model *m, int *c, int *h, int *w);
static double meta_number_or(const dst_model *m, const char *key, double fallback);
static int argmax(const float *v, int n);
static void base_label(const char *path, char *buf, size_t cap);
static const char *model_arg(const args *a);
static long file_size(const char *path);
static void describe_layer(const dst_layer_info *li, char *buf, size_t cap);
#define THREADS_MAX 256 /* --threads: distill.h computes a model on at most 256 (a wider pool is used 256 wide) */
static dst_pool *threads_start(const args *a);
static void threads_attach(dst_model *m, dst_pool *pool, const char *what);

/* spec.c: text into layers; 1, or 0 with msg = "position P: what is wrong" */
#define SPEC_MAX_LAYERS 64
#define SPEC_MAX_FIELDS 5

typedef struct spec {
    dst_layer_desc layers[SPEC_MAX_LAYERS];
    int pos[SPEC_MAX_LAYERS]; /* where each layer starts in the text, from 1 */
    int len[SPEC_MAX_LAYERS]; /* and how many characters it spans */
    int count;
} spec;
static int spec_parse(const char *text, int in_channels, spec *sp, char *msg, size_t cap);
static int spec_final_activation(const spec *sp);

/* data.c */
static void load_sets(const args *a, const dst_model *model, uint64_t seed, sets *s);
static void free_sets(sets *s);
static char *data_class_names(const args *a, const sets *s);
static void choose_normalization(const sets *s, dst_model *m, int quiet);
static float *normalized_rows(dst_model *m, const float *x, size_t count, size_t sample_size);
static float *normalized_copy(dst_model *m, const dst_dataset *d);
static void check_model_fits_sets(const dst_model *m, const sets *s, const char *what);

/* unlabeled.c: a transfer set of samples without labels; the lr schedule; --attention and --hint */
typedef struct unlabeled {
    const float *x;   /* count samples as the data's are loaded (IDX pixels / 255), not normalised */
    size_t count;
    dst_npy npy;      /* what holds them: a .npy array, an IDX file or a folder of images */
    dst_idx idx;
    dst_dataset folder;
} unlabeled;
static void unlabeled_load(const char *path, const sets *d, unlabeled *u);
static void unlabeled_free(unlabeled *u);
static void schedule_settings(const args *a, dst_fit_config *fit);
static void schedule_name(const dst_lr_schedule *s, char *buf, size_t cap);
typedef struct feature_terms {
    dst_attention_term attention[ARG_LIST_MAX];
    dst_hint_term hint[ARG_LIST_MAX];
} feature_terms;
static void feature_settings(const args *a, feature_terms *ft, dst_fit_config *fit);
static void feature_text(const arg_list *l, char *buf, size_t cap);

#define MAX_TEACHERS ARG_LIST_MAX /* --teacher given at most this many times */

/* augment.c: --augment and several teachers (--teacher more than once, --teacher-weights) */
static void augment_settings(const args *a, dst_augment *aug);
static void teacher_weights(const args *a, float *w);

/* plot.c */
static void plot_write(const char *path, const char *title, const plot_series *s, int count);

/* the commands: train.c, model.c, export.c, plot.c */
static void cmd_train(const args *a);
static void cmd_eval(const args *a);
static void cmd_predict(const args *a);
static void cmd_info(const args *a);
static void cmd_quantize(const args *a);
static void cmd_export_c(const args *a);
static void cmd_export_bytes(const args *a);
static void cmd_plot(const args *a);

#endif

/* tools/distill/main.c - the command line: options, usage, main.
   Part of the distill command (built through distill.c). */
#include "cli.h"

/* ==== the command line ==================================================== */

typedef struct option { const char *name; int flag; int cmds; size_t off; } option;

#define OPT(name, flag, cmds, field) { name, flag, cmds, offsetof(args, field) }
static const option options[] = {
    OPT("--data", O_STR, C_TRAIN | C_DISTILL | C_EVAL | C_QUANTIZE, data),
    OPT("--test", O_STR, C_TRAIN | C_DISTILL | C_EVAL | C_QUANTIZE, test),
    OPT("--label", O_STR, C_TRAIN | C_DISTILL | C_EVAL | C_QUANTIZE, label),
    OPT("--train-x", O_STR, C_TRAIN | C_DISTILL | C_EVAL | C_QUANTIZE, train_x),
    OPT("--train-y", O_STR, C_TRAIN | C_DISTILL | C_EVAL | C_QUANTIZE, train_y),
    OPT("--test-x", O_STR, C_TRAIN | C_DISTILL | C_EVAL | C_QUANTIZE, test_x),
    OPT("--test-y", O_STR, C_TRAIN | C_DISTILL | C_EVAL | C_QUANTIZE, test_y),
    OPT("--test-fraction", O_STR, C_TRAIN | C_DISTILL | C_EVAL | C_QUANTIZE, test_fraction),
    OPT("--size", O_STR, C_TRAIN | C_DISTILL | C_EVAL | C_QUANTIZE, size),
    OPT("--channels", O_STR, C_TRAIN | C_DISTILL | C_EVAL | C_QUANTIZE, channels),
    OPT("--val", O_STR, C_TRAIN | C_DISTILL, val),
    OPT("--keep-best", O_FLAG, C_TRAIN | C_DISTILL, keep_best),
    OPT("--patience", O_STR, C_TRAIN | C_DISTILL, patience),
    OPT("--arch", O_STR, C_TRAIN | C_DISTILL, arch),
    OPT("--epochs", O_STR, C_TRAIN | C_DISTILL, epochs),
    OPT("--batch", O_STR, C_TRAIN | C_DISTILL | C_EVAL, batch),
    OPT("--lr", O_STR, C_TRAIN | C_DISTILL, lr),
    OPT("--optimizer", O_STR, C_TRAIN | C_DISTILL, optimizer),
    OPT("--momentum", O_STR, C_TRAIN | C_DISTILL, momentum),
    OPT("--weight-decay", O_STR, C_TRAIN | C_DISTILL, weight_decay),
    OPT("--seed", O_STR, C_TRAIN | C_DISTILL, seed),
    OPT("--limit", O_STR, C_TRAIN | C_DISTILL | C_EVAL, limit),
    OPT("--out", O_STR, C_TRAIN | C_DISTILL | C_PLOT | C_QUANTIZE, out),
    OPT("--teacher", O_LIST, C_DISTILL, teachers),
    OPT("--teacher-weights", O_STR, C_DISTILL, teacher_weights),
    OPT("--augment", O_STR, C_TRAIN | C_DISTILL, augment),
    OPT("--teacher-logits", O_STR, C_DISTILL, teacher_logits),
    OPT("--unlabeled", O_STR, C_DISTILL, unlabeled),
    OPT("--attention", O_LIST, C_DISTILL, attention),
    OPT("--hint", O_LIST, C_DISTILL, hint),
    OPT("--schedule", O_STR, C_TRAIN | C_DISTILL, schedule),
    OPT("--warmup", O_STR, C_TRAIN | C_DISTILL, warmup),
    OPT("--temperature", O_STR, C_DISTILL, temperature),
    OPT("--alpha", O_STR, C_DISTILL, alpha),
    OPT("--classes", O_STR, C_TRAIN | C_DISTILL, classes),
    OPT("--plot", O_STR, C_TRAIN | C_DISTILL, plot),
    OPT("--log", O_STR, C_TRAIN | C_DISTILL, log),
    OPT("--quiet", O_FLAG, C_TRAIN | C_DISTILL, quiet),
    OPT("--threads", O_STR, C_TRAIN | C_DISTILL | C_EVAL | C_PREDICT, threads),
    OPT("--model", O_STR, C_EVAL | C_PREDICT | C_QUANTIZE, model),
    OPT("--calibration", O_STR, C_QUANTIZE, calibration),
    OPT("--percentile", O_STR, C_QUANTIZE, percentile),
    OPT("--minmax", O_FLAG, C_QUANTIZE, minmax),
    OPT("--quant-aware", O_STR, C_TRAIN | C_DISTILL, quant_aware),
    OPT("--split", O_STR, C_EVAL, split),
    OPT("--top", O_STR, C_PREDICT, top),
    OPT("--invert", O_STR, C_PREDICT, invert),
    OPT("--name", O_STR, C_TRAIN | C_DISTILL | C_EXPORT_C | C_EXPORT_BYTES, name),
    OPT("--title", O_STR, C_PLOT, title),
};

static const char usage_text[] =
    "usage:\n"
    "  distill train   DATA --arch SPEC --epochs N [training options] --out MODEL\n"
    "  distill distill DATA --teacher MODEL --arch SPEC --temperature T --alpha A\n"
    "                  --epochs N [training options] --out MODEL\n"
    "                  (or --teacher-logits FILE.npy: float32, one row per training row or image)\n"
    "                  [--unlabeled FILE|DIR: a transfer set of samples without labels (the soft term\n"
    "                  alone): an IDX file (plain or .gz), a .npy float32 array shaped like the data's\n"
    "                  samples (images as pixels / 255), or a folder of images DIR/<any>/*.png|jpg|bmp;\n"
    "                  --limit N keeps N labelled samples; with --teacher-logits its rows are the\n"
    "                  training data's, then the unlabelled samples']\n"
    "                  [--attention S:T[:W]: attention transfer from the teacher's layer T to the\n"
    "                  student's layer S (0-based positions in the SPECs), weight W (1)]\n"
    "                  [--hint S:T[:W]: FitNets: layer S, through a 1x1 conv (dense) adapter trained\n"
    "                  then dropped, learns layer T's outputs (MSE); both repeatable, need --teacher]\n"
    "                  [--teacher MODEL2 ...: an ensemble, the target the mean of the teachers'\n"
    "                  probabilities at T; --teacher-weights W1,W2,... weighs them (1 each)]\n"
    "  distill eval    DATA --model MODEL [--split test|train] [--batch B] [--limit N] [--threads N]\n"
    "  distill predict --model MODEL [--top K] [--invert auto|yes|no] [--threads N] IMAGE...\n"
    "  distill info    MODEL\n"
    "  distill quantize --model MODEL DATA --out MODEL8 [--calibration N: samples, 1000]  (int8)\n"
    "                  each activation range the one of least squared error over the values seen, or\n"
    "                  [--minmax: from the smallest to the largest value seen] or [--percentile P: the\n"
    "                  range that keeps P% of the values seen; P in (50, 100], e.g. 99.99]\n"
    "  distill export-c     MODEL [--name NAME] > model.h\n"
    "  distill export-bytes MODEL [--name NAME] > model_bytes.h\n"
    "  distill plot    --out FILE.png|FILE.svg [--title TEXT] LOG.csv...\n"
    "\n";

/* (in three strings: C99 compilers need only take 4,095 characters in one) */
static const char usage_data[] =
    "DATA, one of:\n"
    "  --data DIR                  an IDX directory: train-images-idx3-ubyte, train-labels-idx1-ubyte,\n"
    "                              t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each plain or .gz\n"
    "  --data TRAIN.csv [--test TEST.csv] --label COLUMN\n"
    "                              a table: COLUMN a header name or a 0-based index (default: the last);\n"
    "                              every other column a number; labels whole numbers or names\n"
    "  --data DIR [--test DIR2] [--size HxW] [--channels 1|3]\n"
    "                              a folder of images DIR/<class>/*.png|jpg|bmp (DIR/train/ and DIR/test/\n"
    "                              when present); size: the first image's unless given; channels 3\n"
    "  --train-x X.npy --train-y Y.npy [--test-x X.npy --test-y Y.npy]\n"
    "                              float32 features (N x F) and int32 labels (N)\n"
    "  without a test set of its own, --test-fraction F (0.2) of each class is held out as the test set\n"
    "  (the same rows again in eval: the model keeps the seed and the fraction)\n"
    "\n";

static const char usage_options[] =
    "training options:\n"
    "  --batch B (128)  --lr X (optimizer's default)  --optimizer sgd|adam|adamw (adam)\n"
    "  --momentum X (sgd, 0.9)  --weight-decay X  --seed S (1)  --limit N (first N training samples)\n"
    "  --schedule constant|cosine|step:E:G (lr per epoch: cosine to 0, or times G every E epochs)\n"
    "  --warmup E (the first E epochs ramp the lr up linearly: lr (e + 1) / (E + 1))\n"
    "  --augment shift:P,flip,mixup:A,noise:S (any of them, comma-separated: move images up to P\n"
    "  pixels each way, zero-padded; mirror left-right half the time; mixup with Beta(A, A) weights;\n"
    "  Gaussian noise of deviation S on the normalised inputs, for tables. A --teacher then sees the\n"
    "  student's augmented batches (so it runs every batch); not with --teacher-logits)\n"
    "  --val F (hold out F of each class of the training set for validation, shown every epoch)\n"
    "  --keep-best (with --val: end with the epoch of best validation accuracy)  --patience N (stop after\n"
    "  N epochs without a better one)\n"
    "  --classes a,b,c (class names; else the data's, DIR/classes.txt, or Fashion-MNIST's for a DIR named *fashion*)\n"
    "  --log FILE.csv (per-epoch curves)  --plot FILE.png|.svg  --name TEXT (the run's name in plots)\n"
    "  --quiet (no progress line)\n"
    "  --quant-aware E (after the epochs, E more with the weights and activations rounded as int8 models\n"
    "  round them, at a tenth of the lr, constant, with the same data and teacher; --out is then the int8\n"
    "  model, quantized with the ranges those epochs tracked, no calibration: quantization-aware training)\n"
    "  --threads N (eval and predict too: N threads in all, 1 to 256; default one per core, 1 creates\n"
    "  none; any N gives the same bits: the same model file, the same accuracy)\n"
    "The inputs are normalised and the model keeps it: IDX bytes x 1/255; a folder's pixels x 1/255 then\n"
    "per channel (v - mean) / std; tables, .npy and float IDX per feature (v - mean) / std (never / 255).\n"
    "\n"
    "SPEC is the model, layers separated by commas, e.g.\n"
    "  conv:32:3,relu,conv:64:3,relu,maxpool:2,dropout:0.25,flatten,dense:128,relu,dropout:0.5,dense:10\n"
    "  dense:N  conv:C:K[:S[:P|same]]  dwconv:K[:S[:P|same]]  maxpool:K[:S]  avgpool:K[:S]  gap  bn\n"
    "  flatten  dropout:R  dropout2d:R  relu  leaky[:SLOPE]  sigmoid  tanh  gelu\n"
    "The last layer's size is the number of classes.\n";

static void usage(FILE *f)
{
    fputs(usage_text, f);
    fputs(usage_data, f);
    fputs(usage_options, f);
}

static const struct { const char *name; int cmd; } commands[] = {
    { "train", C_TRAIN }, { "distill", C_DISTILL }, { "eval", C_EVAL }, { "predict", C_PREDICT },
    { "info", C_INFO }, { "quantize", C_QUANTIZE }, { "export-c", C_EXPORT_C }, { "export-bytes", C_EXPORT_BYTES }, { "plot", C_PLOT } };

static void parse_args(int argc, char **argv, args *a)
{
    int i, k;
    memset(a, 0, sizeof *a);
    a->argc = argc;
    a->argv = argv;
    for (k = 0; k < (int)(sizeof commands / sizeof commands[0]); ++k)
        if (strcmp(argv[1], commands[k].name) == 0) break;
    if (k == (int)(sizeof commands / sizeof commands[0]))
        fail(2, "unknown command '%s' (commands: train, distill, eval, predict, info, quantize, export-c, export-bytes, "
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
            *(int *)(void *)((char *)a + o->off) = 1;
            continue;
        }
        if (eq) value = eq + 1;
        else if (i + 1 < argc) value = argv[++i];
        else fail(2, "option %s needs a value", o->name);
        if (o->flag == O_LIST) {
            arg_list *l = (arg_list *)(void *)((char *)a + o->off);
            if (l->n == ARG_LIST_MAX) fail(2, "option %s given more than %d times", o->name, ARG_LIST_MAX);
            l->v[l->n++] = value;
            continue;
        }
        if (*(const char **)(void *)((char *)a + o->off)) fail(2, "option %s given twice", o->name);
        *(const char **)(void *)((char *)a + o->off) = value;
        if (o->off == offsetof(args, threads)) {
            a->threads_argc = eq ? 1 : 2;
            a->threads_at = i + 1 - a->threads_argc;
        }
    }
    a->teacher = a->teachers.n ? a->teachers.v[0] : NULL;
}

/* ==== main ================================================================ */

int main(int argc, char **argv)
{
    args a;
    if (argc < 2) fail(2, "no command given (train, distill, eval, predict, info, quantize, export-c, export-bytes, plot; "
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
    case C_QUANTIZE: cmd_quantize(&a); break;
    case C_EXPORT_C: cmd_export_c(&a); break;
    case C_EXPORT_BYTES: cmd_export_bytes(&a); break;
    default: cmd_plot(&a); break;
    }
    free((void *)a.pos);
    return 0;
}

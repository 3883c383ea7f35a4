/* bench/kd_quality.c: distillation quality on Fashion-MNIST, distill.h side.
   The same protocols as bench/kd_quality_torch.py; the results are in
   docs/BENCHMARKS.md ("Distillation quality") and docs/DISTILLATION.md.

   Build and run (make bench-kd does both):
     cc -O2 -I. -I/usr/include/stb bench/kd_quality.c -lm -o build/kd_quality
     ./build/kd_quality [--regime limited|short|all] [--seeds N] [--teachers K] [--labels-only]
                       [--quick] [--data DIR]

   Protocols (Adam lr 1e-3, batch 128, shuffled every epoch, last batch
   smaller, no augmentation, PyTorch's default init, pixels / 255):
     limited  the first 10,000 training images. Teacher C1, 10 epochs.
              Student 784-800-800-10 (no dropout), 20 epochs: labels alone,
              distilled at T=4 alpha=0.9 and at T=20 alpha=0.9.
     short    all 60,000 training images, 10 epochs. Teacher C1; students
              784-128-10 and C2, labels alone and distilled at T=4 alpha=0.9.
   The teacher's logits on the training images are computed once
   (dst_teacher_cache) and every distilled student reads them
   (dst_teacher_logits). Student seed s distills from teacher number
   (s - 1) mod K, K = --teachers (default: one teacher per seed).
   --quick: 2,000 training images, 2 teacher epochs, 3 student epochs.
   --labels-only: no teacher, only the students trained on labels.
   C1: conv3x3(1->32)+ReLU, conv3x3(32->64)+ReLU, maxpool2, dropout .25,
       flatten, dense(9216->128)+ReLU, dropout .5, dense(128->10).
   C2: conv3x3(1->8)+ReLU, maxpool2, conv3x3(8->16)+ReLU, maxpool2, flatten,
       dense(400->10). */
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
#define DISTILL_IMPLEMENTATION
#include "distill.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KD_MAX_SEEDS 16
#define KD_MAX_ROWS 16

typedef struct kd_row {
    char  regime[16];
    char  label[64];
    int   n;
    float acc[KD_MAX_SEEDS];
} kd_row;

static kd_row kd_rows[KD_MAX_ROWS];
static int kd_row_count;

static void kd_record(const char *regime, const char *label, float acc)
{
    int i;
    for (i = 0; i < kd_row_count; ++i)
        if (!strcmp(kd_rows[i].regime, regime) && !strcmp(kd_rows[i].label, label)) break;
    if (i == kd_row_count) {
        if (kd_row_count == KD_MAX_ROWS) return;
        memset(&kd_rows[i], 0, sizeof kd_rows[i]);
        snprintf(kd_rows[i].regime, sizeof kd_rows[i].regime, "%s", regime);
        snprintf(kd_rows[i].label, sizeof kd_rows[i].label, "%s", label);
        ++kd_row_count;
    }
    if (kd_rows[i].n < KD_MAX_SEEDS) kd_rows[i].acc[kd_rows[i].n++] = acc;
}


/* The architectures; returns the layer count written to L (room for 16). */
static int kd_arch(const char *name, dst_layer_desc *L, int *input_c, int *input_h, int *input_w)
{
    int n = 0;
    *input_c = 1; *input_h = 28; *input_w = 28;
    if (!strcmp(name, "C1")) {
        L[n++] = dst_conv2d(32, 3, 1, 0); L[n++] = dst_relu();
        L[n++] = dst_conv2d(64, 3, 1, 0); L[n++] = dst_relu();
        L[n++] = dst_maxpool2d(2, 0, 0); L[n++] = dst_dropout(0.25f); L[n++] = dst_flatten();
        L[n++] = dst_dense(128); L[n++] = dst_relu(); L[n++] = dst_dropout(0.5f);
        L[n++] = dst_dense(10);
    } else if (!strcmp(name, "C2")) {
        L[n++] = dst_conv2d(8, 3, 1, 0); L[n++] = dst_relu(); L[n++] = dst_maxpool2d(2, 0, 0);
        L[n++] = dst_conv2d(16, 3, 1, 0); L[n++] = dst_relu(); L[n++] = dst_maxpool2d(2, 0, 0);
        L[n++] = dst_flatten(); L[n++] = dst_dense(10);
    } else if (!strcmp(name, "MLP800")) {
        *input_c = 784; *input_h = *input_w = 1;
        L[n++] = dst_dense(800); L[n++] = dst_relu();
        L[n++] = dst_dense(800); L[n++] = dst_relu(); L[n++] = dst_dense(10);
    } else { /* MLP128 */
        *input_c = 784; *input_h = *input_w = 1;
        L[n++] = dst_dense(128); L[n++] = dst_relu(); L[n++] = dst_dense(10);
    }
    return n;
}

static const char *kd_arch_name(const char *arch)
{
    if (!strcmp(arch, "C1")) return "C1 teacher";
    if (!strcmp(arch, "C2")) return "C2 (conv8, conv16)";
    if (!strcmp(arch, "MLP800")) return "784-800-800-10";
    return "784-128-10";
}

static int kd_epoch_log(void *user, const dst_progress *p)
{
    (void)user;
    if (p->epoch_done)
        fprintf(stderr, "    epoch %d loss %.4f (%.0f samples/s)\n", p->epoch + 1, (double)p->loss,
                p->samples_per_second);
    return 0;
}

/* Creates and trains one model; returns it (the caller frees) and its test accuracy. */
static dst_model *kd_run(const char *name, const char *arch, const dst_mnist *d, size_t n, int epochs,
                         int seed, const dst_teacher *t, float T, float *acc)
{
    dst_layer_desc L[16];
    dst_model_desc desc = dst_model_desc_default();
    dst_optimizer_config opt = dst_optimizer_default(DST_ADAM);
    dst_fit_config fit = dst_fit_default();
    dst_model *m;
    dst_error e;
    double t0;
    desc.layers = L;
    desc.layer_count = kd_arch(arch, L, &desc.input_c, &desc.input_h, &desc.input_w);
    desc.seed = (uint64_t)seed;
    if (dst_model_create(&m, &desc, &e) != DST_OK) { fprintf(stderr, "%s: %s\n", arch, e.message); exit(1); }
    dst_model_set_optimizer(m, &opt);
    fit.epochs = epochs;
    fit.seed = (uint64_t)seed;
    fit.teacher = t;
    fit.temperature = T;
    fit.alpha = 0.9f;
    fit.progress = kd_epoch_log;
    t0 = dst_seconds();
    if (dst_model_fit(m, d->train_x, d->train_y, n, &fit) != DST_OK) {
        fprintf(stderr, "%s: %s\n", name, dst_model_error(m));
        exit(1);
    }
    if (dst_model_evaluate(m, d->test_x, d->test_y, d->test_count, 0, NULL, acc) != DST_OK) {
        fprintf(stderr, "%s: %s\n", name, dst_model_error(m));
        exit(1);
    }
    printf("run %-28s seed %d acc %.4f time %.1fs\n", name, seed, (double)*acc, dst_seconds() - t0);
    fflush(stdout);
    return m;
}

static void kd_regime(const char *kind, const dst_mnist *d, int seeds, int teachers, int quick, int labels_only)
{
    static const char *limited_arch[] = { "MLP800", "MLP800", "MLP800" };
    static const float limited_T[] = { 0, 4, 20 };
    static const char *short_arch[] = { "MLP128", "MLP128", "C2", "C2" };
    static const float short_T[] = { 0, 4, 0, 4 };
    int limited = !strcmp(kind, "limited");
    size_t n = limited ? 10000 : 60000;
    int t_ep = 10, s_ep = limited ? 20 : 10, k, s, j, students = limited ? 3 : 4;
    const char **arch = limited ? limited_arch : short_arch;
    const float *Ts = limited ? limited_T : short_T;
    size_t size = (size_t)d->rows * (size_t)d->cols;
    float *cache[KD_MAX_SEEDS], acc;
    char name[64], label[64];
    dst_error e;
    if (quick) { n = 2000; t_ep = 2; s_ep = 3; }
    if (n > d->train_count) n = d->train_count;
    if (labels_only) teachers = 0;
    for (k = 0; k < teachers; ++k) {
        dst_model *t;
        dst_teacher tt;
        snprintf(name, sizeof name, "%s C1 teacher", kind);
        t = kd_run(name, "C1", d, n, t_ep, k + 1, NULL, 4, &acc);
        snprintf(label, sizeof label, "C1 teacher, %d epochs", t_ep);
        kd_record(kind, label, acc);
        cache[k] = (float *)malloc(n * 10 * sizeof(float));
        tt = dst_teacher_model(t);
        if (!cache[k] || dst_teacher_cache(&tt, d->train_x, size, n, cache[k], &e) != DST_OK) {
            fprintf(stderr, "teacher cache: %s\n", cache[k] ? e.message : "out of memory");
            exit(1);
        }
        dst_model_free(t);
    }
    for (s = 1; s <= seeds; ++s) {
        dst_teacher tl = dst_teacher_logits(teachers ? cache[(s - 1) % teachers] : NULL, n, 10);
        for (j = 0; j < students; ++j) {
            float T = Ts[j];
            if (labels_only && T != 0) continue;
            if (T == 0) {
                snprintf(name, sizeof name, "%s %s labels", kind, arch[j]);
                snprintf(label, sizeof label, "%s, labels, %d epochs", kd_arch_name(arch[j]), s_ep);
            } else {
                snprintf(name, sizeof name, "%s %s T=%g", kind, arch[j], (double)T);
                snprintf(label, sizeof label, "%s, KD T=%g alpha=0.9, %d epochs", kd_arch_name(arch[j]),
                         (double)T, s_ep);
            }
            dst_model_free(kd_run(name, arch[j], d, n, s_ep, s, T == 0 ? NULL : &tl, T == 0 ? 4 : T, &acc));
            kd_record(kind, label, acc);
        }
    }
    for (k = 0; k < teachers; ++k) free(cache[k]);
}

static void kd_usage(void)
{
    fprintf(stderr, "usage: kd_quality [--regime limited|short|all] [--seeds N] [--teachers K] [--labels-only] [--quick] [--data DIR]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *regime = "limited", *dir = "/usr/share/datasets/fashion-mnist";
    int seeds = 3, teachers = 0, quick = 0, labels_only = 0, i, r;
    dst_mnist d;
    dst_error e;
    for (i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--labels-only")) labels_only = 1;
        else if (i + 1 < argc && !strcmp(argv[i], "--regime")) regime = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--seeds")) seeds = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--teachers")) teachers = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--data")) dir = argv[++i];
        else kd_usage();
    }
    if (strcmp(regime, "limited") && strcmp(regime, "short") && strcmp(regime, "all")) kd_usage();
    if (seeds < 1 || seeds > KD_MAX_SEEDS || teachers < 0) kd_usage();
    if (teachers == 0 || teachers > seeds) teachers = seeds;
    if (dst_mnist_load(dir, &d, &e) != DST_OK) {
        fprintf(stderr, "%s\n(Debian: apt-get install dataset-fashion-mnist)\n", e.message);
        return 1;
    }
    if (strcmp(regime, "short")) kd_regime("limited", &d, seeds, teachers, quick, labels_only);
    if (strcmp(regime, "limited")) kd_regime("short", &d, seeds, teachers, quick, labels_only);
    printf("\ndistill.h %s (%s), Fashion-MNIST test accuracy (%%), mean +- std (sample, n-1) over seeds%s\n",
           dst_version(), dst_simd_name(dst_simd_active()), quick ? " [QUICK]" : "");
    for (r = 0; r < kd_row_count; ++r) {
        double mean = 0, var = 0;
        kd_row *w = &kd_rows[r];
        for (i = 0; i < w->n; ++i) mean += 100.0 * w->acc[i];
        mean /= w->n;
        for (i = 0; i < w->n; ++i) var += (100.0 * w->acc[i] - mean) * (100.0 * w->acc[i] - mean);
        var = w->n > 1 ? var / (w->n - 1) : 0;
        printf("%-8s %-44s %6.2f +- %4.2f  (n=%d:", w->regime, w->label, mean, sqrt(var), w->n);
        for (i = 0; i < w->n; ++i) printf(" %.2f", 100.0 * w->acc[i]);
        printf(")\n");
    }
    dst_mnist_free(&d);
    return 0;
}

/* bench/kd_transfer.c: distillation on a transfer set (few labels, many
   unlabelled images) on Fashion-MNIST, distill.h side. The same protocol as
   bench/kd_transfer_torch.py; results and commands in docs/DISTILLATION.md
   ("Few labels, many images").

   Build and run (make bench-kd-transfer does both):
     cc -O2 -I. -I/usr/include/stb bench/kd_transfer.c -lm -o build/kd_transfer
     ./build/kd_transfer [--teacher FILE] [--seeds N] [--quick] [--data DIR] [--missing-class K]
                         [--features [--pool N] [--hint-weight W] [--attention-weight W] [--only TEXT]]
                         [--map [--students LIST] [--labels LIST] [--epochs LIST] [--temperatures LIST]
                               [--assistant ARCH [--with-teacher]]]

   Protocol (Adam lr 1e-3, batch 128, shuffled every epoch, last batch
   smaller, constant lr, no augmentation, PyTorch's default init, pixels / 255):
     split     training images 0..54,999 are the pool, 55,000..59,999 the
               validation set (every choice below is made on it); the 10,000
               test images are only reported.
     teacher   C1 trained on the 55,000 pool images with their labels, 5
               epochs, seed 1: read from --teacher (default teacher_c1.dst)
               when it exists, trained and saved there otherwise; the
               command `distill train ... --limit 55000` makes the same one.
     labels    C2 on the first 1,000 pool images with labels; epochs chosen
               on validation among 25, 50, 100, 200 (mean over seeds).
     transfer  C2 on the same 1,000 labelled images plus the other 54,000
               pool images without labels (fit's unlabeled_x): labelled
               samples alpha * soft + (1 - alpha) * hard, unlabelled ones the
               soft term alone, the mean over the batch; alpha 0.5; T chosen
               on validation among 2, 4, 8 (seed 1), epochs among 5, 10.
     ceiling   C2 on all 55,000 pool images with labels; epochs among 5, 10.
   The teacher's logits on the pool are computed once (dst_teacher_cache).
   Seeds 1..N set the student's init and its shuffling. A run of several
   epoch counts is one fit, continued (cfg.resume) from one count to the next.
   --quick: 5,000 pool images, 1 teacher epoch, short students (a smoke test).
   --missing-class K: Hinton et al.'s demonstration instead. The transfer
               set is every pool image whose class is not K, with no labels
               at all (soft targets alone, T = 8, 10 epochs, seeds 1..N):
               the student never sees class K, only the teacher's graded
               answers about it on other images. Reported: test accuracy on
               class K and overall, as trained and after a bias correction
               (b added to the logit of class K, b chosen on validation
               among 0, 0.5, ..., 10 for the best overall accuracy).
   --features: do hint and attention terms add anything? On a pool of N
               images (--pool, 20,000: with feature terms the teacher runs
               on every batch, its cost every epoch), validation and test
               as above, seeds 1..N, epochs among 5, 10, T = 2, alpha 0.5:
               transfer  1,000 labels + the rest unlabelled: KD alone,
                         KD + hint 1:1, KD + attention 1:1;
               labels    all pool images labelled: labels alone, KD,
                         KD + hint 1:1, KD + attention 1:1.
               hint 1:1: C2's first conv+ReLU (8x26x26) through a 1x1 conv
               adapter against C1's first (32x26x26), weight 1
               (--hint-weight); attention 1:1: the same layers, weight 500
               (--attention-weight; Zagoruyko & Komodakis' beta / 2 for this
               mean-squared form). --only TEXT runs the rows whose name
               holds TEXT.
   --map:      the map of where distillation pays: for each student of
               --students (default C2,C3,MLP32,MLP128,MLP512) and each count
               L of --labels (default 500,2000,10000,55000), seeds 1..N:
                 labels  the first L pool images with labels; epochs chosen
                         on validation among 50, 100, 200, 400 (L <= 1,000),
                         25, 50, 100, 200 (L <= 5,000), 10, 20, 40
                         (L <= 20,000), 5, 10, 20 (more);
                 kd      the same L labelled images plus the rest of the pool
                         without labels (with L = 55,000: every image
                         labelled, distilled), T = 2, alpha 0.5 (the choices
                         the transfer protocol above made for C2 on
                         validation; not chosen again per cell), epochs among
                         5, 10, 20.
               One "run" line per student, count, recipe and seed: the
               summary and the table come from the logs of both libraries
               (bench/kd_map_table.py).
               --epochs LIST: these checkpoints for every row instead (longer
               schedules); --temperatures LIST: a kd row for each T, named
               "kd T=..." (lower or higher T than the map's 2).
               --assistant ARCH: a teacher assistant (Mirzadeh et al. 2020)
               between C1 and the students: ARCH (seed 1) distilled from C1
               with every pool label, T 2, alpha 0.5, 20 epochs; the kd rows
               then learn from its logits (named "kd ... via ARCH") and the
               labels rows are left out (they are the plain map's, bit for
               bit). With --with-teacher the kd rows learn from C1 and the
               assistant together (the mean of their tempered
               probabilities, an ensemble; named "kd ... C1+ARCH").
   --cost:     what each recipe costs: one epoch of fit (seed 1, T 2,
               alpha 0.5, every image labelled) on a pool of --pool images
               (20,000) for the student --students (one, C2 by default):
               labels alone; KD from cached logits; KD with the teacher run
               on every batch (live); live with shift 2 (the consistent
               teacher); live with attention 1:1 (weight 500); live with
               hint 1:1 (weight 1); an ensemble of C1 and a C3, both live;
               KD from cached logits, quantization-aware; and one epoch of
               a C3 assistant from cached logits (the assistant recipe pays
               20 of them once). Then the one-off cost of caching the
               teacher's logits. Seconds and the ratio to a labels epoch.
   Students of --map (10 classes):
       C2      above (5,258 parameters)
       C3      conv3x3(1->16)+ReLU, maxpool2, conv3x3(16->32)+ReLU, maxpool2,
               flatten, dense(800->64)+ReLU, dense(64->10) (56,714)
       MLP32, MLP128, MLP512
               784-H-10, ReLU (25,450; 101,770; 407,050)
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

#define KT_MAX_CK 4
#define KT_MAX_ROWS 64
#define KT_MAX_SEEDS 8

typedef struct kt_row {
    char  name[48];
    int   ck[KT_MAX_CK], nck, n;
    float val[KT_MAX_CK][KT_MAX_SEEDS], test[KT_MAX_CK][KT_MAX_SEEDS];
    double seconds;
} kt_row;

static kt_row kt_rows[KT_MAX_ROWS];
static int kt_row_count;

static kt_row *kt_row_of(const char *name, const int *ck, int nck)
{
    int i;
    for (i = 0; i < kt_row_count; ++i)
        if (!strcmp(kt_rows[i].name, name)) return &kt_rows[i];
    if (kt_row_count == KT_MAX_ROWS) { fprintf(stderr, "too many rows\n"); exit(1); }
    memset(&kt_rows[i], 0, sizeof kt_rows[i]);
    snprintf(kt_rows[i].name, sizeof kt_rows[i].name, "%s", name);
    memcpy(kt_rows[i].ck, ck, (size_t)nck * sizeof(int));
    kt_rows[i].nck = nck;
    ++kt_row_count;
    return &kt_rows[i];
}

/* A model of the file's architectures, by name: C1 (the teacher), C2, C3,
   MLP32, MLP128, MLP512 (see the top of the file). */
static dst_model *kt_model(const char *arch, int seed)
{
    dst_layer_desc L[16];
    dst_model_desc desc = dst_model_desc_default();
    dst_optimizer_config opt = dst_optimizer_default(DST_ADAM);
    dst_model *m;
    dst_error e;
    int n = 0;
    if (!strcmp(arch, "C1")) {
        L[n++] = dst_conv2d(32, 3, 1, 0); L[n++] = dst_relu();
        L[n++] = dst_conv2d(64, 3, 1, 0); L[n++] = dst_relu();
        L[n++] = dst_maxpool2d(2, 0, 0); L[n++] = dst_dropout(0.25f); L[n++] = dst_flatten();
        L[n++] = dst_dense(128); L[n++] = dst_relu(); L[n++] = dst_dropout(0.5f);
        L[n++] = dst_dense(10);
    } else if (!strcmp(arch, "C2")) {
        L[n++] = dst_conv2d(8, 3, 1, 0); L[n++] = dst_relu(); L[n++] = dst_maxpool2d(2, 0, 0);
        L[n++] = dst_conv2d(16, 3, 1, 0); L[n++] = dst_relu(); L[n++] = dst_maxpool2d(2, 0, 0);
        L[n++] = dst_flatten(); L[n++] = dst_dense(10);
    } else if (!strcmp(arch, "C3")) {
        L[n++] = dst_conv2d(16, 3, 1, 0); L[n++] = dst_relu(); L[n++] = dst_maxpool2d(2, 0, 0);
        L[n++] = dst_conv2d(32, 3, 1, 0); L[n++] = dst_relu(); L[n++] = dst_maxpool2d(2, 0, 0);
        L[n++] = dst_flatten(); L[n++] = dst_dense(64); L[n++] = dst_relu(); L[n++] = dst_dense(10);
    } else if (!strncmp(arch, "MLP", 3) && atoi(arch + 3) > 0) {
        L[n++] = dst_dense(atoi(arch + 3)); L[n++] = dst_relu(); L[n++] = dst_dense(10);
    } else {
        fprintf(stderr, "unknown architecture %s (C1, C2, C3, MLP<width>)\n", arch);
        exit(2);
    }
    desc.input_c = 1; desc.input_h = 28; desc.input_w = 28;
    if (arch[0] == 'M') { desc.input_c = 784; desc.input_h = 1; desc.input_w = 1; }
    desc.layers = L; desc.layer_count = n; desc.seed = (uint64_t)seed;
    if (dst_model_create(&m, &desc, &e) != DST_OK) { fprintf(stderr, "model: %s\n", e.message); exit(1); }
    dst_model_set_optimizer(m, &opt);
    return m;
}

typedef struct kt_data {
    dst_mnist d;
    const char *student;        /* the students' architecture (kt_model) */
    size_t pool, labelled;
    const float *val_x;
    const int *val_y;
    size_t val_count;
} kt_data;

static float kt_acc(dst_model *m, const float *x, const int *y, size_t n)
{
    float acc = 0;
    if (dst_model_evaluate(m, x, y, n, 0, NULL, &acc) != DST_OK) {
        fprintf(stderr, "evaluate: %s\n", dst_model_error(m));
        exit(1);
    }
    return acc;
}

/* One student: trained up to each checkpoint in turn (one fit, resumed),
   validation and test accuracy recorded at each. */
static void kt_student(const char *name, const kt_data *k, size_t count, const dst_teacher *t, float T,
                       const int *ck, int nck, int seed, const dst_hint_term *hint, const dst_attention_term *at)
{
    kt_row *row = kt_row_of(name, ck, nck);
    dst_model *m = kt_model(k->student, seed);
    dst_fit_config fit = dst_fit_default();
    double t0 = dst_seconds();
    int c;
    fit.seed = (uint64_t)seed;
    if (t) {
        fit.teacher = t;
        fit.temperature = T;
        fit.alpha = 0.5f;
        fit.unlabeled_x = k->d.train_x + count * 784;
        fit.unlabeled_count = k->pool - count;
        fit.hint = hint; fit.hint_count = hint != NULL;
        fit.attention = at; fit.attention_count = at != NULL;
    }
    printf("run %-22s seed %d ", name, seed);
    for (c = 0; c < nck; ++c) {
        fit.epochs = ck[c];
        fit.resume = c > 0;
        if (dst_model_fit(m, k->d.train_x, k->d.train_y, count, &fit) != DST_OK) {
            fprintf(stderr, "%s: %s\n", name, dst_model_error(m));
            exit(1);
        }
        row->val[c][row->n] = kt_acc(m, k->val_x, k->val_y, k->val_count);
        row->test[c][row->n] = kt_acc(m, k->d.test_x, k->d.test_y, k->d.test_count);
        printf(" ep%d val %.4f test %.4f", ck[c], (double)row->val[c][row->n], (double)row->test[c][row->n]);
    }
    row->seconds += dst_seconds() - t0;
    printf("  %.1fs\n", dst_seconds() - t0);
    fflush(stdout);
    row->n++;
    dst_model_free(m);
}

/* The checkpoint with the best mean validation accuracy. */
static int kt_best(const kt_row *r)
{
    int c, i, best = 0;
    double best_v = -1;
    for (c = 0; c < r->nck; ++c) {
        double v = 0;
        for (i = 0; i < r->n; ++i) v += r->val[c][i];
        if (v / r->n > best_v) { best_v = v / r->n; best = c; }
    }
    return best;
}

static void kt_print(const kt_row *r)
{
    int c = kt_best(r), i;
    double mean = 0, val = 0, sd = 0;
    for (i = 0; i < r->n; ++i) { mean += 100.0 * r->test[c][i]; val += 100.0 * r->val[c][i]; }
    mean /= r->n; val /= r->n;
    for (i = 0; i < r->n; ++i) sd += (100.0 * r->test[c][i] - mean) * (100.0 * r->test[c][i] - mean);
    sd = r->n > 1 ? sqrt(sd / (r->n - 1)) : 0;
    printf("%-22s epochs %3d  val %.2f  test %6.2f +- %4.2f  (n=%d:", r->name, r->ck[c], val, mean, sd, r->n);
    for (i = 0; i < r->n; ++i) printf(" %.2f", 100.0 * r->test[c][i]);
    printf(")  %.0fs per run\n", r->seconds / r->n);
}

/* Accuracy on all n samples and on those of class cls, with b added to
   that class's logit. */
static void kt_class_acc(const float *logits, const int *y, size_t n, int cls, float b, double *all, double *of_cls)
{
    size_t i, right = 0, in = 0, right_in = 0;
    for (i = 0; i < n; ++i) {
        const float *z = logits + i * 10;
        int j, best = 0;
        for (j = 1; j < 10; ++j)
            if (z[j] + (j == cls ? b : 0) > z[best] + (best == cls ? b : 0)) best = j;
        right += best == y[i];
        if (y[i] == cls) { ++in; right_in += best == y[i]; }
    }
    *all = (double)right / (double)n;
    *of_cls = in ? (double)right_in / (double)in : 0;
}

/* --missing-class: distilled on the pool without class cls, no labels. */
static void kt_missing_class(const kt_data *k, dst_model *teacher, int cls, int seeds)
{
    size_t i, n = 0;
    float *x = (float *)malloc(k->pool * 784 * sizeof(float)), *vl, *tl;
    int s;
    dst_teacher live = dst_teacher_model(teacher);
    if (!x || !(vl = (float *)malloc(k->val_count * 10 * sizeof(float))) ||
        !(tl = (float *)malloc(k->d.test_count * 10 * sizeof(float)))) { fprintf(stderr, "out of memory\n"); exit(1); }
    for (i = 0; i < k->pool; ++i)
        if (k->d.train_y[i] != cls) memcpy(x + n++ * 784, k->d.train_x + i * 784, 784 * sizeof(float));
    printf("missing class %d: transfer set of %lu images without labels, none of class %d\n", cls, (unsigned long)n, cls);
    {
        double ta, tc;
        dst_model_predict(teacher, k->d.test_x, k->d.test_count, tl);
        kt_class_acc(tl, k->d.test_y, k->d.test_count, cls, 0, &ta, &tc);
        printf("teacher: class %d test accuracy %.2f%% (all classes %.2f%%)\n", cls, 100 * tc, 100 * ta);
    }
    for (s = 1; s <= seeds; ++s) {
        dst_model *m = kt_model(k->student, s);
        dst_fit_config fit = dst_fit_default();
        double t0 = dst_seconds(), va, tc, ta, best_va = -1;
        float b, best_b = 0;
        fit.epochs = 10; fit.seed = (uint64_t)s;
        fit.teacher = &live; fit.temperature = 8; /* fit caches the teacher's logits */
        if (dst_model_fit(m, x, NULL, n, &fit) != DST_OK) { fprintf(stderr, "%s\n", dst_model_error(m)); exit(1); }
        dst_model_predict(m, k->val_x, k->val_count, vl);
        dst_model_predict(m, k->d.test_x, k->d.test_count, tl);
        for (b = 0; b <= 10; b += 0.5f) {
            kt_class_acc(vl, k->val_y, k->val_count, cls, b, &va, &tc);
            if (va > best_va) { best_va = va; best_b = b; }
        }
        kt_class_acc(tl, k->d.test_y, k->d.test_count, cls, 0, &ta, &tc);
        printf("seed %d: class %d test accuracy %.2f%% (all classes %.2f%%)", s, cls, 100 * tc, 100 * ta);
        kt_class_acc(tl, k->d.test_y, k->d.test_count, cls, best_b, &ta, &tc);
        printf("; bias +%.1f (chosen on validation): class %d %.2f%%, all %.2f%%  %.0fs\n", (double)best_b, cls,
               100 * tc, 100 * ta, dst_seconds() - t0);
        fflush(stdout);
        dst_model_free(m);
    }
    free(x); free(vl); free(tl);
}

/* --features: KD with and without a hint or an attention term, on a
   transfer set and with all labels (see the top of the file). */
static void kt_features(const kt_data *k, dst_model *teacher, int seeds, float hint_w, float at_w, const char *only)
{
    static const int ck[] = { 5, 10 };
    dst_hint_term hint = { 1, 1, 1.0f, NULL };
    dst_attention_term at = { 1, 1, 500.0f };
    float *logits = (float *)malloc(k->pool * 10 * sizeof(float));
    dst_teacher live = dst_teacher_model(teacher), cached;
    dst_error e;
    /* name; 1: the transfer set (else all labels); teacher 0 none, 1 cached, 2 live; term 0 none, 1 hint, 2 attention */
    static const struct { const char *name; int transfer, teacher, term; } rows[7] = {
        { "transfer KD", 1, 1, 0 }, { "transfer KD+hint", 1, 2, 1 }, { "transfer KD+attention", 1, 2, 2 },
        { "labels", 0, 0, 0 }, { "labels KD", 0, 1, 0 }, { "labels KD+hint", 0, 2, 1 }, { "labels KD+attention", 0, 2, 2 } };
    int s, i;
    hint.weight = hint_w;
    at.weight = at_w;
    if (!logits || dst_teacher_cache(&live, k->d.train_x, 784, k->pool, logits, &e) != DST_OK) {
        fprintf(stderr, "teacher cache: %s\n", logits ? e.message : "out of memory");
        exit(1);
    }
    cached = dst_teacher_logits(logits, k->pool, 10);
    for (s = 1; s <= seeds; ++s)
        for (i = 0; i < 7; ++i) {
            const dst_teacher *t = rows[i].teacher == 0 ? NULL : rows[i].teacher == 1 ? &cached : &live;
            if (only && !strstr(rows[i].name, only)) continue;
            kt_student(rows[i].name, k, rows[i].transfer ? k->labelled : k->pool, t, 2, ck, 2, s,
                       rows[i].term == 1 ? &hint : NULL, rows[i].term == 2 ? &at : NULL);
        }
    printf("\ndistill.h %s, Fashion-MNIST, C2 student, pool %lu (%lu labelled in the transfer rows), T = 2, "
           "alpha 0.5, hint weight %g, attention weight %g; epochs on validation, test accuracy (%%)\n", dst_version(),
           (unsigned long)k->pool, (unsigned long)k->labelled, (double)hint_w, (double)at_w);
    for (i = 0; i < 7; ++i)
        if (!only || strstr(rows[i].name, only)) kt_print(kt_row_of(rows[i].name, ck, 2));
    free(logits);
}

/* --map: for each student and labelled count, labels alone and distilled
   with the rest of the pool unlabelled (see the top of the file). */
static void kt_map(kt_data *k, const dst_teacher *cached, const char *students, const char *labels, int seeds,
                   int quick, const int *user_ck, int n_user_ck, const float *temps, int n_temps,
                   const char *via, const dst_teacher *also)
{
    static const int kd_ck[] = { 5, 10, 20 }, quick_ck[] = { 1, 2 };
    static const int ck_500[] = { 50, 100, 200, 400 }, ck_5k[] = { 25, 50, 100, 200 }, ck_20k[] = { 10, 20, 40 };
    char list[256], *arch, name[48];
    const char *l;
    dst_teacher both[2];
    int s;
    snprintf(list, sizeof list, "%s", students);
    for (arch = strtok(list, ","); arch; arch = strtok(NULL, ",")) {
        k->student = arch;
        for (l = labels; *l; l += strcspn(l, ",") + (l[strcspn(l, ",")] == ',')) {
            size_t count = (size_t)strtoul(l, NULL, 10);
            const int *ck = count <= 1000 ? ck_500 : count <= 5000 ? ck_5k : count <= 20000 ? ck_20k : kd_ck;
            int nck = count <= 5000 ? 4 : 3;
            const int *kck = kd_ck;
            int nkck = 3, t;
            if (count < 1 || count > k->pool) { fprintf(stderr, "--labels: 1 to %lu\n", (unsigned long)k->pool); exit(2); }
            if (quick) { ck = kck = quick_ck; nck = nkck = 2; }
            if (n_user_ck) { ck = kck = user_ck; nck = nkck = n_user_ck; }
            snprintf(name, sizeof name, "%s %lu labels", arch, (unsigned long)count);
            if (!via) /* with an assistant: the plain map's label rows, bit for bit */
                for (s = 1; s <= seeds; ++s) kt_student(name, k, count, NULL, 0, ck, nck, s, NULL, NULL);
            for (t = 0; t < (n_temps ? n_temps : 1); ++t) {
                float T = n_temps ? temps[t] : 2;
                dst_teacher ens;
                if (n_temps) snprintf(name, sizeof name, "%s %lu kd T=%g%s", arch, (unsigned long)count, (double)T, via ? via : "");
                else snprintf(name, sizeof name, "%s %lu kd%s", arch, (unsigned long)count, via ? via : "");
                if (also) { both[0] = *cached; both[1] = *also; ens = dst_teacher_ensemble(both, NULL, 2, T); }
                for (s = 1; s <= seeds; ++s) kt_student(name, k, count, also ? &ens : cached, T, kck, nkck, s, NULL, NULL);
            }
        }
    }
    printf("\ndistill.h %s, Fashion-MNIST, the map: pool %lu, T = %s, alpha 0.5; epochs on validation, "
           "test accuracy (%%)\n", dst_version(), (unsigned long)k->pool, n_temps ? "as named" : "2");
    for (s = 0; s < kt_row_count; ++s) kt_print(&kt_rows[s]);
}

/* --cost: the wall-clock cost of one epoch of each recipe (see the top of
   the file); every row one epoch of fit on the whole pool, seed 1. */
static void kt_cost(const kt_data *k, dst_model *teacher, const dst_teacher *cached, double cache_seconds)
{
    static const char *rows[] = { "labels", "KD, cached logits", "KD, live teacher", "KD, live, shift 2",
                                  "KD, live, attention 1:1", "KD, live, hint 1:1", "KD, ensemble C1+C3, live",
                                  "KD, cached, quantization-aware", "assistant C3, KD cached" };
    dst_model *c3 = kt_model("C3", 2); /* a second live teacher; only its cost matters */
    dst_teacher live = dst_teacher_model(teacher), members[2], ens;
    dst_hint_term hint = { 1, 1, 1.0f, NULL };
    dst_attention_term at = { 1, 1, 500.0f };
    double base = 0;
    int i;
    members[0] = live;
    members[1] = dst_teacher_model(c3);
    ens = dst_teacher_ensemble(members, NULL, 2, 2.0f);
    printf("cost: %s student, %lu images a epoch, one thread\n", k->student, (unsigned long)k->pool);
    for (i = 0; i < 9; ++i) {
        dst_model *m = kt_model(i == 8 ? "C3" : k->student, 1);
        dst_fit_config fit = dst_fit_default();
        double t0;
        fit.epochs = 1; fit.seed = 1; fit.temperature = 2; fit.alpha = 0.5f;
        fit.teacher = i == 0 ? NULL : i == 2 || i == 3 || i == 4 || i == 5 ? &live : i == 6 ? &ens : cached;
        fit.teacher_per_batch = i >= 2 && i <= 6;
        if (i == 3) fit.augment.shift = 2;
        if (i == 4) { fit.attention = &at; fit.attention_count = 1; }
        if (i == 5) { fit.hint = &hint; fit.hint_count = 1; }
        if (i == 7 && dst_model_set_quant_aware(m, 1) != DST_OK) { fprintf(stderr, "%s\n", dst_model_error(m)); exit(1); }
        t0 = dst_seconds();
        if (dst_model_fit(m, k->d.train_x, k->d.train_y, k->pool, &fit) != DST_OK) {
            fprintf(stderr, "%s: %s\n", rows[i], dst_model_error(m));
            exit(1);
        }
        t0 = dst_seconds() - t0;
        if (i == 0) base = t0;
        printf("cost %-32s %7.2fs per epoch  %5.2fx labels\n", rows[i], t0, t0 / base);
        fflush(stdout);
        dst_model_free(m);
    }
    printf("cost %-32s %7.2fs once        %5.2fx labels\n", "teacher logits, cached", cache_seconds,
           cache_seconds / base);
    dst_model_free(c3);
}

/* A comma-separated list of up to KT_MAX_CK positive numbers into f (or
   into n as integers); exits on anything else. */
static int kt_list(const char *text, float *f, int *n)
{
    int c = 0;
    const char *p = text;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || v <= 0 || v > 1e6 || c == KT_MAX_CK || (*end && *end != ',') || (n && v != (int)v)) {
            fprintf(stderr, "'%s': a list of up to %d positive numbers\n", text, KT_MAX_CK);
            exit(2);
        }
        if (f) f[c] = (float)v;
        if (n) n[c] = (int)v;
        ++c;
        p = *end ? end + 1 : end;
    }
    return c;
}

static dst_model *kt_teacher(const char *path, const kt_data *k, int epochs)
{
    dst_model *t;
    dst_error e;
    dst_fit_config fit = dst_fit_default();
    double t0 = dst_seconds();
    if (dst_model_load(&t, path, &e) == DST_OK) {
        printf("teacher: loaded %s\n", path);
        return t;
    }
    t = kt_model("C1", 1);
    fit.epochs = epochs;
    fit.seed = 1;
    if (dst_model_fit(t, k->d.train_x, k->d.train_y, k->pool, &fit) != DST_OK) {
        fprintf(stderr, "teacher: %s\n", dst_model_error(t));
        exit(1);
    }
    printf("teacher: trained in %.0fs\n", dst_seconds() - t0);
    if (dst_model_save(t, path, &e) != DST_OK) fprintf(stderr, "teacher: not saved: %s\n", e.message);
    return t;
}

int main(int argc, char **argv)
{
    const char *dir = "/usr/share/datasets/fashion-mnist", *tpath = "teacher_c1.dst";
    int seeds = 3, quick = 0, i, s, t_ep = 5, best_c = 0, missing = -1, features = 0;
    long pool = 20000;
    float hint_w = 1, at_w = 500;
    const char *only = NULL, *map_students = "C2,C3,MLP32,MLP128,MLP512", *map_labels = "500,2000,10000,55000";
    int map = 0, cost = 0, user_ck[KT_MAX_CK], n_user_ck = 0, n_user_t = 0, with_teacher = 0;
    const char *assistant = NULL;
    char via[40] = "";
    float user_t[KT_MAX_CK];
    static const int lab_full[] = { 25, 50, 100, 200 }, kd_full[] = { 5, 10 };
    static const int lab_quick[] = { 2, 4 }, kd_quick[] = { 1, 2 };
    static const float temps_full[] = { 2, 4, 8 }, temps_quick[] = { 2, 4 };
    const int *lab_ck = lab_full, *kd_ck = kd_full;
    const float *temps = temps_full;
    int n_lab = 4, n_kd = 2, n_t = 3;
    kt_data k;
    dst_error e;
    dst_model *teacher;
    dst_teacher live, cached;
    float *logits, best_T = 0;
    char name[48];
    double t0, best_v = -1;
    for (i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--teacher") && i + 1 < argc) tpath = argv[++i];
        else if (!strcmp(argv[i], "--seeds") && i + 1 < argc) seeds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--data") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--missing-class") && i + 1 < argc) missing = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--features")) features = 1;
        else if (!strcmp(argv[i], "--pool") && i + 1 < argc) pool = atol(argv[++i]);
        else if (!strcmp(argv[i], "--hint-weight") && i + 1 < argc) hint_w = (float)atof(argv[++i]);
        else if (!strcmp(argv[i], "--attention-weight") && i + 1 < argc) at_w = (float)atof(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--map")) map = 1;
        else if (!strcmp(argv[i], "--students") && i + 1 < argc) map_students = argv[++i];
        else if (!strcmp(argv[i], "--labels") && i + 1 < argc) map_labels = argv[++i];
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc) n_user_ck = kt_list(argv[++i], NULL, user_ck);
        else if (!strcmp(argv[i], "--temperatures") && i + 1 < argc) n_user_t = kt_list(argv[++i], user_t, NULL);
        else if (!strcmp(argv[i], "--assistant") && i + 1 < argc) assistant = argv[++i];
        else if (!strcmp(argv[i], "--with-teacher")) with_teacher = 1;
        else if (!strcmp(argv[i], "--cost")) cost = 1;
        else {
            fprintf(stderr, "usage: %s [--teacher FILE] [--seeds N] [--quick] [--data DIR] [--missing-class K] "
                            "[--features [--pool N] [--hint-weight W] [--attention-weight W] [--only TEXT]] "
                            "[--map [--students LIST] [--labels LIST] [--epochs LIST] [--temperatures LIST] "
                            "[--assistant ARCH [--with-teacher]]] [--cost [--pool N] [--students ARCH]]\n", argv[0]);
            return 2;
        }
    }
    if (seeds < 1 || seeds > KT_MAX_SEEDS) { fprintf(stderr, "--seeds: 1 to %d\n", KT_MAX_SEEDS); return 2; }
    memset(&k, 0, sizeof k);
    k.student = "C2";
    if (dst_mnist_load(dir, &k.d, &e) != DST_OK || k.d.train_count < 60000) {
        fprintf(stderr, "%s: %s\n", dir, e.message);
        return 1;
    }
    k.pool = 55000; k.labelled = 1000;
    if (quick) {
        k.pool = 5000; k.labelled = 500; t_ep = 1;
        lab_ck = lab_quick; kd_ck = kd_quick; temps = temps_quick;
        n_lab = 2; n_kd = 2; n_t = 2;
        tpath = "teacher_c1_quick.dst";
    }
    k.val_x = k.d.train_x + (size_t)55000 * 784;
    k.val_y = k.d.train_y + 55000;
    k.val_count = 5000;

    teacher = kt_teacher(tpath, &k, t_ep);
    printf("teacher C1: validation %.4f test %.4f\n", (double)kt_acc(teacher, k.val_x, k.val_y, k.val_count),
           (double)kt_acc(teacher, k.d.test_x, k.d.test_y, k.d.test_count));
    if (features || cost) {
        if (pool < 2000 || pool > 55000) { fprintf(stderr, "--pool: 2,000 to 55,000\n"); return 2; }
        if (!quick) k.pool = (size_t)pool;
    }
    if (features) {
        kt_features(&k, teacher, seeds, hint_w, at_w, only);
        dst_model_free(teacher);
        dst_mnist_free(&k.d);
        return 0;
    }
    if (missing >= 0 && missing < 10) {
        kt_missing_class(&k, teacher, missing, seeds);
        dst_model_free(teacher);
        dst_mnist_free(&k.d);
        return 0;
    }
    logits = (float *)malloc(k.pool * 10 * sizeof(float));
    live = dst_teacher_model(teacher);
    t0 = dst_seconds();
    if (!logits || dst_teacher_cache(&live, k.d.train_x, 784, k.pool, logits, &e) != DST_OK) {
        fprintf(stderr, "teacher cache: %s\n", logits ? e.message : "out of memory");
        return 1;
    }
    t0 = dst_seconds() - t0;
    printf("teacher logits on %lu images: %.1fs\n", (unsigned long)k.pool, t0);
    cached = dst_teacher_logits(logits, k.pool, 10);
    if (cost) {
        k.student = strchr(map_students, ',') ? "C2" : map_students; /* one student: C2 unless named */
        kt_cost(&k, teacher, &cached, t0);
        free(logits);
        dst_model_free(teacher);
        dst_mnist_free(&k.d);
        return 0;
    }
    if (map && assistant) { /* the assistant's logits take the teacher's place */
        dst_model *a = kt_model(assistant, 1);
        dst_fit_config fit = dst_fit_default();
        dst_teacher a_live = dst_teacher_model(a), a_cached;
        float *a_logits = (float *)malloc(k.pool * 10 * sizeof(float));
        t0 = dst_seconds();
        fit.epochs = quick ? 2 : 20; fit.seed = 1;
        fit.teacher = &cached; fit.temperature = 2; fit.alpha = 0.5f;
        if (!a_logits || dst_model_fit(a, k.d.train_x, k.d.train_y, k.pool, &fit) != DST_OK) {
            fprintf(stderr, "assistant: %s\n", a_logits ? dst_model_error(a) : "out of memory");
            return 1;
        }
        if (dst_teacher_cache(&a_live, k.d.train_x, 784, k.pool, a_logits, &e) != DST_OK) {
            fprintf(stderr, "assistant: %s\n", e.message);
            return 1;
        }
        printf("assistant %s (distilled from C1, %d epochs, every pool label, T 2, seed 1): validation %.4f test %.4f  %.0fs\n",
               assistant, fit.epochs, (double)kt_acc(a, k.val_x, k.val_y, k.val_count),
               (double)kt_acc(a, k.d.test_x, k.d.test_y, k.d.test_count), dst_seconds() - t0);
        a_cached = dst_teacher_logits(a_logits, k.pool, 10);
        snprintf(via, sizeof via, with_teacher ? " C1+%s" : " via %s", assistant);
        kt_map(&k, &a_cached, map_students, map_labels, seeds, quick, user_ck, n_user_ck, user_t, n_user_t, via,
               with_teacher ? &cached : NULL);
        free(a_logits);
        dst_model_free(a);
    } else if (map)
        kt_map(&k, &cached, map_students, map_labels, seeds, quick, user_ck, n_user_ck, user_t, n_user_t, NULL, NULL);
    if (map) {
        free(logits);
        dst_model_free(teacher);
        dst_mnist_free(&k.d);
        return 0;
    }

    snprintf(name, sizeof name, "labels %lu", (unsigned long)k.labelled);
    for (s = 1; s <= seeds; ++s) kt_student(name, &k, k.labelled, NULL, 0, lab_ck, n_lab, s, NULL, NULL);
    for (i = 0; i < n_t; ++i) { /* T on seed 1 */
        kt_row *r;
        snprintf(name, sizeof name, "transfer T=%g", (double)temps[i]);
        kt_student(name, &k, k.labelled, &cached, temps[i], kd_ck, n_kd, 1, NULL, NULL);
        r = kt_row_of(name, kd_ck, n_kd);
        best_c = kt_best(r);
        if (r->val[best_c][0] > best_v) { best_v = r->val[best_c][0]; best_T = temps[i]; }
    }
    snprintf(name, sizeof name, "transfer T=%g", (double)best_T);
    for (s = 2; s <= seeds; ++s) kt_student(name, &k, k.labelled, &cached, best_T, kd_ck, n_kd, s, NULL, NULL);
    snprintf(name, sizeof name, "labels %lu (all)", (unsigned long)k.pool);
    for (s = 1; s <= seeds; ++s) kt_student(name, &k, k.pool, NULL, 0, kd_ck, n_kd, s, NULL, NULL);

    printf("\ndistill.h %s, Fashion-MNIST, C2 student; choices on validation (5,000 training images), "
           "test accuracy (%%) mean +- std (n-1) over seeds%s\n", dst_version(), quick ? " [QUICK]" : "");
    printf("teacher C1 (%d epochs, %lu labels): test %.2f\n", t_ep, (unsigned long)k.pool,
           100.0 * kt_acc(teacher, k.d.test_x, k.d.test_y, k.d.test_count));
    snprintf(name, sizeof name, "labels %lu", (unsigned long)k.labelled);
    kt_print(kt_row_of(name, lab_ck, n_lab));
    snprintf(name, sizeof name, "transfer T=%g", (double)best_T);
    kt_print(kt_row_of(name, kd_ck, n_kd));
    snprintf(name, sizeof name, "labels %lu (all)", (unsigned long)k.pool);
    kt_print(kt_row_of(name, kd_ck, n_kd));
    free(logits);
    dst_model_free(teacher);
    dst_mnist_free(&k.d);
    return 0;
}

/* bench/demo.c - the distillation demo (`make demo`): where distillation pays
   for a small student. On Fashion-MNIST a convolutional teacher that learned
   from many labels (somewhere else: a cluster, a cloud model) teaches the
   5,258-parameter CNN C2 on a device that has only 1,000 labelled images but
   many unlabelled ones (a transfer set). A table shows C2 on its few labels,
   distilled on those labels alone, distilled with the unlabelled images too,
   and, for reference, trained on every label: parameters, test accuracy,
   training time, inference time per image.

   Build: cc -O2 -I. -I/usr/include/stb bench/demo.c -lm -o build/demo
   Run:   ./build/demo [--quick] [--teacher FILE] [--data DIR] [--seed S]

   Steps (Adam lr 1e-3, batch 128, one thread, pixels / 255, tested on all
   10,000 test images, one seed):
     1. the teacher C1: conv3x3(1->32)+ReLU, conv3x3(32->64)+ReLU, maxpool2,
        dropout .25, flatten, dense(9216->128)+ReLU, dropout .5, dense(128->10)
        (1.2 M parameters), trained on all 60,000 labelled training images for
        3 epochs; with --teacher FILE it is read from FILE when FILE exists,
        and saved there after training otherwise;
     2. its logits on the 60,000 training images, computed once
        (dst_teacher_cache); every distilled epoch reads them;
     3. the student C2: conv3x3(1->8)+ReLU, maxpool2, conv3x3(8->16)+ReLU,
        maxpool2, flatten, dense(400->10), 230 times smaller:
          labels      the first 1,000 training images with their labels,
                      100 epochs;
          distilled   the same 1,000 images, distilled (T = 2, alpha = 0.5),
                      100 epochs: the teacher's soft targets on the same few
                      images;
          transfer    the same 1,000 labelled images plus the other 59,000
                      without their labels (fit's unlabeled_x: the soft term
                      alone for those), T = 2, alpha = 0.5, 10 epochs;
          all labels  all 60,000 images with labels, 10 epochs: the ceiling a
                      device with every label would reach.
   The settings are the ones docs/DISTILLATION.md's transfer-set benchmark
   (bench/kd_transfer.c) chose on a validation split, with 3 seeds and
   PyTorch side by side; the demo runs them once. Its cost: C2 trains on
   1.4 million samples and C1 on 180,000 (the teacher is most of it): about
   3 minutes at the one-thread speeds docs/BENCHMARKS.md measured on a free
   core; 17 minutes on the shared 2-core machine while other suites ran.
     --quick  teacher 1 epoch on 6,000 images, 500 labels + 5,500 unlabelled,
              students 10 / 10 / 2 / 2 epochs: a smoke test */
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>            /* only for the .gz data set files */
#define DISTILL_IMPLEMENTATION
#include "distill.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One trained model: a row of the table. */
typedef struct demo_result {
    const char *name;
    size_t labelled, unlabelled;
    int    epochs;
    size_t params;
    float  accuracy;
    double train_seconds;
    double infer_us;             /* per image, batch 1 */
} demo_result;

/* Weights and biases (dst_model_param_count also counts alignment padding). */
static size_t demo_params(dst_model *m)
{
    size_t n = 0;
    int k;
    dst_layer_info info;
    for (k = 0; k < dst_model_layer_count(m); ++k)
        if (dst_model_layer(m, k, &info) == DST_OK) n += info.weight_count + info.bias_count;
    return n;
}

/* Test accuracy, and the time of batch-1 inference, one image at a time as
   an application classifies. */
static void demo_measure(dst_model *m, demo_result *r, const dst_mnist *d)
{
    size_t i, k = d->test_count < 2000 ? d->test_count : 2000, in = dst_model_input_size(m);
    const float *out;
    double t0;
    r->params = demo_params(m);
    dst_model_evaluate(m, d->test_x, d->test_y, d->test_count, 0, NULL, &r->accuracy);
    t0 = dst_seconds();
    for (i = 0; i < k; ++i) dst_model_forward(m, d->test_x + i * in, 1, 0, &out);
    r->infer_us = 1e6 * (dst_seconds() - t0) / (double)k;
    printf("  %-26s test accuracy %.2f%%, trained in %.1f s\n", r->name, 100.0 * r->accuracy, r->train_seconds);
    fflush(stdout);
}

static int demo_epoch(void *user, const dst_progress *p)
{
    const demo_result *r = (const demo_result *)user;
    if (p->epoch_done && (p->epoch + 1) % (r->epochs > 20 ? 20 : 1) == 0) {
        printf("  %-26s epoch %3d  loss %.4f\n", r->name, p->epoch + 1, (double)p->loss);
        fflush(stdout);
    }
    return 0;
}

static dst_model *demo_model(int teacher, uint64_t seed)
{
    dst_layer_desc L[11];
    dst_model_desc desc = dst_model_desc_default();
    dst_optimizer_config opt = dst_optimizer_default(DST_ADAM);
    dst_model *m;
    dst_error e;
    int n = 0;
    if (teacher) {
        L[n++] = dst_conv2d(32, 3, 1, 0); L[n++] = dst_relu();
        L[n++] = dst_conv2d(64, 3, 1, 0); L[n++] = dst_relu();
        L[n++] = dst_maxpool2d(2, 0, 0); L[n++] = dst_dropout(0.25f); L[n++] = dst_flatten();
        L[n++] = dst_dense(128); L[n++] = dst_relu(); L[n++] = dst_dropout(0.5f); L[n++] = dst_dense(10);
    } else {
        L[n++] = dst_conv2d(8, 3, 1, 0); L[n++] = dst_relu(); L[n++] = dst_maxpool2d(2, 0, 0);
        L[n++] = dst_conv2d(16, 3, 1, 0); L[n++] = dst_relu(); L[n++] = dst_maxpool2d(2, 0, 0);
        L[n++] = dst_flatten(); L[n++] = dst_dense(10);
    }
    desc.input_c = 1; desc.input_h = 28; desc.input_w = 28;
    desc.layers = L; desc.layer_count = n; desc.seed = seed;
    if (dst_model_create(&m, &desc, &e) != DST_OK) { fprintf(stderr, "demo: %s\n", e.message); exit(1); }
    dst_model_set_optimizer(m, &opt);
    return m;
}

/* Trains a model on the first `labelled` training images, plus the next
   `unlabelled` ones without labels when a teacher is given; fills r. */
static dst_model *demo_train(demo_result *r, const char *name, int teacher_arch, const dst_mnist *d,
                             size_t labelled, size_t unlabelled, int epochs, const dst_teacher *teacher,
                             uint64_t seed)
{
    dst_model *m = demo_model(teacher_arch, seed);
    dst_fit_config fit = dst_fit_default();
    double t0;
    memset(r, 0, sizeof *r);
    r->name = name; r->labelled = labelled; r->unlabelled = unlabelled; r->epochs = epochs;
    fit.epochs = epochs;
    fit.seed = seed;
    fit.teacher = teacher;       /* NULL: labels alone */
    fit.temperature = 2.0f;
    fit.alpha = 0.5f;
    if (teacher && unlabelled) {
        fit.unlabeled_x = d->train_x + labelled * 784;
        fit.unlabeled_count = unlabelled;
    }
    fit.progress = demo_epoch;
    fit.progress_user = r;
    t0 = dst_seconds();
    if (dst_model_fit(m, d->train_x, d->train_y, labelled, &fit) != DST_OK) {
        fprintf(stderr, "demo: %s: %s\n", name, dst_model_error(m));
        exit(1);
    }
    r->train_seconds = dst_seconds() - t0;
    demo_measure(m, r, d);
    return m;
}

int main(int argc, char **argv)
{
    const char *dir = "/usr/share/datasets/fashion-mnist", *teacher_path = NULL;
    int quick = 0, i, teacher_epochs = 3, few_epochs = 100, transfer_epochs = 10;
    uint64_t seed = 1;
    size_t pool = 60000, labelled = 1000;
    dst_mnist d;
    dst_error e;
    dst_model *teacher = NULL;
    dst_teacher live, on_few, on_all;
    float *logits;
    double t0, cache_seconds;
    demo_result r[5];

    for (i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (i + 1 < argc && !strcmp(argv[i], "--teacher")) teacher_path = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--data")) dir = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--seed")) seed = (uint64_t)strtoull(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: demo [--quick] [--teacher FILE] [--data DIR] [--seed S]\n");
            return 2;
        }
    }
    if (quick) { pool = 6000; labelled = 500; teacher_epochs = 1; few_epochs = 10; transfer_epochs = 2; }
    if (dst_mnist_load(dir, &d, &e) != DST_OK) {
        fprintf(stderr, "demo: %s\nFashion-MNIST is needed in %s (Debian: apt-get install dataset-fashion-mnist)\n",
                e.message, dir);
        return 1;
    }
    if (d.rows * d.cols != 784 || d.train_count < pool) {
        fprintf(stderr, "demo: %s does not hold 28x28 images and %lu training images\n", dir, (unsigned long)pool);
        return 1;
    }
    printf("distill.h %s demo (%s kernels), Fashion-MNIST: distillation on a transfer set\n"
           "a teacher trained on %lu labelled images; a small student with %lu labels and %lu unlabelled "
           "images\nAdam 1e-3, batch 128, one thread, T = 2, alpha = 0.5, seed %lu%s\n\n",
           dst_version(), dst_simd_name(dst_simd_active()), (unsigned long)pool, (unsigned long)labelled,
           (unsigned long)(pool - labelled), (unsigned long)seed, quick ? " (--quick)" : "");

    /* 1. the teacher: read, or trained on every label (and saved if asked) */
    if (teacher_path && dst_model_load(&teacher, teacher_path, NULL) == DST_OK) {
        memset(&r[0], 0, sizeof r[0]);
        r[0].name = "teacher C1 (read)"; r[0].labelled = pool; r[0].epochs = teacher_epochs;
        printf("teacher: read from %s\n", teacher_path);
        demo_measure(teacher, &r[0], &d);
    } else {
        teacher = demo_train(&r[0], "teacher C1", 1, &d, pool, 0, teacher_epochs, NULL, seed);
        if (teacher_path && dst_model_save(teacher, teacher_path, &e) != DST_OK)
            fprintf(stderr, "demo: the teacher was not saved: %s\n", e.message);
    }

    /* 2. its logits on the whole stream (labelled images first, then the
       unlabelled ones, as fit orders them), once */
    logits = (float *)malloc(pool * 10 * sizeof(float));
    if (!logits) { fprintf(stderr, "demo: out of memory\n"); return 1; }
    live = dst_teacher_model(teacher);
    t0 = dst_seconds();
    if (dst_teacher_cache(&live, d.train_x, 784, pool, logits, &e) != DST_OK) {
        fprintf(stderr, "demo: %s\n", e.message);
        return 1;
    }
    cache_seconds = dst_seconds() - t0;
    on_few = dst_teacher_logits(logits, labelled, 10);
    on_all = dst_teacher_logits(logits, pool, 10);

    /* 3. the student, four ways */
    dst_model_free(demo_train(&r[1], "C2, labels", 0, &d, labelled, 0, few_epochs, NULL, seed));
    dst_model_free(demo_train(&r[2], "C2, distilled", 0, &d, labelled, 0, few_epochs, &on_few, seed));
    dst_model_free(demo_train(&r[3], "C2, distilled + unlabelled", 0, &d, labelled, pool - labelled,
                              transfer_epochs, &on_all, seed));
    dst_model_free(demo_train(&r[4], "C2, all labels", 0, &d, pool, 0, transfer_epochs, NULL, seed));

    printf("\n| model                      | labelled | unlabelled | epochs | parameters | test accuracy "
           "| training time | inference / image |\n");
    printf("|----------------------------|---------:|-----------:|-------:|-----------:|--------------:"
           "|--------------:|------------------:|\n");
    for (i = 0; i < 5; ++i)
        printf("| %-26s | %8lu | %10lu | %6d | %10lu | %12.2f%% | %11.1f s | %14.1f us |\n", r[i].name,
               (unsigned long)r[i].labelled, (unsigned long)r[i].unlabelled, r[i].epochs,
               (unsigned long)r[i].params, 100.0 * r[i].accuracy, r[i].train_seconds, r[i].infer_us);
    printf("\ntimes are wall-clock seconds, one thread; inference: batch 1, %d test images.\n"
           "the teacher's logits on the %lu training images: computed once in %.1f s.\n\n"
           "What it shows: against C2 on its %lu labels alone, distilling on the same few images\n"
           "gives %+.2f pp; adding the unlabelled images (the teacher labels them) gives %+.2f pp,\n"
           "%.2f pp from C2 trained on every label (%.2f%%), with a student %lu times smaller than\n"
           "its teacher. One seed; docs/DISTILLATION.md has three, side by side with PyTorch.\n",
           d.test_count < 2000 ? (int)d.test_count : 2000, (unsigned long)pool, cache_seconds,
           (unsigned long)labelled, 100.0 * (r[2].accuracy - r[1].accuracy),
           100.0 * (r[3].accuracy - r[1].accuracy), 100.0 * (r[4].accuracy - r[3].accuracy),
           100.0 * r[4].accuracy, (unsigned long)(r[0].params / (r[1].params ? r[1].params : 1)));
    dst_model_free(teacher);
    free(logits);
    dst_mnist_free(&d);
    return 0;
}

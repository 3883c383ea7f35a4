/* bench/demo.c - the distillation demo (`make demo`): on Fashion-MNIST a
   convolutional teacher teaches two small students, an MLP and a tiny CNN,
   and a table shows what each gained over the same student trained on labels
   alone: parameters, test accuracy, training time, inference time per image.

   Build: cc -O2 -I. -I/usr/include/stb bench/demo.c -lm -o build/demo
   Run:   ./build/demo [--full | --quick] [--svg FILE] [--data DIR] [--seed S]

   By default it runs in the regime where distillation pays (Hinton et al.
   2015): few labelled images, students with room to overfit, trained longer
   than the teacher, so the teacher's soft targets act as a regulariser. Steps:
     1. teacher C1: conv3x3(1->32)+ReLU, conv3x3(32->64)+ReLU, maxpool2,
        dropout .25, flatten, dense(9216->128)+ReLU, dropout .5, dense(128->10);
     2. its logits on the training images, computed once (dst_teacher_cache);
     3. student MLP 784-800-800-10 (no dropout) and student CNN C2
        (conv3x3(1->8)+ReLU, maxpool2, conv3x3(8->16)+ReLU, maxpool2, dense(400->10)),
        each trained on labels alone and then distilled (T=4, alpha=0.9) from
        the cached logits.
   Everything: Adam lr 1e-3, batch 128, one thread, the first N training images,
   tested on all 10,000 test images, one seed (docs/BENCHMARKS.md has three).
     default  N = 10,000, teacher 10 epochs, students 20 epochs: the limited-data
              protocol of docs/BENCHMARKS.md (about 4 minutes on one free core)
     --full   N = 60,000 (all), teacher 10 epochs, students 20 epochs (about 20
              minutes, estimated): with this much data the students have less
              room to overfit; compare the two tables
     --quick  N = 2,000, teacher 1 epoch, students 2 epochs: a smoke test
   --svg FILE writes the test accuracy and test loss of every model after each
   epoch as an SVG chart (evaluating each epoch adds a little time, not counted
   in the training times). */
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>            /* only for the .gz data set files */
#define DISTILL_IMPLEMENTATION
#include "distill.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEMO_MAX_EPOCHS 64

/* Wall-clock seconds (the library's monotonic clock, on every platform). The
   library runs on one thread: on a busy machine the times include what other
   programs took of the core. */
static double demo_now(void) { return dst_seconds(); }

/* One trained model: what the table and the chart show. */
typedef struct demo_result {
    const char *name;
    size_t params;
    float  accuracy;
    double train_seconds;
    double infer_us;                     /* per image, batch 1 */
    int    epochs;
    float  test_acc[DEMO_MAX_EPOCHS];    /* per epoch, with --svg */
    float  test_loss[DEMO_MAX_EPOCHS];
} demo_result;

/* ---- the training-curve chart: a small SVG writer ------------------------ */

typedef struct svg_panel {
    double x, y, w, h;          /* the plot area in the picture */
    double ymin, ymax;          /* value range */
    int    epochs;              /* x from 1 to epochs */
} svg_panel;

static double svg_px(const svg_panel *p, double epoch)
{
    return p->x + (p->epochs > 1 ? (epoch - 1) / (p->epochs - 1) : 0.5) * p->w;
}

static double svg_py(const svg_panel *p, double v)
{
    if (v < p->ymin) v = p->ymin;
    if (v > p->ymax) v = p->ymax;
    return p->y + p->h - (v - p->ymin) / (p->ymax - p->ymin) * p->h;
}

static void svg_axes(FILE *f, const svg_panel *p, const char *title, double ystep, const char *fmt)
{
    double v;
    int e, every = p->epochs > 10 ? 5 : 1;
    fprintf(f, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='none' stroke='#888'/>\n",
            p->x, p->y, p->w, p->h);
    fprintf(f, "<text x='%.1f' y='%.1f' text-anchor='middle' font-size='14'>%s</text>\n",
            p->x + p->w / 2, p->y - 10, title);
    for (v = p->ymin; v <= p->ymax + 1e-9; v += ystep) {
        double y = svg_py(p, v);
        fprintf(f, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#ddd'/>\n", p->x, y, p->x + p->w, y);
        fprintf(f, "<text x='%.1f' y='%.1f' text-anchor='end' font-size='11'>", p->x - 5, y + 4);
        fprintf(f, fmt, v);
        fprintf(f, "</text>\n");
    }
    for (e = 1; e <= p->epochs; ++e)
        if (e == 1 || e % every == 0)
            fprintf(f, "<text x='%.1f' y='%.1f' text-anchor='middle' font-size='11'>%d</text>\n",
                    svg_px(p, e), p->y + p->h + 15, e);
    fprintf(f, "<text x='%.1f' y='%.1f' text-anchor='middle' font-size='12'>epoch</text>\n",
            p->x + p->w / 2, p->y + p->h + 32);
}

static void svg_curve(FILE *f, const svg_panel *p, const float *v, int n, const char *color, int dashed)
{
    int e;
    fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='2'%s points='", color,
            dashed ? " stroke-dasharray='6,4'" : "");
    for (e = 0; e < n; ++e) fprintf(f, "%.1f,%.1f ", svg_px(p, e + 1), svg_py(p, v[e]));
    fprintf(f, "'/>\n");
    for (e = 0; e < n; ++e) /* a dot per epoch, so a one-epoch run shows too */
        fprintf(f, "<circle cx='%.1f' cy='%.1f' r='2.5' fill='%s'/>\n", svg_px(p, e + 1), svg_py(p, v[e]), color);
}

/* A step of 1, 2 or 5 times a power of ten giving at most 8 intervals over range. */
static double svg_step(double range)
{
    double step = 0.01;
    for (;;) {
        if (range / step <= 8) return step;
        if (range / (2 * step) <= 8) return 2 * step;
        if (range / (5 * step) <= 8) return 5 * step;
        step *= 10;
    }
}

/* Two panels (test accuracy, test loss per epoch), one curve per model:
   one colour per architecture, dashed for labels alone, solid for distilled. */
static int svg_write(const char *path, const demo_result *r, int count, int train_count)
{
    static const char *colors[] = { "#222222", "#1f77b4", "#1f77b4", "#d62728", "#d62728" };
    svg_panel acc, loss;
    float lo = 100, hi = 0, lmax = 0;
    double astep, lstep;
    int i, e, epochs = 1;
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    for (i = 0; i < count; ++i) {
        if (r[i].epochs > epochs) epochs = r[i].epochs;
        for (e = 0; e < r[i].epochs; ++e) {
            float a = 100 * r[i].test_acc[e];
            if (a < lo) lo = a;
            if (a > hi) hi = a;
            if (r[i].test_loss[e] > lmax) lmax = r[i].test_loss[e];
        }
    }
    acc.x = 60; acc.y = 50; acc.w = 380; acc.h = 280; acc.epochs = epochs;
    astep = svg_step(hi - lo + 1);
    acc.ymin = floor(lo / astep) * astep; acc.ymax = ceil(hi / astep) * astep;
    if (acc.ymax <= acc.ymin) acc.ymax = acc.ymin + astep;
    loss = acc; loss.x = 530;
    lstep = svg_step(lmax > 0 ? lmax : 1);
    loss.ymin = 0; loss.ymax = ceil(lmax / lstep) * lstep;
    if (loss.ymax <= 0) loss.ymax = lstep;
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='960' height='470' "
               "font-family='sans-serif'>\n<rect width='960' height='470' fill='white'/>\n");
    fprintf(f, "<text x='480' y='22' text-anchor='middle' font-size='15'>Distillation on Fashion-MNIST, "
               "first %d training images (distill.h demo)</text>\n", train_count);
    svg_axes(f, &acc, "test accuracy (%)", astep, astep < 1 ? "%.1f" : "%.0f");
    svg_axes(f, &loss, "test loss (cross-entropy)", lstep, lstep < 0.1 ? "%.2f" : "%.1f");
    for (i = 0; i < count; ++i) {
        float pct[DEMO_MAX_EPOCHS];
        int dashed = i == 1 || i == 3;
        for (e = 0; e < r[i].epochs; ++e) pct[e] = 100 * r[i].test_acc[e];
        svg_curve(f, &acc, pct, r[i].epochs, colors[i % 5], dashed);
        svg_curve(f, &loss, r[i].test_loss, r[i].epochs, colors[i % 5], dashed);
        fprintf(f, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='%s' stroke-width='2'%s/>\n",
                60 + 180 * i, 430, 90 + 180 * i, 430, colors[i % 5], dashed ? " stroke-dasharray='6,4'" : "");
        fprintf(f, "<text x='%d' y='%d' font-size='12'>%s</text>\n", 95 + 180 * i, 434, r[i].name);
    }
    fprintf(f, "</svg>\n");
    return fclose(f) == 0;
}

/* ---- training, timing, the table ----------------------------------------- */

typedef struct demo_curve {
    demo_result *r;
    const dst_mnist *d;
    dst_model *m;
    double eval_seconds;        /* spent evaluating, taken out of the training time */
} demo_curve;

static int demo_epoch(void *user, const dst_progress *p)
{
    demo_curve *c = (demo_curve *)user;
    double t0;
    if (!p->epoch_done) return 0;
    t0 = demo_now();
    if (c->d && p->epoch < DEMO_MAX_EPOCHS) {
        dst_model_evaluate(c->m, c->d->test_x, c->d->test_y, c->d->test_count, 0,
                           &c->r->test_loss[p->epoch], &c->r->test_acc[p->epoch]);
        printf("  %-20s epoch %2d  train loss %.4f  test accuracy %.2f%%\n", c->r->name, p->epoch + 1,
               (double)p->loss, 100.0 * c->r->test_acc[p->epoch]);
    } else {
        printf("  %-20s epoch %2d  train loss %.4f  train accuracy %.2f%%\n", c->r->name, p->epoch + 1,
               (double)p->loss, 100.0 * p->accuracy);
    }
    fflush(stdout);
    c->eval_seconds += demo_now() - t0;
    return 0;
}

/* Builds and trains a model on the first n training images; fills r. */
static dst_model *demo_train(demo_result *r, const char *name, const dst_layer_desc *layers, int layer_count,
                             int input_c, int input_hw, const dst_mnist *d, size_t n, int epochs,
                             const dst_teacher *teacher, uint64_t seed, int curves)
{
    dst_model_desc desc = dst_model_desc_default();
    dst_optimizer_config opt = dst_optimizer_default(DST_ADAM);
    dst_fit_config fit = dst_fit_default();
    dst_model *m;
    dst_error e;
    demo_curve c;
    double t0;
    memset(r, 0, sizeof *r);
    r->name = name;
    r->epochs = epochs;
    desc.input_c = input_c; desc.input_h = input_hw; desc.input_w = input_hw;
    desc.layers = layers; desc.layer_count = layer_count; desc.seed = seed;
    if (dst_model_create(&m, &desc, &e) != DST_OK) { fprintf(stderr, "%s: %s\n", name, e.message); exit(1); }
    dst_model_set_optimizer(m, &opt);
    c.r = r; c.d = curves ? d : NULL; c.m = m; c.eval_seconds = 0;
    fit.epochs = epochs;
    fit.seed = seed;
    fit.teacher = teacher;     /* NULL: labels alone */
    fit.temperature = 4.0f;
    fit.alpha = 0.9f;
    fit.progress = demo_epoch;
    fit.progress_user = &c;
    t0 = demo_now();
    if (dst_model_fit(m, d->train_x, d->train_y, n, &fit) != DST_OK) {
        fprintf(stderr, "%s: %s\n", name, dst_model_error(m));
        exit(1);
    }
    r->train_seconds = demo_now() - t0 - c.eval_seconds;
    {   /* weights and biases (dst_model_param_count also counts the alignment padding) */
        int k;
        dst_layer_info info;
        for (k = 0; k < dst_model_layer_count(m); ++k)
            if (dst_model_layer(m, k, &info) == DST_OK) r->params += info.weight_count + info.bias_count;
    }
    dst_model_evaluate(m, d->test_x, d->test_y, d->test_count, 0, NULL, &r->accuracy);
    {   /* inference: one image at a time, as an application classifies */
        size_t i, k = d->test_count < 2000 ? d->test_count : 2000, in = dst_model_input_size(m);
        const float *out;
        double t1 = demo_now();
        for (i = 0; i < k; ++i) dst_model_forward(m, d->test_x + i * in, 1, 0, &out);
        r->infer_us = 1e6 * (demo_now() - t1) / (double)k;
    }
    printf("%s: test accuracy %.2f%%, trained in %.1f s\n\n", name, 100.0 * r->accuracy, r->train_seconds);
    fflush(stdout);
    return m;
}

int main(int argc, char **argv)
{
    const char *dir = "/usr/share/datasets/fashion-mnist", *svg = NULL;
    int full = 0, quick = 0, i, teacher_epochs, student_epochs;
    uint64_t seed = 1;
    size_t n = 10000, size;
    dst_mnist d;
    dst_error e;
    dst_model *teacher;
    dst_teacher cached;
    float *logits;
    double t0, cache_seconds;
    demo_result r[5];
    dst_layer_desc c1[11], c2[8], mlp[5];

    for (i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--full")) full = 1;
        else if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (i + 1 < argc && !strcmp(argv[i], "--svg")) svg = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--data")) dir = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--seed")) seed = (uint64_t)strtoull(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: demo [--full | --quick] [--svg FILE] [--data DIR] [--seed S]\n");
            return 2;
        }
    }
    teacher_epochs = 10;
    student_epochs = 20;
    if (full) n = 60000;
    if (quick) { n = 2000; teacher_epochs = 1; student_epochs = 2; }
    if (dst_mnist_load(dir, &d, &e) != DST_OK) {
        fprintf(stderr, "demo: %s\nFashion-MNIST is needed in %s (Debian: apt-get install dataset-fashion-mnist)\n",
                e.message, dir);
        return 1;
    }
    if (n > d.train_count) n = d.train_count;
    size = (size_t)d.rows * (size_t)d.cols;
    printf("distill.h %s demo (%s kernels), Fashion-MNIST: first %lu training images, %lu test images\n"
           "teacher %d epochs, students %d epochs, Adam 1e-3, batch 128, distillation T=4 alpha=0.9%s\n\n",
           dst_version(), dst_simd_name(dst_simd_active()), (unsigned long)n, (unsigned long)d.test_count,
           teacher_epochs, student_epochs, full ? " (--full)" : quick ? " (--quick)" : "");

    /* the teacher: C1 */
    c1[0] = dst_conv2d(32, 3, 1, 0); c1[1] = dst_relu();
    c1[2] = dst_conv2d(64, 3, 1, 0); c1[3] = dst_relu();
    c1[4] = dst_maxpool2d(2, 0, 0); c1[5] = dst_dropout(0.25f); c1[6] = dst_flatten();
    c1[7] = dst_dense(128); c1[8] = dst_relu(); c1[9] = dst_dropout(0.5f); c1[10] = dst_dense(10);
    /* the students: an MLP with no dropout, and the tiny CNN C2 */
    mlp[0] = dst_dense(800); mlp[1] = dst_relu(); mlp[2] = dst_dense(800); mlp[3] = dst_relu(); mlp[4] = dst_dense(10);
    c2[0] = dst_conv2d(8, 3, 1, 0); c2[1] = dst_relu(); c2[2] = dst_maxpool2d(2, 0, 0);
    c2[3] = dst_conv2d(16, 3, 1, 0); c2[4] = dst_relu(); c2[5] = dst_maxpool2d(2, 0, 0);
    c2[6] = dst_flatten(); c2[7] = dst_dense(10);

    teacher = demo_train(&r[0], "teacher C1", c1, 11, 1, 28, &d, n, teacher_epochs, NULL, seed, svg != NULL);

    /* the teacher's logits, once: every distilled epoch reads them */
    logits = (float *)malloc(n * 10 * sizeof(float));
    if (!logits) { fprintf(stderr, "demo: out of memory\n"); return 1; }
    {
        dst_teacher live = dst_teacher_model(teacher);
        t0 = demo_now();
        if (dst_teacher_cache(&live, d.train_x, size, n, logits, &e) != DST_OK) {
            fprintf(stderr, "demo: %s\n", e.message);
            return 1;
        }
        cache_seconds = demo_now() - t0;
    }
    cached = dst_teacher_logits(logits, n, 10);

    dst_model_free(demo_train(&r[1], "MLP, labels", mlp, 5, 784, 1, &d, n, student_epochs, NULL, seed, svg != NULL));
    dst_model_free(demo_train(&r[2], "MLP, distilled", mlp, 5, 784, 1, &d, n, student_epochs, &cached, seed, svg != NULL));
    dst_model_free(demo_train(&r[3], "CNN C2, labels", c2, 8, 1, 28, &d, n, student_epochs, NULL, seed, svg != NULL));
    dst_model_free(demo_train(&r[4], "CNN C2, distilled", c2, 8, 1, 28, &d, n, student_epochs, &cached, seed, svg != NULL));

    printf("| model                         | parameters | test accuracy | training time | inference / image |\n");
    printf("|-------------------------------|-----------:|--------------:|--------------:|------------------:|\n");
    for (i = 0; i < 5; ++i) {
        const char *arch = i == 0 ? "C1 teacher" : i < 3 ? "784-800-800-10" : "C2 (conv8, conv16)";
        const char *how = i == 0 ? "" : i % 2 ? ", labels" : ", distilled";
        char name[64];
        snprintf(name, sizeof name, "%s%s", arch, how);
        printf("| %-29s | %10lu | %12.2f%% | %11.1f s | %14.1f us |\n", name, (unsigned long)r[i].params,
               100.0 * r[i].accuracy, r[i].train_seconds, r[i].infer_us);
    }
    printf("\ntimes are CPU seconds of this process (one thread); inference: batch 1, 2,000 test images.\n"
           "teacher logits for the %lu training images: computed once in %.1f s.\n"
           "distillation gain: MLP %+.2f pp, CNN C2 %+.2f pp (one seed; docs/BENCHMARKS.md has 10).\n",
           (unsigned long)n, cache_seconds, 100.0 * (r[2].accuracy - r[1].accuracy),
           100.0 * (r[4].accuracy - r[3].accuracy));
    if (svg) {
        if (!svg_write(svg, r, 5, (int)n)) { fprintf(stderr, "demo: cannot write %s\n", svg); return 1; }
        printf("training curves written to %s\n", svg);
    }
    dst_model_free(teacher);
    free(logits);
    dst_mnist_free(&d);
    return 0;
}

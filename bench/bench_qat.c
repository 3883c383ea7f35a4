/* bench/bench_qat.c - quantization-aware training (dst_model_set_quant_aware)
   against post-training quantization, on a student that post-training
   quantization hurts: a small MobileNet-like CNN with batch norms and
   depthwise convolutions, on Fashion-MNIST. One thread.

       cc -std=c99 -O2 -I. -I/usr/include/stb bench/bench_qat.c -o build/bench_qat -lm
       build/bench_qat [--data DIR] [--seeds N] [--epochs E] [--teacher C1.dst]   (make bench-qat)

   The protocol (fixed beforehand, nothing chosen on the test set), per seed:
   - the student M1: conv3x3(1->8, pad 1)+BN+ReLU, depthwise conv3x3
     (stride 2, pad 1)+BN+ReLU, conv1x1(8->16)+BN+ReLU, depthwise conv3x3
     (stride 2, pad 1)+BN+ReLU, conv1x1(16->32)+BN+ReLU, global average
     pooling, dense(32->10): 1,498 parameters; trained on the 60,000 labels
     for --epochs E (3), Adam lr 1e-3, batch 128, the seed's shuffling and
     initialisation;
   - that model quantized as it is (post-training, min/max and the two
     percentiles, as below: what a user who trains and then quantizes gets);
   - its batch norms folded, then one more epoch at lr 1e-4 in three ways:
     float (then post-training quantization: min/max, 99.99 and 99.9
     percentile and MSE calibration on the first 1,000 training images),
     quantization-aware
     on the labels, and quantization-aware distillation from the teacher
     (--teacher: C1 as bench/kd_transfer.c trains it; T = 2, alpha = 0.5,
     its logits computed once), each then quantized with the ranges it
     tracked (DST_CALIBRATE_TRAINED);
   - test accuracy on the 10,000 test images of each float and int8 model,
     and the seconds of each extra epoch.
   bench/bench_qat_torch.py runs the same protocol with PyTorch's own
   post-training and quantization-aware training (torch.ao.quantization). */
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
#define DISTILL_IMPLEMENTATION
#include "distill.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QB_MAX_SEEDS 10

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench_qat: %s: %s\n", what, msg);
    exit(1);
}

static float accuracy(dst_model *m, const dst_mnist *d)
{
    float acc;
    if (dst_model_evaluate(m, d->test_x, d->test_y, d->test_count, 256, NULL, &acc) != DST_OK)
        die("evaluate", dst_model_error(m));
    return acc;
}

/* epochs of fit at lr (teacher: NULL or distillation at T = 2, alpha = 0.5); returns the seconds */
static double run_fit(dst_model *m, const dst_mnist *d, int epochs, float lr, uint64_t seed, const dst_teacher *t)
{
    dst_optimizer_config opt = dst_optimizer_default(DST_ADAM);
    dst_fit_config fit = dst_fit_default();
    double t0 = dst_seconds();
    opt.lr = lr;
    if (dst_model_set_optimizer(m, &opt) != DST_OK) die("optimizer", dst_model_error(m));
    fit.epochs = epochs;
    fit.batch_size = 128;
    fit.seed = seed;
    fit.teacher = t;
    fit.temperature = 2;
    fit.alpha = 0.5f;
    if (dst_model_fit(m, d->train_x, d->train_y, d->train_count, &fit) != DST_OK) die("fit", dst_model_error(m));
    return dst_seconds() - t0;
}

static dst_model *folded(const dst_model *m)
{
    dst_model *f;
    dst_error e;
    if (dst_model_fold_batchnorm(m, &f, &e) != DST_OK) die("fold", e.message);
    return f;
}

/* int8 accuracy of m quantized with calibration c (TRAINED: no samples; PERCENTILE: pct) */
static float int8_accuracy(dst_model *m, const dst_mnist *d, dst_calibration c, float pct)
{
    dst_quantize_options o = dst_quantize_default();
    dst_model *q;
    dst_error e;
    float acc;
    o.calibration = c;
    o.percentile = pct;
    if (dst_model_quantize(m, c == DST_CALIBRATE_TRAINED ? NULL : d->train_x, c == DST_CALIBRATE_TRAINED ? 0 : 1000,
                           &o, &q, &e) != DST_OK)
        die("quantize", e.message);
    acc = accuracy(q, d);
    dst_model_free(q);
    return acc;
}

static void row(const char *name, const double *v, int n)
{
    double mean = 0, var = 0;
    int i;
    for (i = 0; i < n; ++i) mean += v[i] / n;
    for (i = 0; i < n; ++i) var += (v[i] - mean) * (v[i] - mean) / (n > 1 ? n - 1 : 1);
    printf("%-52s %6.2f +- %4.2f  (", name, 100 * mean, 100 * sqrt(var));
    for (i = 0; i < n; ++i) printf("%s%.2f", i ? " " : "", 100 * v[i]);
    printf(")\n");
}

enum {
    R_FLOAT3, R_PTQ3_MINMAX, R_PTQ3_PCT, R_PTQ3_PCT2, R_PTQ3_MSE, R_FLOAT4, R_PTQ_MINMAX, R_PTQ_PCT, R_PTQ_PCT2, R_PTQ_MSE,
    R_QAT_FAKE, R_QAT_INT8, R_QATKD_FAKE, R_QATKD_INT8, R_COUNT
};

int main(int argc, char **argv)
{
    static const char *names[R_COUNT] = {
        "float, E epochs", "  int8, post-training, min/max", "  int8, post-training, percentile 99.99",
        "  int8, post-training, percentile 99.9", "  int8, post-training, MSE", "float, + 1 epoch (folded)",
        "  int8, post-training, min/max", "  int8, post-training, percentile 99.99",
        "  int8, post-training, percentile 99.9", "  int8, post-training, MSE",
        "quantization-aware epoch: float (rounded) forward",
        "  int8, its tracked ranges", "quantization-aware distillation: rounded forward", "  int8, its tracked ranges"
    };
    const char *dir = "/usr/share/datasets/fashion-mnist", *tpath = NULL;
    int seeds = 3, epochs = 3, s, i, n = 0;
    double v[R_COUNT][QB_MAX_SEEDS], sec_float = 0, sec_qat = 0, sec_kd = 0;
    dst_layer_desc l[18];
    dst_model_desc desc = dst_model_desc_default();
    dst_model *teacher = NULL;
    dst_teacher t;
    float *logits = NULL;
    dst_mnist d;
    dst_error e;
    for (i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--seeds") && i + 1 < argc) seeds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc) epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--teacher") && i + 1 < argc) tpath = argv[++i];
        else die("usage", "bench_qat [--data DIR] [--seeds N] [--epochs E] [--teacher C1.dst]");
    }
    if (seeds < 1 || seeds > QB_MAX_SEEDS || epochs < 1) die("usage", "--seeds 1..10, --epochs >= 1");
    if (dst_mnist_load(dir, &d, &e) != DST_OK) die(dir, e.message);
    if (tpath) {
        if (dst_model_load(&teacher, tpath, &e) != DST_OK) die(tpath, e.message);
        if (!(logits = (float *)malloc(sizeof(float) * 10 * d.train_count))) die("teacher", "out of memory");
        if (dst_model_predict(teacher, d.train_x, d.train_count, logits) != DST_OK) die(tpath, dst_model_error(teacher));
        t = dst_teacher_logits(logits, d.train_count, 10);
        printf("teacher %s: test accuracy %.2f%%\n", tpath, 100 * accuracy(teacher, &d));
    }
    l[n++] = dst_conv2d(8, 3, 1, 1); l[n++] = dst_batchnorm(); l[n++] = dst_relu();
    l[n++] = dst_depthwise_conv2d(8, 3, 2, 1); l[n++] = dst_batchnorm(); l[n++] = dst_relu();
    l[n++] = dst_conv2d(16, 1, 1, 0); l[n++] = dst_batchnorm(); l[n++] = dst_relu();
    l[n++] = dst_depthwise_conv2d(16, 3, 2, 1); l[n++] = dst_batchnorm(); l[n++] = dst_relu();
    l[n++] = dst_conv2d(32, 1, 1, 0); l[n++] = dst_batchnorm(); l[n++] = dst_relu();
    l[n++] = dst_global_avgpool(); l[n++] = dst_flatten(); l[n++] = dst_dense(10);
    desc.input_c = 1; desc.input_h = 28; desc.input_w = 28; desc.layers = l; desc.layer_count = n;
    printf("quantization-aware training against post-training quantization: M1 on Fashion-MNIST, %d epochs, "
           "SIMD %s, one thread\n", epochs, dst_simd_name(dst_simd_active()));
    for (s = 0; s < seeds; ++s) {
        dst_model *m, *a, *b;
        desc.seed = (uint64_t)s + 1;
        if (dst_model_create(&m, &desc, &e) != DST_OK) die("create", e.message);
        if (s == 0) {
            size_t count = 0;
            dst_layer_info li;
            for (i = 0; i < n; ++i) {
                dst_model_layer(m, i, &li);
                count += li.weight_count + li.bias_count;
            }
            printf("M1: %lu parameters\n", (unsigned long)count);
        }
        run_fit(m, &d, epochs, 1e-3f, (uint64_t)s + 1, NULL);
        v[R_FLOAT3][s] = accuracy(m, &d);
        v[R_PTQ3_MINMAX][s] = int8_accuracy(m, &d, DST_CALIBRATE_MINMAX, 0);
        v[R_PTQ3_PCT][s] = int8_accuracy(m, &d, DST_CALIBRATE_PERCENTILE, 99.99f);
        v[R_PTQ3_PCT2][s] = int8_accuracy(m, &d, DST_CALIBRATE_PERCENTILE, 99.9f);
        v[R_PTQ3_MSE][s] = int8_accuracy(m, &d, DST_CALIBRATE_MSE, 0);
        a = folded(m);
        sec_float += run_fit(a, &d, 1, 1e-4f, (uint64_t)s + 101, NULL);
        v[R_FLOAT4][s] = accuracy(a, &d);
        v[R_PTQ_MINMAX][s] = int8_accuracy(a, &d, DST_CALIBRATE_MINMAX, 0);
        v[R_PTQ_PCT][s] = int8_accuracy(a, &d, DST_CALIBRATE_PERCENTILE, 99.99f);
        v[R_PTQ_PCT2][s] = int8_accuracy(a, &d, DST_CALIBRATE_PERCENTILE, 99.9f);
        v[R_PTQ_MSE][s] = int8_accuracy(a, &d, DST_CALIBRATE_MSE, 0);
        dst_model_free(a);
        b = folded(m);
        if (dst_model_set_quant_aware(b, 1) != DST_OK) die("quant-aware", dst_model_error(b));
        sec_qat += run_fit(b, &d, 1, 1e-4f, (uint64_t)s + 101, NULL);
        v[R_QAT_FAKE][s] = accuracy(b, &d);
        v[R_QAT_INT8][s] = int8_accuracy(b, &d, DST_CALIBRATE_TRAINED, 0);
        dst_model_free(b);
        if (teacher) {
            b = folded(m);
            if (dst_model_set_quant_aware(b, 1) != DST_OK) die("quant-aware", dst_model_error(b));
            sec_kd += run_fit(b, &d, 1, 1e-4f, (uint64_t)s + 101, &t);
            v[R_QATKD_FAKE][s] = accuracy(b, &d);
            v[R_QATKD_INT8][s] = int8_accuracy(b, &d, DST_CALIBRATE_TRAINED, 0);
            dst_model_free(b);
        }
        dst_model_free(m);
        fprintf(stderr, "seed %d done\n", s + 1);
    }
    printf("test accuracy (%%), mean +- sd over %d seeds (each seed's value in brackets)\n", seeds);
    for (i = 0; i < (teacher ? R_COUNT : R_QATKD_FAKE); ++i) row(names[i], v[i], seeds);
    printf("seconds of the extra epoch: float %.1f, quantization-aware %.1f", sec_float / seeds, sec_qat / seeds);
    if (teacher) printf(", quantization-aware distillation %.1f (cached teacher logits)", sec_kd / seeds);
    printf("\n");
    free(logits);
    dst_model_free(teacher);
    dst_mnist_free(&d);
    return 0;
}

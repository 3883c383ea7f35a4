/* examples/offline_npy.c - offline distillation: the teacher is not a
   distill.h model but logits any framework saved with numpy.save, one row
   per training image (examples/offline_teacher.py trains a PyTorch CNN on
   Fashion-MNIST and writes them). The student, a 784-128-10 MLP, learns from
   those soft targets and the labels.
     /usr/bin/python3 examples/offline_teacher.py /usr/share/datasets/fashion-mnist build/teacher_logits.npy
     cc -O2 -I. -I/usr/include/stb examples/offline_npy.c -lm -o build/offline_npy
     ./build/offline_npy /usr/share/datasets/fashion-mnist build/teacher_logits.npy [EPOCHS] */
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h> /* for the .gz data set files */
#define DISTILL_IMPLEMENTATION
#include "distill.h"
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    dst_mnist d;
    dst_npy logits;
    dst_teacher teacher;
    dst_error e;
    dst_model *m;
    dst_layer_desc layers[3] = { dst_dense(128), dst_relu(), dst_dense(0) };
    dst_model_desc desc = dst_model_desc_default();
    dst_optimizer_config opt = dst_optimizer_default(DST_ADAM);
    dst_fit_config fit = dst_fit_default();
    float acc, teacher_acc = 0;
    size_t i, right = 0;

    if (argc < 3) { fprintf(stderr, "usage: offline_npy DATA_DIR LOGITS.npy [EPOCHS]\n"); return 2; }
    if (dst_mnist_load(argv[1], &d, &e) != DST_OK || dst_npy_load(argv[2], &logits, &e) != DST_OK) {
        fprintf(stderr, "%s\n", e.message);
        return 1;
    }
    /* rows x classes float32, one row per training image, in the data set's order */
    if (logits.dtype != DST_NPY_FLOAT32 || logits.ndim != 2 || logits.shape[0] != d.train_count ||
        (int)logits.shape[1] != d.classes) {
        fprintf(stderr, "%s: expected float32 logits of shape (%lu, %d)\n", argv[2], (unsigned long)d.train_count,
                d.classes);
        return 1;
    }
    if (dst_teacher_from_npy(&logits, &teacher, &e) != DST_OK) { fprintf(stderr, "%s\n", e.message); return 1; }
    for (i = 0; i < d.train_count; ++i) { /* how often the teacher is right on the training set */
        const float *row = (const float *)logits.data + i * (size_t)d.classes;
        int k, best = 0;
        for (k = 1; k < d.classes; ++k)
            if (row[k] > row[best]) best = k;
        right += best == d.train_y[i];
    }
    teacher_acc = (float)right / (float)d.train_count;
    layers[2] = dst_dense(d.classes);
    desc.input_c = 1; desc.input_h = d.rows; desc.input_w = d.cols;
    desc.layers = layers; desc.layer_count = 3;
    if (dst_model_create(&m, &desc, &e) != DST_OK) { fprintf(stderr, "%s\n", e.message); return 1; }
    dst_model_set_optimizer(m, &opt);
    fit.epochs = argc > 3 ? atoi(argv[3]) : 5;
    fit.teacher = &teacher;
    fit.temperature = 4.0f; /* softens the teacher's distribution */
    fit.alpha = 0.9f;       /* 90% the teacher's soft targets, 10% the labels */
    if (dst_model_fit(m, d.train_x, d.train_y, d.train_count, &fit) != DST_OK) {
        fprintf(stderr, "%s\n", dst_model_error(m));
        return 1;
    }
    dst_model_evaluate(m, d.test_x, d.test_y, d.test_count, 0, NULL, &acc);
    printf("teacher's training accuracy %.4f; distilled student's test accuracy %.4f\n", (double)teacher_acc,
           (double)acc);
    dst_model_free(m);
    dst_npy_free(&logits);
    dst_mnist_free(&d);
    return 0;
}

/* tests/compile/inference.c - what a deployed program does, in a
   DST_INFERENCE_ONLY build (no training, optimizers, checkpoints or data
   loaders in the library): a model from memory (written here, as a tool
   would have shipped it), used in place; its predictions; its int8 model
   (dst_model_quantize on samples the program holds) through the weight
   file, predicting the same classes. tests/compile/run.sh builds it as C
   and C++ with gcc and clang and checks that the library's object defines
   no training function. Prints one line; exit 0 when all is well. */
#define DST_INFERENCE_ONLY
#define DISTILL_IMPLEMENTATION
#include "distill.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SAMPLES = 64, SIDE = 8, CLASSES = 3 };

static int argmax3(const float *v) { return v[1] > v[0] ? (v[2] > v[1] ? 2 : 1) : (v[2] > v[0] ? 2 : 0); }

/* predict x on the model in buf (a weight file), into out */
static int predict_file(const unsigned char *buf, size_t len, const float *x, float *out, int *in_place)
{
    dst_model *m;
    dst_error e;
    dst_result r;
    if (dst_model_parse(&m, buf, len, &e) != DST_OK) { printf("parse: %s\n", e.message); return 0; }
    *in_place = dst_model_params_in_place(m);
    r = dst_model_predict(m, x, SAMPLES, out);
    if (r != DST_OK) printf("predict: %s\n", dst_model_error(m));
    dst_model_free(m);
    return r == DST_OK;
}

int main(void)
{
    static float x[SAMPLES * SIDE * SIDE], a[SAMPLES * CLASSES], b[SAMPLES * CLASSES], c[SAMPLES * CLASSES];
    dst_layer_desc layers[5];
    dst_model_desc desc = dst_model_desc_default();
    dst_model *m, *q;
    dst_error e;
    dst_rng rng;
    unsigned char *fbuf = NULL, *qbuf = NULL, *aligned;
    size_t flen = 0, qlen = 0, i;
    int s, same = 0, in_place = 0, in_place8 = 1, ok;
    layers[0] = dst_conv2d(4, 3, 1, 1);
    layers[1] = dst_relu();
    layers[2] = dst_maxpool2d(2, 0, 0);
    layers[3] = dst_flatten();
    layers[4] = dst_dense(CLASSES);
    desc.input_c = 1; desc.input_h = SIDE; desc.input_w = SIDE;
    desc.layers = layers; desc.layer_count = 5;
    dst_rng_seed(&rng, 3);
    for (i = 0; i < sizeof x / sizeof x[0]; ++i) x[i] = dst_rng_uniform(&rng);
    if (dst_model_create(&m, &desc, &e) != DST_OK) { printf("create: %s\n", e.message); return 1; }
    if (dst_model_quantize(m, x, SAMPLES, NULL, &q, &e) != DST_OK) { printf("quantize: %s\n", e.message); return 1; }
    if (dst_model_write_memory(m, &fbuf, &flen, &e) != DST_OK || dst_model_write_memory(q, &qbuf, &qlen, &e) != DST_OK) {
        printf("write: %s\n", e.message);
        return 1;
    }
    /* the float file in a 64-byte aligned block: used in place */
    if (!(aligned = (unsigned char *)malloc(flen + 64))) return 1;
    {
        unsigned char *at = aligned + (64 - (size_t)((uintptr_t)aligned % 64)) % 64;
        memcpy(at, fbuf, flen);
        ok = predict_file(at, flen, x, a, &in_place) && predict_file(qbuf, qlen, x, b, &in_place8);
    }
    ok = ok && dst_model_predict(q, x, SAMPLES, c) == DST_OK && memcmp(b, c, sizeof b) == 0;
    for (s = 0; s < SAMPLES; ++s) same += argmax3(a + s * CLASSES) == argmax3(b + s * CLASSES);
    printf("%s: float model (%lu bytes, %s), int8 model (%lu bytes, as quantized: %s), the same class for %d of %d "
           "samples\n", ok && in_place && same >= SAMPLES * 3 / 4 ? "ok" : "FAIL", (unsigned long)flen,
           in_place ? "in place" : "copied", (unsigned long)qlen, ok ? "yes" : "no", same, SAMPLES);
    free(aligned);
    dst_free(fbuf);
    dst_free(qbuf);
    dst_model_free(q);
    dst_model_free(m);
    return ok && in_place && same >= SAMPLES * 3 / 4 ? 0 : 1;
}

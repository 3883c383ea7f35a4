/* tests/compile/same_bits.c - one seed, one model, however the header is built.
   Trains a small CNN (conv, batch norm, pooling, dense, dropout) and distills an
   MLP from it on synthetic data, then prints a hash of every parameter's bits.
   It does so on every SIMD level this CPU has (scalar, SSE2, AVX2, AVX-512 or
   NEON), one line each. tests/compile/run.sh builds it with gcc -std=c99, gcc
   (gnu mode), clang, -march=native and g++, and checks that all print the same
   lines. */
#define DISTILL_IMPLEMENTATION
#include "distill.h"
#include <stdio.h>

static uint64_t hash_params(dst_model *m, uint64_t h)
{
    const unsigned char *p = (const unsigned char *)dst_model_params(m);
    size_t i, n = dst_model_param_count(m) * sizeof(float);
    for (i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static int train(uint64_t *out)
{
    enum { COUNT = 256, SIDE = 8 };
    static float x[COUNT * SIDE * SIDE];
    static int y[COUNT];
    dst_layer_desc cnn[] = { dst_conv2d(4, 3, 1, 1), dst_batchnorm(), dst_relu(), dst_maxpool2d(2, 0, 0),
                             dst_flatten(), dst_dropout(0.1f), dst_dense(3) };
    dst_layer_desc mlp[] = { dst_dense(16), dst_gelu(), dst_dense(3) };
    dst_model_desc desc = dst_model_desc_default();
    dst_optimizer_config opt = dst_optimizer_default(DST_ADAM);
    dst_fit_config fit = dst_fit_default();
    dst_model *teacher, *student;
    dst_teacher t;
    dst_rng rng;
    uint64_t h = 14695981039346656037ull;
    int i;

    dst_rng_seed(&rng, 3);
    for (i = 0; i < COUNT * SIDE * SIDE; ++i) x[i] = dst_rng_uniform(&rng) * 2 - 1;
    for (i = 0; i < COUNT; ++i) y[i] = (x[i * SIDE * SIDE] + 0.5f * x[i * SIDE * SIDE + 9] > 0) + (x[i * SIDE * SIDE + 20] > 0.5f);

    desc.input_c = 1; desc.input_h = SIDE; desc.input_w = SIDE;
    desc.layers = cnn; desc.layer_count = (int)(sizeof cnn / sizeof cnn[0]);
    if (dst_model_create(&teacher, &desc, NULL) != DST_OK) return 1;
    dst_model_set_optimizer(teacher, &opt);
    fit.epochs = 3; fit.batch_size = 32;
    if (dst_model_fit(teacher, x, y, COUNT, &fit) != DST_OK) return 1;

    desc.input_c = SIDE * SIDE; desc.input_h = desc.input_w = 0;
    desc.layers = mlp; desc.layer_count = (int)(sizeof mlp / sizeof mlp[0]);
    if (dst_model_create(&student, &desc, NULL) != DST_OK) return 1;
    opt = dst_optimizer_default(DST_SGD);
    opt.lr = 0.05f; opt.momentum = 0.9f;
    dst_model_set_optimizer(student, &opt);
    t = dst_teacher_model(teacher);
    fit.teacher = &t; fit.temperature = 4; fit.alpha = 0.7f;
    if (dst_model_fit(student, x, y, COUNT, &fit) != DST_OK) return 1;

    h = hash_params(teacher, h);
    h = hash_params(student, h);
    *out = h;
    dst_model_free(student);
    dst_model_free(teacher);
    return 0;
}

int main(void)
{
    static const dst_simd levels[] = { DST_SIMD_SCALAR, DST_SIMD_SSE2, DST_SIMD_AVX2, DST_SIMD_AVX512, DST_SIMD_NEON };
    int i;
    for (i = 0; i < (int)(sizeof levels / sizeof levels[0]); ++i) {
        uint64_t h;
        if (dst_simd_force(levels[i]) != DST_OK) continue;
        if (train(&h)) return 1;
        printf("%s %016llx\n", dst_simd_name(levels[i]), (unsigned long long)h);
    }
    return 0;
}

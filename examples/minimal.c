/* examples/minimal.c - train a small network in 40 lines, with no data files:
   a 2-32-32-3 MLP learns which of three rings a point of the plane lies in.
   cc -O2 -I. examples/minimal.c -lm -o build/minimal
   ./build/minimal [MODEL]    (given a path, saves the model there) */
#define DISTILL_IMPLEMENTATION
#include "distill.h"
#include <math.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    enum { N = 2000, TEST = 500 };
    static float x[N * 2];
    static int y[N];
    dst_layer_desc layers[5] = { dst_dense(32), dst_relu(), dst_dense(32), dst_relu(), dst_dense(3) };
    dst_model_desc desc = dst_model_desc_default();
    dst_optimizer_config opt = dst_optimizer_default(DST_ADAM);
    dst_fit_config fit = dst_fit_default();
    dst_model *m;
    dst_error e;
    dst_rng rng;
    float acc;
    int i;

    dst_rng_seed(&rng, 7);
    for (i = 0; i < N; ++i) { /* a point in [-1, 1]^2; its class: inner disc, ring, outside */
        float a = 2 * dst_rng_uniform(&rng) - 1, b = 2 * dst_rng_uniform(&rng) - 1, r = sqrtf(a * a + b * b);
        x[2 * i] = a;
        x[2 * i + 1] = b;
        y[i] = r < 0.4f ? 0 : r < 0.75f ? 1 : 2;
    }
    desc.input_c = 2; desc.layers = layers; desc.layer_count = 5;
    if (dst_model_create(&m, &desc, &e) != DST_OK) { fprintf(stderr, "%s\n", e.message); return 1; }
    opt.lr = 0.01f;
    dst_model_set_optimizer(m, &opt);
    fit.epochs = 40; fit.batch_size = 32;
    if (dst_model_fit(m, x, y, N - TEST, &fit) != DST_OK) { fprintf(stderr, "%s\n", dst_model_error(m)); return 1; }
    dst_model_evaluate(m, x + 2 * (N - TEST), y + N - TEST, TEST, 0, NULL, &acc); /* the last 500: unseen */
    printf("held-out accuracy %.3f\n", acc);
    if (argc > 1 && dst_model_save(m, argv[1], &e) != DST_OK) { fprintf(stderr, "%s\n", e.message); return 1; }
    dst_model_free(m);
    return 0;
}

/* tests/cli_export_check.c - checks a model exported by `distill export-c
   MODEL --name tm` (tm.h, found through -I) against dst_model_predict on the
   same model file: every output within 1e-5 (relative above 1).
     cli_export_check MODEL */
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
#define DISTILL_IMPLEMENTATION
#include "distill.h"
#include "tm.h"
#include <stdio.h>
#include <math.h>

int main(int argc, char **argv)
{
    static float x[32][TM_INPUT_C * TM_INPUT_H * TM_INPUT_W], want[32][TM_OUTPUTS], got[TM_OUTPUTS];
    float scratch[TM_SCRATCH_FLOATS];
    dst_model *m;
    dst_error e;
    dst_rng rng;
    double worst = 0;
    int s, i, bad = 0;
    if (argc != 2) { fprintf(stderr, "usage: cli_export_check MODEL\n"); return 2; }
    if (dst_model_load(&m, argv[1], &e) != DST_OK) { fprintf(stderr, "%s\n", e.message); return 1; }
    if (dst_model_input_size(m) != sizeof x[0] / sizeof(float) || dst_model_output_size(m) != TM_OUTPUTS) {
        fprintf(stderr, "tm.h does not describe %s\n", argv[1]);
        return 1;
    }
    dst_rng_seed(&rng, 7);
    for (s = 0; s < 32; ++s)
        for (i = 0; i < (int)(sizeof x[0] / sizeof(float)); ++i) x[s][i] = dst_rng_uniform(&rng);
    if (dst_model_predict(m, &x[0][0], 32, &want[0][0]) != DST_OK) { fprintf(stderr, "%s\n", dst_model_error(m)); return 1; }
    for (s = 0; s < 32; ++s) {
        if (s % 2) tm_predict(x[s], got);
        else tm_predict_scratch(x[s], got, scratch);
        for (i = 0; i < TM_OUTPUTS; ++i) {
            double d = fabs((double)got[i] - (double)want[s][i]), lim = 1e-5 * (1 + fabs((double)want[s][i]));
            if (d > worst) worst = d;
            if (!(d <= lim)) {
                if (!bad) fprintf(stderr, "sample %d output %d: exported %.9g, dst_model_predict %.9g\n", s, i,
                                  (double)got[i], (double)want[s][i]);
                bad = 1;
            }
        }
    }
    printf("export-c: 32 samples x %d outputs, largest difference %.3g\n", TM_OUTPUTS, worst);
    dst_model_free(m);
    return bad;
}

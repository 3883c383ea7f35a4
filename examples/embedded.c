/* examples/embedded.c - a model compiled into the program as a byte array, as
   a game or a tool ships a network: no file at run time, the parameters used
   in place from the array (it is 64-byte aligned), DST_NO_STDIO so the
   library has no file functions at all.
   The array comes from a weight file (make does these steps):
     ./build/minimal build/embedded_model.bin        (the rings model of examples/minimal.c)
     ./build/distill export-bytes build/embedded_model.bin --name embedded_model > build/embedded_model.h
   (`xxd -i` writes the same array; add __attribute__((aligned(64))) to use it in place.)
   cc -O2 -I. -Ibuild examples/embedded.c -lm -o build/embedded */
#define DST_NO_STDIO
#define DISTILL_IMPLEMENTATION
#include "distill.h"
#include "embedded_model.h"
#include <stdio.h>

int main(void)
{
    /* points of the plane: the centre, a point on the ring, a far corner */
    static const float points[3][2] = { { 0.0f, 0.1f }, { 0.55f, -0.1f }, { 0.9f, 0.9f } };
    static const char *names[3] = { "inner disc", "ring", "outside" };
    float logits[3][3];
    dst_model *m;
    dst_error e;
    int i, k, best;

    if (dst_model_parse(&m, embedded_model, sizeof embedded_model, &e) != DST_OK) {
        fprintf(stderr, "%s\n", e.message);
        return 1;
    }
    printf("model: %lu parameters, %s\n", (unsigned long)dst_model_param_count(m),
           dst_model_params_in_place(m) ? "used in place from the array" : "copied from the array");
    if (dst_model_predict(m, &points[0][0], 3, &logits[0][0]) != DST_OK) {
        fprintf(stderr, "%s\n", dst_model_error(m));
        return 1;
    }
    for (i = 0; i < 3; ++i) {
        for (best = 0, k = 1; k < 3; ++k)
            if (logits[i][k] > logits[i][best]) best = k;
        printf("(%5.2f, %5.2f): %s\n", (double)points[i][0], (double)points[i][1], names[best]);
    }
    dst_model_free(m);
    return 0;
}

/* examples/embedded.c - a model compiled into the program as a byte array, as
   a game or a tool ships a network: no file at run time, the parameters used
   in place from the array, DST_NO_STDIO so the library has no file functions.

   The array is a weight file's bytes, 64-byte aligned so that
   dst_model_load_memory can use the tensors where they are (it copies them
   when the array is not aligned). Any weight file will do: one `distill train`
   wrote, one tools/torch/torch_export.py wrote from PyTorch, or, as here, the
   rings model of examples/minimal.c (make does these steps):
     ./build/minimal build/embedded_model.bin
     ./build/distill export-bytes build/embedded_model.bin --name embedded_model > build/embedded_model.h
     cc -O2 -I. -Ibuild examples/embedded.c -lm -o build/embedded
   Without the distill command, `xxd -i` writes the same array; add the
   alignment (GCC and Clang):
     xxd -i build/embedded_model.bin | sed 's/\[\] = /[] __attribute__((aligned(64))) = /' > model_xxd.h
   and pass its name and its _len variable to dst_model_load_memory. */
#define DST_NO_STDIO
#define DISTILL_IMPLEMENTATION
#include "distill.h"
#include "embedded_model.h" /* static const unsigned char embedded_model[] */
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

    if (dst_model_load_memory(&m, embedded_model, sizeof embedded_model, &e) != DST_OK) {
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

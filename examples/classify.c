/* examples/classify.c - classify pictures (PNG, JPEG, BMP, ...) with a model
   file: stb_image reads them, dst_image_load turns them into the model's
   input (gray or RGB, resized to its input shape, scaled and inverted as the
   model's metadata says), the model names the class.
   cc -O2 -I. -I/usr/include/stb examples/classify.c -lm -o build/classify
   ./build/classify MODEL IMAGE...
   MODEL from `distill train` (or any program that saves the input.* and
   classes metadata keys; without them: bytes / 255, no inversion). */
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
#define DISTILL_IMPLEMENTATION
#include "distill.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    dst_model *m;
    dst_error e;
    dst_layer_info first;
    dst_image_prep prep;
    const char *classes;
    float *x, *p;
    double v;
    int i, k, best, n, status = 0;

    if (argc < 3) { fprintf(stderr, "usage: classify MODEL IMAGE...\n"); return 2; }
    if (dst_model_load(&m, argv[1], &e) != DST_OK) { fprintf(stderr, "%s\n", e.message); return 1; }
    dst_model_layer(m, 0, &first); /* the input shape is the first layer's */
    prep = dst_image_prep_default(first.in_c, first.in_h, first.in_w);
    if (dst_model_meta_number(m, "input.scale", &v)) prep.scale = (float)v;
    if (dst_model_meta_number(m, "input.invert", &v)) prep.invert = v != 0;
    if (dst_model_meta_number(m, "input.mean", &v)) prep.mean[0] = prep.mean[1] = prep.mean[2] = (float)v;
    if (dst_model_meta_number(m, "input.std", &v)) prep.std[0] = prep.std[1] = prep.std[2] = (float)v;
    classes = dst_model_meta_string(m, "classes"); /* "t-shirt/top,trouser,..." */
    n = (int)dst_model_output_size(m);
    x = (float *)malloc(dst_model_input_size(m) * sizeof(float));
    p = (float *)malloc((size_t)n * sizeof(float));
    if (!x || !p) return 1;
    for (i = 2; i < argc; ++i) {
        const char *name = classes;
        if (dst_image_load(argv[i], &prep, x, &e) != DST_OK) { fprintf(stderr, "%s\n", e.message); status = 1; continue; }
        dst_model_predict(m, x, 1, p);
        dst_softmax(p, p, 1, n, 1.0f); /* logits to probabilities */
        for (best = 0, k = 1; k < n; ++k)
            if (p[k] > p[best]) best = k;
        for (k = 0; name && k < best; ++k) /* the best-th comma-separated name */
            if ((name = strchr(name, ',')) != NULL) ++name;
        printf("%s: class %d", argv[i], best);
        if (name) printf(" (%.*s)", (int)strcspn(name, ","), name);
        printf(", probability %.3f\n", (double)p[best]);
    }
    free(x);
    free(p);
    dst_model_free(m);
    return status;
}

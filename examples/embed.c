/* examples/embed.c - a model compiled into the program as a byte array and
   used in place: no file, no copy of the weights, at run time.
   The array comes from `xxd -i` on a weight file (here the PyTorch CNN that
   tests/gen_torch_fixtures.py exported), with an alignment attribute added so
   that dst_model_parse can use the parameters where they are:
     xxd -i tests/fixtures/torch_cnn.dst | sed 's/\[\] = /[] __attribute__((aligned(64))) = /' > build/torch_cnn_dst.h
     cc -O2 -I. -Ibuild -I/usr/include/stb examples/embed.c -lm -o build/embed
   (`make build/embed` does both.) It classifies the first Fashion-MNIST test
   images and names the classes from the file's metadata. */
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>            /* only for the .gz test images */
#define DISTILL_IMPLEMENTATION
#include "distill.h"
#include <stdio.h>
#include <string.h>
#include "torch_cnn_dst.h"        /* unsigned char tests_fixtures_torch_cnn_dst[]; unsigned int ..._len */

/* The n-th comma-separated name in list, into out. */
static const char *class_name(const char *list, int n, char *out, size_t cap)
{
    size_t len;
    while (list && n-- > 0 && (list = strchr(list, ','))) ++list;
    if (!list) return "?";
    len = strcspn(list, ",");
    if (len >= cap) len = cap - 1;
    memcpy(out, list, len);
    out[len] = 0;
    return out;
}

int main(void)
{
    dst_model *m;
    dst_error e;
    dst_idx img, lab;
    float logits[10 * 10];
    char name[32], truth[32];
    size_t i;
    int k, right = 0;
    const char *classes;
    if (dst_model_parse(&m, tests_fixtures_torch_cnn_dst, tests_fixtures_torch_cnn_dst_len, &e) != DST_OK) {
        fprintf(stderr, "%s\n", e.message);
        return 1;
    }
    printf("model: %d layers, %lu parameters, %s\n", dst_model_layer_count(m), (unsigned long)dst_model_param_count(m),
           dst_model_params_in_place(m) ? "used in place from the array" : "copied (array not aligned)");
    if (dst_idx_load("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", &img, &e) != DST_OK ||
        dst_idx_load("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz", &lab, &e) != DST_OK) {
        fprintf(stderr, "%s\n", e.message);
        dst_model_free(m);
        return 1;
    }
    for (i = 0; i < 10 * 784; ++i) img.data[i] /= 255.0f;
    dst_model_predict(m, img.data, 10, logits);
    classes = dst_model_meta_string(m, "classes");
    for (i = 0; i < 10; ++i) {
        int best = 0;
        for (k = 1; k < 10; ++k)
            if (logits[i * 10 + k] > logits[i * 10 + best]) best = k;
        right += best == (int)lab.data[i];
        printf("image %lu: %-12s (truth: %s)\n", (unsigned long)i, class_name(classes, best, name, sizeof name),
               class_name(classes, (int)lab.data[i], truth, sizeof truth));
    }
    printf("%d of 10 right\n", right);
    dst_idx_free(&img);
    dst_idx_free(&lab);
    dst_model_free(m);
    return 0;
}

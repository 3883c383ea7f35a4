/* examples/quickstart.c - the README quick start: train a 784-128-10 MLP on Fashion-MNIST.
   Build: cc -O2 -I. -I/usr/include/stb examples/quickstart.c -lm -o build/quickstart */
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>            /* only for the .gz data set files */
#define DISTILL_IMPLEMENTATION
#include "distill.h"
#include <stdio.h>

int main(void)
{
    dst_mnist d;
    dst_error e;
    dst_model *m;
    dst_layer_desc layers[3] = { dst_dense(128), dst_relu(), dst_dense(10) };
    dst_model_desc desc = dst_model_desc_default();
    dst_optimizer_config opt = dst_optimizer_default(DST_ADAM);
    dst_fit_config fit = dst_fit_default();
    float acc;

    if (dst_mnist_load("/usr/share/datasets/fashion-mnist", &d, &e) != DST_OK) {
        fprintf(stderr, "%s\n", e.message);
        return 1;
    }
    desc.input_c = 784; desc.layers = layers; desc.layer_count = 3;
    if (dst_model_create(&m, &desc, &e) != DST_OK) { fprintf(stderr, "%s\n", e.message); return 1; }
    dst_model_set_optimizer(m, &opt);
    fit.epochs = 2;
    if (dst_model_fit(m, d.train_x, d.train_y, d.train_count, &fit) != DST_OK)
        fprintf(stderr, "%s\n", dst_model_error(m));
    dst_model_evaluate(m, d.test_x, d.test_y, d.test_count, 0, NULL, &acc);
    printf("test accuracy %.4f\n", acc);
    dst_model_free(m);
    dst_mnist_free(&d);
    return 0;
}

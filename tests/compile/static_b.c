/* tests/compile/static_b.c - the second private copy (see static_a.c). */
#define DISTILL_STATIC
#define DISTILL_IMPLEMENTATION
#include "distill.h"

int static_b_relu_count(void);
int static_b_relu_count(void)
{
    float v[4] = { -1, 2, -3, 4 };
    int i, n = 0;
    dst_activation_forward(DST_ACT_RELU, 0, v, v, 4);
    for (i = 0; i < 4; ++i) n += v[i] > 0;
    return n;
}

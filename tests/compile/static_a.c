/* tests/compile/static_a.c and static_b.c - two files that each compile the
   whole library privately (DISTILL_STATIC) and call different parts of it:
   they must link together and build clean under -Wall -Wextra -Werror. */
#define DISTILL_STATIC
#define DISTILL_IMPLEMENTATION
#include "distill.h"
#include <stdio.h>

int static_b_relu_count(void);

int main(void)
{
    dst_rng rng;
    dst_rng_seed(&rng, 1);
    if (static_b_relu_count() != 2) return 1;
    printf("two DISTILL_STATIC copies: ok (%u)\n", (unsigned)(dst_rng_uniform(&rng) >= 0));
    return 0;
}

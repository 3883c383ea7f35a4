/* tests/run.c - the test runner: every tests/test_*.c in one program.
   Build and run with `make test` (plain, sanitized, and as C++).
   Usage: run [substring]   runs the tests whose name contains substring.
   The last line is "N passed, N failed"; the exit code is 1 on any failure. */

#include "t_alloc.h"

#ifndef T_NO_STB
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>
#endif
#define DISTILL_IMPLEMENTATION
#include "../distill.h"
/* The header builds under the Makefile's stricter warnings (tests/compile/
   checks it alone too); the tests compare floats in double freely. */
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#endif
#include "test.h"
#ifndef T_DEFAULT_FILTER
#define T_DEFAULT_FILTER NULL /* every test */
#endif

#include "test_kernels.c"
#include "test_model.c"
#include "test_distill.c"
#include "test_data.c"
#include "test_conv.c"
#include "test_torch.c"
#include "test_conv_paths.c"
#include "test_image.c"
#include "test_elementwise.c"
#include "test_gemm.c"
#include "test_file.c"
#include "test_layers.c"
#include "test_threads.c"
#include "test_dataset.c"
#include "test_augment.c"
#include "test_quantize.c"

static const struct { const t_case *cases; int count; } t_suites[] = {
#define T_SUITE(x) { x, (int)(sizeof(x) / sizeof(x[0])) }
    T_SUITE(kernel_tests),
    T_SUITE(model_tests),
    T_SUITE(distill_tests),
    T_SUITE(data_tests),
    T_SUITE(conv_tests),
    T_SUITE(torch_tests),
    T_SUITE(conv_path_tests),
    T_SUITE(image_tests),
    T_SUITE(elementwise_tests),
    T_SUITE(gemm_tests),
    T_SUITE(file_tests),
    T_SUITE(layers_tests),
    T_SUITE(thread_tests),
    T_SUITE(dataset_tests),
    T_SUITE(augment_tests),
    T_SUITE(quantize_tests),
};

int main(int argc, char **argv)
{
    int s, i, passed = 0, failed = 0;
    const char *filter = argc > 1 ? argv[1] : T_DEFAULT_FILTER;
    const char *dir = getenv("DST_FIXTURES");
    if (dir) t_fixture_dir = dir;
    for (s = 0; s < (int)(sizeof t_suites / sizeof t_suites[0]); ++s) {
        for (i = 0; i < t_suites[s].count; ++i) {
            const t_case *c = &t_suites[s].cases[i];
            long live = t_alloc_live;
            int bad;
            if (filter && !strstr(c->name, filter)) continue;
            t_alloc_fail_at = 0;
            t_seed = 12345; /* each test's data whatever ran before it */
            dst_simd_force(DST_SIMD_AUTO);
            bad = c->fn();
            if (!bad && t_alloc_live != live) {
                printf("    %ld block(s) leaked\n", t_alloc_live - live);
                bad = 1;
            }
            printf("%s %s\n", bad ? "FAIL" : "ok  ", c->name);
            fflush(stdout);
            if (bad) failed++; else passed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

/* tests/run_gemm.c - the GEMM tests alone, for compilers and CPUs the full
   runner does not reach: tcc (no intrinsics: the scalar path; tcc rejects an
   initialiser in tests/test_model.c), mingw-w64 under wine, 32-bit x86.
   `make test-gemm-cross` builds it with tcc and runs tests/run.c's GEMM tests
   on AArch64 (NEON) under qemu-user. Same output as run.c. */
#include "t_alloc.h"

#define DISTILL_IMPLEMENTATION
#include "../distill.h"
#include "test.h"
#include "test_gemm.c"

int main(void)
{
    int i, passed = 0, failed = 0;
    for (i = 0; i < (int)(sizeof gemm_tests / sizeof gemm_tests[0]); ++i) {
        long live = t_alloc_live;
        int bad;
        dst_simd_force(DST_SIMD_AUTO);
        bad = gemm_tests[i].fn();
        if (!bad && t_alloc_live != live) {
            printf("    %ld block(s) leaked\n", t_alloc_live - live);
            bad = 1;
        }
        printf("%s %s\n", bad ? "FAIL" : "ok  ", gemm_tests[i].name);
        if (bad) failed++; else passed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

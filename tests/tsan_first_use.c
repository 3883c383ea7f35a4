/* tests/tsan_first_use.c - threads that make their first library call at
   the same moment (the CPU-feature cache is filled then), built with
   -fsanitize=thread by `make test`: ThreadSanitizer must report nothing,
   and every thread must get the same level and the same GEMM result as a
   call made afterwards. Its own program, so that no call before the
   threads start has filled the cache. Last line: "N passed, N failed". */
#define DISTILL_IMPLEMENTATION
#include "distill.h"
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define T_THREADS 4
#define T_M 7
#define T_N 13
#define T_K 9

static int t_go; /* the starting gun, read and written atomically */
static float t_a[T_M * T_K], t_b[T_K * T_N];

typedef struct t_result {
    dst_simd level;
    float c[T_M * T_N];
} t_result;

static void *t_first_call(void *arg)
{
    t_result *r = (t_result *)arg;
    while (!__atomic_load_n(&t_go, __ATOMIC_ACQUIRE)) {
    }
    dst_sgemm(0, 0, T_M, T_N, T_K, 1.0f, t_a, T_K, t_b, T_N, 0.0f, r->c, T_N);
    r->level = dst_simd_active();
    return NULL;
}

int main(void)
{
    pthread_t th[T_THREADS];
    t_result res[T_THREADS];
    float want[T_M * T_N];
    int i, passed = 0, failed = 0, started = 0;
    for (i = 0; i < T_M * T_K; ++i) t_a[i] = (float)(i % 7) - 3.0f;
    for (i = 0; i < T_K * T_N; ++i) t_b[i] = 0.25f * (float)(i % 5);
    for (i = 0; i < T_THREADS; ++i)
        if (pthread_create(&th[i], NULL, t_first_call, &res[i]) == 0) started = i + 1;
        else break;
    __atomic_store_n(&t_go, 1, __ATOMIC_RELEASE);
    for (i = 0; i < started; ++i) pthread_join(th[i], NULL);
    if (started == T_THREADS) ++passed;
    else { ++failed; printf("FAIL threads: %d of %d started\n", started, T_THREADS); }
    /* after the race: the same answers from this thread */
    dst_sgemm(0, 0, T_M, T_N, T_K, 1.0f, t_a, T_K, t_b, T_N, 0.0f, want, T_N);
    for (i = 0; i < started; ++i) {
        if (res[i].level == dst_simd_active() && memcmp(res[i].c, want, sizeof want) == 0) ++passed;
        else { ++failed; printf("FAIL thread %d: level %s, result differs\n", i, dst_simd_name(res[i].level)); }
    }
    printf("first use from %d threads at once, level %s\n", started, dst_simd_name(dst_simd_active()));
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}

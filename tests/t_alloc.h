/* tests/t_alloc.h - included before distill.h by the test runners.
   The library allocates through these, so tests can count live blocks and
   make the n-th allocation fail. */
#include <stdlib.h>
static long t_alloc_live = 0;   /* blocks allocated and not freed */
static long t_alloc_fail_at = 0; /* > 0: the allocation with this number fails */
static long t_alloc_count = 0;  /* allocations so far */
/* atomic where the compiler has it: threaded tests allocate from several threads */
#if defined(__GNUC__) || defined(__clang__)
#define T_ADD(p, v) __atomic_add_fetch(p, v, __ATOMIC_RELAXED)
#define T_GET(p) __atomic_load_n(p, __ATOMIC_RELAXED)
#else
#define T_ADD(p, v) (*(p) += (v))
#define T_GET(p) (*(p))
#endif
static void *t_malloc(size_t n)
{
    if (T_ADD(&t_alloc_count, 1) == T_GET(&t_alloc_fail_at)) return NULL;
    T_ADD(&t_alloc_live, 1);
    return malloc(n);
}
static void *t_realloc(void *p, size_t n)
{
    void *q;
    if (T_ADD(&t_alloc_count, 1) == T_GET(&t_alloc_fail_at)) return NULL;
    q = realloc(p, n);
    if (q && !p) T_ADD(&t_alloc_live, 1);
    return q;
}
static void t_free(void *p)
{
    if (p) T_ADD(&t_alloc_live, -1);
    free(p);
}
/* Calls made with the context t_alloc_ctx_watch (when not NULL): a test
   sees that a caller's context reaches the allocator. */
static void *t_alloc_ctx_watch = NULL;
static long t_alloc_ctx_allocs = 0, t_alloc_ctx_frees = 0;
static void t_alloc_note(const void *ctx, int is_free)
{
    if (ctx && ctx == t_alloc_ctx_watch) ++*(is_free ? &t_alloc_ctx_frees : &t_alloc_ctx_allocs);
}
static void t_free_ctx(void *p, const void *ctx)
{
    if (p) t_alloc_note(ctx, 1);
    t_free(p);
}
#define DST_MALLOC(sz, ctx) (t_alloc_note((ctx), 0), t_malloc(sz))
#define DST_REALLOC(p, sz, ctx) (t_alloc_note((ctx), 0), t_realloc((p), (sz)))
#define DST_FREE(p, ctx) t_free_ctx((p), (ctx))


/* tests/test_threads.c - threads: the built-in pool (start, stop, start
   again, allocation failure), dst_sgemm_threaded against dst_sgemm bit for
   bit, and models trained with 1, 2, 3, 4 and 7 threads, with the pool and
   with a hook that runs its tasks in a scrambled order, against the model
   trained on the calling thread alone: the same parameters, bit for bit.
   Two models on two user threads at once, each with its own pool. Built
   also under ThreadSanitizer (build/test-tsan-threads runs these alone). */

/* A user's scheduler: runs the tasks one after another in a scrambled
   order (the library must not care in which order or on which thread). */
static void t_scrambled_for(void *user, int tasks, dst_task_fn fn, void *ctx)
{
    int i;
    unsigned step = 7;
    (void)user;
    while (tasks > 1 && (unsigned)tasks % step == 0) step += 2;
    for (i = 0; i < tasks; ++i) fn(ctx, (int)(((unsigned)i * step + 3u) % (unsigned)tasks));
}

static int test_threads_pool_lifecycle(void)
{
    dst_pool *p = NULL;
    dst_threads t;
    long live = t_alloc_live;
    T_CHECK(dst_cpu_count() >= 1);
    T_CHECK(dst_pool_start(NULL, 2) == DST_ERR_ARG);
    T_CHECK(dst_pool_start(&p, -1) == DST_ERR_ARG && p == NULL);
    T_CHECK(dst_pool_size(NULL) == 1);
    t = dst_pool_threads(NULL);
    T_CHECK(t.parallel_for == NULL && t.width == 1);
    dst_pool_stop(NULL);
#if defined(DST_NO_THREADS)
    T_CHECK(dst_pool_start(&p, 2) == DST_ERR_UNSUPPORTED && p == NULL);
    printf("    DST_NO_THREADS: no pool (a hook still works)\n");
#else
    {
        int round, fail_at;
        for (round = 0; round < 3; ++round) { /* a pool stops and starts again */
            T_CHECK(dst_pool_start(&p, 3) == DST_OK && p != NULL);
            T_CHECK(dst_pool_size(p) == 3);
            t = dst_pool_threads(p);
            T_CHECK(t.width == 3 && t.parallel_for != NULL);
            dst_pool_stop(p);
            p = NULL;
        }
        T_CHECK(dst_pool_start(&p, 0) == DST_OK && dst_pool_size(p) == dst_cpu_count());
        dst_pool_stop(p);
        T_CHECK(dst_pool_start(&p, 1) == DST_OK && dst_pool_size(p) == 1); /* no thread created */
        dst_pool_stop(p);
        for (fail_at = 1; fail_at <= 3; ++fail_at) { /* each of its allocations failing */
            t_alloc_fail_at = t_alloc_count + fail_at;
            p = NULL;
            T_CHECK(dst_pool_start(&p, 4) == DST_ERR_NOMEM && p == NULL);
            t_alloc_fail_at = 0;
        }
    }
#endif
    T_CHECK(t_alloc_live == live);
    return 0;
}

/* One hook for the tests: the pool of n threads, or (n < 0) the scrambled
   hook -n wide. *pool is what to stop after. */
static dst_threads t_threads_of(int n, dst_pool **pool)
{
    dst_threads t;
    *pool = NULL;
    if (n < 0) {
        t.parallel_for = t_scrambled_for;
        t.user = NULL;
        t.width = -n;
        return t;
    }
    if (dst_pool_start(pool, n) != DST_OK) *pool = NULL; /* DST_NO_THREADS: the calling thread */
    return dst_pool_threads(*pool);
}

static const int t_thread_counts[] = { 1, 2, 3, 4, 7, -5 };
#define T_THREAD_RUNS ((int)(sizeof t_thread_counts / sizeof t_thread_counts[0]))

static int test_threads_sgemm_same_bits(void)
{
    static const int shapes[][3] = { { 1, 10, 784 }, { 3, 17, 5 },     { 128, 1200, 784 }, { 300, 200, 128 },
                                     { 128, 10, 1200 }, { 97, 65, 33 }, { 7, 300, 1000 },  { 130, 700, 9 } };
    dst_simd levels[8];
    int nlev = t_simd_levels(levels), l, s, r, ta, tb, checked = 0, quick = t_quick();
    if (quick) printf("    DST_TEST_QUICK: without the 128 x 1200 x 784 GEMM (nine tenths of the work)\n");
    for (r = 0; r < T_THREAD_RUNS; ++r) {
        dst_pool *pool;
        dst_threads t = t_threads_of(t_thread_counts[r], &pool);
        for (l = 0; l < nlev; ++l) {
            dst_simd_force(levels[l]);
            for (s = 0; s < (int)(sizeof shapes / sizeof shapes[0]); ++s)
                for (ta = 0; ta < 2 && !(quick && s == 2); ++ta) /* shape 2: 128 x 1200 x 784 */
                    for (tb = 0; tb < 2; ++tb) {
                        int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
                        size_t mn = (size_t)m * n;
                        float *a = (float *)malloc((size_t)m * k * 4), *b = (float *)malloc((size_t)k * n * 4);
                        float *c1 = (float *)malloc(mn * 4), *c2 = (float *)malloc(mn * 4);
                        int same;
                        t_fill(a, (size_t)m * k, 1.0f);
                        t_fill(b, (size_t)k * n, 1.0f);
                        t_fill(c1, mn, 1.0f);
                        memcpy(c2, c1, mn * 4);
                        dst_sgemm(ta, tb, m, n, k, 0.5f, a, ta ? m : k, b, tb ? k : n, 0.25f, c1, n);
                        dst_sgemm_threaded(&t, ta, tb, m, n, k, 0.5f, a, ta ? m : k, b, tb ? k : n, 0.25f, c2, n);
                        same = memcmp(c1, c2, mn * 4) == 0;
                        free(a); free(b); free(c1); free(c2);
                        T_CHECK_MSG(same, "%d x %d x %d, trans %d %d, %s, threads %d", m, n, k, ta, tb,
                                    dst_simd_name(levels[l]), t_thread_counts[r]);
                        checked++;
                    }
        }
        dst_simd_force(DST_SIMD_AUTO);
        dst_pool_stop(pool);
    }
    printf("    %d GEMMs at %d level(s), threads 1, 2, 3, 4, 7 and a scrambled hook: same bits\n", checked, nlev);
    return 0;
}

/* Trains a model for a few steps on threads n (0: none) and returns its
   parameters (malloc'd), or NULL. Dense and conv layers, pooling, batch
   norm, dropout; labels or a teacher. Two epochs of 300 samples in batches
   of 64 (four whole batches and one of 44); DST_TEST_QUICK: of 100 (one
   whole, one of 36), the same batch sizes, so the same work per step and
   the same cuts into blocks, in 4 steps, not 10. */
static float *t_threads_train(const dst_layer_desc *layers, int count, int c, int h, int w, int n, size_t *np,
                              int distill)
{
    enum { B = 64 };
    const size_t N = t_quick() ? 100 : 300;
    dst_model *m = t_cnn(layers, count, c, h, w, 11), *teacher = NULL;
    dst_pool *pool = NULL;
    dst_threads t;
    dst_optimizer_config opt = dst_optimizer_default(DST_ADAM);
    dst_fit_config fc = dst_fit_default();
    dst_teacher tt;
    size_t in, i;
    float *x, *out = NULL;
    int *y, ok;
    if (!m) return NULL;
    in = dst_model_input_size(m);
    x = (float *)malloc(N * in * sizeof(float));
    y = (int *)malloc(N * sizeof(int));
    {   /* the data from a generator of its own (user threads run this at once) */
        uint64_t s = 99;
        for (i = 0; i < N * in; ++i) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            x[i] = (float)((s >> 40) & 0xFFFFFF) / 8388608.0f - 1.0f;
        }
    }
    for (i = 0; i < N; ++i) y[i] = (int)(i % 3);
    t = t_threads_of(n, &pool);
    ok = n == 0 || dst_model_set_threads(m, &t) == DST_OK;
    ok = ok && dst_model_set_optimizer(m, &opt) == DST_OK;
    fc.epochs = 2;
    fc.batch_size = B;
    if (ok && distill) {
        teacher = t_cnn(layers, count, c, h, w, 5);
        ok = teacher && (n == 0 || dst_model_set_threads(teacher, &t) == DST_OK);
        tt = dst_teacher_model(teacher);
        fc.teacher = &tt;
    }
    ok = ok && dst_model_fit(m, x, y, N, &fc) == DST_OK;
    if (ok) {
        *np = dst_model_param_count(m);
        out = (float *)malloc(*np * sizeof(float));
        memcpy(out, dst_model_params(m), *np * sizeof(float));
    } else {
        printf("    threads %d: %s\n", n, dst_model_error(m));
    }
    dst_model_free(teacher);
    dst_model_free(m);
    dst_pool_stop(pool);
    free(x);
    free(y);
    return out;
}

static int t_threads_same_params(const char *what, const dst_layer_desc *layers, int count, int c, int h, int w,
                                 int distill)
{
    size_t n0 = 0, n1 = 0;
    float *p0 = t_threads_train(layers, count, c, h, w, 0, &n0, distill);
    int r;
    T_CHECK(p0 != NULL);
    for (r = 0; r < T_THREAD_RUNS; ++r) {
        float *p1 = t_threads_train(layers, count, c, h, w, t_thread_counts[r], &n1, distill);
        int same = p1 && n1 == n0 && memcmp(p0, p1, n0 * sizeof(float)) == 0;
        free(p1);
        if (!same) free(p0);
        T_CHECK_MSG(same, "%s: threads %d trains other bits", what, t_thread_counts[r]);
    }
    free(p0);
    return 0;
}

static int test_threads_models_same_bits(void)
{
    /* 143k parameters: the optimizer and the finiteness check run in 5 blocks */
    dst_layer_desc mlp[6] = { dst_dense(512), dst_relu(), dst_dropout(0.2f), dst_dense(80), dst_tanh(), dst_dense(3) };
    dst_layer_desc cnn[11] = { dst_conv2d(8, 3, 1, 1), dst_batchnorm(), dst_relu(), dst_maxpool2d(2, 0, 0),
                             dst_conv2d(16, 3, 1, 1), dst_relu(), dst_depthwise_conv2d(16, 3, 1, 1),
                             dst_avgpool2d(2, 0, 0), dst_dropout2d(0.1f), dst_flatten(), dst_dense(3) };
    if (t_quick()) printf("    DST_TEST_QUICK: 100 samples, not 300 (4 steps of training each time, not 10)\n");
    if (t_threads_same_params("MLP on labels", mlp, 6, 1, 1, 200, 0)) return 1;
    if (t_threads_same_params("MLP distilled", mlp, 6, 1, 1, 200, 1)) return 1;
    dst_layer_desc wino[7] = { dst_conv2d(8, 3, 1, 1), dst_relu(), dst_conv2d(16, 3, 1, 1), dst_relu(),
                              dst_global_avgpool(), dst_flatten(), dst_dense(3) };
    if (t_threads_same_params("CNN on labels", cnn, 11, 2, 16, 16, 0)) return 1;
    /* groups of 4 samples of 8 x 8 tiles: Winograd where the level has it */
    if (t_threads_same_params("CNN with Winograd, distilled", wino, 7, 2, 16, 16, 1)) return 1;
    printf("    MLP (labels, distilled) and CNNs (labels; Winograd, distilled): threads 1, 2, 3, 4, 7 and a scrambled\n"
           "    hook train the same bits\n");
    return 0;
}

static int test_threads_set_threads_errors(void)
{
    dst_layer_desc mlp[3] = { dst_dense(16), dst_relu(), dst_dense(3) };
    dst_model *m = t_cnn(mlp, 3, 1, 1, 20, 1);
    dst_threads bad = { NULL, NULL, 4 }, wide = { t_scrambled_for, NULL, 3 };
    long live = t_alloc_live;
    int fail_at;
    T_CHECK(m != NULL);
    T_CHECK(dst_model_set_threads(NULL, NULL) == DST_ERR_ARG);
    T_CHECK(dst_model_set_threads(m, &bad) == DST_ERR_ARG);
    wide.width = 0;
    T_CHECK(dst_model_set_threads(m, &wide) == DST_ERR_ARG);
    wide.width = 3;
    for (fail_at = 1; fail_at <= 3; ++fail_at) {
        t_alloc_fail_at = t_alloc_count + fail_at;
        T_CHECK(dst_model_set_threads(m, &wide) == DST_ERR_NOMEM);
        t_alloc_fail_at = 0;
        T_CHECK(t_alloc_live == live); /* nothing leaked, the model still works alone */
    }
    T_CHECK(dst_model_set_threads(m, &wide) == DST_OK);
    T_CHECK(dst_model_set_threads(m, NULL) == DST_OK); /* back to the calling thread */
    T_CHECK(t_alloc_live == live);
    dst_model_free(m);
    return 0;
}

#if !defined(DST_NO_THREADS)
/* a user's thread: Win32 or POSIX */
#if defined(_WIN32)
typedef HANDLE t_thread;
#define T_THREAD_FN(name, arg) static DWORD WINAPI name(LPVOID arg)
#define T_THREAD_RETURN return 0
static int t_thread_start(t_thread *t, LPTHREAD_START_ROUTINE fn, void *arg)
{
    return (*t = CreateThread(NULL, 0, fn, arg, 0, NULL)) != NULL;
}
static void t_thread_join(t_thread t) { WaitForSingleObject(t, INFINITE); CloseHandle(t); }
#else
typedef pthread_t t_thread;
#define T_THREAD_FN(name, arg) static void *name(void *arg)
#define T_THREAD_RETURN return NULL
static int t_thread_start(t_thread *t, void *(*fn)(void *), void *arg) { return pthread_create(t, NULL, fn, arg) == 0; }
static void t_thread_join(t_thread t) { pthread_join(t, NULL); }
#endif

typedef struct t_user_thread {
    int threads;
    float *params;
    size_t n;
} t_user_thread;

static void t_user_train(t_user_thread *u)
{
    dst_layer_desc mlp[3] = { dst_dense(64), dst_relu(), dst_dense(3) };
    u->params = t_threads_train(mlp, 3, 1, 1, 50, u->threads, &u->n, 0);
}

T_THREAD_FN(t_user_thread_main, arg)
{
    t_user_train((t_user_thread *)arg);
    T_THREAD_RETURN;
}

/* Two user threads train a model each, each with a pool of its own. */
static int test_threads_two_models_at_once(void)
{
    t_thread th[2];
    t_user_thread u[2];
    size_t n0 = 0;
    float *p0;
    int i, ok = 1;
    {
        t_user_thread alone;
        alone.threads = 0;
        t_user_train(&alone);
        p0 = alone.params;
        n0 = alone.n;
    }
    T_CHECK(p0 != NULL);
    for (i = 0; i < 2; ++i) {
        u[i].threads = 2 + i;
        u[i].params = NULL;
        if (!t_thread_start(&th[i], t_user_thread_main, &u[i])) { free(p0); T_CHECK(0); }
    }
    for (i = 0; i < 2; ++i) t_thread_join(th[i]);
    for (i = 0; i < 2; ++i) {
        ok = ok && u[i].params && u[i].n == n0 && memcmp(u[i].params, p0, n0 * sizeof(float)) == 0;
        free(u[i].params);
    }
    free(p0);
    T_CHECK_MSG(ok, "two models trained at once differ from one trained alone");
    return 0;
}
#endif

static const t_case thread_tests[] = {
    { "threads_pool_lifecycle", test_threads_pool_lifecycle },
    { "threads_sgemm_same_bits", test_threads_sgemm_same_bits },
    { "threads_models_same_bits", test_threads_models_same_bits },
    { "threads_set_threads_errors", test_threads_set_threads_errors },
#if !defined(DST_NO_THREADS)
    { "threads_two_models_at_once", test_threads_two_models_at_once },
#endif
};

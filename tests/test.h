/* tests/test.h - the test runner's few pieces: checks, random data, fixtures.
   The runner (run.c) includes every tests/test_*.c into one program. */
#ifndef TEST_H
#define TEST_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <float.h>

typedef struct t_case { const char *name; int (*fn)(void); } t_case;

#if defined(__GNUC__)
#define T_MAYBE_UNUSED __attribute__((unused))
#else
#define T_MAYBE_UNUSED
#endif

/* A failed check prints where and returns 1 from the test. */
#define T_CHECK(cond)                                                                 \
    do {                                                                              \
        if (!(cond)) {                                                                \
            printf("    check failed %s:%d: %s\n", __FILE__, __LINE__, #cond);        \
            return 1;                                                                 \
        }                                                                             \
    } while (0)

#define T_CHECK_MSG(cond, ...)                                                        \
    do {                                                                              \
        if (!(cond)) {                                                                \
            printf("    check failed %s:%d: %s: ", __FILE__, __LINE__, #cond);        \
            printf(__VA_ARGS__);                                                      \
            printf("\n");                                                             \
            return 1;                                                                 \
        }                                                                             \
    } while (0)

/* |a - b| <= atol + rtol * |b| elementwise; prints the worst element */
static int t_close(const float *a, const float *b, size_t n, float rtol, float atol, const char *what)
{
    size_t i, worst = 0;
    double worst_excess = 0;
    for (i = 0; i < n; ++i) {
        double d = fabs((double)a[i] - (double)b[i]), lim = atol + rtol * fabs((double)b[i]);
        if (!(d <= lim) && (d - lim > worst_excess || worst_excess == 0)) { worst_excess = d - lim + 1e-30; worst = i; }
    }
    if (worst_excess > 0) {
        printf("    %s: element %lu of %lu: got %.9g expected %.9g\n", what, (unsigned long)worst,
               (unsigned long)n, (double)a[worst], (double)b[worst]);
        return 0;
    }
    return 1;
}

/* The vector kernels round every float operation to float; the plain C
   loops do the same where the compiler computes float in float
   (FLT_EVAL_METHOD 0), and then the two give the same bits. x87 code
   (32-bit x86 without -mfpmath=sse: FLT_EVAL_METHOD 2) keeps the plain
   loops' intermediates in long double, so there the same operations round
   less often: t_plain_c_bits compares bit for bit where the bits are the
   contract and within float rounding (1e-6 relative) where they cannot be,
   and says so the first time.
   The same wider evaluation covers constants: under FLT_EVAL_METHOD 2 the
   constant 0.1f keeps long double's precision and differs from the float
   0.1f, so a test compares a float with == against (float)0.1f. */
#if defined(FLT_EVAL_METHOD)
#define T_FLT_EVAL_METHOD FLT_EVAL_METHOD
#else
#define T_FLT_EVAL_METHOD 0 /* tcc 0.9.27's <float.h> leaves it out; it computes float in float on x86-64 */
#endif
#define T_PLAIN_C_ROUNDS_AS_SIMD (T_FLT_EVAL_METHOD == 0)
static T_MAYBE_UNUSED int t_plain_c_bits(const float *simd, const float *plain, size_t n, const char *what)
{
    static int told;
    size_t i;
    for (i = 0; i < n; ++i) {
        double d = fabs((double)simd[i] - (double)plain[i]);
        if (memcmp(&simd[i], &plain[i], sizeof(float)) == 0) continue;
        if (!T_PLAIN_C_ROUNDS_AS_SIMD && d <= 1e-5 * fabs((double)plain[i]) + 1e-6) {
            if (!told++)
                printf("    FLT_EVAL_METHOD %d: plain C keeps wider intermediates than the vector kernels, so\n"
                       "    they match it within float rounding here, not bit for bit (first: %s)\n",
                       (int)T_FLT_EVAL_METHOD, what);
            continue;
        }
        printf("    %s: element %lu of %lu: %.9g vs %.9g (plain C)\n", what, (unsigned long)i, (unsigned long)n,
               (double)simd[i], (double)plain[i]);
        return 0;
    }
    return 1;
}

/* DST_TEST_QUICK set (and not "0"): the tests on real data (Fashion-MNIST)
   train on fewer images and the threads tests do less of the same work
   (threads_sgemm_same_bits without its largest product, threads_models_same_bits
   fewer steps), for emulated platforms where the full runs take minutes
   (make test-s390x). Each says what it shortened; its checks stay, with
   thresholds measured for the shorter run. */
static T_MAYBE_UNUSED int t_quick(void)
{
    const char *q = getenv("DST_TEST_QUICK");
    return q && *q && strcmp(q, "0") != 0;
}

/* a tiny deterministic generator for test data (not the library's) */
/* every SIMD level dst_simd_force accepts here, scalar first; back to AUTO after */
static T_MAYBE_UNUSED int t_simd_levels(dst_simd *out)
{
    static const dst_simd all[] = { DST_SIMD_SCALAR, DST_SIMD_SSE2, DST_SIMD_AVX2, DST_SIMD_AVX512, DST_SIMD_NEON };
    int i, n = 0;
    for (i = 0; i < (int)(sizeof all / sizeof all[0]); ++i)
        if (dst_simd_force(all[i]) == DST_OK) out[n++] = all[i];
    dst_simd_force(DST_SIMD_AUTO);
    return n;
}

static unsigned long long t_seed = 12345;
static float t_rand(void) /* uniform [-1, 1) */
{
    t_seed = t_seed * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((t_seed >> 40) & 0xFFFFFF) / 8388608.0f - 1.0f;
}
static void t_fill(float *p, size_t n, float scale)
{
    size_t i;
    for (i = 0; i < n; ++i) p[i] = t_rand() * scale;
}

/* ---- fixtures: files written by tests/gen_fixtures.py ---------------------
   A fixture file is a list of named float32 arrays, little-endian:
     u32 name_len, name bytes, u32 ndim, u32 dims[ndim], f32 data[prod(dims)]
   repeated to the end of the file. */
typedef struct t_array { char name[64]; int ndim; int dims[8]; size_t count; float *data; } t_array;
typedef struct t_fixture { int n; t_array arr[256]; } t_fixture;

static const char *t_fixture_dir = "tests/fixtures";

static unsigned t_u32(const unsigned char *p) { return p[0] | (p[1] << 8) | (p[2] << 16) | ((unsigned)p[3] << 24); }

static void t_fixture_free(t_fixture *fx)
{
    int i;
    for (i = 0; i < fx->n; ++i) free(fx->arr[i].data);
    fx->n = 0;
}

/* Loads tests/fixtures/NAME.bin; returns 0 and prints why on failure. */
T_MAYBE_UNUSED static int t_fixture_load(const char *name, t_fixture *fx)
{
    char path[512];
    FILE *f;
    unsigned char hdr[4];
    memset(fx, 0, sizeof *fx);
    snprintf(path, sizeof path, "%s/%s.bin", t_fixture_dir, name);
    if (!(f = fopen(path, "rb"))) { printf("    cannot open fixture %s\n", path); return 0; }
    while (fread(hdr, 1, 4, f) == 4 && fx->n < 256) {
        t_array *a = &fx->arr[fx->n];
        unsigned len = t_u32(hdr), d;
        size_t i;
        if (len >= sizeof a->name || fread(a->name, 1, len, f) != len) goto bad;
        a->name[len] = 0;
        if (fread(hdr, 1, 4, f) != 4 || (a->ndim = (int)t_u32(hdr)) > 8) goto bad;
        a->count = 1;
        for (d = 0; d < (unsigned)a->ndim; ++d) {
            if (fread(hdr, 1, 4, f) != 4) goto bad;
            a->dims[d] = (int)t_u32(hdr);
            a->count *= (size_t)a->dims[d];
        }
        a->data = (float *)malloc(a->count * sizeof(float) + 4);
        fx->n++;
        for (i = 0; i < a->count; ++i) {
            unsigned u;
            if (fread(hdr, 1, 4, f) != 4) goto bad;
            u = t_u32(hdr);
            memcpy(&a->data[i], &u, 4);
        }
    }
    fclose(f);
    return 1;
bad:
    printf("    fixture %s is malformed\n", path);
    fclose(f);
    t_fixture_free(fx);
    return 0;
}

/* The array called name, or NULL (and a message). */
T_MAYBE_UNUSED static t_array *t_get(t_fixture *fx, const char *name)
{
    int i;
    for (i = 0; i < fx->n; ++i)
        if (strcmp(fx->arr[i].name, name) == 0) return &fx->arr[i];
    printf("    fixture has no array '%s'\n", name);
    return NULL;
}

/* C = alpha op(A) op(B) + beta C in double */
T_MAYBE_UNUSED static void t_gemm_double(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                          const float *b, int ldb, float beta, float *c, int ldc)
{
    int i, j, p;
    for (i = 0; i < m; ++i)
        for (j = 0; j < n; ++j) {
            double s = 0;
            for (p = 0; p < k; ++p)
                s += (double)(ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p]) *
                     (tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j]);
            c[(size_t)i * ldc + j] = (float)(alpha * s + (beta == 0 ? 0 : beta * (double)c[(size_t)i * ldc + j]));
        }
}

#endif

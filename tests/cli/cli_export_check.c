/* tests/cli/cli_export_check.c - checks the C that `distill export-c` writes
   against the library, model by model, on ordinary and on extreme inputs.
     cli_export_check DIR
   Built by tests/cli/test_cli.sh with -I to a folder holding the exported
   headers and models.h, which includes them and lists them as
   EXPORTED = X(name, NAME) ...; DIR holds name.bin for each.
   Every model runs on 16 random inputs and on inputs holding NaN, +-inf,
   +-1e30 and +-1e-40 (denormal): at one position, at an eighth of the
   positions, at every position, and all of them mixed. Its outputs are
   compared with dst_model_forward one sample at a time and with
   dst_model_predict on the whole set at once, at every SIMD level this CPU
   has. The rule, per output c of the export and d of the library:
     NaN exactly where the library gives NaN, the same infinities, and
     |c - d| <= 1e-5 * max |d_k|, the largest finite output of the sample.
   An int8 model (dst_model_quantize) is held to more: the export's outputs
   are the library's bit for bit, at every level (its integer sums are
   exact and its float steps the same operations in the same order).
   The library's scalar level is its reference. Where a SIMD level of the
   library itself puts a NaN or an infinity elsewhere than its scalar
   reference (Winograd's transforms subtract inputs, so an infinite input
   can give inf - inf = NaN where the direct sum gives inf), that output is
   counted in a note, not held against the export.
   A model that carries an input normalisation (its metadata) gets raw
   inputs in the export; the library gets them normalised as
   dst_model_normalize does, after the scale.
   One line per model: "ok NAME ..." or "FAIL NAME ...". */
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
#define DISTILL_IMPLEMENTATION
#include "distill.h"
#include "models.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REL_BOUND 1e-5
#define RANDOM_SAMPLES 16

typedef struct exported {
    const char *name;
    void (*predict)(const float *in, float *out);
    void (*predict_scratch)(const float *in, float *out, float *scratch);
    size_t in, out, scratch;
} exported;

#define X(name, upper)                                                                            \
    { #name, name##_predict, name##_predict_scratch, upper##_INPUT_C * upper##_INPUT_H * upper##_INPUT_W, \
      upper##_OUTPUTS, upper##_SCRATCH_FLOATS },
static const exported models[] = { EXPORTED };
#undef X

typedef struct worst {
    double rel;       /* the largest |c - d| / max |d_k| seen */
    int bad;          /* outputs that broke the rule */
    long library;     /* outputs where a SIMD level of the library left its scalar reference */
    char first[256];  /* the first of them, in words */
    int normalised;   /* 1: the model carries an input normalisation, applied by the export */
    int exact;        /* 1: an int8 model: the same bits required */
} worst;

static int is_nan(float v) { return v != v; }
static int is_inf(float v) { return v == v && v - v != 0; }

/* 0 finite, 1 NaN, 2 +inf, 3 -inf */
static int kind_of(float v) { return is_nan(v) ? 1 : is_inf(v) ? (v > 0 ? 2 : 3) : 0; }

/* Compares one sample's outputs c (export) with d (library); ref is the
   library's scalar reference for the sample. */
static void compare(const float *c, const float *d, const float *ref, size_t n, const char *what, int sample,
                    worst *w)
{
    double scale = 0;
    size_t k;
    for (k = 0; k < n; ++k)
        if (!is_nan(d[k]) && !is_inf(d[k]) && fabs((double)d[k]) > scale) scale = fabs((double)d[k]);
    for (k = 0; k < n; ++k) {
        int ok;
        if (w->exact) ok = memcmp(&c[k], &d[k], sizeof c[k]) == 0 && memcmp(&d[k], &ref[k], sizeof d[k]) == 0;
        else if (kind_of(d[k]) != kind_of(ref[k])) { w->library++; continue; }
        else if (is_nan(d[k]) || is_nan(c[k])) ok = is_nan(d[k]) && is_nan(c[k]);
        else if (is_inf(d[k]) || is_inf(c[k])) ok = c[k] == d[k];
        else {
            double diff = fabs((double)c[k] - (double)d[k]);
            ok = diff <= REL_BOUND * scale;
            if (scale > 0 && diff / scale > w->rel) w->rel = diff / scale;
        }
        if (!ok && w->bad++ == 0)
            snprintf(w->first, sizeof w->first, "%s, sample %d, output %lu: export %.9g, library %.9g", what, sample,
                     (unsigned long)k, (double)c[k], (double)d[k]);
    }
}

/* The inputs: random values in [-2, 2], then the extreme ones. */
static float *make_inputs(size_t in, int *count)
{
    const float extremes[7] = { NAN, INFINITY, -INFINITY, 1e30f, -1e30f, 1e-40f, -1e-40f }; /* (not static:
                                              tcc's NAN is 0.0f / 0.0f, no constant) */
    int e, s = 0, total = RANDOM_SAMPLES + 3 * 7 + 1;
    size_t i;
    float *x = (float *)malloc((size_t)total * in * sizeof(float));
    dst_rng rng;
    if (!x) return NULL;
    dst_rng_seed(&rng, 7);
    for (i = 0; i < (size_t)total * in; ++i) x[i] = 4 * dst_rng_uniform(&rng) - 2;
    s = RANDOM_SAMPLES;
    for (e = 0; e < 7; ++e, s += 3) {
        float *one = x + (size_t)s * in, *some = one + in, *all = some + in;
        one[dst_rng_below(&rng, in)] = extremes[e];
        for (i = 0; i < in; ++i) {
            if (dst_rng_below(&rng, 8) == 0) some[i] = extremes[e];
            all[i] = extremes[e];
        }
    }
    for (i = 0; i < in; ++i) /* the last sample: a quarter of the positions, any extreme value */
        if (dst_rng_below(&rng, 4) == 0) x[(size_t)s * in + i] = extremes[dst_rng_below(&rng, 7)];
    *count = total;
    return x;
}

static int check_model(const exported *e, const char *dir)
{
    char path[1024], what[64];
    dst_model *m;
    dst_error err;
    float *x, *got, *want, *ref, *scratch;
    const float *out;
    int count, s, level, levels = 0;
    worst w;
    memset(&w, 0, sizeof w);
    snprintf(path, sizeof path, "%s/%s.bin", dir, e->name);
    if (dst_model_load(&m, path, &err) != DST_OK) { printf("FAIL %s: %s\n", e->name, err.message); return 1; }
    if (dst_model_input_size(m) != e->in || dst_model_output_size(m) != e->out) {
        printf("FAIL %s: the header does not describe %s\n", e->name, path);
        dst_model_free(m);
        return 1;
    }
    w.exact = dst_model_is_quantized(m);
    x = make_inputs(e->in, &count);
    got = (float *)malloc((size_t)count * e->out * sizeof(float));
    want = (float *)malloc((size_t)count * e->out * sizeof(float));
    ref = (float *)malloc((size_t)count * e->out * sizeof(float));
    scratch = (float *)malloc(e->scratch * sizeof(float));
    if (!x || !got || !want || !ref || !scratch) { printf("FAIL %s: out of memory\n", e->name); return 1; }
    for (s = 0; s < count; ++s) {
        if (s % 2) e->predict(x + (size_t)s * e->in, got + (size_t)s * e->out);
        else e->predict_scratch(x + (size_t)s * e->in, got + (size_t)s * e->out, scratch);
    }
    {   /* the export takes raw inputs: the library gets them normalised as the model's metadata says */
        float scale;
        size_t i;
        if (dst_model_normalization(m, &scale, NULL, NULL, 0) > 0) {
            for (i = 0; i < (size_t)count * e->in; ++i) x[i] *= scale;
            if (dst_model_normalize(m, x, (size_t)count) != DST_OK) { printf("FAIL %s: %s\n", e->name, dst_model_error(m)); return 1; }
            ++w.normalised;
        }
    }
    for (level = DST_SIMD_SCALAR; level <= DST_SIMD_NEON; ++level) {
        if (dst_simd_force((dst_simd)level) != DST_OK) continue;
        ++levels;
        for (s = 0; s < count; ++s) {
            if (dst_model_forward(m, x + (size_t)s * e->in, 1, 0, &out) != DST_OK) {
                printf("FAIL %s: %s\n", e->name, dst_model_error(m));
                return 1;
            }
            if (level == DST_SIMD_SCALAR) memcpy(ref + (size_t)s * e->out, out, e->out * sizeof(float));
            snprintf(what, sizeof what, "%s, forward", dst_simd_name((dst_simd)level));
            compare(got + (size_t)s * e->out, out, ref + (size_t)s * e->out, e->out, what, s, &w);
        }
        if (dst_model_predict(m, x, (size_t)count, want) != DST_OK) {
            printf("FAIL %s: %s\n", e->name, dst_model_error(m));
            return 1;
        }
        snprintf(what, sizeof what, "%s, predict of %d", dst_simd_name((dst_simd)level), count);
        for (s = 0; s < count; ++s)
            compare(got + (size_t)s * e->out, want + (size_t)s * e->out, ref + (size_t)s * e->out, e->out, what, s, &w);
    }
    dst_simd_force(DST_SIMD_AUTO);
    if (w.bad) printf("FAIL %s: %d outputs differ; first: %s\n", e->name, w.bad, w.first);
    else if (w.exact)
        printf("ok %s: int8, %d %sinputs x %lu outputs at %d SIMD levels, the library's bits\n", e->name, count,
               w.normalised ? "raw (normalised inside) " : "", (unsigned long)e->out, levels);
    else
        printf("ok %s: %d %sinputs x %lu outputs at %d SIMD levels, NaN and infinities as the library's, "
               "largest relative difference %.2g\n", e->name, count, w.normalised ? "raw (normalised inside) " : "",
               (unsigned long)e->out, levels, w.rel);
    if (w.library)
        printf("note %s: on %ld outputs a SIMD level of the library puts NaN or infinity elsewhere than its "
               "scalar reference\n", e->name, w.library);
    free(x);
    free(got);
    free(want);
    free(ref);
    free(scratch);
    dst_model_free(m);
    return w.bad != 0;
}

int main(int argc, char **argv)
{
    int i, bad = 0;
    if (argc != 2) { fprintf(stderr, "usage: cli_export_check DIR\n"); return 2; }
    for (i = 0; i < (int)(sizeof models / sizeof models[0]); ++i) bad |= check_model(&models[i], argv[1]);
    return bad;
}

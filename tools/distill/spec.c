/* tools/distill/spec.c - the SPEC grammar: a sequential model in one line of
   text, parsed into layer descriptions with the position of every error.
   Part of the distill command (built through distill.c). */
#include "cli.h"

/* ==== SPEC: a sequential model in one line ================================

   SPEC   = layer { "," layer }
   layer  = name { ":" value }
   dense:N                 fully connected, N outputs
   conv:C:K[:S[:P]]        convolution, C channels, K x K kernel, stride S (1),
                           padding P (0) or "same" (K / 2, odd K, stride 1)
   dwconv:K[:S[:P]]        depthwise convolution, one K x K filter per channel
   maxpool:K[:S]           max pooling, stride S (K)
   avgpool:K[:S]           average pooling
   gap                     global average pooling (C x H x W -> C)
   bn                      batch normalization (also "batchnorm")
   flatten
   dropout:R  dropout2d:R  rate R in [0, 1)
   relu  leaky[:S]  sigmoid  tanh  gelu      activations (leaky slope 0.01)
   Spaces around names and values are ignored. Positions in messages count
   characters from 1. */

typedef struct spec_field { const char *s; int n, pos; } spec_field;

static int spec_error(char *msg, size_t cap, int pos, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(msg, cap, "position %d: ", pos);
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < cap) vsnprintf(msg + n, cap - (size_t)n, fmt, ap);
    va_end(ap);
    return 0;
}

static int field_is(const spec_field *f, const char *name)
{
    return (int)strlen(name) == f->n && strncmp(f->s, name, (size_t)f->n) == 0;
}

static int spec_int(const spec_field *f, const char *what, long lo, long hi, int *out, char *msg, size_t cap)
{
    long v = 0;
    int i;
    if (f->n == 0) return spec_error(msg, cap, f->pos, "%s is empty", what);
    for (i = 0; i < f->n; ++i) {
        if (f->s[i] < '0' || f->s[i] > '9')
            return spec_error(msg, cap, f->pos + i, "%s '%.*s' is not a whole number", what, f->n, f->s);
        if (v <= hi) v = v * 10 + (f->s[i] - '0');
    }
    if (v < lo || v > hi) return spec_error(msg, cap, f->pos, "%s %.*s is out of range (%ld to %ld)", what, f->n, f->s, lo, hi);
    *out = (int)v;
    return 1;
}

static int spec_real(const spec_field *f, const char *what, double lo, double hi, int hi_open, float *out,
                     char *msg, size_t cap)
{
    char buf[64], *end;
    double v;
    if (f->n == 0) return spec_error(msg, cap, f->pos, "%s is empty", what);
    if (f->n >= (int)sizeof buf) return spec_error(msg, cap, f->pos, "%s is too long", what);
    memcpy(buf, f->s, (size_t)f->n);
    buf[f->n] = 0;
    v = strtod(buf, &end);
    if (*end || v != v || v - v != 0)
        return spec_error(msg, cap, f->pos + (int)(end - buf), "%s '%s' is not a number", what, buf);
    if (v < lo || (hi_open ? v >= hi : v > hi))
        return spec_error(msg, cap, f->pos, "%s %s is out of range (%g to %g%s)", what, buf, lo, hi,
                          hi_open ? ", not included" : "");
    *out = (float)v;
    return 1;
}

/* Parses text into sp. in_channels is the data's (for dwconv). Returns 1, or
   0 with msg = "position P: what is wrong". */
static int spec_parse(const char *text, int in_channels, spec *sp, char *msg, size_t cap)
{
    static const char *known = "dense, conv, dwconv, maxpool, avgpool, gap, bn, flatten, dropout, dropout2d, "
                               "relu, leaky, sigmoid, tanh, gelu";
    const char *p = text;
    int channels = in_channels;
    memset(sp, 0, sizeof *sp);
    if (!*text) return spec_error(msg, cap, 1, "the SPEC is empty; e.g. dense:128,relu,dense:10");
    for (;;) {
        spec_field f[SPEC_MAX_FIELDS + 1];
        int nf = 0, nargs, i;
        const char *item = p, *end = p;
        dst_layer_desc L;
        while (*end && *end != ',') ++end;
        /* split item..end at ':' and trim spaces */
        for (;;) {
            const char *a = p, *b;
            while (p < end && *p != ':') ++p;
            b = p;
            while (a < b && *a == ' ') ++a;
            while (b > a && b[-1] == ' ') --b;
            if (nf == SPEC_MAX_FIELDS + 1) {
                f[nf - 1].s = a; /* keep only the position of the extra field */
                f[nf - 1].pos = (int)(a - text) + 1;
            } else {
                f[nf].s = a;
                f[nf].n = (int)(b - a);
                f[nf].pos = (int)(a - text) + 1;
                ++nf;
            }
            if (p == end) break;
            ++p;
        }
        if (f[0].n == 0)
            return spec_error(msg, cap, f[0].pos, *item == ',' || item == end ? "empty layer (two commas, or a comma at an end)"
                                                                             : "a layer name is missing before ':'");
        if (sp->count == SPEC_MAX_LAYERS) return spec_error(msg, cap, f[0].pos, "more than %d layers", SPEC_MAX_LAYERS);
        nargs = nf - 1;
        memset(&L, 0, sizeof L);
#define SPEC_ARGS(min, max, example)                                                                        \
    do {                                                                                                    \
        if (nargs < (min))                                                                                  \
            return spec_error(msg, cap, f[nf - 1].pos + f[nf - 1].n, "%.*s needs %d value%s, e.g. %s",      \
                              f[0].n, f[0].s, (min), (min) == 1 ? "" : "s", example);                       \
        if (nargs > (max))                                                                                  \
            return spec_error(msg, cap, f[(max) + 1].pos, "%.*s takes at most %d value%s, e.g. %s", f[0].n, \
                              f[0].s, (max), (max) == 1 ? "" : "s", example);                               \
    } while (0)
        if (field_is(&f[0], "dense")) {
            SPEC_ARGS(1, 1, "dense:128");
            L = dst_dense(0);
            if (!spec_int(&f[1], "dense size", 1, 1 << 20, &L.units, msg, cap)) return 0;
            channels = L.units;
        } else if (field_is(&f[0], "conv") || field_is(&f[0], "dwconv")) {
            int dw = f[0].n == 6, k, s = 1, pad = 0, a = 1;
            if (dw) SPEC_ARGS(1, 3, "dwconv:3 or dwconv:3:1:same");
            else SPEC_ARGS(2, 4, "conv:32:3 or conv:32:3:1:same");
            if (dw) L = dst_depthwise_conv2d(channels, 1, 1, 0);
            else {
                L = dst_conv2d(0, 1, 1, 0);
                if (!spec_int(&f[1], "conv channels", 1, 1 << 16, &L.units, msg, cap)) return 0;
                a = 2;
            }
            if (!spec_int(&f[a], "kernel", 1, 1024, &k, msg, cap)) return 0;
            if (nargs > a && !spec_int(&f[a + 1], "stride", 1, 1024, &s, msg, cap)) return 0;
            if (nargs > a + 1) {
                if (field_is(&f[a + 2], "same")) {
                    if (k % 2 == 0 || s != 1)
                        return spec_error(msg, cap, f[a + 2].pos, "'same' padding needs an odd kernel and stride 1");
                    pad = k / 2;
                } else if (!spec_int(&f[a + 2], "padding", 0, 1024, &pad, msg, cap)) return 0;
            }
            L.kernel_h = L.kernel_w = k;
            L.stride_h = L.stride_w = s;
            L.pad_h = L.pad_w = pad;
            if (!dw) channels = L.units;
        } else if (field_is(&f[0], "maxpool") || field_is(&f[0], "avgpool")) {
            int k, s = 0;
            SPEC_ARGS(1, 2, "maxpool:2");
            if (!spec_int(&f[1], "pool size", 1, 1024, &k, msg, cap)) return 0;
            if (nargs > 1 && !spec_int(&f[2], "stride", 1, 1024, &s, msg, cap)) return 0;
            L = f[0].s[0] == 'm' ? dst_maxpool2d(k, s, 0) : dst_avgpool2d(k, s, 0);
        } else if (field_is(&f[0], "dropout") || field_is(&f[0], "dropout2d")) {
            float r;
            SPEC_ARGS(1, 1, "dropout:0.5");
            if (!spec_real(&f[1], "dropout rate", 0, 1, 1, &r, msg, cap)) return 0;
            L = f[0].n == 7 ? dst_dropout(r) : dst_dropout2d(r);
        } else if (field_is(&f[0], "leaky")) {
            float slope = 0.01f;
            SPEC_ARGS(0, 1, "leaky or leaky:0.1");
            if (nargs == 1 && !spec_real(&f[1], "slope", -1e6, 1e6, 0, &slope, msg, cap)) return 0;
            L = dst_leaky_relu(slope);
        } else {
            static const struct { const char *name; dst_layer_desc (*make)(void); } simple[] = {
                { "relu", dst_relu }, { "sigmoid", dst_sigmoid }, { "tanh", dst_tanh }, { "gelu", dst_gelu },
                { "gap", dst_global_avgpool }, { "bn", dst_batchnorm }, { "batchnorm", dst_batchnorm },
                { "flatten", dst_flatten } };
            for (i = 0; i < (int)(sizeof simple / sizeof simple[0]); ++i)
                if (field_is(&f[0], simple[i].name)) break;
            if (i == (int)(sizeof simple / sizeof simple[0])) {
                if (field_is(&f[0], "softmax"))
                    return spec_error(msg, cap, f[0].pos, "leave softmax out: the model ends in logits "
                                                          "(the losses and predict apply softmax)");
                return spec_error(msg, cap, f[0].pos, "unknown layer '%.*s' (known: %s)", f[0].n, f[0].s, known);
            }
            SPEC_ARGS(0, 0, simple[i].name);
            L = simple[i].make();
        }
#undef SPEC_ARGS
        sp->layers[sp->count] = L;
        sp->pos[sp->count] = (int)(item - text) + 1;
        sp->len[sp->count] = (int)(end - item);
        sp->count++;
        if (!*end) break;
        p = end + 1;
        if (!*p) return spec_error(msg, cap, (int)(p - text) + 1, "empty layer (two commas, or a comma at an end)");
    }
    return 1;
}

/* The index of the activation the SPEC ends in (dropout and flatten looked
   through), or -1: the last layer's outputs are the logits, and an
   activation there bounds them (relu, sigmoid, ...), which rarely helps. */
static int spec_final_activation(const spec *sp)
{
    int i;
    for (i = sp->count - 1; i >= 0; --i) {
        dst_layer_kind k = sp->layers[i].kind;
        if (k == DST_LAYER_DROPOUT || k == DST_LAYER_DROPOUT2D || k == DST_LAYER_FLATTEN) continue;
        return k == DST_LAYER_RELU || k == DST_LAYER_LEAKY_RELU || k == DST_LAYER_SIGMOID || k == DST_LAYER_TANH ||
                       k == DST_LAYER_GELU
                   ? i
                   : -1;
    }
    return -1;
}

/* tools/distill/export_int8.c - export-c of an int8 model (dst_model_quantize):
   int8 weights, int32 biases, the per-channel requantization multipliers and
   integer code, whose outputs equal the library's int8 outputs bit for bit
   (checked by tests/cli/cli_export_check.c). The code does what distill.h's
   >>int8 and >>quantize sections do, in plain C: the same integer sums (exact
   in any order, so a direct loop serves), the same float operations in the
   same order where floats appear (quantizing the input, requantizing, the
   last layer's float output, dequantizing). A layer that runs in float
   inside the int8 model (an activation other than ReLU, softmax, a batch
   norm that did not fold) is written
   as the library runs it: its uint8 input dequantized, export.c's float
   code, the result quantized (or given out, the last layer), which then
   also needs <math.h>.
   Part of the distill command (built through distill.c, after export.c). */
#include "cli.h"

/* The helpers of the generated code, each emitted only when a layer uses it.
   NAME__FP opens every function that computes in float: Clang's standard
   pragma, scoped to the function's body; GCC gets push_options around the
   code (it does not take the standard pragma). */
static const char *q8_quantize =
    "/* the input's quantization: real v to uint8, rounded half up once the zero point is added\n"
    "   (zh = zero + 0.5), clamped to [0, 255]; a NaN gives 0 */\n"
    "static unsigned char NAME__quantize(float v, float inv, float zh)\n"
    "{\n"
    "    NAME__FP\n"
    "    v = v * inv + zh;\n"
    "    return !(v > 0.0f) ? 0 : v >= 255.0f ? 255 : (unsigned char)v;\n"
    "}\n";
static const char *q8_requant =
    "/* an int32 sum t to the next layer's uint8: zero + (t + bias) x mult, rounded half up\n"
    "   (zh = zero + 0.5), clamped to [lo, 255] (lo: 0, or zh under a fused ReLU) */\n"
    "static unsigned char NAME__requant(int32_t t, int32_t bias, float mult, float zh, float lo)\n"
    "{\n"
    "    NAME__FP\n"
    "    float v = ((float)t + (float)bias) * mult + zh;\n"
    "    if (!(v >= lo)) v = lo;\n"
    "    if (v > 255.0f) v = 255.0f;\n"
    "    return (unsigned char)v;\n"
    "}\n"
    "/* an int32 sum t as the model's float output: (t + bias) x mult x out_scale, in double */\n"
    "static float NAME__real(int32_t t, int32_t bias, float mult, float out_scale, int relu)\n"
    "{\n"
    "    double v = (double)((int64_t)t + bias) * ((double)mult * (double)out_scale);\n"
    "    return relu && v < 0 ? 0.0f : (float)v;\n"
    "}\n";
/* q: zh lo out_scale relu (the requantization's constants) */
static const char *q8_dense =
    "/* y[o] (or yf[o], the last layer) from sum over i of x[i] w[o][i] */\n"
    "static void NAME__dense(const unsigned char *x, unsigned char *y, float *yf, const int8_t *w, const int32_t *b,\n"
    "                        const float *m, int in, int out, const float *q)\n"
    "{\n"
    "    int o, i;\n"
    "    for (o = 0; o < out; ++o) {\n"
    "        const int8_t *wr = w + (long)o * in;\n"
    "        int32_t t = 0;\n"
    "        for (i = 0; i < in; ++i) t += (int32_t)x[i] * wr[i];\n"
    "        if (yf) yf[o] = NAME__real(t, b[o], m[o], q[2], q[3] != 0.0f);\n"
    "        else y[o] = NAME__requant(t, b[o], m[o], q[0], q[1]);\n"
    "    }\n"
    "}\n";
static const char *q8_conv =
    "/* s: in_c in_h in_w out_c out_h out_w kernel_h kernel_w stride_h stride_w pad_h pad_w dil_h dil_w groups\n"
    "   in_zero; outside the input, the input's zero point (a real 0) */\n"
    "static void NAME__conv(const unsigned char *x, unsigned char *y, float *yf, const int8_t *w, const int32_t *b,\n"
    "                       const float *m, const int *s, const float *q)\n"
    "{\n"
    "    int icg = s[0] / s[14], ocg = s[3] / s[14], o, c, ky, kx, oy, ox;\n"
    "    for (o = 0; o < s[3]; ++o) {\n"
    "        const unsigned char *xg = x + (long)(o / ocg) * icg * s[1] * s[2];\n"
    "        const int8_t *wo = w + (long)o * icg * s[6] * s[7];\n"
    "        for (oy = 0; oy < s[4]; ++oy)\n"
    "            for (ox = 0; ox < s[5]; ++ox) {\n"
    "                long at = ((long)o * s[4] + oy) * s[5] + ox;\n"
    "                int32_t t = 0;\n"
    "                for (c = 0; c < icg; ++c)\n"
    "                    for (ky = 0; ky < s[6]; ++ky) {\n"
    "                        int iy = oy * s[8] - s[10] + ky * s[12];\n"
    "                        for (kx = 0; kx < s[7]; ++kx) {\n"
    "                            int ix = ox * s[9] - s[11] + kx * s[13];\n"
    "                            int v = iy < 0 || iy >= s[1] || ix < 0 || ix >= s[2] ? s[15]\n"
    "                                  : xg[((long)c * s[1] + iy) * s[2] + ix];\n"
    "                            t += v * wo[((long)c * s[6] + ky) * s[7] + kx];\n"
    "                        }\n"
    "                    }\n"
    "                if (yf) yf[at] = NAME__real(t, b[o], m[o], q[2], q[3] != 0.0f);\n"
    "                else y[at] = NAME__requant(t, b[o], m[o], q[0], q[1]);\n"
    "            }\n"
    "    }\n"
    "}\n";
static const char *q8_pool =
    "/* s: channels in_h in_w out_h out_w kernel_h kernel_w stride_h stride_w pad_h pad_w; the window\n"
    "   clipped to the input. Max: padding never wins. Mean: padding counts as the zero point (a real 0,\n"
    "   PyTorch's count_include_pad), rounded half up. The same scale in and out. */\n"
    "static void NAME__pool(const unsigned char *x, unsigned char *y, const int *s, int is_max, int zero)\n"
    "{\n"
    "    int c, oy, ox, iy, ix;\n"
    "    int64_t area = (int64_t)s[5] * s[6];\n"
    "    for (c = 0; c < s[0]; ++c)\n"
    "        for (oy = 0; oy < s[3]; ++oy)\n"
    "            for (ox = 0; ox < s[4]; ++ox) {\n"
    "                int hs = oy * s[7] - s[9], ws = ox * s[8] - s[10];\n"
    "                int h0 = hs < 0 ? 0 : hs, h1 = hs + s[5] < s[1] ? hs + s[5] : s[1];\n"
    "                int w0 = ws < 0 ? 0 : ws, w1 = ws + s[6] < s[2] ? ws + s[6] : s[2];\n"
    "                const unsigned char *xc = x + (long)c * s[1] * s[2];\n"
    "                int64_t sum = (area - (int64_t)(h1 - h0) * (w1 - w0)) * zero;\n"
    "                unsigned char best = 0;\n"
    "                for (iy = h0; iy < h1; ++iy)\n"
    "                    for (ix = w0; ix < w1; ++ix) {\n"
    "                        unsigned char v = xc[(long)iy * s[2] + ix];\n"
    "                        if (v > best) best = v;\n"
    "                        sum += v;\n"
    "                    }\n"
    "                y[((long)c * s[3] + oy) * s[4] + ox] = is_max ? best : (unsigned char)((2 * sum + area) / (2 * area));\n"
    "            }\n"
    "}\n";
static const char *q8_gap =
    "/* each plane's mean, rounded half up (the same scale in and out) */\n"
    "static void NAME__global_avgpool(const unsigned char *x, unsigned char *y, int channels, int plane)\n"
    "{\n"
    "    int c, i;\n"
    "    for (c = 0; c < channels; ++c) {\n"
    "        uint64_t s = 0;\n"
    "        for (i = 0; i < plane; ++i) s += x[(long)c * plane + i];\n"
    "        y[c] = (unsigned char)((2 * s + (uint64_t)plane) / (2 * (uint64_t)plane));\n"
    "    }\n"
    "}\n";
static const char *q8_relu =
    "/* in place: no lower than the zero point (a real 0) */\n"
    "static void NAME__relu(unsigned char *x, long n, unsigned char zero)\n"
    "{\n"
    "    long i;\n"
    "    for (i = 0; i < n; ++i) if (x[i] < zero) x[i] = zero;\n"
    "}\n";

/* an int8 layer kind's place in the helpers above; -1: not one export-c writes */
enum { Q8_DENSE, Q8_CONV, Q8_POOL, Q8_GAP, Q8_RELU, Q8_NONE, Q8_KINDS };
static int q8_kind(dst_layer_kind kind)
{
    switch (kind) {
    case DST_LAYER_DENSE: return Q8_DENSE;
    case DST_LAYER_CONV2D: return Q8_CONV;
    case DST_LAYER_MAXPOOL2D: case DST_LAYER_AVGPOOL2D: return Q8_POOL;
    case DST_LAYER_GLOBAL_AVGPOOL: return Q8_GAP;
    case DST_LAYER_RELU: return Q8_RELU;
    case DST_LAYER_FLATTEN: case DST_LAYER_DROPOUT: case DST_LAYER_DROPOUT2D: return Q8_NONE;
    default: return -1;
    }
}

static size_t layer_out_n(const dst_layer_info *li)
{
    return (size_t)li->out_c * (size_t)(li->out_h < 1 ? 1 : li->out_h) * (size_t)(li->out_w < 1 ? 1 : li->out_w);
}

/* An int8 layer's integers: weight [units][k], bias and multiplier [units]. */
static void put_q8_layer(FILE *f, const char *name, int i, const dst_layer_info *li, const dst_layer_int8 *q)
{
    size_t units = (size_t)li->desc.units, j;
    fprintf(f, "static const int8_t %s_w%d[%lu] = {", name, i, (unsigned long)li->weight_count);
    for (j = 0; j < li->weight_count; ++j)
        fprintf(f, "%s%d%s", j % 24 ? "" : "\n    ", q->weight[j], j + 1 < li->weight_count ? "," : "");
    fprintf(f, "\n};\nstatic const int32_t %s_b%d[%lu] = {", name, i, (unsigned long)units);
    for (j = 0; j < units; ++j)
        fprintf(f, "%s%ld%s", j % 8 ? " " : "\n    ", (long)q->bias[j], j + 1 < units ? "," : "");
    fputs("\n};\n", f);
    put_array(f, name, "m", i, q->multiplier, units);
}

/* The requantization's constants of a layer with integer weights:
   { zero + 0.5, lowest, out_scale, relu } as a static array in the code. */
static void put_q8_consts(FILE *f, const dst_layer_int8 *q)
{
    float zh = (float)q->out_zero + 0.5f;
    fputs("        static const float q[4] = { ", f);
    put_float(f, zh);
    fputs(", ", f);
    put_float(f, q->relu_fused ? zh : 0.0f);
    fputs(", ", f);
    put_float(f, q->out_scale);
    fprintf(f, ", %s };\n", q->relu_fused ? "1.0f" : "0.0f");
}

static void export_c_int8(FILE *f, const export_model *e)
{
    dst_model *m = e->m;
    const char *name = e->name, *upper = e->upper, *bufs[2] = { "s0", "s1" };
    int n = dst_model_layer_count(m), i, cur = 0, uses[Q8_KINDS] = { 0 }, floats_out = 0, uses_act = 0, uses_softmax = 0;
    int uses_bn = 0;
    size_t biggest = e->in_n, in_n = e->in_n, per = e->norm ? e->in_n / (size_t)e->norm : 1, floats = 0, bytes_at;
    dst_layer_int8 q;
    char buf[160];
    for (i = 0; i < n; ++i) {
        dst_layer_info li;
        int k;
        dst_model_layer(m, i, &li);
        dst_model_layer_int8(m, i, &q);
        k = q8_kind(li.desc.kind);
        if (q.in_float) { /* an activation, a softmax or a batch norm, in float between a dequantize and a quantize */
            if (activation_code(li.desc.kind) < 0 && li.desc.kind != DST_LAYER_SOFTMAX &&
                li.desc.kind != DST_LAYER_BATCHNORM)
                fail(1, "layer %d (%s) runs in float inside the int8 model, and export-c writes float layers of an int8 "
                        "model only for activations, softmax and batch norm; export-bytes embeds any model file",
                     i, dst_layer_name(li.desc.kind));
            if (li.desc.kind == DST_LAYER_SOFTMAX) uses_softmax = 1;
            else if (li.desc.kind == DST_LAYER_BATCHNORM) uses_bn = 1;
            else uses_act = 1;
            if (layer_out_n(&li) > floats) floats = layer_out_n(&li);
        } else {
            uses[k] = 1;
        }
        if (layer_out_n(&li) > biggest) biggest = layer_out_n(&li);
    }
    /* two uint8 buffers, then (float layers) a float one: the float scratch holds them (character
       access may alias any object) */
    bytes_at = (2 * biggest + sizeof(float) - 1) / sizeof(float);
    export_head(f, e, 1, bytes_at + floats);
    if (floats) fputs("#include <math.h>\n", f);
    fprintf(f, "#define %s_INT8 1\n", upper);
    fprintf(f, "/* the float arithmetic exactly as written: no contraction into FMAs */\n"
               "#if defined(__clang__)\n#define %s__FP _Pragma(\"STDC FP_CONTRACT OFF\")\n#else\n#define %s__FP\n#endif\n"
               "#if defined(__GNUC__) && !defined(__clang__)\n#pragma GCC push_options\n"
               "#pragma GCC optimize(\"fp-contract=off\")\n#endif\n\n", name, name);
    dst_model_layer_int8(m, 0, &q);
    fprintf(f, "/* the input's quantization: real = %.9g (q - %d) */\n", (double)q.in_scale, (int)q.in_zero);
    fprintf(f, "#define %s_INPUT_INV ", upper);
    put_float(f, 1.0f / q.in_scale);
    fprintf(f, "\n#define %s_INPUT_ZH ", upper);
    put_float(f, (float)q.in_zero + 0.5f);
    fputs("\n\n", f);
    for (i = 0; i < n; ++i) {
        dst_layer_info li;
        dst_model_layer(m, i, &li);
        dst_model_layer_int8(m, i, &q);
        describe_layer(&li, buf, sizeof buf);
        if (li.int8) {
            fprintf(f, "/* layer %d: %s: int8 weights [%d][%lu], int32 biases (the input's zero point %d folded in),\n"
                       "   requantization multipliers (output: real = %.9g (q - %d)) */\n", i, buf, li.desc.units,
                    (unsigned long)(li.weight_count / (size_t)li.desc.units), (int)q.in_zero, (double)q.out_scale,
                    (int)q.out_zero);
            put_q8_layer(f, name, i, &li, &q);
        } else if (q.in_float && li.desc.kind == DST_LAYER_BATCHNORM) {
            put_batchnorm(f, name, i, &li, dst_model_params(m), dst_model_buffers(m));
        }
    }
    fputc('\n', f);
    put_named(f, q8_quantize, name);
    if (uses[Q8_DENSE] || uses[Q8_CONV]) put_named(f, q8_requant, name);
    if (uses[Q8_DENSE]) put_named(f, q8_dense, name);
    if (uses[Q8_CONV]) put_named(f, q8_conv, name);
    if (uses[Q8_POOL]) put_named(f, q8_pool, name);
    if (uses[Q8_GAP]) put_named(f, q8_gap, name);
    if (uses[Q8_RELU]) put_named(f, q8_relu, name);
    if (uses_act) put_named(f, exp_act, name);
    if (uses_softmax) put_named(f, exp_softmax, name);
    if (uses_bn) put_named(f, exp_bn, name);
    fprintf(f, "\n%s_UNUSED static void %s_predict_scratch(const float *in, float *out, float *scratch)\n{\n",
            upper, name);
    fprintf(f, "    %s__FP\n    unsigned char *s0 = (unsigned char *)scratch, *s1 = s0 + %lu;\n    long i;\n", name,
            (unsigned long)biggest);
    if (floats) fprintf(f, "    float *f0 = scratch + %lu;\n", (unsigned long)bytes_at);
    if (e->norm)
        fprintf(f, "    for (i = 0; i < %lu; ++i)\n        s0[i] = %s__quantize((in[i] * %s_INPUT_SCALE - %s_input_mean0[i / %lu]) / "
                   "%s_input_std0[i / %lu], %s_INPUT_INV, %s_INPUT_ZH);\n", (unsigned long)in_n, name, upper, name,
                (unsigned long)per, name, (unsigned long)per, upper, upper);
    else
        fprintf(f, "    for (i = 0; i < %lu; ++i) s0[i] = %s__quantize(in[i], %s_INPUT_INV, %s_INPUT_ZH);\n",
                (unsigned long)in_n, name, upper, upper);
    for (i = 0; i < n; ++i) {
        dst_layer_info li;
        const dst_layer_desc *L;
        const char *src = bufs[cur], *dst = bufs[1 - cur];
        int plane_in, size_in, last = i + 1 == n;
        dst_model_layer(m, i, &li);
        dst_model_layer_int8(m, i, &q);
        L = &li.desc;
        plane_in = (li.in_h < 1 ? 1 : li.in_h) * (li.in_w < 1 ? 1 : li.in_w);
        size_in = li.in_c * plane_in;
        describe_layer(&li, buf, sizeof buf);
        fprintf(f, "    /* %d: %s */\n", i, buf);
        if (q.in_float) { /* dequantized, the float layer in place, quantized (or out, the last layer) */
            fprintf(f, "    for (i = 0; i < %d; ++i) f0[i] = ", size_in);
            put_float(f, q.in_scale);
            fprintf(f, " * (float)((int32_t)%s[i] - %d);\n", src, (int)q.in_zero);
            if (L->kind == DST_LAYER_SOFTMAX) {
                fprintf(f, "    %s__softmax(f0, f0, %d);\n", name, size_in);
            } else if (L->kind == DST_LAYER_BATCHNORM) {
                fprintf(f, "    %s__batchnorm(f0, f0, %s_mean%d, %s_scale%d, %s_shift%d, %d, %d);\n", name, name, i, name,
                        i, name, i, li.in_c, plane_in);
            } else {
                fprintf(f, "    %s__activation(f0, f0, %d, %d, ", name, size_in, activation_code(L->kind));
                put_float(f, L->kind == DST_LAYER_LEAKY_RELU ? L->param : 0.0f);
                fputs(");\n", f);
            }
            if (last) {
                fprintf(f, "    for (i = 0; i < %d; ++i) out[i] = f0[i];\n", size_in);
                floats_out = 1;
            } else {
                fprintf(f, "    for (i = 0; i < %d; ++i) %s[i] = %s__quantize(f0[i], ", size_in, dst, name);
                put_float(f, 1.0f / q.out_scale);
                fputs(", ", f);
                put_float(f, (float)q.out_zero + 0.5f);
                fputs(");\n", f);
                cur = 1 - cur;
            }
            continue;
        }
        switch (q8_kind(L->kind)) {
        case Q8_DENSE:
            fputs("    {\n", f);
            put_q8_consts(f, &q);
            fprintf(f, "        %s__dense(%s, %s, %s, %s_w%d, %s_b%d, %s_m%d, %d, %d, q);\n    }\n", name, src,
                    last ? "0" : dst, last ? "out" : "0", name, i, name, i, name, i, size_in, li.out_c);
            floats_out = last;
            break;
        case Q8_CONV:
            fprintf(f, "    {\n        static const int s[16] = { %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d };\n",
                    li.in_c, li.in_h, li.in_w, li.out_c, li.out_h, li.out_w, L->kernel_h, L->kernel_w, L->stride_h,
                    L->stride_w, L->pad_h, L->pad_w, L->dilation_h < 1 ? 1 : L->dilation_h,
                    L->dilation_w < 1 ? 1 : L->dilation_w, L->groups < 1 ? 1 : L->groups, (int)q.in_zero);
            put_q8_consts(f, &q);
            fprintf(f, "        %s__conv(%s, %s, %s, %s_w%d, %s_b%d, %s_m%d, s, q);\n    }\n", name, src,
                    last ? "0" : dst, last ? "out" : "0", name, i, name, i, name, i);
            floats_out = last;
            break;
        case Q8_POOL:
            fprintf(f, "    {\n        static const int s[11] = { %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d };\n",
                    li.in_c, li.in_h, li.in_w, li.out_h, li.out_w, L->kernel_h, L->kernel_w,
                    L->stride_h ? L->stride_h : L->kernel_h, L->stride_w ? L->stride_w : L->kernel_w, L->pad_h, L->pad_w);
            fprintf(f, "        %s__pool(%s, %s, s, %d, %d);\n    }\n", name, src, dst, L->kind == DST_LAYER_MAXPOOL2D,
                    (int)q.out_zero);
            break;
        case Q8_GAP:
            fprintf(f, "    %s__global_avgpool(%s, %s, %d, %d);\n", name, src, dst, li.in_c, plane_in);
            break;
        case Q8_RELU:
            fprintf(f, "    %s__relu(%s, %d, %d);\n", name, src, size_in, (int)q.out_zero);
            continue;
        default: /* flatten, dropout: nothing at inference */
            fputs("    /* nothing to do at inference */\n", f);
            continue;
        }
        cur = 1 - cur;
    }
    if (!floats_out) { /* the last uint8 output, dequantized */
        dst_model_layer_int8(m, n - 1, &q);
        fprintf(f, "    for (i = 0; i < %s_OUTPUTS; ++i) out[i] = ", upper);
        put_float(f, q.out_scale);
        fprintf(f, " * (float)((int32_t)%s[i] - %d);\n", bufs[cur], (int)q.out_zero);
    }
    fputs("    (void)s0; (void)s1;\n}\n\n", f);
    fprintf(f, "%s_UNUSED static void %s_predict(const float *in, float *out)\n{\n", upper, name);
    fprintf(f, "    static float scratch[%s_SCRATCH_FLOATS];\n    %s_predict_scratch(in, out, scratch);\n}\n\n", upper, name);
    fprintf(f, "#if defined(__GNUC__) && !defined(__clang__)\n#pragma GCC pop_options\n#endif\n");
    fprintf(f, "#endif /* %s_H */\n", upper);
}

/* tools/distill/export.c - export-c (the model as C source: its own small
   forward pass, kept equal to dst_model_forward by tests/cli/cli_export_check.c)
   and export-bytes (the weight file as a byte array).
   Part of the distill command (built through distill.c). */
#include "cli.h"

/* ==== export-c: the model as C source ===================================== */

/* A float literal that reads back as the same float ("%.9g" round-trips). */
static void put_float(FILE *f, float v)
{
    char buf[32];
    if (v != v || v - v != 0) fail(1, "the model holds a NaN or infinity; it cannot be exported");
    snprintf(buf, sizeof buf, "%.9g", (double)v);
    if (!strpbrk(buf, ".e")) strcat(buf, ".0");
    fprintf(f, "%sf", buf);
}

static void put_array(FILE *f, const char *name, const char *suffix, int index, const float *v, size_t n)
{
    size_t i;
    fprintf(f, "static const float %s_%s%d[%lu] = {", name, suffix, index, (unsigned long)(n ? n : 1));
    for (i = 0; i < n; ++i) {
        fputs(i % 8 ? " " : "\n    ", f);
        put_float(f, v[i]);
        if (i + 1 < n) fputc(',', f);
    }
    if (!n) fputs(" 0", f);
    fputs("\n};\n", f);
}

/* The helpers, emitted only when a layer uses them (unused static functions
   would be warnings in the user's build). */
/* Dense weights are written transposed, [in][out], so the inner loop runs
   along the outputs: contiguous, independent sums the compiler vectorizes
   without reordering any of them; zero inputs (after a ReLU) are skipped. */
static const char *exp_dense =
    "static void NAME__dense(const float *x, float *y, const float *wt, const float *b, int in, int out)\n"
    "{\n"
    "    int o, i;\n"
    "    for (o = 0; o < out; ++o) y[o] = b ? b[o] : 0.0f;\n"
    "    for (i = 0; i < in; ++i) {\n"
    "        const float xi = x[i], *wr = wt + (long)i * out;\n"
    "        if (xi == 0.0f) continue;\n"
    "        for (o = 0; o < out; ++o) y[o] += wr[o] * xi;\n"
    "    }\n"
    "}\n";
/* One weight at a time over the output rows it reaches: the range of output
   columns that stay inside the input is worked out once, so the inner loop
   has no test and, at stride 1, reads contiguous inputs. */
static const char *exp_conv =
    "/* s: in_c in_h in_w out_c out_h out_w kernel_h kernel_w stride_h stride_w pad_h pad_w dil_h dil_w groups */\n"
    "static void NAME__conv(const float *x, float *y, const float *w, const float *b, const int *s)\n"
    "{\n"
    "    int icg = s[0] / s[14], ocg = s[3] / s[14], plane = s[4] * s[5], o, c, ky, kx, oy, ox, i;\n"
    "    for (o = 0; o < s[3]; ++o) {\n"
    "        float *yo = y + (long)o * plane;\n"
    "        for (i = 0; i < plane; ++i) yo[i] = b ? b[o] : 0.0f;\n"
    "        for (c = 0; c < icg; ++c) {\n"
    "            const float *xc = x + (long)((o / ocg) * icg + c) * s[1] * s[2];\n"
    "            for (ky = 0; ky < s[6]; ++ky)\n"
    "                for (kx = 0; kx < s[7]; ++kx) {\n"
    "                    float wv = w[(((long)o * icg + c) * s[6] + ky) * s[7] + kx];\n"
    "                    int off = kx * s[13] - s[11], lo = 0, hi = s[5] - 1;\n"
    "                    if (off < 0) lo = (-off + s[9] - 1) / s[9];\n"
    "                    if (s[2] - 1 - off < 0) continue;\n"
    "                    if ((s[2] - 1 - off) / s[9] < hi) hi = (s[2] - 1 - off) / s[9];\n"
    "                    for (oy = 0; oy < s[4]; ++oy) {\n"
    "                        int iy = oy * s[8] - s[10] + ky * s[12];\n"
    "                        const float *xr;\n"
    "                        float *yr = yo + (long)oy * s[5];\n"
    "                        if (iy < 0 || iy >= s[1]) continue;\n"
    "                        xr = xc + (long)iy * s[2] + off;\n"
    "                        if (s[9] == 1) for (ox = lo; ox <= hi; ++ox) yr[ox] += wv * xr[ox];\n"
    "                        else for (ox = lo; ox <= hi; ++ox) yr[ox] += wv * xr[ox * s[9]];\n"
    "                    }\n"
    "                }\n"
    "        }\n"
    "    }\n"
    "}\n";
/* Max pooling as the library's: padding never wins, a NaN in the window
   wins (v != v), the first maximum otherwise; an all -inf window gives -inf.
   Average pooling: the window's sum times 1 / (kernel_h * kernel_w). */
static const char *exp_pool =
    "/* s: channels in_h in_w out_h out_w kernel_h kernel_w stride_h stride_w pad_h pad_w; max or mean\n"
    "   (padding counted in the mean, as PyTorch's count_include_pad; a NaN wins the max, as in PyTorch) */\n"
    "static void NAME__pool(const float *x, float *y, const int *s, int is_max)\n"
    "{\n"
    "    int c, oy, ox, ky, kx;\n"
    "    const float inv = 1.0f / (float)(s[5] * s[6]);\n"
    "    for (c = 0; c < s[0]; ++c)\n"
    "        for (oy = 0; oy < s[3]; ++oy)\n"
    "            for (ox = 0; ox < s[4]; ++ox) {\n"
    "                float acc = is_max ? -INFINITY : 0.0f;\n"
    "                for (ky = 0; ky < s[5]; ++ky)\n"
    "                    for (kx = 0; kx < s[6]; ++kx) {\n"
    "                        int iy = oy * s[7] - s[9] + ky, ix = ox * s[8] - s[10] + kx;\n"
    "                        float v;\n"
    "                        if (iy < 0 || iy >= s[1] || ix < 0 || ix >= s[2]) continue;\n"
    "                        v = x[((long)c * s[1] + iy) * s[2] + ix];\n"
    "                        if (is_max) { if (v > acc || v != v) acc = v; } else acc += v;\n"
    "                    }\n"
    "                y[((long)c * s[3] + oy) * s[4] + ox] = is_max ? acc : acc * inv;\n"
    "            }\n"
    "}\n";
static const char *exp_gap =
    "static void NAME__global_avgpool(const float *x, float *y, int channels, int plane)\n"
    "{\n"
    "    int c, i;\n"
    "    for (c = 0; c < channels; ++c) {\n"
    "        float s = 0.0f;\n"
    "        for (i = 0; i < plane; ++i) s += x[(long)c * plane + i];\n"
    "        y[c] = s / (float)plane;\n"
    "    }\n"
    "}\n";
/* Batch normalization with the library's arithmetic: (x - mean) * scale + shift,
   scale = gamma / sqrt(var + eps) rounded as the library rounds it. */
static const char *exp_bn =
    "/* batch normalization with its running statistics: y = (x - mean) * scale + shift */\n"
    "static void NAME__batchnorm(const float *x, float *y, const float *mean, const float *scale, const float *shift,\n"
    "                            int channels, int plane)\n"
    "{\n"
    "    int c, i;\n"
    "    for (c = 0; c < channels; ++c)\n"
    "        for (i = 0; i < plane; ++i) y[(long)c * plane + i] = (x[(long)c * plane + i] - mean[c]) * scale[c] + shift[c];\n"
    "}\n";
static const char *exp_act =
    "/* 0 relu, 1 leaky relu (slope), 2 sigmoid, 3 tanh, 4 gelu (erf form) */\n"
    "static void NAME__activation(const float *x, float *y, int n, int kind, float slope)\n"
    "{\n"
    "    int i;\n"
    "    for (i = 0; i < n; ++i) {\n"
    "        float v = x[i];\n"
    "        switch (kind) {\n"
    "        case 0: v = v > 0.0f ? v : 0.0f; break;\n"
    "        case 1: v = v > 0.0f ? v : v * slope; break;\n"
    "        case 2: v = 1.0f / (1.0f + expf(-v)); break;\n"
    "        case 3: v = tanhf(v); break;\n"
    "        default: v = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f)); break;\n"
    "        }\n"
    "        y[i] = v;\n"
    "    }\n"
    "}\n";
/* Softmax as dst_softmax: the sum in double, one reciprocal. */
static const char *exp_softmax =
    "static void NAME__softmax(const float *x, float *y, int n)\n"
    "{\n"
    "    int i;\n"
    "    float mx = x[0], inv;\n"
    "    double s = 0.0;\n"
    "    for (i = 1; i < n; ++i) if (x[i] > mx) mx = x[i];\n"
    "    for (i = 0; i < n; ++i) s += (double)(y[i] = expf(x[i] - mx));\n"
    "    inv = (float)(1.0 / s);\n"
    "    for (i = 0; i < n; ++i) y[i] *= inv;\n"
    "}\n";

/* NAME__activation's kind of a layer kind (exp_act's numbering), -1 for none */
static int activation_code(dst_layer_kind kind)
{
    switch (kind) {
    case DST_LAYER_RELU: return 0;
    case DST_LAYER_LEAKY_RELU: return 1;
    case DST_LAYER_SIGMOID: return 2;
    case DST_LAYER_TANH: return 3;
    case DST_LAYER_GELU: return 4;
    default: return -1;
    }
}

/* Writes text with every "NAME" replaced by name. */
static void put_named(FILE *f, const char *text, const char *name)
{
    const char *p;
    while ((p = strstr(text, "NAME")) != NULL) {
        fwrite(text, 1, (size_t)(p - text), f);
        fputs(name, f);
        text = p + 4;
    }
    fputs(text, f);
}

static void check_c_name(const char *name)
{
    const char *p;
    if (!*name || (*name >= '0' && *name <= '9')) fail(2, "--name: '%s' is not a C identifier", name);
    for (p = name; *p; ++p)
        if (!(*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            fail(2, "--name: '%s' is not a C identifier", name);
}

/* What both exports (float and int8) know of the model and write the same way. */
typedef struct export_model {
    dst_model *m;
    const char *path, *name;
    char upper[128];
    int c, h, w, norm;             /* norm: the normalisation's count, 0 for none */
    size_t in_n;
    float scale, *mean, *std;
} export_model;

/* The opening of the header: the comment, the guard, the sizes, the class
   names and the input normalisation. */
static void export_head(FILE *f, const export_model *e, int int8, size_t scratch_floats)
{
    const char *name = e->name, *upper = e->upper, *names;
    char buf[160];
    fprintf(f, "/* %s.h - generated by `distill export-c %s --name %s` (distill.h %s).\n", name, e->path, name,
            dst_version());
    if (int8)
        fprintf(f, "   The int8 model as C: integer arithmetic, no file I/O, no allocation, only <stdint.h>\n"
                   "   (and <math.h> for a layer that runs in float between a dequantize and a quantize).\n"
                   "   Its outputs are the library's (dst_model_predict on the model file) bit for bit: the\n"
                   "   same integer sums and the same float operations in the same order (IEEE single\n"
                   "   precision, no contraction: turned off below for GCC and Clang).\n");
    else fprintf(f, "   The model as C: no file I/O, no allocation, only <math.h>.\n");
    fprintf(f, "     %s_predict(in, out): in = %s_INPUT_C x _H x _W floats (NCHW, %s),\n"
               "       out = %s_OUTPUTS floats (logits). Uses a static scratch buffer:\n"
               "       not reentrant. %s_predict_scratch(in, out, scratch) takes your own buffer of\n"
               "       %s_SCRATCH_FLOATS floats instead (one per thread).\n",
            name, upper, !e->norm ? "prepared as in training" : e->scale != 1 ? "raw pixel values 0 to 255" : "raw features",
            upper, name, upper);
    if (e->norm)
        fprintf(f, "     The training's input normalisation is applied inside: v = (in x %s_INPUT_SCALE - mean) / std,\n"
                   "       %s.\n", upper, e->norm == 1 ? "one mean and std for every input" :
                   (size_t)e->norm == e->in_n ? "a mean and std per input (feature)" : "a mean and std per channel");
    if ((names = dst_model_meta_string(e->m, "classes")) != NULL) fprintf(f, "   Classes: %s\n", names);
    fprintf(f, "*/\n#ifndef %s_H\n#define %s_H\n#include <%s>\n\n", upper, upper, int8 ? "stdint.h" : "math.h");
    fprintf(f, "#define %s_INPUT_C %d\n#define %s_INPUT_H %d\n#define %s_INPUT_W %d\n#define %s_OUTPUTS %lu\n",
            upper, e->c, upper, e->h, upper, e->w, upper, (unsigned long)dst_model_output_size(e->m));
    fprintf(f, "#define %s_SCRATCH_FLOATS %lu\n", upper, (unsigned long)scratch_floats);
    fprintf(f, "#if defined(__GNUC__)\n#define %s_UNUSED __attribute__((unused))\n#else\n#define %s_UNUSED\n#endif\n\n",
            upper, upper);
    if (names) {
        int k;
        fprintf(f, "static const char *const %s_classes[%lu] %s_UNUSED = {", name,
                (unsigned long)dst_model_output_size(e->m), upper);
        for (k = 0; k < (int)dst_model_output_size(e->m); ++k) {
            const char *p;
            fputs(k ? ", \"" : " \"", f);
            for (p = class_name(names, k, buf, sizeof buf); *p; ++p) {
                if (*p == '"' || *p == '\\') fputc('\\', f);
                fputc(*p, f);
            }
            fputc('"', f);
        }
        fputs(" };\n\n", f);
    }
    if (e->norm) { /* the input normalisation */
        fprintf(f, "/* input normalisation: v = (in x scale - mean[j]) / std[j], j = index / %lu */\n",
                (unsigned long)(e->in_n / (size_t)e->norm));
        fprintf(f, "#define %s_INPUT_SCALE ", upper);
        put_float(f, e->scale);
        fputc('\n', f);
        put_array(f, name, "input_mean", 0, e->mean, (size_t)e->norm);
        put_array(f, name, "input_std", 0, e->std, (size_t)e->norm);
        fputc('\n', f);
    }
}

/* A batch norm's arrays for exp_bn: y = (x - mean) * scale + shift, scale =
   weight / sqrt(var + eps), shift = bias: the library's inference
   arithmetic, with scale rounded as it rounds it. */
static void put_batchnorm(FILE *f, const char *name, int i, const dst_layer_info *li, const float *params,
                          const float *buffers)
{
    int k, ch = li->out_c;
    float *sc = (float *)malloc((size_t)ch * sizeof(float));
    const float *wt = params + li->param_offset, *bs = wt + li->weight_count;
    const float *mean = buffers + li->buffer_offset, *var = mean + ch;
    if (!sc) fail(1, "out of memory");
    for (k = 0; k < ch; ++k) sc[k] = (float)(1.0 / sqrt((double)var[k] + (double)li->desc.eps)) * wt[k];
    fprintf(f, "/* layer %d: batch normalization, eps %g */\n", i, (double)li->desc.eps);
    put_array(f, name, "mean", i, mean, (size_t)ch);
    put_array(f, name, "scale", i, sc, (size_t)ch);
    put_array(f, name, "shift", i, bs, (size_t)ch);
    free(sc);
}

static void export_c_float(FILE *f, const export_model *e);
static void export_c_int8(FILE *f, const export_model *e); /* export_int8.c */

static void cmd_export_c(const args *a)
{
    export_model e;
    int i;
    memset(&e, 0, sizeof e);
    e.path = model_arg(a);
    e.name = a->name ? a->name : "model";
    check_c_name(e.name);
    if (strlen(e.name) > 100) fail(2, "--name: at most 100 characters");
    for (i = 0; e.name[i]; ++i) e.upper[i] = (char)(e.name[i] >= 'a' && e.name[i] <= 'z' ? e.name[i] - 32 : e.name[i]);
    e.upper[i] = 0;
    e.m = load_model(e.path, NULL);
    input_shape(e.m, &e.c, &e.h, &e.w);
    e.in_n = dst_model_input_size(e.m);
    if (!(e.mean = (float *)malloc(2 * e.in_n * sizeof(float)))) fail(1, "out of memory");
    e.std = e.mean + e.in_n;
    e.scale = 1;
    e.norm = dst_model_normalization(e.m, &e.scale, e.mean, e.std, (int)e.in_n); /* 0: the model has none */
    if (dst_model_is_quantized(e.m)) export_c_int8(stdout, &e);
    else export_c_float(stdout, &e);
    if (fflush(stdout) != 0 || ferror(stdout)) fail(1, "error writing the C source");
    free(e.mean);
    dst_model_free(e.m);
}

static void export_c_float(FILE *f, const export_model *e)
{
    dst_model *m = e->m;
    const char *name = e->name, *upper = e->upper;
    float *params, *buffers;
    int n, i, uses[8] = { 0 }, cur = -1, norm = e->norm;
    size_t biggest = 0, in_n = e->in_n;
    char buf[160];
    n = dst_model_layer_count(m);
    params = dst_model_params(m);
    buffers = dst_model_buffers(m);
    for (i = 0; i < n; ++i) {
        dst_layer_info li;
        size_t out_n;
        dst_model_layer(m, i, &li);
        out_n = (size_t)li.out_c * (size_t)(li.out_h < 1 ? 1 : li.out_h) * (size_t)(li.out_w < 1 ? 1 : li.out_w);
        if (out_n > biggest) biggest = out_n;
        switch (li.desc.kind) {
        case DST_LAYER_DENSE: uses[0] = 1; break;
        case DST_LAYER_CONV2D: uses[1] = 1; break;
        case DST_LAYER_MAXPOOL2D: case DST_LAYER_AVGPOOL2D: uses[2] = 1; break;
        case DST_LAYER_GLOBAL_AVGPOOL: uses[3] = 1; break;
        case DST_LAYER_BATCHNORM: uses[4] = 1; break;
        case DST_LAYER_RELU: case DST_LAYER_LEAKY_RELU: case DST_LAYER_SIGMOID: case DST_LAYER_TANH:
        case DST_LAYER_GELU: uses[5] = 1; break;
        case DST_LAYER_SOFTMAX: uses[6] = 1; break;
        case DST_LAYER_DROPOUT: case DST_LAYER_DROPOUT2D: case DST_LAYER_FLATTEN: break;
        default: fail(1, "layer %d (%s) cannot be exported to C", i, dst_layer_name(li.desc.kind));
        }
    }
    export_head(f, e, 0, 2 * biggest + (norm ? in_n : 0));
    /* parameters */
    for (i = 0; i < n; ++i) {
        dst_layer_info li;
        dst_model_layer(m, i, &li);
        describe_layer(&li, buf, sizeof buf);
        if (li.desc.kind == DST_LAYER_DENSE || li.desc.kind == DST_LAYER_CONV2D) {
            fprintf(f, "/* layer %d: %s */\n", i, buf);
            if (li.desc.kind == DST_LAYER_DENSE) { /* transposed: [in][out] */
                size_t in_n = li.weight_count / (size_t)li.out_c, r, k;
                float *wt = (float *)malloc(li.weight_count * sizeof(float) + 1);
                const float *wsrc = params + li.param_offset;
                if (!wt) fail(1, "out of memory");
                for (r = 0; r < (size_t)li.out_c; ++r)
                    for (k = 0; k < in_n; ++k) wt[k * (size_t)li.out_c + r] = wsrc[r * in_n + k];
                put_array(f, name, "wt", i, wt, li.weight_count);
                free(wt);
            } else {
                put_array(f, name, "w", i, params + li.param_offset, li.weight_count);
            }
            if (li.bias_count) put_array(f, name, "b", i, params + li.param_offset + li.weight_count, li.bias_count);
        } else if (li.desc.kind == DST_LAYER_BATCHNORM) {
            put_batchnorm(f, name, i, &li, params, buffers);
        }
    }
    fputc('\n', f);
    if (uses[0]) put_named(f, exp_dense, name);
    if (uses[1]) put_named(f, exp_conv, name);
    if (uses[2]) put_named(f, exp_pool, name);
    if (uses[3]) put_named(f, exp_gap, name);
    if (uses[4]) put_named(f, exp_bn, name);
    if (uses[5]) put_named(f, exp_act, name);
    if (uses[6]) put_named(f, exp_softmax, name);
    fprintf(f, "\n%s_UNUSED static void %s_predict_scratch(const float *in, float *out, float *scratch)\n{\n",
            upper, name);
    fprintf(f, "    float *s0 = scratch, *s1 = scratch + %lu;\n    int i;\n", (unsigned long)biggest);
    if (norm) {
        fprintf(f, "    float *x0 = scratch + %lu;\n", (unsigned long)(2 * biggest));
        fprintf(f, "    for (i = 0; i < %lu; ++i)\n        x0[i] = (in[i] * %s_INPUT_SCALE - %s_input_mean0[i / %lu]) / "
                   "%s_input_std0[i / %lu];\n", (unsigned long)in_n, upper, name, (unsigned long)(in_n / (size_t)norm),
                name, (unsigned long)(in_n / (size_t)norm));
    }
    for (i = 0; i < n; ++i) {
        dst_layer_info li;
        const dst_layer_desc *L;
        char src[8], dst[8];
        int plane_in, size_in;
        dst_model_layer(m, i, &li);
        L = &li.desc;
        strcpy(src, cur < 0 ? (norm ? "x0" : "in") : cur == 0 ? "s0" : "s1");
        strcpy(dst, cur == 0 ? "s1" : "s0");
        plane_in = (li.in_h < 1 ? 1 : li.in_h) * (li.in_w < 1 ? 1 : li.in_w);
        size_in = li.in_c * plane_in;
        describe_layer(&li, buf, sizeof buf);
        fprintf(f, "    /* %d: %s */\n", i, buf);
        switch (L->kind) {
        case DST_LAYER_DENSE:
            fprintf(f, "    %s__dense(%s, %s, %s_wt%d, ", name, src, dst, name, i);
            if (li.bias_count) fprintf(f, "%s_b%d", name, i); else fputs("0", f);
            fprintf(f, ", %d, %d);\n", size_in, li.out_c);
            break;
        case DST_LAYER_CONV2D:
            fprintf(f, "    {\n        static const int s[15] = { %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d };\n",
                    li.in_c, li.in_h, li.in_w, li.out_c, li.out_h, li.out_w, L->kernel_h, L->kernel_w, L->stride_h,
                    L->stride_w, L->pad_h, L->pad_w, L->dilation_h < 1 ? 1 : L->dilation_h,
                    L->dilation_w < 1 ? 1 : L->dilation_w, L->groups < 1 ? 1 : L->groups);
            fprintf(f, "        %s__conv(%s, %s, %s_w%d, ", name, src, dst, name, i);
            if (li.bias_count) fprintf(f, "%s_b%d", name, i); else fputs("0", f);
            fputs(", s);\n    }\n", f);
            break;
        case DST_LAYER_MAXPOOL2D: case DST_LAYER_AVGPOOL2D:
            fprintf(f, "    {\n        static const int s[11] = { %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d };\n",
                    li.in_c, li.in_h, li.in_w, li.out_h, li.out_w, L->kernel_h, L->kernel_w,
                    L->stride_h ? L->stride_h : L->kernel_h, L->stride_w ? L->stride_w : L->kernel_w, L->pad_h, L->pad_w);
            fprintf(f, "        %s__pool(%s, %s, s, %d);\n    }\n", name, src, dst, L->kind == DST_LAYER_MAXPOOL2D);
            break;
        case DST_LAYER_GLOBAL_AVGPOOL:
            fprintf(f, "    %s__global_avgpool(%s, %s, %d, %d);\n", name, src, dst, li.in_c, plane_in);
            break;
        case DST_LAYER_BATCHNORM:
            fprintf(f, "    %s__batchnorm(%s, %s, %s_mean%d, %s_scale%d, %s_shift%d, %d, %d);\n", name, src, dst, name,
                    i, name, i, name, i, li.in_c, plane_in);
            break;
        case DST_LAYER_RELU: case DST_LAYER_LEAKY_RELU: case DST_LAYER_SIGMOID: case DST_LAYER_TANH:
        case DST_LAYER_GELU:
            fprintf(f, "    %s__activation(%s, %s, %d, %d, ", name, src, dst, size_in, activation_code(L->kind));
            put_float(f, L->kind == DST_LAYER_LEAKY_RELU ? L->param : 0.0f);
            fputs(");\n", f);
            break;
        case DST_LAYER_SOFTMAX:
            fprintf(f, "    %s__softmax(%s, %s, %d);\n", name, src, dst, size_in);
            break;
        default: /* dropout, flatten: nothing at inference */
            fputs("    /* nothing to do at inference */\n", f);
            continue;
        }
        cur = cur == 0 ? 1 : 0;
    }
    fprintf(f, "    for (i = 0; i < %s_OUTPUTS; ++i) out[i] = %s[i];\n", upper,
            cur < 0 ? (norm ? "x0" : "in") : cur == 0 ? "s0" : "s1");
    fprintf(f, "    (void)s0; (void)s1;\n}\n\n");
    fprintf(f, "%s_UNUSED static void %s_predict(const float *in, float *out)\n{\n", upper, name);
    fprintf(f, "    static float scratch[%s_SCRATCH_FLOATS];\n    %s_predict_scratch(in, out, scratch);\n}\n\n", upper, name);
    fprintf(f, "#endif /* %s_H */\n", upper);
}

/* ==== export-bytes: the weight file as a byte array ======================= */

static void cmd_export_bytes(const args *a)
{
    const char *path = model_arg(a), *name = a->name ? a->name : "model_bytes";
    unsigned char *buf;
    long n, i;
    FILE *in;
    check_c_name(name);
    dst_model_free(load_model(path, NULL)); /* only a weight file that loads */
    n = file_size(path);
    in = fopen(path, "rb");
    if (n < 0 || !in) fail(1, "cannot open %s", path);
    if (!(buf = (unsigned char *)malloc((size_t)n + 1))) fail(1, "out of memory");
    if ((long)fread(buf, 1, (size_t)n, in) != n) fail(1, "error reading %s", path);
    fclose(in);
    printf("/* %s.h - generated by `distill export-bytes %s --name %s`: the weight file as bytes,\n"
           "   for dst_model_parse(&m, %s, sizeof %s, &err). 64-byte aligned where the\n"
           "   compiler can say so, so the model can use the tensors in place. */\n",
           name, path, name, name, name);
    printf("#if defined(__GNUC__)\n__attribute__((aligned(64)))\n#elif defined(_MSC_VER)\n__declspec(align(64))\n#endif\n");
    printf("static const unsigned char %s[%ld] = {", name, n ? n : 1);
    for (i = 0; i < n; ++i) printf("%s0x%02x%s", i % 16 ? " " : "\n    ", buf[i], i + 1 < n ? "," : "");
    printf("%s\n};\n", n ? "" : " 0");
    if (fflush(stdout) != 0 || ferror(stdout)) fail(1, "error writing the C source");
    free(buf);
}

/* tests/fuzz_one.h - what the fuzzer does with one input, shared by the
   libFuzzer target (tests/fuzz_load.c, `make fuzz`) and the corpus replay in
   tests/test_file.c (part of `make test`, so every build, the sanitized one
   included, replays tests/corpus/).

   The input goes to every parser that takes untrusted bytes: the weight file
   (plain and as a checkpoint), from an aligned copy (in place) and a
   misaligned one (copied, every other input with tight load options), with
   its two CRC32s as they are and, when those do not match, recomputed, so
   the fuzzer also reaches what lies behind the checksums; and the .npy
   parser. A model that loads is run forward once on zeros, saved
   again and reloaded, and must come back the same. Returns 1 when the input
   loaded as a model. */
#ifndef FUZZ_ONE_H
#define FUZZ_ONE_H

static void fuzz_put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}

static uint32_t fuzz_get32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Multiply-adds (or window reads) one sample's forward costs, roughly: a
   valid model may be arbitrarily slow (a 46,083-row pooling window over a
   262,150-row input is legal), and the harness runs only cheap ones. */
static double fuzz_forward_work(const dst_model *m)
{
    double work = 0;
    int i;
    for (i = 0; i < dst_model_layer_count(m); ++i) {
        dst_layer_info li;
        double out, window;
        if (dst_model_layer(m, i, &li) != DST_OK) return 1e300;
        out = (double)li.out_c * li.out_h * li.out_w;
        window = (double)(li.desc.kernel_h > 0 ? li.desc.kernel_h : 1) * (li.desc.kernel_w > 0 ? li.desc.kernel_w : 1);
        work += out * window + (double)li.out_h * li.out_w * (double)li.weight_count + (double)li.in_c * li.in_h * li.in_w;
    }
    return work;
}

static int fuzz_use_model(dst_model *m)
{
    unsigned char *buf = NULL;
    size_t len, in = dst_model_input_size(m);
    dst_model *again = NULL;
    float *x;
    if (in <= 4096 && dst_model_output_size(m) <= 4096 && dst_model_param_count(m) < (1u << 20) &&
        fuzz_forward_work(m) < 1e8) {
        x = (float *)calloc(in, sizeof(float));
        if (x) dst_model_forward(m, x, 1, 0, NULL);
        free(x);
    }
    if (dst_model_write_memory(m, &buf, &len, NULL) == DST_OK) {
        if (dst_model_parse(&again, buf, len, NULL) != DST_OK ||
            dst_model_param_count(again) != dst_model_param_count(m))
            abort(); /* what the library writes it must read */
        dst_model_free(again);
        dst_free(buf);
    }
    return 1;
}

/* The parsers on the aligned copy al of size bytes (in place), a
   checkpoint, and a misaligned copy (the copying path; every other input
   there with tight load options, so their limits are fuzzed too). */
static int fuzz_parse_all(unsigned char *al, size_t size)
{
    dst_model *m = NULL;
    dst_error e;
    dst_load_options o = dst_load_options_default();
    int loaded = 0;
    if (dst_model_parse(&m, al, size, &e) == DST_OK) { loaded |= fuzz_use_model(m); dst_model_free(m); }
    if (dst_model_parse_checkpoint(&m, al, size, &e) == DST_OK) { loaded |= fuzz_use_model(m); dst_model_free(m); }
    memmove(al + 1, al, size);
    if (size & 1) {
        o.in_place = 0;
        o.max_layers = 8;
        o.max_param_bytes = 1 << 12;
    }
    if (dst_model_parse_with(&m, al + 1, size, &o, &e) == DST_OK) dst_model_free(m);
    return loaded;
}

static int fuzz_one(const unsigned char *data, size_t size)
{
    unsigned char *raw = (unsigned char *)malloc(size + 128), *al;
    uint32_t body = size >= 32 ? dst_crc32(0, data + 32, size - 32) : 0;
    int loaded = 0;
    dst_npy a;
    if (!raw) return 0;
    al = raw + 64 - ((size_t)raw & 63);
    if (size) memcpy(al, data, size);
    if (size >= 32 && body == fuzz_get32(al + 24) && dst_crc32(0, al, 28) == fuzz_get32(al + 28)) {
        loaded = fuzz_parse_all(al, size); /* the checksums hold: the input as it is */
    } else {
        dst_model *m = NULL;
        if (dst_model_parse(&m, al, size, NULL) == DST_OK) abort(); /* a bad checksum never loads */
        if (size >= 32) { /* the same input behind correct checksums */
            fuzz_put32(al + 24, body);
            fuzz_put32(al + 28, dst_crc32(0, al, 28));
            loaded = fuzz_parse_all(al, size);
        }
    }
    if (dst_npy_parse(data, size, &a, NULL) == DST_OK) dst_npy_free(&a);
    free(raw);
    return loaded;
}

#endif

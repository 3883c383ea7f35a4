/* bench/bench_file.c - the weight file: save and load times of a 5.8 M
   parameter MLP (784-2048-2048-10, 23 MB), in memory and through a file,
   loading in place against copying, and the CRC32 rate. Best of 5 runs each.
   Build: cc -std=c99 -O2 -I. bench/bench_file.c -lm -o build/bench_file   (make bench-file) */
#define DISTILL_IMPLEMENTATION
#include "distill.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double now(void) { return dst_seconds(); }

int main(void)
{
    dst_layer_desc L[5];
    dst_model_desc d = dst_model_desc_default();
    dst_model *m, *l;
    unsigned char *buf, *al, *raw;
    size_t len;
    double t, best[6] = { 1e9, 1e9, 1e9, 1e9, 1e9, 1e9 };
    volatile uint32_t sink = 0;
    int rep;
    const char *path = "build/bench_file.dst";
    L[0] = dst_dense(2048); L[1] = dst_relu(); L[2] = dst_dense(2048); L[3] = dst_relu(); L[4] = dst_dense(10);
    d.input_c = 784; d.layers = L; d.layer_count = 5;
    if (dst_model_create(&m, &d, NULL) != DST_OK) return 1;
    dst_model_write_memory(m, &buf, &len, NULL);
    raw = (unsigned char *)malloc(len + 64);
    al = raw + 64 - ((size_t)raw & 63);
    memcpy(al, buf, len);
    for (rep = 0; rep < 5; ++rep) {
        unsigned char *b2; size_t n2;
        t = now(); dst_model_write_memory(m, &b2, &n2, NULL); t = now() - t; if (t < best[0]) best[0] = t; dst_free(b2);
        t = now(); dst_model_parse(&l, al, len, NULL); t = now() - t; if (t < best[1]) best[1] = t;
        if (!dst_model_params_in_place(l)) return 2;
        dst_model_free(l);
        t = now(); dst_model_parse(&l, al + 0, len, NULL); dst__model_own(l); t = now() - t; if (t < best[2]) best[2] = t;
        dst_model_free(l);
        t = now(); dst_model_save(m, path, NULL); t = now() - t; if (t < best[3]) best[3] = t;
        t = now(); dst_model_load(&l, path, NULL); t = now() - t; if (t < best[4]) best[4] = t;
        dst_model_free(l);
        t = now(); sink ^= dst_crc32(0, buf, len); t = now() - t; if (t < best[5]) best[5] = t;
    }
    printf("model: %lu parameters, file %lu bytes (best of 5)\n", (unsigned long)dst_model_param_count(m), (unsigned long)len);
    printf("save to memory            %8.1f ms\n", best[0] * 1e3);
    printf("load from memory, in place %7.1f ms  (CRC + checks, no copy)\n", best[1] * 1e3);
    printf("load in place + first copy %7.1f ms  (what training an in-place model costs once)\n", best[2] * 1e3);
    printf("save to file (atomic, fsync) %5.1f ms\n", best[3] * 1e3);
    printf("load from file (read + copy) %5.1f ms\n", best[4] * 1e3);
    printf("CRC32                      %7.1f MB/s\n", (double)len / best[5] / 1e6);
    (void)sink;
    remove(path);
    free(raw);
    dst_free(buf);
    dst_model_free(m);
    return 0;
}

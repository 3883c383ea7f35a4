/* tests/gen_host_fixtures.c - writes the host-independence fixtures of
   tests/host_fixture.h on x86-64, on the scalar level: the checkpoint taken
   inside epoch 2, the trained model, and host_digest.txt: the CRC32s of what
   was in memory (parameters, Adam's two moments, batch norm's running
   statistics, as little-endian bytes), the step count and learning rate,
   the model's outputs on the first inputs (as float bits), the CRC32 of the
   checkpoint file written after filling everything with t_host_pattern,
   and of this C library's expf (all in hex). Regenerate with `make host-fixtures`; the files change only
   when the format or the training does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define DISTILL_IMPLEMENTATION
#include "../distill.h"
#include "host_fixture.h"

static void put(const char *dir, const char *name, const unsigned char *b, size_t n)
{
    char path[512];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!(f = fopen(path, "wb")) || fwrite(b, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

static void fail(const char *what, const dst_error *e)
{
    fprintf(stderr, "gen_host_fixtures: %s: %s\n", what, e ? e->message : "");
    exit(1);
}

int main(int argc, char **argv)
{
    static float x[T_HOST_COUNT * T_HOST_INPUTS], out[T_HOST_PREDICT * T_HOST_CLASSES];
    static int labels[T_HOST_COUNT];
    const char *dir = argc > 1 ? argv[1] : "tests/fixtures";
    char path[512];
    dst_optimizer_config opt;
    dst_fit_config fit;
    t_host_stop stop;
    dst_model *m;
    dst_error e;
    unsigned char *ckpt, *model, *written;
    size_t ckpt_len, model_len, written_len, n;
    FILE *d;
    int i;
    if (dst_simd_force(DST_SIMD_SCALAR) != DST_OK) fail("scalar level", NULL);
    t_host_data(x, labels);
    t_host_training(&opt, &fit);
    if (!(m = t_host_model()) || dst_model_set_optimizer(m, &opt) != DST_OK) fail("model", NULL);
    if (dst_model_meta_set_string(m, "classes", "a,b,c,d,e") != DST_OK ||
        dst_model_meta_set_number(m, "host.note", 0.1) != DST_OK)
        fail("metadata", NULL);
    stop.epoch = 1; stop.batch = 2;
    fit.progress = t_host_stop_at; fit.progress_user = &stop; fit.progress_every = 1;
    if (dst_model_fit(m, x, labels, T_HOST_COUNT, &fit) != DST_OK) fail("fit", NULL);
    if (dst_model_write_checkpoint_memory(m, &ckpt, &ckpt_len, &e) != DST_OK) fail("checkpoint", &e);
    put(dir, "host.ckpt", ckpt, ckpt_len);
    snprintf(path, sizeof path, "%s/host_digest.txt", dir);
    if (!(d = fopen(path, "w"))) fail(path, NULL);
    n = m->param_count;
    fprintf(d, "ckpt.params %08lx\nckpt.state0 %08lx\nckpt.state1 %08lx\nckpt.buffers %08lx\nckpt.step %08lx\nckpt.lr %08lx\n",
            (unsigned long)t_host_crc(m->params, n), (unsigned long)t_host_crc(m->state0, n),
            (unsigned long)t_host_crc(m->state1, n), (unsigned long)t_host_crc(m->buffers, m->buffer_count),
            (unsigned long)dst_model_step_count(m), (unsigned long)t_host_bits(m->lr));
    fit.resume = 1;
    stop.epoch = -1;
    if (dst_model_fit(m, x, labels, T_HOST_COUNT, &fit) != DST_OK) fail("resumed fit", NULL);
    if (dst_model_write_memory(m, &model, &model_len, &e) != DST_OK) fail("model file", &e);
    put(dir, "host.dst", model, model_len);
    if (dst_model_predict(m, x, T_HOST_PREDICT, out) != DST_OK) fail("predict", NULL);
    fprintf(d, "final.params %08lx\nfinal.buffers %08lx\nfinal.step %08lx\npredict",
            (unsigned long)t_host_crc(m->params, n), (unsigned long)t_host_crc(m->buffers, m->buffer_count),
            (unsigned long)dst_model_step_count(m));
    for (i = 0; i < T_HOST_PREDICT * T_HOST_CLASSES; ++i) fprintf(d, " %08lx", (unsigned long)t_host_bits(out[i]));
    t_host_fill(m->params, n, 0);
    t_host_fill(m->state0, n, 1);
    t_host_fill(m->state1, n, 2);
    t_host_fill(m->buffers, m->buffer_count, 3);
    if (dst_model_write_checkpoint_memory(m, &written, &written_len, &e) != DST_OK) fail("patterned checkpoint", &e);
    fprintf(d, "\nwritten %08lx\nexpf %08lx\n", (unsigned long)dst_crc32(0, written, written_len),
            (unsigned long)t_host_expf_crc());
    if (fclose(d) != 0) fail(path, NULL);
    dst_free(ckpt);
    dst_free(model);
    dst_free(written);
    dst_model_free(m);
    return 0;
}

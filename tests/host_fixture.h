/* tests/host_fixture.h - one model, its data and its training, shared by the
   program that writes the host-independence fixtures on x86-64
   (tests/gen_host_fixtures.c, `make host-fixtures`) and the test that reads
   them on every platform (file_host_independent in tests/test_file.c):
     tests/fixtures/host.ckpt        a checkpoint taken inside epoch 2
     tests/fixtures/host.dst         the model at the end of training
     tests/fixtures/host_digest.txt  what x86-64 had in memory (below)
   Include after distill.h's implementation: the digests read the model's
   optimizer state, which has no public accessor. */
#ifndef T_HOST_FIXTURE_H
#define T_HOST_FIXTURE_H
#include <math.h>
#include <string.h>
#if defined(__GNUC__)
#define T_HOST_UNUSED __attribute__((unused))
#else
#define T_HOST_UNUSED
#endif

enum { T_HOST_COUNT = 48, T_HOST_INPUTS = 2 * 8 * 8, T_HOST_CLASSES = 5, T_HOST_PREDICT = 8 };

/* a convolution, batch norm (running statistics), pooling and two dense layers */
static T_HOST_UNUSED dst_model *t_host_model(void)
{
    dst_layer_desc L[8];
    dst_model_desc d = dst_model_desc_default();
    dst_model *m;
    L[0] = dst_conv2d(4, 3, 1, 1); L[1] = dst_batchnorm(); L[2] = dst_relu(); L[3] = dst_maxpool2d(2, 0, 0);
    L[4] = dst_flatten(); L[5] = dst_dense(12); L[6] = dst_relu(); L[7] = dst_dense(T_HOST_CLASSES);
    d.input_c = 2; d.input_h = 8; d.input_w = 8;
    d.layers = L; d.layer_count = 8; d.seed = 7;
    return dst_model_create(&m, &d, NULL) == DST_OK ? m : NULL;
}

/* Inputs made of integers: multiples of 1/256, the same floats on every host.
   The predictions are made on the first T_HOST_PREDICT. */
static T_HOST_UNUSED void t_host_data(float *x, int *labels)
{
    unsigned i;
    for (i = 0; i < T_HOST_COUNT * T_HOST_INPUTS; ++i) x[i] = (float)(((i + 1) * 2654435761u) >> 24) / 256.0f - 0.5f;
    for (i = 0; i < T_HOST_COUNT; ++i) labels[i] = (int)((i * 7u) % T_HOST_CLASSES);
}

/* AdamW with weight decay, 3 epochs of 6 batches, a step schedule */
static T_HOST_UNUSED void t_host_training(dst_optimizer_config *opt, dst_fit_config *fit)
{
    *opt = dst_optimizer_default(DST_ADAMW);
    opt->lr = 3e-3f;
    *fit = dst_fit_default();
    fit->epochs = 3;
    fit->batch_size = 8;
    fit->seed = 9;
    fit->schedule.kind = DST_LR_STEP;
    fit->schedule.step_size = 2;
    fit->schedule.gamma = 0.5f;
}

/* The checkpoint is taken at this batch of this epoch (0-based epoch). */
typedef struct t_host_stop { int epoch; size_t batch; } t_host_stop;
static T_HOST_UNUSED int t_host_stop_at(void *user, const dst_progress *p)
{
    const t_host_stop *s = (const t_host_stop *)user;
    return p->epoch == s->epoch && p->batch == s->batch;
}

/* CRC32 of n floats as little-endian bytes: what a value is, whatever the
   host's byte order. */
static T_HOST_UNUSED uint32_t t_host_crc(const float *v, size_t n)
{
    uint32_t crc = 0, b;
    unsigned char le[4];
    size_t i;
    for (i = 0; i < n; ++i) {
        memcpy(&b, &v[i], 4);
        le[0] = (unsigned char)b; le[1] = (unsigned char)(b >> 8);
        le[2] = (unsigned char)(b >> 16); le[3] = (unsigned char)(b >> 24);
        crc = dst_crc32(crc, le, 4);
    }
    return crc;
}

static T_HOST_UNUSED uint32_t t_host_bits(float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}

/* CRC32 of expf on -32 .. 0 in steps of 1/128 (the softmax's range): whether
   this C library's expf gives x86-64 glibc's bits (training goes through it) */
static T_HOST_UNUSED uint32_t t_host_expf_crc(void)
{
    float v[4097];
    int i;
    for (i = 0; i <= 4096; ++i) v[i] = expf((float)-i / 128.0f);
    return t_host_crc(v, 4097);
}

/* Values made on this host without arithmetic: float i of a pattern of finite
   normal numbers (bits from integers), for a file this host writes itself. */
static T_HOST_UNUSED float t_host_pattern(uint32_t i)
{
    uint32_t h = (i + 1) * 2654435761u, b = (h & 0x807fffffu) | ((64u + (h >> 24) % 128u) << 23);
    float f;
    memcpy(&f, &b, 4);
    return f;
}
static T_HOST_UNUSED void t_host_fill(float *v, size_t n, uint32_t salt)
{
    size_t i;
    for (i = 0; i < n; ++i) v[i] = t_host_pattern((uint32_t)i * 4u + salt);
}

#endif

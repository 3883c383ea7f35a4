/* tools/distill/augment.c - `--augment shift:P,flip,mixup:A,noise:S` into
   fit's dst_augment, and several teachers: --teacher given more than once,
   --teacher-weights W1,W2,... Part of the distill command (built through
   distill.c). */
#include "cli.h"

/* --augment: items separated by commas, any subset, each at most once:
   shift:P (pixels, 1 to 64), flip, mixup:A (Beta(A, A), A > 0), noise:S
   (deviation, S > 0). */
static void augment_settings(const args *a, dst_augment *aug)
{
    char buf[256], *item, *next, *value;
    int seen_shift = 0, seen_mixup = 0, seen_noise = 0;
    memset(aug, 0, sizeof *aug);
    if (!a->augment) return;
    if (strlen(a->augment) >= sizeof buf) fail(2, "--augment: '%.40s...' is too long", a->augment);
    snprintf(buf, sizeof buf, "%s", a->augment);
    for (item = buf; item; item = next) {
        if ((next = strchr(item, ',')) != NULL) *next++ = 0;
        if ((value = strchr(item, ':')) != NULL) *value++ = 0;
        if (strcmp(item, "flip") == 0) {
            if (value) fail(2, "--augment: flip takes no value (it mirrors left-right half the time)");
            if (aug->flip) fail(2, "--augment: flip given twice");
            aug->flip = 1;
            continue;
        }
        if (strcmp(item, "shift") != 0 && strcmp(item, "mixup") != 0 && strcmp(item, "noise") != 0)
            fail(2, "--augment: '%s' is not one of shift:P, flip, mixup:A, noise:S (comma-separated)", item);
        if (!value) fail(2, "--augment: %s needs a value (%s)", item,
                         item[0] == 's' ? "shift:P, pixels" : item[0] == 'm' ? "mixup:A, Beta(A, A)" : "noise:S, deviation");
        if (item[0] == 's') {
            if (seen_shift++) fail(2, "--augment: shift given twice");
            aug->shift = (int)parse_int("--augment shift", value, 1, 64);
        } else if (item[0] == 'm') {
            if (seen_mixup++) fail(2, "--augment: mixup given twice");
            aug->mixup_alpha = (float)parse_real("--augment mixup", value, 0, 100, 1);
        } else {
            if (seen_noise++) fail(2, "--augment: noise given twice");
            aug->noise = (float)parse_real("--augment noise", value, 0, 100, 1);
        }
    }
}

/* --teacher-weights: one weight >= 0 per --teacher, not all 0; without it
   every teacher weighs 1. */
static void teacher_weights(const args *a, float *w)
{
    char buf[512], *item, *next;
    int i = 0, n = a->teachers.n;
    double sum = 0;
    for (i = 0; i < n; ++i) w[i] = 1;
    if (!a->teacher_weights) return;
    if (n < 2) fail(2, "--teacher-weights goes with --teacher given more than once (an ensemble)");
    if (strlen(a->teacher_weights) >= sizeof buf) fail(2, "--teacher-weights: too long");
    snprintf(buf, sizeof buf, "%s", a->teacher_weights);
    for (i = 0, item = buf; item; item = next, ++i) {
        if ((next = strchr(item, ',')) != NULL) *next++ = 0;
        if (i >= n) break;
        w[i] = (float)parse_real("--teacher-weights", item, 0, 1e6, 0);
        sum += (double)w[i];
    }
    if (i != n || item)
        fail(2, "--teacher-weights: '%s' does not give one weight per --teacher (%d)", a->teacher_weights, n);
    if (!(sum > 0)) fail(2, "--teacher-weights: the weights are all 0");
}

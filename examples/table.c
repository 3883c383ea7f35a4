/* examples/table.c - your own table: train a teacher and distill a smaller
   student on a CSV file, then predict one row from C. The CSV's label column
   is named on the command line; every other column is a number. 20% of the
   rows are held out (stratified) to test on, 10% of the rest to pick the best
   epoch (keep-best). The features are standardised with the training rows'
   mean and standard deviation, stored in the model: a program that loads it
   gives raw rows to dst_model_normalize and predicts.
     cc -O2 -I. examples/table.c -lm -o build/table
     ./build/table TABLE.csv LABEL_COLUMN [OUT.dst] */
#define DISTILL_IMPLEMENTATION
#include "distill.h"
#include <stdio.h>
#include <stdlib.h>

/* The n samples of d at idx, or exit. */
static dst_dataset part(const dst_dataset *d, const size_t *idx, size_t n)
{
    dst_dataset out;
    dst_error e;
    if (dst_dataset_subset(d, idx, n, &out, &e) != DST_OK) { fprintf(stderr, "%s\n", e.message); exit(1); }
    return out;
}

/* A model of the given layers on rows of `features` numbers. */
static dst_model *create(const dst_layer_desc *layers, int count, int features)
{
    dst_model_desc desc = dst_model_desc_default();
    dst_optimizer_config opt = dst_optimizer_default(DST_ADAM);
    dst_model *m;
    desc.input_c = features;
    desc.layers = layers;
    desc.layer_count = count;
    opt.lr = 0.01f;
    if (dst_model_create(&m, &desc, NULL) != DST_OK) exit(1);
    dst_model_set_optimizer(m, &opt);
    return m;
}

static void train(dst_model *m, const dst_dataset *tr, const dst_dataset *val, dst_fit_config *fit)
{
    fit->val_x = val->x;
    fit->val_labels = val->y;
    fit->val_count = val->count;
    if (dst_model_fit(m, tr->x, tr->y, tr->count, fit) != DST_OK) { fprintf(stderr, "%s\n", dst_model_error(m)); exit(1); }
}

int main(int argc, char **argv)
{
    dst_csv_options opt = dst_csv_options_default();
    dst_dataset all, tr, val, test;
    dst_fit_config fit = dst_fit_default();
    dst_teacher t;
    dst_error e;
    dst_model *teacher, *student;
    size_t *order, held, held_val, i;
    float mean[64], std[64], acc, row[64], logits[64];
    int f, k;

    if (argc < 3) { fprintf(stderr, "usage: table TABLE.csv LABEL_COLUMN [OUT.dst]\n"); return 2; }
    opt.label = argv[2]; /* a header name or a 0-based column number */
    if (dst_csv_load(argv[1], &opt, &all, &e) != DST_OK) { fprintf(stderr, "%s\n", e.message); return 1; }
    f = all.width;
    if (f > 64 || all.classes > 64) { fprintf(stderr, "this example takes up to 64 features and classes\n"); return 1; }
    printf("%lu rows, %d features, %d classes\n", (unsigned long)all.count, f, all.classes);

    /* test: 20% of each class; validation: 10% of what is left */
    order = (size_t *)malloc(all.count * sizeof(size_t));
    if (!order || dst_split_stratified(all.y, all.count, 0.2f, 1, order, &held, &e) != DST_OK) return 1;
    test = part(&all, order + all.count - held, held);
    tr = part(&all, order, all.count - held);
    if (dst_split_stratified(tr.y, tr.count, 0.1f, 2, order, &held_val, &e) != DST_OK) return 1;
    val = part(&tr, order + tr.count - held_val, held_val);
    dst_dataset_free(&all);
    all = part(&tr, order, tr.count - held_val); /* the training rows, less validation */
    dst_dataset_free(&tr);
    tr = all;
    free(order);

    /* standardise with the training rows' statistics, kept in both models */
    if (dst_normalization_stats(tr.x, tr.count, (size_t)f, f, mean, std, &e) != DST_OK) return 1;
    {
        dst_layer_desc big[5] = { dst_dense(64), dst_relu(), dst_dense(64), dst_relu(), dst_dense(tr.classes) };
        dst_layer_desc small[3] = { dst_dense(8), dst_relu(), dst_dense(tr.classes) };
        teacher = create(big, 5, f);
        student = create(small, 3, f);
        dst_model_set_normalization(teacher, 1, mean, std, f);
        dst_model_set_normalization(student, 1, mean, std, f);
    }
    dst_model_normalize(teacher, tr.x, tr.count);
    dst_model_normalize(teacher, val.x, val.count);
    dst_model_normalize(teacher, test.x, test.count);

    fit.epochs = 60;
    fit.batch_size = 32;
    fit.keep_best = 1; /* end on the epoch of best validation accuracy */
    fit.patience = 15;
    train(teacher, &tr, &val, &fit);
    dst_model_evaluate(teacher, test.x, test.y, test.count, 0, NULL, &acc);
    printf("teacher (64-64) test accuracy %.4f\n", (double)acc);
    t = dst_teacher_model(teacher);
    fit.teacher = &t;
    fit.temperature = 4;
    fit.alpha = 0.7f;
    train(student, &tr, &val, &fit);
    dst_model_evaluate(student, test.x, test.y, test.count, 0, NULL, &acc);
    printf("distilled student (8) test accuracy %.4f\n", (double)acc);

    /* the normalisation travels with the student: predict from a raw row */
    if (argc > 3 && dst_model_save(student, argv[3], &e) != DST_OK) { fprintf(stderr, "%s\n", e.message); return 1; }
    for (i = 0; i < (size_t)f; ++i) row[i] = test.x[i] * std[i] + mean[i]; /* the first test row, raw again */
    dst_model_normalize(student, row, 1);
    dst_model_predict(student, row, 1, logits);
    for (k = 1, i = 0; k < tr.classes; ++k) if (logits[k] > logits[i]) i = (size_t)k;
    if (tr.class_names) printf("first test row: predicted %s, labelled %s\n", tr.class_names[i], tr.class_names[test.y[0]]);
    else printf("first test row: predicted %lu, labelled %d\n", (unsigned long)i, test.y[0]);
    dst_model_free(teacher);
    dst_model_free(student);
    dst_dataset_free(&tr);
    dst_dataset_free(&val);
    dst_dataset_free(&test);
    return 0;
}

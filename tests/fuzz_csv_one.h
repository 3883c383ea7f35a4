/* tests/fuzz_csv_one.h - what the CSV fuzzer does with one input, shared by
   the libFuzzer target (tests/fuzz_csv.c, `make fuzz`) and the corpus replay
   in tests/test_dataset.c (part of `make test`, every build).
   The first byte picks the options, the rest is parsed with them (header guessed,
   present or absent; the label column last, first, by a name, by an index;
   a comma or a semicolon), then checked: a table that parsed has every class
   number in range and only finite features; one that failed has freed
   everything and says so in its message. Returns 1 when it parsed. */
#ifndef FUZZ_CSV_ONE_H
#define FUZZ_CSV_ONE_H

static int fuzz_csv_one(const unsigned char *data, size_t size)
{
    static const char *labels[4] = { NULL, "0", "species", "3" };
    static const char *const known[3] = { "a", "b", "0" };
    dst_csv_options o = dst_csv_options_default();
    dst_dataset d;
    dst_error e;
    size_t i, n;
    int pick = size ? data[0] : 0;
    o.header = (pick & 3) == 3 ? -1 : (pick & 3) - 1;
    o.label = labels[(pick >> 2) & 3];
    o.delimiter = (pick & 16) ? ';' : ',';
    if (pick & 32) { o.classes = known; o.class_count = 3; }
    if (dst_csv_parse(size ? data + 1 : data, size ? size - 1 : 0, &o, &d, &e) != DST_OK) {
        if (d.x || d.y || d.class_names || d.count || !e.message[0]) abort(); /* a failure keeps nothing */
        return 0;
    }
    n = d.count * dst_dataset_sample_size(&d);
    if (d.count == 0 || d.width < 1 || d.classes < 1) abort();
    for (i = 0; i < d.count; ++i)
        if (d.y[i] < 0 || d.y[i] >= d.classes) abort();
    for (i = 0; i < n; ++i)
        if (!(d.x[i] - d.x[i] == 0)) abort();
    for (i = 0; d.class_names && i < (size_t)d.classes; ++i)
        if (!d.class_names[i]) abort();
    dst_dataset_free(&d);
    return 1;
}

#endif

/* tests/fuzz_csv.c - libFuzzer target for the CSV reader (dst_csv_parse).
   Build and run:  make fuzz && ./build/fuzz_csv -artifact_prefix=build/fuzz-artifacts/ -max_total_time=600 build/fuzz-corpus-csv tests/corpus-csv
   (tests/corpus-csv is the committed seed corpus, replayed by `make test`). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#define DISTILL_IMPLEMENTATION
#include "../distill.h"
#include "fuzz_csv_one.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_csv_one(data, size);
    return 0;
}

/* tests/fuzz_load.c - libFuzzer target for the weight file and .npy loaders.
   Build and run:  make fuzz && ./build/fuzz_load -artifact_prefix=build/fuzz-artifacts/ -max_total_time=600 build/fuzz-corpus tests/corpus
   (build/fuzz-corpus collects what the fuzzer finds; tests/corpus is the
   committed seed corpus, written by tests/gen_corpus.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
/* a smaller cap on what one sample's forward may need (default 2^26 floats),
   so that the forward the harness runs stays under libFuzzer's memory limit */
#define DST_MAX_ACTIVATION_FLOATS ((size_t)1 << 22)
#define DISTILL_IMPLEMENTATION
#include "../distill.h"
#include "fuzz_one.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_one(data, size);
    return 0;
}

# distill.h - everything builds from the one header; this Makefile only
# drives examples, tests and benchmarks.
#   make          build the examples into build/
#   make test     run the test suite: gcc, clang, C++, sanitizers, scalar-only
#   make demo     the distillation demo on Fashion-MNIST
#   make bench    benchmarks against OpenBLAS and PyTorch (not tests)

CC      ?= cc
CXX     ?= c++
STB     ?= /usr/include/stb
WARN    = -Wall -Wextra -Wpedantic -Werror
CFLAGS  ?= -O2
TESTSRC = tests/run.c
TESTDEP = distill.h tests/*.c tests/*.h

.PHONY: all test test-quick demo bench bench-gemm clean
EXAMPLES = build/quickstart
all: $(EXAMPLES)

build/.dir:
	@mkdir -p build && touch $@

# ---- examples --------------------------------------------------------------
build/%: examples/%.c distill.h | build/.dir
	$(CC) -std=c99 $(CFLAGS) $(WARN) -I. -I$(STB) $< -o $@ -lm

# ---- tests ---------------------------------------------------------------
build/test: $(TESTDEP) | build/.dir
	gcc -std=c99 $(CFLAGS) -g $(WARN) -I. -I$(STB) $(TESTSRC) -o $@ -lm
build/test-clang: $(TESTDEP) | build/.dir
	clang -std=c99 $(CFLAGS) -g $(WARN) -I. -I$(STB) $(TESTSRC) -o $@ -lm
build/test-cxx: $(TESTDEP) | build/.dir
	g++ -x c++ -std=c++11 $(CFLAGS) -g $(WARN) -I. -I$(STB) $(TESTSRC) -o $@ -lm
build/test-clangxx: $(TESTDEP) | build/.dir
	clang++ -x c++ -std=c++11 $(CFLAGS) -g $(WARN) -I. -I$(STB) $(TESTSRC) -o $@ -lm
build/test-san: $(TESTDEP) | build/.dir
	gcc -std=c99 -O1 -g $(WARN) -fsanitize=address,undefined -fno-sanitize-recover=all \
	    -fno-omit-frame-pointer -I. -I$(STB) $(TESTSRC) -o $@ -lm
build/test-scalar: $(TESTDEP) | build/.dir
	gcc -std=c99 $(CFLAGS) -g $(WARN) -DDST_NO_SIMD -I. -I$(STB) $(TESTSRC) -o $@ -lm

# The last line of `make test` is the runner's "N passed, N failed" summed
# over every build.
TESTBINS = build/test build/test-clang build/test-cxx build/test-clangxx build/test-san build/test-scalar
test: $(TESTBINS)
	@pass=0; fail=0; \
	for t in $(TESTBINS); do \
	    echo "== $$t"; \
	    $$t > build/last.log 2>&1; rc=$$?; cat build/last.log; \
	    line=$$(tail -n 1 build/last.log); \
	    p=$$(echo "$$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$$/\1/p'); \
	    f=$$(echo "$$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$$/\2/p'); \
	    if [ -z "$$p" ]; then p=0; f=$$((f + 1)); echo "$$t did not finish (exit $$rc)"; fi; \
	    pass=$$((pass + p)); fail=$$((fail + $${f:-1})); \
	done; \
	echo "$$pass passed, $$fail failed"; [ $$fail -eq 0 ]

test-quick: build/test
	./build/test

# ---- benchmarks (not tests; see docs/BENCHMARKS.md) ------------------------
# Each benchmark adds its own bench-NAME target and appends it here
# (bench-mlp, bench-cnn, bench-kd, ...). Built as a user builds: -O2, no -march.
bench: bench-gemm

# dst_sgemm against OpenBLAS (libopenblas-dev), one thread
BENCH_OPENBLAS = OPENBLAS_NUM_THREADS=1
build/bench_gemm: bench/bench_gemm.c distill.h | build/.dir
	$(CC) -std=c99 -O2 $(WARN) -Wno-unused-function -I. $< -o $@ -lopenblas -lm
bench-gemm: build/bench_gemm
	$(BENCH_OPENBLAS) ./build/bench_gemm

clean:
	rm -rf build

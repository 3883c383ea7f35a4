# distill.h - everything builds from the one header; this Makefile only
# drives examples, tests and benchmarks.
#   make          build the distill command, the demo and the examples into build/
#   make test     run the test suite: gcc, clang, C++, sanitizers, scalar-only
#   make demo     the distillation demo on Fashion-MNIST
#   make bench    benchmarks against OpenBLAS and PyTorch (not tests)

CC      ?= cc
CXX     ?= c++
STB     ?= /usr/include/stb
WARN    = -Wall -Wextra -Wpedantic -Werror
# the stricter set a careful user turns on (C adds the prototype checks)
STRICT  = -Wshadow -Wdouble-promotion -Wundef -Wcast-align -Wmissing-declarations
STRICTC = $(STRICT) -Wstrict-prototypes -Wmissing-prototypes
CFLAGS  ?= -O2
TESTSRC = tests/run.c
TESTDEP = distill.h tests/*.c tests/*.h tests/corpus/* tests/corpus-csv/*

.PHONY: all test test-quick demo bench bench-gemm bench-mlp bench-cnn bench-conv-paths bench-kd bench-threads bench-int8 bench-qat clean fuzz corpus test-torch test-gemm-cross
EXAMPLES = build/quickstart build/minimal build/classify build/embedded build/offline_npy build/table
PROGRAMS = build/distill build/demo
all: $(PROGRAMS) $(EXAMPLES)

build/.dir:
	@mkdir -p build && touch $@

# ---- the distill command (tools/distill/: one unity file includes the parts) --
DISTILL_SRC = tools/distill/distill.c tools/distill/cli.h tools/distill/*.c
build/distill: $(DISTILL_SRC) distill.h | build/.dir
	$(CC) -std=c99 $(CFLAGS) $(WARN) -I. -I$(STB) tools/distill/distill.c -o $@ -lm -pthread

# ---- examples --------------------------------------------------------------
build/%: examples/%.c distill.h | build/.dir
	$(CC) -std=c99 $(CFLAGS) $(WARN) -I. -I$(STB) $< -o $@ -lm

# embedded.c compiles a model in: the rings model of examples/minimal.c, as a
# byte array written by `distill export-bytes` (no xxd needed)
build/embedded_model.bin: build/minimal
	./build/minimal $@ >/dev/null
build/embedded_model.h: build/embedded_model.bin build/distill
	./build/distill export-bytes build/embedded_model.bin --name embedded_model >$@.tmp && mv $@.tmp $@
build/embedded: examples/embedded.c build/embedded_model.h distill.h | build/.dir
	$(CC) -std=c99 $(CFLAGS) $(WARN) -I. -Ibuild $< -o $@ -lm

# ---- tests ---------------------------------------------------------------
build/test: $(TESTDEP) | build/.dir
	gcc -std=c99 $(CFLAGS) -g $(WARN) $(STRICTC) -I. -I$(STB) $(TESTSRC) -o $@ -lm
build/test-clang: $(TESTDEP) | build/.dir
	clang -std=c99 $(CFLAGS) -g $(WARN) $(STRICTC) -I. -I$(STB) $(TESTSRC) -o $@ -lm
build/test-cxx: $(TESTDEP) | build/.dir
	g++ -x c++ -std=c++11 $(CFLAGS) -g $(WARN) $(STRICT) -I. -I$(STB) $(TESTSRC) -o $@ -lm
build/test-clangxx: $(TESTDEP) | build/.dir
	clang++ -x c++ -std=c++11 $(CFLAGS) -g $(WARN) $(STRICT) -I. -I$(STB) $(TESTSRC) -o $@ -lm
build/test-san: $(TESTDEP) | build/.dir
	gcc -std=c99 -O1 -g $(WARN) $(STRICTC) -fsanitize=address,undefined -fno-sanitize-recover=all \
	    -fno-omit-frame-pointer -I. -I$(STB) $(TESTSRC) -o $@ -lm
# (the scalar build also takes the file code's byte-by-byte paths, as on a big-endian host)
build/test-scalar: $(TESTDEP) | build/.dir
	gcc -std=c99 $(CFLAGS) -g $(WARN) $(STRICTC) -DDST_NO_SIMD -DDST__TEST_BYTE_PATHS -I. -I$(STB) $(TESTSRC) -o $@ -lm

# Threads making their first library call at once (the CPU-feature cache)
# under ThreadSanitizer: its own program, so no earlier call fills the cache.
build/test-tsan: tests/tsan_first_use.c distill.h | build/.dir
	gcc -std=c99 -O1 -g $(WARN) $(STRICTC) -fsanitize=thread -I. $< -o $@ -lm -lpthread

# The threaded tests (tests/test_threads.c) under ThreadSanitizer: the
# pool, hooks, two models on two user threads.
build/test-tsan-threads: $(TESTDEP) | build/.dir
	clang -std=c99 -O1 -g $(WARN) -fsanitize=thread -DT_DEFAULT_FILTER='"threads"' -I. -I$(STB) $(TESTSRC) -o $@ -lm -lpthread

# The distill command end to end (tests/cli/test_cli.sh), as built and under
# ASan+UBSan, on data tests/cli/cli_helper.c writes.
build/distill-san: $(DISTILL_SRC) distill.h | build/.dir
	gcc -std=c99 -O1 -g $(WARN) -fsanitize=address,undefined -fno-sanitize-recover=all \
	    -fno-omit-frame-pointer -I. -I$(STB) tools/distill/distill.c -o $@ -lm -pthread
build/cli_helper: tests/cli/cli_helper.c distill.h | build/.dir
	$(CC) -std=c99 $(CFLAGS) $(WARN) -I. -I$(STB) $< -o $@ -lm
TESTSCRIPTS = tests/cli/test_cli.sh tests/compile/run.sh

# The last line of `make test` is the runner's "N passed, N failed" summed
# over every build.
TESTBINS = build/test build/test-clang build/test-cxx build/test-clangxx build/test-san build/test-scalar build/test-tsan build/test-tsan-threads
test: $(TESTBINS) $(PROGRAMS) $(EXAMPLES) build/distill-san build/cli_helper
	@pass=0; fail=0; \
	for t in $(TESTBINS) $(TESTSCRIPTS); do \
	    echo "== $$t"; \
	    TSAN_OPTIONS=halt_on_error=1 $$t > build/last.log 2>&1; rc=$$?; cat build/last.log; \
	    line=$$(tail -n 1 build/last.log); \
	    p=$$(echo "$$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$$/\1/p'); \
	    f=$$(echo "$$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$$/\2/p'); \
	    if [ -z "$$p" ]; then p=0; f=$$((f + 1)); echo "$$t did not finish (exit $$rc)"; fi; \
	    pass=$$((pass + p)); fail=$$((fail + $${f:-1})); \
	done; \
	echo "$$pass passed, $$fail failed"; [ $$fail -eq 0 ]

test-quick: build/test
	./build/test

# The GEMM tests on what `make test` does not reach: tcc (scalar path) and
# AArch64 NEON under qemu-user (packages tcc, gcc-aarch64-linux-gnu, qemu-user),
# there with the kernel tables' tests (NEON against scalar).
build/test-gemm-tcc: tests/run_gemm.c $(TESTDEP) | build/.dir
	tcc -I. tests/run_gemm.c -o $@ -lm
build/test-gemm-aarch64: $(TESTDEP) | build/.dir
	aarch64-linux-gnu-gcc -std=c99 -O2 $(WARN) -static -I. -I$(STB) $(TESTSRC) -o $@ -lm
test-gemm-cross: build/test-gemm-tcc build/test-gemm-aarch64
	./build/test-gemm-tcc
	qemu-aarch64 ./build/test-gemm-aarch64 gemm
	qemu-aarch64 ./build/test-gemm-aarch64 kernel_tables
	qemu-aarch64 ./build/test-gemm-aarch64 conv_table
	qemu-aarch64 ./build/test-gemm-aarch64 quantize_q8

# ---- platforms: tcc, i386, MSan ---------------------------------------------
# The whole unit suite and the command-line suite on what `make test` does
# not build (docs/PLATFORMS.md: times, what each covers and what it does not).
.PHONY: test-tcc test-i386 test-msan

# tcc: no intrinsics, so the scalar kernels; the unit suite, the distill
# command and every example built as shipped. stb_image.h's SSE2 code
# includes <emmintrin.h>, which tcc lacks: STBI_NO_SIMD (our code has no
# SIMD for tcc to miss: the header turns its own off under __TINYC__).
# The command-line suite runs the tcc-built command and examples, and
# compiles `distill export-c`'s output with tcc too.
TCC ?= tcc
TCCFLAGS = -Wall -Werror -DSTBI_NO_SIMD
TCC_EXAMPLES = $(EXAMPLES:build/%=build/tcc/%)
build/tcc/.dir:
	@mkdir -p build/tcc && touch $@
build/test-tcc: $(TESTDEP) | build/.dir
	$(TCC) $(TCCFLAGS) -I. -I$(STB) $(TESTSRC) -o $@ -lm -lpthread
build/distill-tcc: $(DISTILL_SRC) distill.h | build/.dir
	$(TCC) $(TCCFLAGS) -I. -I$(STB) tools/distill/distill.c -o $@ -lm -lpthread
build/tcc/%: examples/%.c distill.h | build/tcc/.dir
	$(TCC) $(TCCFLAGS) -I. -I$(STB) $< -o $@ -lm
build/tcc/embedded: examples/embedded.c build/embedded_model.h distill.h | build/tcc/.dir
	$(TCC) $(TCCFLAGS) -I. -Ibuild $< -o $@ -lm
test-tcc: build/test-tcc build/distill-tcc $(TCC_EXAMPLES) build/cli_helper
	tests/suites.sh ./build/test-tcc \
	    'CC="$(TCC) -DSTBI_NO_SIMD" EXAMPLES=build/tcc tests/cli/test_cli.sh build/distill-tcc'

# 32-bit x86 (i386): gcc and clang -m32 compute in x87 registers
# (FLT_EVAL_METHOD 2) and, without SSE2 in the baseline, run the scalar
# kernels (distill.h, "which instruction sets this build has": why no
# run-time dispatch there); with -msse2 the SIMD kernels run in a 32-bit
# build: clang computes in SSE then, gcc still in x87 beside the SIMD
# kernels. Packages: libc6-dev-i386 lib32gcc-12-dev (with
# --no-install-recommends; Debian 12's gcc-multilib would remove the cross
# compilers). Without gcc-multilib's /usr/include/asm, the 64-bit
# <asm/...> headers serve (they cover both).
M32 = -m32 -idirafter /usr/include/x86_64-linux-gnu
I386_TESTS = build/test-i386-gcc build/test-i386-clang build/test-i386-gcc-sse2 build/test-i386-clang-sse2
build/test-i386-gcc: $(TESTDEP) | build/.dir
	gcc $(M32) -std=c99 $(CFLAGS) -g $(WARN) $(STRICTC) -I. -I$(STB) $(TESTSRC) -o $@ -lm -lpthread
build/test-i386-clang: $(TESTDEP) | build/.dir
	clang $(M32) -std=c99 $(CFLAGS) -g $(WARN) $(STRICTC) -I. -I$(STB) $(TESTSRC) -o $@ -lm -lpthread
build/test-i386-gcc-sse2: $(TESTDEP) | build/.dir
	gcc $(M32) -msse2 -std=c99 $(CFLAGS) -g $(WARN) $(STRICTC) -I. -I$(STB) $(TESTSRC) -o $@ -lm -lpthread
build/test-i386-clang-sse2: $(TESTDEP) | build/.dir
	clang $(M32) -msse2 -std=c99 $(CFLAGS) -g $(WARN) $(STRICTC) -I. -I$(STB) $(TESTSRC) -o $@ -lm -lpthread
# the command and the examples with gcc -m32, for the command-line suite
I386_EXAMPLES = $(EXAMPLES:build/%=build/i386/%)
build/i386/.dir:
	@mkdir -p build/i386 && touch $@
build/distill-i386: $(DISTILL_SRC) distill.h | build/.dir
	gcc $(M32) -std=c99 $(CFLAGS) $(WARN) -I. -I$(STB) tools/distill/distill.c -o $@ -lm -pthread
build/i386/%: examples/%.c distill.h | build/i386/.dir
	gcc $(M32) -std=c99 $(CFLAGS) $(WARN) -I. -I$(STB) $< -o $@ -lm
build/i386/embedded: examples/embedded.c build/embedded_model.h distill.h | build/i386/.dir
	gcc $(M32) -std=c99 $(CFLAGS) $(WARN) -I. -Ibuild $< -o $@ -lm
test-i386: $(I386_TESTS) build/distill-i386 $(I386_EXAMPLES) build/cli_helper
	tests/suites.sh $(I386_TESTS) 'EXAMPLES=build/i386 tests/cli/test_cli.sh build/distill-i386'

# MemorySanitizer (clang): every read of memory never written. MSan wants
# every library instrumented; libm's and libpthread's results are taken as
# written (its interceptors), stb_image is compiled in.
build/test-msan: $(TESTDEP) | build/.dir
	clang -std=c99 -O1 -g $(WARN) $(STRICTC) -fsanitize=memory -fno-omit-frame-pointer \
	    -I. -I$(STB) $(TESTSRC) -o $@ -lm -lpthread
test-msan: build/test-msan
	tests/suites.sh ./build/test-msan
# and in `make test` (a minute and a half on the benchmark machine)
TESTBINS += build/test-msan
test: build/test-msan

# ---- platforms: Windows, AArch64, big-endian, MSVC syntax ------------------
# The whole unit suite (tests/run.c) and the command-line suite
# (tests/cli/test_cli.sh) built by a cross compiler and run under an emulator;
# docs/PLATFORMS.md has the packages, the times and what each leaves out.
#   make test-windows      mingw-w64 under wine: Win32 threads, the atomic
#                          save's MoveFileExA, the console, CRLF output
#   make test-aarch64      gcc for AArch64 under qemu-aarch64: the NEON kernels
#   make test-s390x        gcc for s390x under qemu-s390x: big-endian, and float
#                          expressions evaluated in double (FLT_EVAL_METHOD 1)
#   make test-msvc-syntax  the header as MSVC (cl.exe, clang-cl) and clang for
#                          AArch64 see it (tests/compile/msvc.sh)
# Each platform builds into build/PLATFORM/: the unit tests, the distill command,
# the demo and every example (all must link). The command-line suite runs them
# through the emulator (RUN) on data the host's build/cli_helper writes; the
# embedded example compiles in the host's build/embedded_model.h, a weight file
# written on x86-64.
.PHONY: test-windows test-aarch64 test-s390x test-msvc-syntax test-cross
CROSS_PLATFORMS = windows aarch64 s390x
# A cross compiler does not search /usr/include, where tests/run.c finds
# <stb/stb_image.h>: build/xinc/stb points at $(STB).
XINC = -I. -isystem $(STB) -isystem build/xinc
build/xinc/stb: | build/.dir
	mkdir -p build/xinc && ln -sfn $(STB) $@
# s390x: under ISO C, gcc evaluates float expressions in double there, and
# -Wdouble-promotion then flags every float comparison and conditional.
XCC_windows = x86_64-w64-mingw32-gcc -std=c99 -O2 $(WARN)
XCC_aarch64 = aarch64-linux-gnu-gcc -std=c99 -O2 $(WARN) -static
XCC_s390x   = s390x-linux-gnu-gcc -std=c99 -O2 $(WARN) -static
XSTRICT_windows = $(STRICTC)
XSTRICT_aarch64 = $(STRICTC)
XSTRICT_s390x   = $(filter-out -Wdouble-promotion,$(STRICTC))
EXE_windows = .exe
# wine in a prefix of its own under build/ (made on first use, no Mono or Gecko
# to download), without debug output, its server kept between programs.
WINE_ENV = env WINEPREFIX=$(CURDIR)/build/wine WINEDEBUG=-all WINEDLLOVERRIDES=mscoree,mshtml=
RUN_windows = $(WINE_ENV) wine
RUN_aarch64 = qemu-aarch64
RUN_s390x   = qemu-s390x
build/wine/.ready:
	@mkdir -p build
	$(WINE_ENV) wineboot -i >build/wineboot.log 2>&1 || { cat build/wineboot.log; exit 1; }
	touch $@

# One platform's rules: $(1) its name.
define CROSS_RULES
build/$(1)/.dir:
	@mkdir -p build/$(1) && touch $$@
build/$(1)/test$(EXE_$(1)): $$(TESTDEP) | build/$(1)/.dir build/xinc/stb
	$$(XCC_$(1)) $$(XSTRICT_$(1)) $$(XINC) $$(TESTSRC) -o $$@ -lm
build/$(1)/distill$(EXE_$(1)): $$(DISTILL_SRC) distill.h | build/$(1)/.dir build/xinc/stb
	$$(XCC_$(1)) $$(XINC) tools/distill/distill.c -o $$@ -lm
build/$(1)/demo$(EXE_$(1)): bench/demo.c distill.h | build/$(1)/.dir
	$$(XCC_$(1)) $$(XINC) $$< -o $$@ -lm
build/$(1)/embedded$(EXE_$(1)): examples/embedded.c build/embedded_model.h distill.h | build/$(1)/.dir
	$$(XCC_$(1)) $$(XINC) -Ibuild $$< -o $$@ -lm
build/$(1)/%$(EXE_$(1)): examples/%.c distill.h | build/$(1)/.dir
	$$(XCC_$(1)) $$(XINC) $$< -o $$@ -lm
CROSS_BINS_$(1) = $$(patsubst build/%,build/$(1)/%$(EXE_$(1)),build/test build/distill build/demo $$(EXAMPLES))
test-$(1): $$(CROSS_BINS_$(1)) build/cli_helper
	$$(call CROSS_SUITES,$(1))
endef
$(foreach p,$(CROSS_PLATFORMS),$(eval $(call CROSS_RULES,$(p))))
test-windows: build/wine/.ready

# The platforms whose unit tests on real data (Fashion-MNIST) and threads tests
# run shortened, DST_TEST_QUICK (tests/test.h; each test says so in its
# output): the emulated scalar code takes minutes over them. `make test-s390x CROSS_QUICK=` runs
# them whole.
CROSS_QUICK = s390x
# Both suites of platform $(1) through its emulator (tests/suites.sh sums
# them). The wine server is kept up between programs (a first run's wineboot
# leaves one up for a few seconds, and wineserver -p fails while it runs: -w waits it out, so the
# persistent server is the one the suites meet, not a short-lived one that may exit mid-run). Windows writes CRLF: the unit runner's lines are read without the
# CR (the command-line suite does that itself).
CROSS_SUITES = $(if $(filter windows,$(1)),$(WINE_ENV) wineserver -w && $(WINE_ENV) wineserver -p30 && )tests/suites.sh \
	'$(if $(filter $(1),$(CROSS_QUICK)),DST_TEST_QUICK=1 )$(RUN_$(1)) build/$(1)/test$(EXE_$(1))$(if $(EXE_$(1)), | tr -d "\r")' \
	"RUN='$(RUN_$(1))' EXAMPLES=build/$(1) EXE=$(EXE_$(1)) tests/cli/test_cli.sh build/$(1)/distill$(EXE_$(1))"

test-msvc-syntax:
	sh tests/compile/msvc.sh

# Every platform target, one after another (docs/PLATFORMS.md has each one's
# time on a 2-core machine).
test-cross: test-tcc test-i386 test-msan test-msvc-syntax test-windows test-aarch64 test-s390x

# The reference fixtures of tests/gen_fixtures.py, tests/gen_conv_fixtures.py and tests/gen_kd_fixtures.py
# are committed, so the tests need no PyTorch; rewriting them needs Debian's
# python3-torch and gives the same bytes.
PYTHON_TORCH ?= /usr/bin/python3
.PHONY: fixtures
fixtures:
	OPENBLAS_NUM_THREADS=1 $(PYTHON_TORCH) tests/gen_fixtures.py
	OPENBLAS_NUM_THREADS=1 $(PYTHON_TORCH) tests/gen_conv_fixtures.py
	OPENBLAS_NUM_THREADS=1 $(PYTHON_TORCH) tests/gen_kd_fixtures.py

# ---- the weight file's fuzzer (tests/fuzz_load.c) and its seed corpus ------
# make fuzz; ./build/fuzz_load -artifact_prefix=build/fuzz-artifacts/ -max_total_time=600 build/fuzz-corpus tests/corpus
# (`make test` replays tests/corpus/ in every build through tests/fuzz_one.h.
# Findings go to build/fuzz-artifacts/, never the repository; an input worth
# keeping goes to tests/corpus/ with its line in tests/gen_corpus.c.)
# tests/fuzz_ignore.txt leaves CRC32 out of the coverage instrumentation:
# it has no branch worth steering and was half of each run's time.
fuzz: build/fuzz_load build/fuzz_csv
build/fuzz_load: tests/fuzz_load.c tests/fuzz_one.h tests/fuzz_ignore.txt distill.h | build/.dir
	clang -std=c99 -O2 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -fsanitize-coverage-ignorelist=tests/fuzz_ignore.txt -I. tests/fuzz_load.c -o $@ -lm
	@mkdir -p build/fuzz-corpus build/fuzz-artifacts
# The CSV reader's fuzzer (tests/fuzz_csv.c): the first byte of an input picks
# the options; tests/corpus-csv/ is its seed corpus, replayed by `make test`.
# ./build/fuzz_csv -artifact_prefix=build/fuzz-artifacts/ -max_total_time=600 build/fuzz-corpus-csv tests/corpus-csv
build/fuzz_csv: tests/fuzz_csv.c tests/fuzz_csv_one.h distill.h | build/.dir
	clang -std=c99 -O2 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I. tests/fuzz_csv.c -o $@ -lm
	@mkdir -p build/fuzz-corpus-csv build/fuzz-artifacts
corpus: tests/gen_corpus.c distill.h | build/.dir
	gcc -std=c99 -O1 $(WARN) -I. tests/gen_corpus.c -o build/gen_corpus -lm
	./build/gen_corpus tests/corpus

# The host-independence fixtures (tests/host_fixture.h: a checkpoint, a model
# and what x86-64 had in memory), written on x86-64 on the scalar level and
# read by file_host_independent on every platform.
.PHONY: host-fixtures
host-fixtures: tests/gen_host_fixtures.c tests/host_fixture.h distill.h | build/.dir
	gcc -std=c99 -O2 $(WARN) -I. tests/gen_host_fixtures.c -o build/gen_host_fixtures -lm
	./build/gen_host_fixtures tests/fixtures

# PyTorch interop (needs python3-torch python3-numpy): regenerates the fixtures
# with tools/torch/torch_export.py, checks the export -> import round trip in PyTorch,
# then distill.h against them.
test-torch: build/test
	OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tests/gen_torch_fixtures.py
	./build/test file_torch
	./build/test file_distill_from_numpy

# ---- benchmarks (not tests; see docs/BENCHMARKS.md) ------------------------
# Each benchmark adds its own bench-NAME target and appends it here
# (bench: bench-NAME). Built as a user builds: -O2, no -march.
bench: bench-gemm bench-mlp

# dst_sgemm against OpenBLAS (libopenblas-dev), one thread, same run.
build/bench_gemm: bench/bench_gemm.c distill.h | build/.dir
	$(CC) -std=c99 -O2 $(WARN) -Wno-unused-function -I. $< -o $@ -lopenblas -lm
bench-gemm: build/bench_gemm
	OPENBLAS_NUM_THREADS=1 ./build/bench_gemm

# Built as a user builds: plain -O2, no -march (the SIMD path is picked at
# run time). PyTorch runs first, on one thread, and the C side prints the table.
TORCH_PY ?= /usr/bin/python3
BENCH_MLP_ARGS ?=
build/bench_mlp: bench/bench_mlp.c distill.h | build/.dir
	$(CC) -std=c99 -O2 $(WARN) -I. -I$(STB) $< -o $@ -lm
bench-mlp: build/bench_mlp
	OPENBLAS_NUM_THREADS=1 $(TORCH_PY) bench/bench_mlp_torch.py $(BENCH_MLP_ARGS) > build/bench_mlp_torch.txt
	./build/bench_mlp --torch build/bench_mlp_torch.txt $(BENCH_MLP_ARGS)

# int8 models (dst_model_quantize) against their float models on Fashion-MNIST:
# accuracy, batch-1 latency, batch-128 throughput, file size (docs/BENCHMARKS.md, "int8"),
# then PyTorch's own int8 models the same way. BENCH_INT8_ARGS="--c1 teacher_c1.dst"
# and BENCH_INT8_TORCH_ARGS="--c1 teacher_c1.pt" add the teacher C1 (make bench-kd-transfer).
BENCH_INT8_ARGS ?=
BENCH_INT8_TORCH_ARGS ?=
build/bench_int8: bench/bench_int8.c distill.h | build/.dir
	$(CC) -std=c99 -O2 $(WARN) -I. -I$(STB) $< -o $@ -lm
bench-int8: build/bench_int8
	./build/bench_int8 $(BENCH_INT8_ARGS)
	OPENBLAS_NUM_THREADS=1 $(TORCH_PY) bench/bench_int8_torch.py $(BENCH_INT8_TORCH_ARGS)

# Quantization-aware training against post-training quantization on a student
# that post-training quantization hurts (docs/BENCHMARKS.md, "Quantization-aware
# training"), then PyTorch's the same way. BENCH_QAT_ARGS="--teacher teacher_c1.dst"
# and BENCH_QAT_TORCH_ARGS="--teacher teacher_c1.pt" add the distillation rows.
BENCH_QAT_ARGS ?=
BENCH_QAT_TORCH_ARGS ?=
build/bench_qat: bench/bench_qat.c distill.h | build/.dir
	$(CC) -std=c99 -O2 $(WARN) -I. -I$(STB) $< -o $@ -lm
bench-qat: build/bench_qat
	./build/bench_qat $(BENCH_QAT_ARGS)
	OPENBLAS_NUM_THREADS=1 $(TORCH_PY) bench/bench_qat_torch.py $(BENCH_QAT_TORCH_ARGS)

# Convolutional networks (C1 teacher, C2 student, one conv) against PyTorch,
# both on one thread, in the same run.
.PHONY: bench-cnn
bench: bench-cnn
build/bench_cnn: bench/bench_cnn.c distill.h | build/.dir
	$(CC) -std=c99 -O2 $(WARN) -I. -I$(STB) $< -o $@ -lm
BENCH_CNN_ARGS ?=
bench-cnn: build/bench_cnn
	OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/bench_cnn_torch.py $(BENCH_CNN_ARGS) > build/bench_cnn_torch.txt
	./build/bench_cnn --torch build/bench_cnn_torch.txt $(BENCH_CNN_ARGS)

# The convolution paths side by side per shape (how the path rule was chosen).
.PHONY: bench-conv-paths
build/bench_conv_paths: bench/bench_conv_paths.c distill.h | build/.dir
	$(CC) -std=c99 -O2 $(WARN) -I. $< -o $@ -lm
bench-conv-paths: build/bench_conv_paths
	./build/bench_conv_paths

# Distillation quality (teacher, label-only and distilled students) against
# PyTorch on the same protocols; KD_FLAGS picks the regime, seeds, --quick.
# The default, the limited regime with 10 student seeds and 3 teachers (the
# table of docs/BENCHMARKS.md), takes about 15 minutes per library on a free
# core; `KD_FLAGS="--regime short --seeds 3 --teachers 3"` about an hour.
KD_FLAGS ?= --regime limited --seeds 10 --teachers 3
.PHONY: bench-kd
bench: bench-kd
build/kd_quality: bench/kd_quality.c distill.h | build/.dir
	$(CC) -std=c99 -O2 $(WARN) -I. -I$(STB) $< -o $@ -lm
bench-kd: build/kd_quality
	./build/kd_quality $(KD_FLAGS)
	OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/kd_quality_torch.py $(KD_FLAGS)

# Real tables (iris, wine, breast cancer: the CSV files of Debian's
# python3-sklearn, unpacked without installing it) through the distill
# command and PyTorch on the same splits: teacher, student, distilled student.
SKLEARN_DATA ?= build/sklearn/usr/lib/python3/dist-packages/sklearn/datasets/data
.PHONY: bench-tables
build/sklearn/.unpacked: | build/.dir
	cd build && apt-get download python3-sklearn && dpkg-deb -x python3-sklearn_*.deb sklearn && touch sklearn/.unpacked
bench-tables: build/distill
	@[ -f $(SKLEARN_DATA)/iris.csv ] || $(MAKE) build/sklearn/.unpacked
	OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/table_quality.py $(SKLEARN_DATA)
# Distillation on a transfer set (1,000 labels plus 54,000 unlabelled images,
# docs/DISTILLATION.md), both libraries; each trains its C1 teacher once and
# keeps it in build/ (KD_TRANSFER_FLAGS: --seeds N, --quick).
KD_TRANSFER_FLAGS ?= --seeds 3
.PHONY: bench-kd-transfer
bench: bench-kd-transfer
build/kd_transfer: bench/kd_transfer.c distill.h | build/.dir
	$(CC) -std=c99 -O2 $(WARN) -I. -I$(STB) $< -o $@ -lm
bench-kd-transfer: build/kd_transfer
	./build/kd_transfer --teacher build/teacher_c1.dst $(KD_TRANSFER_FLAGS)
	OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/kd_transfer_torch.py --teacher build/teacher_c1.pt $(KD_TRANSFER_FLAGS)

# The map of where distillation pays (docs/DISTILLATION.md): five students x
# four labelled counts x labels / distilled x 3 seeds, both libraries, then
# the table and build/kd_map.svg. Hours of CPU: KD_MAP_FLAGS="--students C2"
# runs a part; the table takes whatever logs exist.
.PHONY: bench-kd-map
bench-kd-map: build/kd_transfer
	./build/kd_transfer --teacher build/teacher_c1.dst --seeds 3 --map $(KD_MAP_FLAGS) | tee build/kd_map_c.log
	OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/kd_transfer_torch.py --teacher build/teacher_c1.pt --seeds 3 \
	    --map $(KD_MAP_FLAGS) | tee build/kd_map_torch.log
	python3 bench/kd_map_table.py --c build/kd_map_c.log --torch build/kd_map_torch.log --svg build/kd_map.svg

# Thread scaling (1 and 2 threads; BENCH_THREADS_ARGS="--threads-list 1,2,4",
# --quick): training, batch-1 latency and GEMM, distill.h against PyTorch and
# OpenBLAS. The PyTorch script starts one process per thread count with
# OPENBLAS_NUM_THREADS set; the C side sets OpenBLAS's threads with
# openblas_set_num_threads, so its environment leaves the count open.
bench: bench-threads
build/bench_threads: bench/bench_threads.c distill.h | build/.dir
	$(CC) -std=c99 -O2 $(WARN) -I. -I$(STB) $< -o $@ -lopenblas -lm -lpthread
BENCH_THREADS_ARGS ?=
bench-threads: build/bench_threads
	$(TORCH_PY) bench/bench_threads_torch.py $(BENCH_THREADS_ARGS) > build/bench_threads_torch.txt
	./build/bench_threads --torch build/bench_threads_torch.txt $(BENCH_THREADS_ARGS)

# Where a second thread starts to pay (the source of DST__PAR_MIN_FLOPS):
# built with the cut-off off.
.PHONY: bench-cutoff
build/bench_cutoff: bench/bench_cutoff.c distill.h | build/.dir
	$(CC) -std=c99 -O2 $(WARN) -DDST__PAR_MIN_FLOPS=1e-9 -I. $< -o $@ -lm -lpthread
bench-cutoff: build/bench_cutoff
	./build/bench_cutoff

# The weight file: save / load times, in place against copying, CRC32 rate.
.PHONY: bench-file
bench: bench-file
build/bench_file: bench/bench_file.c distill.h | build/.dir
	$(CC) -std=c99 -O2 $(WARN) -I. $< -o $@ -lm
bench-file: build/bench_file
	./build/bench_file

# ---- the demo (bench/demo.c) -------------------------------------------------
# A conv teacher distills a tiny CNN from 1,000 labels and 59,000 unlabelled
# Fashion-MNIST images (minutes on one core). DEMO_FLAGS="--teacher build/c1.dst"
# keeps the teacher for the next run, DEMO_FLAGS=--quick is a smoke test.
FMNIST ?= /usr/share/datasets/fashion-mnist
DEMO_FLAGS ?=
build/demo: bench/demo.c distill.h | build/.dir
	$(CC) -std=c99 $(CFLAGS) $(WARN) -I. -I$(STB) $< -o $@ -lm
demo: build/demo
	@if [ ! -f $(FMNIST)/train-images-idx3-ubyte.gz ] && [ ! -f $(FMNIST)/train-images-idx3-ubyte ]; then \
	    echo "make demo: Fashion-MNIST is not in $(FMNIST)."; \
	    echo "On Debian/Ubuntu: apt-get install dataset-fashion-mnist (or set FMNIST=DIR with the four IDX files)"; \
	    exit 1; fi
	./build/demo --data $(FMNIST) $(DEMO_FLAGS)

clean:
	rm -rf build

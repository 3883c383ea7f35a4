#!/bin/sh
# tests/compile/run.sh - how the header builds in a user's program: two
# translation units, declarations-only includes, DISTILL_STATIC twice, the
# user's macros, the stricter warnings, as C and C++ with gcc and clang; and
# one seed training the same bits whichever way the header was built.
# Run from the repository root (make test does); the last line is
# "N passed, N failed".
out=build/compile
mkdir -p "$out"
pass=0; fail=0
WARN="-Wall -Wextra -Wpedantic -Werror"
STRICT="-Wshadow -Wdouble-promotion -Wundef -Wcast-align -Wmissing-declarations"
STRICT_C="$STRICT -Wstrict-prototypes -Wmissing-prototypes"

check() { # name, then the command
    name=$1; shift
    if "$@" > "$out/log" 2>&1; then pass=$((pass + 1)); echo "ok   $name"
    else fail=$((fail + 1)); echo "FAIL $name"; head -n 20 "$out/log"; fi
}

for cc in gcc clang; do
    check "$cc: implementation and declarations-only in two files" \
        sh -c "$cc -std=c99 -O1 $WARN $STRICT_C -I. tests/compile/impl.c tests/compile/decls.c -o $out/decls-$cc -lm && $out/decls-$cc"
    check "$cc: DISTILL_STATIC in two files" \
        sh -c "$cc -std=c99 -O1 $WARN $STRICT_C -I. tests/compile/static_a.c tests/compile/static_b.c -o $out/static-$cc -lm && $out/static-$cc"
    check "$cc: the user's macros" $cc -std=c99 -O1 $WARN $STRICT_C -I. -c tests/compile/user_macros.c -o $out/macros-$cc.o
done
for cxx in g++ clang++; do
    check "$cxx: implementation and declarations-only in two files (C++)" \
        sh -c "$cxx -x c++ -std=c++11 -O1 $WARN $STRICT -I. tests/compile/impl.c tests/compile/decls.c -o $out/decls-$cxx -lm && $out/decls-$cxx"
    check "$cxx: DISTILL_STATIC in two files (C++)" \
        sh -c "$cxx -x c++ -std=c++11 -O1 $WARN $STRICT -I. tests/compile/static_a.c tests/compile/static_b.c -o $out/static-$cxx -lm && $out/static-$cxx"
    check "$cxx: the user's macros (C++)" $cxx -x c++ -std=c++11 -O1 $WARN $STRICT -I. -c tests/compile/user_macros.c -o $out/macros-$cxx.o
done

# The doc block's quick start, cut out of distill.h as written, builds clean
# and runs (as C with gcc and clang, and as C++).
awk '/^         #define DISTILL_IMPLEMENTATION$/ { on = 1 } on { print substr($0, 10) } on && /^         }$/ { exit }' \
    distill.h > "$out/quickstart.c"
for build in "gcc -std=c99" "clang -std=c99" "g++ -x c++ -std=c++11"; do
    tag=$(echo "$build" | tr -c 'a-z0-9' '_')
    check "the doc block's quick start: $build" \
        sh -c "$build -O2 $WARN $STRICT -I. $out/quickstart.c -o $out/qs-$tag -lm && cd $out && ./qs-$tag | grep -q 'student accuracy'"
done

# The same seed trains the same bits: ISO and GNU modes, gcc and clang, C++,
# and -march=native (which lets the compiler fuse a*b+c anywhere the library
# did not forbid it), each on every SIMD level the CPU has.
ref=""
for build in "gcc -std=c99" "gcc -std=gnu99" "gcc -std=gnu99 -march=native" "clang -std=c99" \
             "clang -std=c99 -march=native" "g++ -x c++ -std=gnu++11 -march=native" \
             "gcc -std=gnu99 -O3 -march=native -ffp-contract=fast"; do
    tag=$(echo "$build" | tr -c 'a-z0-9' '_')
    if $build -O2 $WARN -I. tests/compile/same_bits.c -o "$out/same-$tag" -lm > "$out/log" 2>&1 &&
       "$out/same-$tag" > "$out/same-$tag.txt" 2>>"$out/log"; then
        h=$(tr '\n' ' ' < "$out/same-$tag.txt")
        if [ -z "$ref" ]; then ref=$h; refbuild=$build; fi
        if [ "$h" = "$ref" ]; then pass=$((pass + 1)); echo "ok   same bits: $build ($h)"
        else fail=$((fail + 1)); echo "FAIL same bits: $build gives $h, $refbuild gave $ref"; fi
    else
        fail=$((fail + 1)); echo "FAIL same bits: $build did not build or run"; head -n 20 "$out/log"
    fi
done

# DST_INFERENCE_ONLY: a deployed program (a model from memory, predict, its
# int8 model) builds clean and runs as C and C++ with gcc and clang; the
# library compiled that way defines no training function (the same grep
# finds them in a full build, so the pattern is sound), and calling one does
# not compile.
for build in "gcc -std=c99 $STRICT_C" "clang -std=c99 $STRICT_C" "g++ -x c++ -std=c++11 $STRICT" \
             "clang++ -x c++ -std=c++11 $STRICT"; do
    tag=$(echo "$build" | cut -d' ' -f1)
    check "DST_INFERENCE_ONLY program: $tag" \
        sh -c "$build -O1 $WARN -I. tests/compile/inference.c -o $out/inference-$tag -lm && $out/inference-$tag"
done
training='^[0-9a-f]+ [TtDdRr] (dst_model_fit|dst_model_train_step|dst_model_distill_step|dst_model_backward|dst_model_set_optimizer|dst_optimizer_update|dst_clip_grad_norm|dst_lr_at|dst_teacher_[a-z]+|dst_model_(save|load|write|parse)_checkpoint[a-z_]*|dst_(csv|npy|idx)_[a-z]+|dst_mnist_load|dst_dataset_[a-z_]+|dst_split_stratified|dst__[a-z0-9]+_layer_backward|dst__(sgd|adam)_[a-z0-9]+)$'
check "DST_INFERENCE_ONLY: no training function in the library" \
    sh -c "gcc -std=c99 -O1 -I. -c tests/compile/inference.c -o $out/inference.o &&
           sed 's/#define DST_INFERENCE_ONLY//' tests/compile/inference.c > $out/inference_full.c &&
           gcc -std=c99 -O1 -I. -Itests/compile -c $out/inference_full.c -o $out/inference_full.o &&
           nm $out/inference_full.o | grep -Eq '$training' && ! nm $out/inference.o | grep -E '$training'"
check "DST_INFERENCE_ONLY: dst_model_fit is not declared" \
    sh -c "printf '#define DST_INFERENCE_ONLY\\n#include \"distill.h\"\\nint f(dst_model *m);\\nint f(dst_model *m) { return (int)dst_model_fit(m, 0, 0, 0, 0); }\\n' > $out/fit.c &&
           ! gcc -std=c99 $WARN -I. -c $out/fit.c -o $out/fit.o"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

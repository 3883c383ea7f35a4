#!/bin/sh
# tests/cli/test_cli.sh - the distill command end to end, run by `make test`.
# On a small IDX set it writes itself (tests/cli/cli_helper.c: 12x12 images whose
# class is the quadrant holding a bright square): train, distill, eval,
# predict on PNG files, info, quantize (int8), export-c (the generated C compiled and checked
# against the library, tests/cli/cli_export_check.c), export-bytes, plot; then every bad input: its
# exit status, exactly one line on stderr, and what that line says.
#   tests/cli/test_cli.sh [DISTILL...]   default: build/distill build/distill-san
#   EXAMPLES=DIR: the examples' programs from DIR (default build; make test-tcc
#   gives the tcc-built ones)
#   RUN=CMD, EXE=SUFFIX: another platform's programs (make test-windows,
#   test-aarch64, test-s390x): CMD runs them (wine, qemu-aarch64, ...), their
#   names end in SUFFIX (.exe). The test data, the C compiler of the export-c
#   check and script(1) stay the host's; what the programs print is read with
#   CRLF line ends made LF (Windows writes CRLF to files and pipes).
# Needs build/cli_helper (make builds it). Prints "ok"/"FAIL" lines and, last,
# "N passed, N failed"; exits 1 on any failure.
cd "$(dirname "$0")/../.." || exit 1
CC=${CC:-cc}
STB=${STB:-/usr/include/stb}
WARN="-Wall -Wextra -Wpedantic -Werror"
HELPER=build/cli_helper
BINS=${*:-build/distill build/distill-san}
X=${EXAMPLES:-build}
RUN=${RUN:-}
EXE=${EXE:-}
T=build/cli-test
pass=0
fail=0

ok() { pass=$((pass + 1)); echo "ok   cli$tag $1"; }
no() {
    fail=$((fail + 1))
    echo "FAIL cli$tag $1"
    echo "    $2"
    [ -s "$T/err" ] && head -n 5 "$T/err" | sed 's/^/    stderr: /'
}
run() {
    "$@" >"$T/raw" 2>"$T/raw_err"; rc=$?
    # Under wine on a loaded machine a program now and then ends before it
    # starts: exit 1, nothing written (once in a CI run of ~5,000 programs;
    # the same command passed 5 times of 5 after). The command never fails
    # silently (it says why on stderr), so such a run is wine's: run it once
    # more, and say so in the log.
    case $RUN in *wine*)
        if [ $rc -eq 1 ] && [ ! -s "$T/raw" ] && [ ! -s "$T/raw_err" ]; then
            echo "    (wine: exit 1 and no output; run once more: $*)"
            "$@" >"$T/raw" 2>"$T/raw_err"; rc=$?
        fi;;
    esac
    sed 's/\r$//' "$T/raw" >"$T/out"
    sed 's/\r$//' "$T/raw_err" >"$T/err"
}
# good NAME CMD...: exit 0 and nothing on stderr
good() {
    name=$1; shift
    run "$@"
    if [ $rc -eq 0 ] && [ ! -s "$T/err" ]; then ok "$name"; else no "$name" "exit $rc: $*"; fi
}
# bad NAME STATUS TEXT CMD...: exit STATUS and one line on stderr that contains TEXT
bad() {
    name=$1 want=$2 text=$3; shift 3
    run "$@"
    lines=$(wc -l <"$T/err")
    if [ $rc -eq "$want" ] && [ "$lines" -eq 1 ] && grep -qF -- "$text" "$T/err"; then ok "$name"
    else no "$name" "expected exit $want and one stderr line with '$text'; got exit $rc, $lines line(s): $*"; fi
}
# warns NAME TEXT CMD...: exit 0 and one line on stderr, a warning that contains TEXT
warns() {
    name=$1 text=$2; shift 2
    run "$@"
    lines=$(wc -l <"$T/err")
    if [ $rc -eq 0 ] && [ "$lines" -eq 1 ] && grep -q ": warning: " "$T/err" && grep -qF -- "$text" "$T/err"; then ok "$name"
    else no "$name" "expected exit 0 and one stderr warning with '$text'; got exit $rc, $lines line(s): $*"; fi
}
# has NAME REGEX [FILE]: the last command's stdout (or FILE) matches
has() {
    if grep -qE -- "$2" "${3:-$T/out}"; then ok "$1"; else no "$1" "no line matches /$2/ in ${3:-stdout}"; fi
}
# screen_text: a terminal's bytes (stdin) as rows of text: the cursor hide and
# show, erase-line and cursor-right sequences undone (the last as spaces), a
# carriage return a new row
screen_text() {
    awk -v esc="$(printf '\033')" '{
        line = $0; text = ""
        while ((i = index(line, esc "[")) > 0) {
            text = text substr(line, 1, i - 1); line = substr(line, i + 2)
            match(line, /^[?0-9;]*[A-Za-z]/)
            code = substr(line, 1, RLENGTH); line = substr(line, RLENGTH + 1)
            if (code ~ /^[0-9]*C$/) { n = code + 0; if (n < 1) n = 1; while (n-- > 0) text = text " " }
        }
        print text line
    }' | tr '\r' '\n'
}
# value KEY: the number after "KEY: " in the last stdout
value() { sed -n "s/^$1: \\([0-9.]*\\)\$/\\1/p" "$T/out" | tail -n 1; }
# at_least NAME X MIN
at_least() {
    if [ -n "$2" ] && awk "BEGIN { exit !($2 >= $3) }"; then ok "$1"; else no "$1" "'$2' is not >= $3"; fi
}

rm -rf "$T"
mkdir -p "$T/data" "$T/data8" "$T/png" "$T/broken" "$T/kinds" "$T/kinds8" "$T/game" "$T/folders" "$T/gameidx"
if ! $HELPER data "$T/data" || ! $HELPER data "$T/data8" 8 || ! $HELPER png "$T/png" || ! $HELPER broken "$T/broken" ||
    ! $HELPER npy "$T/data" "$T/logits.npy" || ! $HELPER npy "$T/data" "$T/logits5.npy" 5 ||
    ! $HELPER model "$T" "$T/options.bin" || ! $HELPER kinds "$T/kinds" || ! $HELPER kinds8 "$T/kinds8" || ! $HELPER table "$T" ||
    ! $HELPER game "$T/game" || ! $HELPER folders "$T/folders" || ! $HELPER gameidx "$T/gameidx" ||
    ! $HELPER npy "$T/data" "$T/logits_twice.npy" 4 1 || ! $HELPER unlabeled "$T/data" "$T/unl.npy" 3d ||
    ! $HELPER unlabeled "$T/data" "$T/unl_flat.npy" flat || ! $HELPER unlabeled "$T/data" "$T/unl_int.npy" int ||
    ! $HELPER unlabeled "$T/data" "$T/unl_raw.npy" raw || ! $HELPER unlabeled "$T/data" "$T/unl_shape.npy" shape; then
    echo "FAIL cli: $HELPER could not write the test data"
    echo "0 passed, 1 failed"
    exit 1
fi
D="$T/data"
G="$T/game"
F="$T/folders"
prev_export=

for BIN in $BINS; do
    case $BIN in *san*) tag="[san]" ;; *) tag="" ;; esac
    if [ ! -x "$BIN" ]; then no "binary" "$BIN is missing (make $BIN)"; continue; fi
    BIN="$RUN $BIN" # from here on, the command that runs it
    M="$T/m$tag"
    mkdir -p "$M"

    # ---- the happy path ----------------------------------------------------
    good "train mlp" $BIN train --data $D --arch dense:32,relu,dense:4 --epochs 8 --lr 0.01 \
        --out $M/mlp.bin --log $M/mlp.csv --plot $M/mlp.png
    has "train prints accuracy: X" '^accuracy: [01]\.[0-9]{4}$'
    has "train prints loss: Y" '^loss: [0-9]+\.[0-9]{4}$'
    at_least "train mlp learns the quadrants" "$(value accuracy)" 0.9
    if grep -q "batch" "$T/out"; then no "no progress line into a file" "$(grep batch $T/out | head -1)"
    else ok "no progress line into a file, one line per epoch"; fi
    mlp_acc=$(value accuracy)
    has "training log has 8 epochs" '^8,[0-9.e-]+,' $M/mlp.csv
    has "training plot is a PNG" 'PNG' $M/mlp.png

    good "train cnn teacher" $BIN train --data $D --arch conv:8:3:1:same,relu,maxpool:2,flatten,dense:32,relu,dense:4 \
        --epochs 6 --lr 0.005 --optimizer adamw --seed 3 --out $M/teacher.bin --log $M/teacher.csv --quiet
    at_least "cnn teacher learns" "$(value accuracy)" 0.9
    good "distill" $BIN distill --data $D --teacher $M/teacher.bin --arch dense:16,relu,dense:4 \
        --temperature 4 --alpha 0.9 --epochs 8 --lr 0.01 --out $M/student.bin --log $M/student.csv --name distilled
    has "distill reports the teacher" '^teacher: test accuracy [01]\.[0-9]{4}, T = 4, alpha = 0.9$'
    at_least "distilled student learns" "$(value accuracy)" 0.9
    student_acc=$(value accuracy)

    good "distill from .npy logits" $BIN distill --data $D --teacher-logits $T/logits.npy --arch dense:16,relu,dense:4 \
        --temperature 2 --alpha 0.5 --epochs 8 --lr 0.01 --out $M/npy_student.bin
    has "distill --teacher-logits reports the logits" '^teacher logits: training accuracy 1\.0000, T = 2, alpha = 0.5$'
    at_least "student of .npy logits learns" "$(value accuracy)" 0.9

    # a transfer set: 8 labelled images, the 600 training images again without
    # labels (IDX .gz, plain IDX, .npy 3-D and flat), soft targets alone for those
    good "distill on a transfer set (IDX .gz)" $BIN distill --data $D --teacher $M/teacher.bin --arch dense:16,relu,dense:4 \
        --temperature 4 --alpha 0.5 --epochs 8 --lr 0.01 --limit 8 --unlabeled $D/train-images-idx3-ubyte.gz \
        --schedule cosine --warmup 1 --out $M/transfer.bin
    has "distill reports the transfer set" "^transfer set: 600 images without labels from $D/train-images-idx3-ubyte.gz \\(soft targets only\\)$"
    has "distill on 8 labelled images" '^data: 8 training and 200 test images'
    at_least "student of 8 labels and 600 unlabelled images learns" "$(value accuracy)" 0.9
    good "info on the transfer-set student" $BIN info $M/transfer.bin
    has "info: metadata kd.unlabeled_samples" '^  kd.unlabeled_samples = 600$'
    has "info: metadata train.schedule" '^  train.schedule = cosine$'
    has "info: metadata train.warmup" '^  train.warmup = 1$'
    good "distill on a transfer set (plain IDX)" $BIN distill --data $D --teacher $M/teacher.bin --arch dense:16,relu,dense:4 \
        --temperature 4 --alpha 0.5 --epochs 4 --lr 0.01 --limit 8 --unlabeled $D/t10k-images-idx3-ubyte --quiet --out $M/x.bin
    has "a plain IDX transfer set of 200 images" '^accuracy: '
    good "distill on a transfer set (.npy)" $BIN distill --data $D --teacher $M/teacher.bin --arch dense:16,relu,dense:4 \
        --temperature 4 --alpha 0.5 --epochs 8 --lr 0.01 --limit 8 --unlabeled $T/unl.npy --out $M/x.bin
    at_least "student of a .npy transfer set learns" "$(value accuracy)" 0.9
    good "distill on a transfer set (.npy, flat)" $BIN distill --data $D --teacher $M/teacher.bin --arch dense:16,relu,dense:4 \
        --temperature 4 --alpha 0.5 --epochs 2 --limit 8 --unlabeled $T/unl_flat.npy --quiet --out $M/x.bin
    good "transfer set with teacher logits" $BIN distill --data $D --teacher-logits $T/logits_twice.npy \
        --arch dense:16,relu,dense:4 --temperature 2 --alpha 0.5 --epochs 8 --lr 0.01 --limit 8 --unlabeled $T/unl.npy \
        --schedule step:3:0.5 --out $M/x.bin
    at_least "student of teacher logits and a transfer set learns" "$(value accuracy)" 0.9
    warns "transfer set of raw pixels: a warning" "values above 1; the training images are pixels / 255" \
        $BIN distill --data $D --teacher $M/teacher.bin --arch dense:4 --temperature 2 --alpha 0.5 --epochs 1 \
        --limit 8 --unlabeled $T/unl_raw.npy --quiet --out $M/x.bin

    # attention transfer: the student's conv+ReLU maps against the teacher's
    good "distill with --attention" $BIN distill --data $D --teacher $M/teacher.bin --arch conv:4:3:1:same,relu,maxpool:2,flatten,dense:4 \
        --temperature 4 --alpha 0.5 --epochs 6 --lr 0.01 --attention 1:1:2 --out $M/attention.bin
    at_least "student with attention transfer learns" "$(value accuracy)" 0.9
    good "info on the attention student" $BIN info $M/attention.bin
    has "info: metadata kd.attention" '^  kd.attention = 1:1:2$'
    good "distill with two --attention terms" $BIN distill --data $D --teacher $M/teacher.bin \
        --arch conv:4:3:1:same,relu,maxpool:2,flatten,dense:4 --temperature 4 --alpha 0.5 --epochs 2 --lr 0.01 \
        --attention 1:1:2 --attention 2:2 --quiet --out $M/attention2.bin
    good "info on the two-attention student" $BIN info $M/attention2.bin
    has "info: metadata kd.attention, two terms" '^  kd.attention = 1:1:2,2:2$'
    # FitNets hints: conv maps 4 -> 8 channels through a 1x1 conv adapter, and
    # the flattened maps against the teacher's dense:32 through a dense one
    good "distill with --hint" $BIN distill --data $D --teacher $M/teacher.bin --arch conv:4:3:1:same,relu,maxpool:2,flatten,dense:4 \
        --temperature 4 --alpha 0.5 --epochs 6 --lr 0.01 --hint 1:1 --hint 3:5:0.5 --attention 1:1 --out $M/hint.bin
    at_least "student with hints learns" "$(value accuracy)" 0.9
    good "info on the hint student" $BIN info $M/hint.bin
    has "info: metadata kd.hint" '^  kd.hint = 1:1,3:5:0.5$'
    has "info: the adapters are not in the student" '^parameters: 620 '

    good "eval" $BIN eval --data $D --model $M/student.bin
    has "eval prints accuracy: X" '^accuracy: [01]\.[0-9]{4}$'
    has "eval prints loss: Y" '^loss: [0-9]+\.[0-9]{4}$'
    if [ "$(value accuracy)" = "$student_acc" ]; then ok "eval agrees with training's last line"
    else no "eval agrees with training's last line" "eval $(value accuracy), distill $student_acc"; fi
    has "eval prints a confusion matrix" '^confusion matrix \(test set'
    rows=$(awk 'NF >= 7 && /^ +[0-3] / { n = 0; for (i = 2; i <= 5; ++i) n += $i; s += n } END { print s }' "$T/out")
    if [ "$rows" = 200 ]; then ok "confusion matrix counts the 200 test images"; else no "confusion matrix counts the 200 test images" "sum $rows"; fi
    has "confusion matrix names the classes" ' bottom-right$'
    good "eval --split train --limit 100" $BIN eval --data $D --model $M/mlp.bin --split train --limit 100
    has "eval on the training split" '^confusion matrix \(training set'

    # int8: quantize the CNN teacher; eval, predict and info then take it like any model
    good "quantize" $BIN quantize --model $M/teacher.bin --data $D --out $M/teacher8.bin --calibration 200
    has "quantize: calibration samples" '^calibration: 200 training images$'
    has "quantize reports both accuracies" '^test: float accuracy [01]\.[0-9]{4}, int8 accuracy [01]\.[0-9]{4} \(200 images\)$'
    good "eval on the int8 model" $BIN eval --data $D --model $M/teacher8.bin
    at_least "the int8 teacher keeps its accuracy" "$(value accuracy)" 0.9
    good "predict with the int8 model" $BIN predict --model $M/teacher8.bin $T/png/q0.png
    has "int8 predict: gray PNG" "^$T/png/q0.png: 0 top-left "
    good "info on the int8 model" $BIN info $M/teacher8.bin
    has "info marks the int8 layers" '^   0  conv2d 8 3x3 .* params  int8$'
    has "info names the int8 tensors" '^  0\.weight int8, bias int32$'
    has "info: quantization metadata" '^  quant\.samples = 200$'
    has "info: MSE calibration by default" '^  quant\.calibration = mse$'
    bad "quantize an int8 model" 1 "is an int8 model already" $BIN quantize --model $M/teacher8.bin --data $D --out $M/x8.bin
    good "quantize --percentile" $BIN quantize --model $M/teacher.bin --data $D --out $M/teacher8p.bin --calibration 200 \
        --percentile 99.9
    good "info on the percentile-calibrated model" $BIN info $M/teacher8p.bin
    has "info: percentile calibration" '^  quant\.calibration = percentile$'
    has "info: its percentile" '^  quant\.percentile = 99\.9'
    bad "quantize --percentile 50" 2 "--percentile: 50 is out of range (above 50 to 100)" \
        $BIN quantize --model $M/teacher.bin --data $D --out $M/x8.bin --percentile 50
    good "quantize --minmax" $BIN quantize --model $M/teacher.bin --data $D --out $M/teacher8m.bin --calibration 200 --minmax
    good "info on the min/max model" $BIN info $M/teacher8m.bin
    has "info: min/max calibration" '^  quant\.calibration = minmax$'
    bad "quantize --minmax --percentile" 2 "give --percentile or --minmax, not both" \
        $BIN quantize --model $M/teacher.bin --data $D --out $M/x8.bin --minmax --percentile 99
    bad "export-c of an int8 model with a float dense layer" 1 "layer 0 (dense) runs in float inside the int8 model" \
        $BIN export-c $T/kinds8/float_layer.q8
    bad "quantize without --out" 2 "--out is required" $BIN quantize --model $M/teacher.bin --data $D
    bad "quantize --calibration 0" 2 "--calibration: 0 is out of range" \
        $BIN quantize --model $M/teacher.bin --data $D --out $M/x8.bin --calibration 0
    bad "quantize: an option of training" 2 "option --epochs does not apply to quantize" \
        $BIN quantize --model $M/teacher.bin --data $D --out $M/x8.bin --epochs 3
    # quantization-aware distillation in one command: the float epochs, then
    # epochs with int8 rounding (the batch norm folded first); --out is int8
    good "distill --quant-aware" $BIN distill --data $D --teacher $M/teacher.bin \
        --arch conv:4:3:1:same,bn,relu,maxpool:2,flatten,dense:4 --temperature 4 --alpha 0.5 --epochs 4 --lr 0.01 \
        --quant-aware 2 --out $M/qat8.bin
    has "--quant-aware: its epochs announced" '^quantization-aware: 2 epochs at lr 0\.001$'
    has "--quant-aware: the float accuracy first" '^accuracy: [01]\.[0-9]{4}$'
    qat_acc=$(sed -n 's/^int8 accuracy: \([0-9.]*\)$/\1/p' "$T/out")
    at_least "the quantization-aware int8 student learns" "$qat_acc" 0.9
    good "info on the quantization-aware student" $BIN info $M/qat8.bin
    has "info: the quantization-aware student is int8, batch norm folded" '^   0  conv2d 4 3x3 .* params  int8$'
    has "info: its ranges came from training" '^  quant\.calibration = trained$'
    has "info: its quantization-aware epochs" '^  quant\.aware_epochs = 2$'
    good "eval on the quantization-aware student" $BIN eval --data $D --model $M/qat8.bin
    if [ "$(value accuracy)" = "$qat_acc" ]; then ok "eval of the quantization-aware student agrees with distill's"
    else no "eval of the quantization-aware student agrees with distill's" "eval $(value accuracy), distill $qat_acc"; fi
    bad "--quant-aware 0" 2 "--quant-aware: 0 is out of range" $BIN train --data $D --arch dense:4 --epochs 1 \
        --quant-aware 0 --out $M/x8.bin
    bad "--quant-aware: not an option of eval" 2 "option --quant-aware does not apply to eval" \
        $BIN eval --data $D --model $M/teacher.bin --quant-aware 1

    good "predict" $BIN predict --model $M/mlp.bin --top 2 $T/png/q0.png $T/png/q3_rgb.png $T/png/q1_light.png
    has "predict: gray PNG as trained" "^$T/png/q0.png: 0 top-left [01]\\.[0-9]{4}, [0-9] "
    has "predict: RGB 36x36 PNG resized" "^$T/png/q3_rgb.png: 3 bottom-right "
    has "predict: dark-on-white PNG inverted" "^$T/png/q1_light.png: 1 top-right .*\\(inverted\\)$"
    good "predict --invert no" $BIN predict --model $M/mlp.bin --invert no $T/png/q1_light.png
    if grep -q inverted "$T/out"; then no "predict --invert no does not invert" "$(cat $T/out)"; else ok "predict --invert no does not invert"; fi

    # ---- --threads N: the same bits on any number of threads -----------------
    # The same --out every time (the model keeps its command line, which leaves
    # --threads out), then the files compared byte for byte.
    arch=conv:4:3:1:same,relu,maxpool:2,flatten,dense:16,relu,dense:4
    for n in 1 2 3 default; do
        if [ $n = default ]; then th=; want='[1-9][0-9]*'; else th="--threads $n"; want=$n; fi
        good "train --threads $n" $BIN train --data $D --arch $arch \
            --epochs 2 --lr 0.01 --seed 5 $th --out $M/threads.bin
        has "train --threads $n: the count in the data line" "^data: .*; model: [0-9]+ parameters; threads: $want\$"
        cp $M/threads.bin $M/threads_$n.bin
        good "distill --threads $n" $BIN distill --data $D --teacher $M/teacher.bin --arch dense:16,relu,dense:4 \
            --temperature 4 --alpha 0.9 --epochs 2 --lr 0.01 $th --quiet --out $M/threads_kd.bin
        cp $M/threads_kd.bin $M/threads_kd_$n.bin
    done
    for n in 2 3 default; do
        if cmp -s $M/threads_1.bin $M/threads_$n.bin; then ok "train --threads $n saves the bytes of --threads 1"
        else no "train --threads $n saves the bytes of --threads 1" "cmp $M/threads_1.bin $M/threads_$n.bin"; fi
        if cmp -s $M/threads_kd_1.bin $M/threads_kd_$n.bin; then ok "distill --threads $n saves the bytes of --threads 1"
        else no "distill --threads $n saves the bytes of --threads 1" "cmp $M/threads_kd_1.bin $M/threads_kd_$n.bin"; fi
    done
    good "train --threads=2" $BIN train --data $D --arch $arch \
        --epochs 2 --lr 0.01 --seed 5 --threads=2 --out $M/threads.bin
    if cmp -s $M/threads_1.bin $M/threads.bin; then ok "train --threads=2 saves the bytes of --threads 1"
    else no "train --threads=2 saves the bytes of --threads 1" "cmp $M/threads_1.bin $M/threads.bin"; fi
    good "info on a model trained with --threads" $BIN info $M/threads_2.bin
    line="  command = distill train --data $D --arch $arch --epochs 2 --lr 0.01 --seed 5 --out $M/threads.bin"
    if grep -qxF -- "$line" $T/out; then ok "info: the command line without --threads"
    else no "info: the command line without --threads" "no line '$line'"; fi
    good "eval --threads 2" $BIN eval --data $D --model $M/student.bin --threads 2
    if [ "$(value accuracy)" = "$student_acc" ]; then ok "eval --threads 2 agrees with training"
    else no "eval --threads 2 agrees with training" "eval $(value accuracy), distill $student_acc"; fi
    good "eval --threads 1" $BIN eval --data $D --model $M/threads_1.bin --threads 1
    cp $T/out $M/eval_1.txt
    good "eval --threads 3" $BIN eval --data $D --model $M/threads_1.bin --threads 3
    if cmp -s $M/eval_1.txt $T/out; then ok "eval --threads 3 prints what --threads 1 does"
    else no "eval --threads 3 prints what --threads 1 does" "diff $M/eval_1.txt $T/out"; fi
    good "predict --threads 1" $BIN predict --model $M/mlp.bin --threads 1 --top 2 $T/png/q0.png $T/png/q3_rgb.png
    cp $T/out $M/predict_1.txt
    good "predict --threads 2" $BIN predict --model $M/mlp.bin --threads 2 --top 2 $T/png/q0.png $T/png/q3_rgb.png
    if cmp -s $M/predict_1.txt $T/out; then ok "predict --threads 2 prints what --threads 1 does"
    else no "predict --threads 2 prints what --threads 1 does" "diff $M/predict_1.txt $T/out"; fi

    good "info" $BIN info $M/student.bin
    has "info: input shape" '^input: 1x12x12$'
    has "info: layers" '^ +0  dense 16 +1x12x12 -> 16x1x1 +2320 params$'
    has "info: parameter count" '^parameters: 2388 '
    has "info: metadata arch" '^  arch = dense:16,relu,dense:4$'
    has "info: metadata classes" '^  classes = top-left,top-right,bottom-left,bottom-right$'
    has "info: metadata temperature" '^  kd.temperature = 4$'
    has "info: metadata test accuracy" '^  test.accuracy = '

    # ---- your own data: CSV tables, .npy arrays, folders of images ------------
    good "train on a CSV" $BIN train --data $G/game.csv --test $G/game_test.csv --label species \
        --arch dense:16,relu,dense:3 --epochs 20 --lr 0.01 --out $M/csv.bin
    has "csv: the data line" '^data: 400 training and 100 test rows of 1x1x3, 3 classes; model: 115 parameters; threads: [0-9]+$'
    has "csv: the normalisation said, never 1/255" '^normalisation: per feature \(v - mean\) / std from the 400 training rows \(not pixels: no 1/255\)$'
    at_least "csv: learns the species (features 10^5 apart in scale)" "$(value accuracy)" 0.85
    csv_acc=$(value accuracy)
    good "eval on a CSV test file" $BIN eval --model $M/csv.bin --data $G/game.csv --test $G/game_test.csv --label species
    if [ "$(value accuracy)" = "$csv_acc" ]; then ok "csv: eval agrees with training"; else no "csv: eval agrees with training" "eval $(value accuracy), train $csv_acc"; fi
    has "csv: confusion matrix names the sorted classes" '^ +0 +[0-9].* dwarf$'
    good "info on a CSV model" $BIN info $M/csv.bin
    has "csv: class names in the model" '^  classes = dwarf,elf,orc$'
    has "csv: per-feature means in the model" '^  input.mean = [-0-9.e]+,[-0-9.e]+,[-0-9.e]+$'
    good "train on a CSV, test held out, label by index, --val, --keep-best" $BIN train --data $G/game.csv --label 2 \
        --arch dense:16,relu,dense:3 --epochs 12 --lr 0.01 --val 0.2 --keep-best --patience 3 --out $M/csv_val.bin
    has "csv: the held-out split" '^data: 256 training, 64 validation and 80 test rows of 1x1x3 \(test: 0.2 held out\)'
    has "csv: validation next to training" '^epoch 1/12  loss [0-9.]+  accuracy [0-9.]+  val loss [0-9.]+  val accuracy [0-9.]+ \*  test loss'
    has "keep-best: the epoch kept" '^keep-best: the parameters of epoch [0-9]+ \(best validation accuracy\)'
    val_acc=$(value accuracy)
    good "eval on the same held-out test rows" $BIN eval --model $M/csv_val.bin --data $G/game.csv --label 2
    if [ "$(value accuracy)" = "$val_acc" ]; then ok "csv: eval holds out the same test rows"; else no "csv: eval holds out the same test rows" "eval $(value accuracy), train $val_acc"; fi
    good "distill on a CSV from teacher logits per row, with --val" $BIN distill --data $G/game.csv --label species \
        --teacher-logits $G/game_logits.npy --val 0.1 --arch dense:8,relu,dense:3 --temperature 2 --alpha 0.5 --epochs 10 --lr 0.01 --out $M/csv_kd.bin
    has "csv: the teacher logits follow the rows through the splits" '^teacher logits: training accuracy 1\.0000'
    good "distill on a CSV from a teacher model" $BIN distill --data $G/game.csv --test $G/game_test.csv --label species \
        --teacher $M/csv.bin --arch dense:8,relu,dense:3 --temperature 4 --alpha 0.9 --epochs 20 --lr 0.01 --out $M/csv_student.bin
    has "csv: the teacher's accuracy as trained" "^teacher: test accuracy $csv_acc, T = 4"
    good "train on .npy tables" $BIN train --train-x $G/x.npy --train-y $G/y.npy --test-x $G/xt.npy --test-y $G/yt.npy \
        --arch dense:16,relu,dense:3 --epochs 20 --lr 0.01 --out $M/npy.bin
    if [ "$(value accuracy)" = "$csv_acc" ]; then ok ".npy: the same rows train the same model as the CSV"; else no ".npy: the same rows train the same model as the CSV" "npy $(value accuracy), csv $csv_acc"; fi
    good "train on float IDX features" $BIN train --data $T/gameidx --arch dense:16,relu,dense:3 --epochs 20 --lr 0.01 --out $M/fidx.bin
    has "float IDX: standardised per feature, never / 255" '^normalisation: per feature \(v - mean\) / std from the 400 training images \(not pixels: no 1/255\)$'
    at_least "float IDX: learns (not at chance)" "$(value accuracy)" 0.85
    good "train RGB on a folder of images" $BIN train --data $F --arch conv:8:3:1:same,relu,maxpool:2,flatten,dense:3 \
        --epochs 6 --lr 0.01 --out $M/rgb.bin
    has "folder: train/ and test/" '^data: 120 training and 36 test images of 3x12x12, 3 classes'
    has "folder: the normalisation said" '^normalisation: pixels x 1/255, then per channel \(v - mean\) / std from the training images: mean [0-9.]+,[0-9.]+,[0-9.]+ std'
    at_least "folder: learns the colours" "$(value accuracy)" 0.9
    rgb_acc=$(value accuracy)
    good "eval RGB folder" $BIN eval --model $M/rgb.bin --data $F
    if [ "$(value accuracy)" = "$rgb_acc" ]; then ok "folder: eval agrees with training"; else no "folder: eval agrees with training" "eval $(value accuracy), train $rgb_acc"; fi
    good "predict RGB pictures" $BIN predict --model $M/rgb.bin --top 1 $F/test/red/000.png $F/test/blue/001.png
    has "predict: red" "^$F/test/red/000.png: 2 red "
    has "predict: blue" "^$F/test/blue/001.png: 0 blue "
    good "distill RGB" $BIN distill --data $F --teacher $M/rgb.bin --arch conv:4:3:1:same,relu,gap,dense:3 \
        --temperature 4 --alpha 0.9 --epochs 6 --lr 0.02 --out $M/rgb_student.bin
    good "distill RGB on a transfer set of a folder" $BIN distill --data $F --teacher $M/rgb.bin \
        --arch conv:4:3:1:same,relu,gap,dense:3 --temperature 4 --alpha 0.9 --epochs 3 --lr 0.02 --limit 12 \
        --unlabeled $F/test --out $M/x.bin
    has "folder transfer set: read and reported" "^transfer set: 36 images without labels from $F/test \\(soft targets only\\)$"
    has "folder transfer set: normalised like the data" '^normalisation: pixels x 1/255, then per channel'
    bad "unlabeled: a folder for a table" 1 "a folder of images, but the training data are not images" $BIN distill \
        --data $G/game.csv --label species --teacher $M/csv.bin --arch dense:3 --temperature 2 --alpha 0.5 --epochs 1 \
        --unlabeled $F/test --out $M/x.bin
    # augmentation (the quadrants change class when mirrored: no flip here) and ensembles of teachers
    good "train with --augment" $BIN train --data $D --arch conv:4:3:1:same,relu,maxpool:2,flatten,dense:4 --epochs 6 \
        --lr 0.01 --augment shift:1,mixup:0.2 --quiet --out $M/aug.bin
    at_least "augmented student learns" "$(value accuracy)" 0.9
    good "info on the augmented student" $BIN info $M/aug.bin
    has "info: metadata train.augment" '^  train.augment = shift:1,mixup:0.2$'
    good "distill with --augment (live teacher)" $BIN distill --data $D --teacher $M/teacher.bin \
        --arch conv:4:3:1:same,relu,maxpool:2,flatten,dense:4 --temperature 4 --alpha 0.5 --epochs 6 --lr 0.01 \
        --augment shift:1,flip,noise:0.05,mixup:0.4 --limit 8 --unlabeled $T/unl.npy --quiet --out $M/aug_kd.bin
    good "train a table with --augment noise, mixup" $BIN train --data $G/game.csv --label species --arch dense:8,relu,dense:3 \
        --epochs 4 --lr 0.01 --augment noise:0.1,mixup:0.3 --quiet --out $M/x.bin
    good "distill from an ensemble" $BIN distill --data $D --teacher $M/teacher.bin --teacher $M/mlp.bin \
        --teacher-weights 1,2 --arch dense:16,relu,dense:4 --temperature 4 --alpha 0.5 --epochs 6 --lr 0.01 --out $M/ens.bin
    has "ensemble: each teacher reported" '^teacher 2 \(.*mlp\.bin\): test accuracy [01]\.[0-9]{4}, weight 2$'
    has "ensemble: its accuracy reported" '^ensemble: test accuracy [01]\.[0-9]{4}, T = 4, alpha = 0.5$'
    at_least "student of an ensemble learns" "$(value accuracy)" 0.9
    good "info on the ensemble's student" $BIN info $M/ens.bin
    has "info: metadata kd.teachers" '^  kd.teachers = 2$'
    has "info: metadata kd.teacher_weights" '^  kd.teacher_weights = 1,2$'
    good "distill from an ensemble with --augment" $BIN distill --data $D --teacher $M/teacher.bin --teacher $M/mlp.bin \
        --arch dense:16,relu,dense:4 --temperature 4 --alpha 0.5 --epochs 2 --augment shift:1 --quiet --out $M/x.bin
    bad "augment: shift on a table" 2 "shift and flip move pixels, and the data's samples are rows of 3 features" $BIN train \
        --data $G/game.csv --label species --arch dense:3 --epochs 1 --augment shift:1 --out $M/x.bin
    good "train gray, resized, test held out" $BIN train --data $F/flat --size 8x8 --channels 1 --arch dense:8,relu,dense:3 \
        --epochs 2 --out $M/gray.bin
    has "folder: held out, resized, gray" '^data: 48 training and 12 test images of 1x8x8 \(test: 0.2 held out\)'
    bad "csv: ragged row" 1 "ragged.csv: line 3: 3 fields, the first row has 4" $BIN train --data $G/ragged.csv --label label --arch dense:2 --epochs 1 --out $M/x.bin
    bad "csv: missing value" 1 "missing.csv: line 3, column 1: empty field (a missing value)" $BIN train --data $G/missing.csv --label label --arch dense:2 --epochs 1 --out $M/x.bin
    bad "csv: not a number" 1 "words.csv: line 3, column 1: 'five' is not a finite number" $BIN train --data $G/words.csv --label label --arch dense:2 --epochs 1 --out $M/x.bin
    bad "csv: no such label column" 1 "game.csv: line 2: no column is named 'kind'" $BIN train --data $G/game.csv --label kind --arch dense:3 --epochs 1 --out $M/x.bin
    bad "csv: an unknown class in the test file" 1 "troll.csv: line 3: class 'troll' is not one of the 3 known classes" $BIN eval --model $M/csv.bin --data $G/game.csv --test $G/troll.csv --label species
    bad "folder: mixed sizes" 1 "mixed/blue/001.png is 16x16, the first image 12x12: give the size" $BIN train --data $F/mixed --arch dense:3 --epochs 1 --out $M/x.bin
    bad "--keep-best needs --val" 2 "--keep-best needs --val FRACTION" $BIN train --data $G/game.csv --label species --arch dense:3 --epochs 1 --keep-best --out $M/x.bin
    bad "--label on an IDX directory" 2 "--label names the label column of a CSV table" $BIN train --data $D --label species --arch dense:4 --epochs 1 --out $M/x.bin
    bad "a table model on pictures" 1 "--model takes 1x1x3 inputs, the data's images are 1x12x12" $BIN eval --model $M/csv.bin --data $D
    bad ".npy labels of another length" 1 "400 feature rows and 100 labels" $BIN train --train-x $G/x.npy --train-y $G/yt.npy --arch dense:3 --epochs 1 --out $M/x.bin

    # export-c: one model per layer kind and conv path (cli_helper kinds), a SPEC
    # of every kind, the CNN teacher and the options a SPEC cannot give, all
    # exported, compiled together warning-free and checked against the library
    # on ordinary and extreme inputs (tests/cli/cli_export_check.c says how);
    # int8 models too (cli_helper kinds8; the MLP, the CNN teacher, the table
    # and RGB models quantized), whose exports must give the library's bits
    good "train every layer kind" $BIN train --data $D --epochs 1 --out $M/all.bin --quiet --arch \
        conv:4:3:1:same,bn,leaky:0.2,dwconv:3:2:1,gelu,avgpool:2:1,conv:6:1,sigmoid,dropout2d:0.1,maxpool:2,tanh,gap,flatten,dropout:0.2,dense:4
    # (the first binary's models for every binary: the same models give the same C)
    E=$T/export
    I=$M/inc
    if [ -z "$prev_export" ]; then
        mkdir -p $E
        cp $T/kinds/*.bin $E/
        cp $T/options.bin $E/tm_options.bin
        cp $M/all.bin $E/tm_all.bin
        cp $M/teacher.bin $E/tm_teacher.bin
        cp $M/csv.bin $E/tm_csv.bin        # raw features in, standardised inside
        cp $M/rgb.bin $E/tm_rgb.bin        # raw RGB pixels in, 1/255 and per-channel mean / std inside
        cp $T/kinds8/*.bin $E/
        cp $M/teacher8.bin $E/tm_teacher8.bin
        good "quantize the MLP" $BIN quantize --model $M/mlp.bin --data $D --out $E/tm_mlp8.bin --calibration 100
        good "quantize the table model" $BIN quantize --model $M/csv.bin --data $G/game.csv --label species \
            --out $E/tm_csv8.bin --calibration 100
        good "quantize the RGB model" $BIN quantize --model $M/rgb.bin --data $F --out $E/tm_rgb8.bin --calibration 50
    fi
    rm -rf $I
    mkdir -p $I
    list=
    exported=0
    for f in $E/*.bin; do
        n=$(basename $f .bin)
        if $BIN export-c $f --name $n >$I/$n.h 2>$T/err; then
            echo "#include \"$n.h\"" >>$I/models.h
            list="$list X($n, $(echo $n | tr a-z A-Z))"
            exported=$((exported + 1))
        else no "export-c $n" "exit status $?"; fi
    done
    echo "#define EXPORTED$list" >>$I/models.h
    if [ -n "$prev_export" ] && diff -r $prev_export $I >/dev/null; then
        ok "export-c writes the same $exported headers as $prev_bin"
    elif $CC -std=c99 -O2 $WARN -I. -I$STB -I$I tests/cli/cli_export_check.c -o $T/export_check -lm 2>$T/err; then
        ok "export-c: $exported models compile warning-free"
        $T/export_check $E >$T/out 2>$T/err
        rc=$?
        while IFS= read -r line; do
            case $line in
            "ok "*) ok "export-c ${line#ok }" ;;
            "FAIL "*) no "export-c ${line#FAIL }" "tests/cli/cli_export_check.c" ;;
            "note "*) echo "     ${line#note }" ;;
            esac
        done <$T/out
        if [ $rc -ne 0 ] && ! grep -q '^FAIL ' $T/out; then no "export-c check" "exit $rc"; fi
        if c++ -x c++ -std=c++11 $WARN -fsyntax-only -I$I - <<EOF 2>$T/err
#include "models.h"
#define X(name, upper) name##_predict(in, out);
int main() { static float in[1 << 16], out[1 << 16]; EXPORTED return 0; }
EOF
        then ok "export-c output compiles as C++"; else no "export-c output compiles as C++" "see stderr"; fi
        prev_export=$I
        prev_bin=$BIN
    else
        no "export-c: $exported models compile warning-free" "see stderr"
    fi
    good "export-bytes" $BIN export-bytes $M/mlp.bin --name mlp_bytes
    size=$(wc -c <$M/mlp.bin | tr -d ' ')
    has "export-bytes: an array of the file's size" "^static const unsigned char mlp_bytes\\[$size\\] = \\{"

    good "plot svg" $BIN plot --out $M/curves.svg --title "teacher and students" $M/teacher.csv $M/mlp.csv $M/student.csv
    has "plot svg: an SVG with the runs' labels" '>distilled</text>' $M/curves.svg
    good "plot png" $BIN plot --out $M/curves.png $M/teacher.csv $M/student.csv
    has "plot png: a PNG" 'PNG' $M/curves.png
    good "help" $BIN help
    has "help documents SPEC" 'dense:N +conv:C:K'

    # on a terminal (script(1) gives it one, 200 columns wide), a live line:
    # batch, samples/s, time left. Read as the screen shows it: a console
    # program under wine is drawn onto the terminal by wine's console, which
    # writes each space as "erase to the end of the line, cursor right"
    # (ESC[K ESC[1C) and hides the cursor around every write (ESC[?25l ...
    # ESC[?25h); screen_text undoes those, and a carriage return starts a row.
    if command -v script >/dev/null 2>&1; then
        script -qc "stty cols 200 rows 50; $BIN train --data $D --arch dense:8,relu,dense:4 --epochs 2 --batch 4 --out $M/tty.bin" \
            /dev/null >$T/out 2>$T/err </dev/null
        if screen_text <$T/out | grep -qE '^epoch [12]/2  batch [0-9]+/150  loss [0-9.]+  accuracy [0-9.]+  [0-9]+ samples/s  [0-9hms.]+ left'
        then ok "progress line on a terminal"; else no "progress line on a terminal" "$(screen_text <$T/out | head -c 300)"; fi
        # on a 60-column terminal every update fits in 59 columns (a line
        # that wraps leaves a row behind per update), ends with the time
        # left (wine's console wraps a long line itself: the row would stop
        # short), and the update's blanking fits too
        script -qc "stty cols 60 rows 50; $BIN train --data $D --arch dense:8,relu,dense:4 --epochs 2 --batch 4 --out $M/tty.bin" \
            /dev/null >$T/out 2>$T/err </dev/null
        screen_text <$T/out >$T/rows
        long=$(awk '(/ batch / || /^ +$/) && length($0) > 59 ||
                    / batch / && $0 !~ /^epoch [12]\/2  batch [0-9]+\/150  .* left *$/' $T/rows | head -n 1)
        if [ -z "$long" ] && grep -qE '^epoch [12]/2  batch [0-9]+/150  accuracy [0-9.]+  [0-9hms.]+ left *$' $T/rows
        then ok "progress line fits a 60-column terminal"
        else no "progress line fits a 60-column terminal" "${long:-$(grep batch $T/rows | head -n 3)}"; fi
    fi

    # SPECs made of random pieces: a model or one clear line, never a crash
    i=0
    for spec in $(awk 'BEGIN { srand(11); n = split("dense:4 dense:0 dense: conv:2:3 conv:2:3:1:same conv:2:99 dwconv:3 maxpool:2 maxpool:0 avgpool:3:2 gap bn flatten dropout:0.5 dropout:-1 relu leaky:0.2 leaky:x sigmoid tanh gelu softmax :: , :3 dense:4:4", p, " ");
                     for (k = 0; k < 40; ++k) { s = ""; m = 1 + int(rand() * 5);
                         for (j = 0; j < m; ++j) s = s (j ? "," : "") p[1 + int(rand() * n)];
                         print s } }'); do
        run $BIN train --data $D --arch "$spec" --epochs 1 --limit 8 --quiet --out $M/fuzz.bin
        lines=$(wc -l <"$T/err")
        if { [ $rc -eq 0 ] && [ "$lines" -eq 0 ]; } ||
            { [ $rc -eq 0 ] && [ "$lines" -eq 1 ] && grep -q "^distill train: warning: --arch: " "$T/err"; } ||
            { [ $rc -eq 2 ] && [ "$lines" -eq 1 ] && grep -q "^distill train: --arch: " "$T/err"; }
        then i=$((i + 1)); else no "random SPEC '$spec'" "exit $rc, $lines stderr line(s)"; fi
    done
    if [ $i -eq 40 ]; then ok "40 random SPECs: a model or one clear line each"; fi
    warns "SPEC ending in an activation: a warning" "--arch: position 9 (relu): the SPEC ends in an activation" \
        $BIN train --data $D --arch dense:4,relu --epochs 1 --quiet --out $M/relu.bin
    warns "SPEC ending in an activation before dropout: a warning" "--arch: position 9 (sigmoid): the SPEC ends in an activation" \
        $BIN train --data $D --arch dense:4,sigmoid,dropout:0.5 --epochs 1 --quiet --out $M/relu.bin

    # ---- bad input: one line on stderr, a non-zero exit --------------------
    bad "no command" 2 "no command given" $BIN
    bad "unknown command" 2 "unknown command 'frobnicate'" $BIN frobnicate
    bad "unknown option" 2 "unknown option --bogus" $BIN train --data $D --bogus 1
    bad "single-dash option" 2 "unknown option -x" $BIN eval -x
    bad "option of another command" 2 "option --arch does not apply to eval" $BIN eval --arch dense:4
    bad "option without its value" 2 "option --epochs needs a value" $BIN train --data $D --epochs
    bad "option given twice" 2 "option --data given twice" $BIN eval --data $D --data $D
    bad "missing --out" 2 "--out is required" $BIN train --data $D --arch dense:4 --epochs 1
    bad "missing --teacher" 2 "--teacher (a model) or --teacher-logits (a .npy) is required" $BIN distill --data $D --arch dense:4 --epochs 1 --out x --temperature 2 --alpha 0.5
    bad "stray argument" 2 "unexpected argument 'extra'" $BIN eval --data $D --model x extra
    bad "bad number" 2 "--epochs: 'abc' is not a whole number" $BIN train --data $D --arch dense:4 --epochs abc --out x
    bad "zero epochs" 2 "--epochs: 0 is out of range" $BIN train --data $D --arch dense:4 --epochs 0 --out x
    bad "number with junk" 2 "--batch: '12x' is not a whole number" $BIN train --data $D --arch dense:4 --epochs 1 --batch 12x --out x
    bad "negative lr" 2 "--lr: -1 is out of range" $BIN train --data $D --arch dense:4 --epochs 1 --lr -1 --out x
    bad "nan lr" 2 "--lr: 'nan' is not a number" $BIN train --data $D --arch dense:4 --epochs 1 --lr nan --out x
    bad "alpha above 1" 2 "--alpha: 1.5 is out of range" $BIN distill --data $D --teacher x --arch dense:4 --epochs 1 --out x --temperature 2 --alpha 1.5
    bad "zero temperature" 2 "--temperature: 0 is out of range" $BIN distill --data $D --teacher x --arch dense:4 --epochs 1 --out x --temperature 0 --alpha 0.5
    bad "unknown optimizer" 2 "--optimizer: 'rmsprop' is not one of sgd, adam, adamw" $BIN train --data $D --arch dense:4 --epochs 1 --optimizer rmsprop --out x
    bad "momentum without sgd" 2 "--momentum applies to --optimizer sgd" $BIN train --data $D --arch dense:4 --epochs 1 --momentum 0.9 --out x
    bad "plot name" 2 "must end in .png or .svg" $BIN train --data $D --arch dense:4 --epochs 1 --out x --plot curves.gif
    bad "class names count" 2 "--classes: 3 names for 4 classes" $BIN train --data $D --arch dense:4 --epochs 1 --out $M/x.bin --classes a,b,c
    bad "SPEC: empty" 2 "--arch: position 1: the SPEC is empty" $BIN train --data $D --arch "" --epochs 1 --out x
    bad "SPEC: empty layer" 2 "--arch: position 15: empty layer" $BIN train --data $D --arch dense:32,relu,,dense:4 --epochs 1 --out x
    bad "SPEC: trailing comma" 2 "--arch: position 9: empty layer" $BIN train --data $D --arch dense:4, --epochs 1 --out x
    bad "SPEC: unknown layer" 2 "--arch: position 10: unknown layer 'rleu'" $BIN train --data $D --arch dense:32,rleu,dense:4 --epochs 1 --out x
    bad "SPEC: not a number" 2 "--arch: position 8: dense size '3x' is not a whole number" $BIN train --data $D --arch dense:3x --epochs 1 --out x
    bad "SPEC: missing value" 2 "--arch: position 7: conv needs 2 values" $BIN train --data $D --arch conv:8 --epochs 1 --out x
    bad "SPEC: too many values" 2 "--arch: position 14: conv takes at most 4 values" $BIN train --data $D --arch conv:8:3:1:0:9 --epochs 1 --out x
    bad "SPEC: value out of range" 2 "--arch: position 17: dropout rate 1.5 is out of range" $BIN train --data $D --arch dense:8,dropout:1.5,dense:4 --epochs 1 --out x
    bad "SPEC: same padding, even kernel" 2 "--arch: position 12: 'same' padding needs an odd kernel" $BIN train --data $D --arch conv:4:2:1:same,dense:4 --epochs 1 --out x
    bad "SPEC: softmax" 2 "--arch: position 9: leave softmax out" $BIN train --data $D --arch dense:4,softmax --epochs 1 --out x
    bad "SPEC: shape error names the layer" 2 "--arch: position 10 (conv:8:30): layer 1 (conv2d)" $BIN train --data $D --arch dense:36,conv:8:30,dense:4 --epochs 1 --out x
    bad "SPEC: too few outputs" 2 "the model ends with 3 outputs but the data has 4 classes" $BIN train --data $D --arch dense:3 --epochs 1 --out x
    bad "SPEC: more outputs than classes" 2 "--arch: the model ends with 5 outputs but the data has 4 classes (end the SPEC with dense:4)" $BIN train --data $D --arch dense:5 --epochs 1 --out x
    bad "SPEC: a conv's outputs as classes" 2 "--arch: the model ends with 288 outputs but the data has 4 classes" $BIN train --data $D --arch conv:2:3:1:same --epochs 1 --out x
    bad "missing data directory" 1 "--data $T/nowhere: no such file or folder" $BIN train --data $T/nowhere --arch dense:4 --epochs 1 --out x
    bad "truncated data set" 1 "--data $T/broken: " $BIN eval --data $T/broken --model $M/mlp.bin
    bad "a folder without class folders" 1 "--data $T/game: no class folders" $BIN eval --data $T/game --model $M/mlp.bin
    bad "missing model file" 1 "$M/nope.bin" $BIN eval --data $D --model $M/nope.bin
    bad "not a model file" 1 "$D/classes.txt" $BIN eval --data $D --model $D/classes.txt
    bad "model and data shapes differ" 1 "--model takes 1x12x12 inputs, the data's images are 1x8x8" $BIN eval --data $T/data8 --model $M/mlp.bin
    bad "teacher and data shapes differ" 1 "--teacher takes 1x12x12 inputs, the data's images are 1x8x8" $BIN distill --data $T/data8 --teacher $M/teacher.bin --arch dense:4 --temperature 2 --alpha 0.5 --epochs 1 --out $M/x.bin
    bad "teacher and teacher logits" 2 "give --teacher or --teacher-logits, not both" $BIN distill --data $D --teacher $M/teacher.bin --teacher-logits $T/logits.npy --arch dense:4 --temperature 2 --alpha 0.5 --epochs 1 --out $M/x.bin
    bad "teacher logits: not a .npy" 1 "--teacher-logits $D/classes.txt" $BIN distill --data $D --teacher-logits $D/classes.txt --arch dense:4 --temperature 2 --alpha 0.5 --epochs 1 --out $M/x.bin
    bad "teacher logits: wrong shape" 1 "shape (600, 5), expected (600, 4)" $BIN distill --data $D --teacher-logits $T/logits5.npy --arch dense:4 --temperature 2 --alpha 0.5 --epochs 1 --out $M/x.bin
    bad "augment: no value" 2 "--augment: shift needs a value" $BIN train --data $D --arch dense:4 --epochs 1 --augment shift --out x
    bad "augment: shift 0" 2 "--augment shift: 0 is out of range" $BIN train --data $D --arch dense:4 --epochs 1 --augment shift:0 --out x
    bad "augment: unknown item" 2 "--augment: 'rotate' is not one of shift:P, flip, mixup:A, noise:S" $BIN train --data $D --arch dense:4 --epochs 1 --augment rotate:3 --out x
    bad "augment: spelled otherwise" 2 "--augment: 'Shift' is not one of" $BIN train --data $D --arch dense:4 --epochs 1 --augment Shift:2 --out x
    bad "augment: flip with a value" 2 "--augment: flip takes no value" $BIN train --data $D --arch dense:4 --epochs 1 --augment flip:1 --out x
    bad "augment: twice" 2 "--augment: shift given twice" $BIN train --data $D --arch dense:4 --epochs 1 --augment shift:2,flip,shift:1 --out x
    bad "augment: mixup 0" 2 "--augment mixup: 0 is out of range" $BIN train --data $D --arch dense:4 --epochs 1 --augment mixup:0 --out x
    bad "augment: negative noise" 2 "--augment noise: -1 is out of range" $BIN train --data $D --arch dense:4 --epochs 1 --augment noise:-1 --out x
    bad "augment: empty item" 2 "--augment: '' is not one of" $BIN train --data $D --arch dense:4 --epochs 1 --augment shift:1,,flip --out x
    bad "augment: not a number" 2 "--augment shift: '1x' is not a whole number" $BIN train --data $D --arch dense:4 --epochs 1 --augment shift:1x --out x
    bad "augment with teacher logits" 2 "--augment with --teacher-logits: cached logits belong to the samples as they were" $BIN distill --data $D --teacher-logits $T/logits.npy --arch dense:4 --temperature 2 --alpha 0.5 --epochs 1 --augment noise:0.1 --out x
    bad "teacher weights: one teacher" 2 "--teacher-weights goes with --teacher given more than once" $BIN distill --data $D --teacher x --teacher-weights 1,2 --arch dense:4 --temperature 2 --alpha 0.5 --epochs 1 --out x
    bad "teacher weights: too few" 2 "--teacher-weights: '1' does not give one weight per --teacher (2)" $BIN distill --data $D --teacher x --teacher y --teacher-weights 1 --arch dense:4 --temperature 2 --alpha 0.5 --epochs 1 --out x
    bad "teacher weights: too many" 2 "--teacher-weights: '1,2,3' does not give one weight per --teacher (2)" $BIN distill --data $D --teacher x --teacher y --teacher-weights 1,2,3 --arch dense:4 --temperature 2 --alpha 0.5 --epochs 1 --out x
    bad "teacher weights: all 0" 2 "--teacher-weights: the weights are all 0" $BIN distill --data $D --teacher x --teacher y --teacher-weights 0,0 --arch dense:4 --temperature 2 --alpha 0.5 --epochs 1 --out x
    bad "teacher weights: not for train" 2 "option --teacher-weights does not apply to train" $BIN train --data $D --arch dense:4 --epochs 1 --teacher-weights 1 --out x
    bad "attention with two teachers" 2 "--attention takes one --teacher" $BIN distill --data $D --teacher $M/teacher.bin --teacher $M/mlp.bin --attention 1:1 --arch conv:4:3:1:same,relu,flatten,dense:4 --temperature 2 --alpha 0.5 --epochs 1 --out x
    bad "unlabeled: not for train" 2 "option --unlabeled does not apply to train" $BIN train --data $D --arch dense:4 --epochs 1 --unlabeled $T/unl.npy --out x
    bad "unlabeled: missing file" 1 "--unlabeled cannot open $T/none.npy" $BIN distill --data $D --teacher $M/teacher.bin --arch dense:4 --temperature 2 --alpha 0.5 --epochs 1 --unlabeled $T/none.npy --out $M/x.bin
    bad "unlabeled: images of another size" 1 "images of 8x8; the data's are 12x12" $BIN distill --data $D --teacher $M/teacher.bin --arch dense:4 --temperature 2 --alpha 0.5 --epochs 1 --unlabeled $T/data8/train-images-idx3-ubyte.gz --out $M/x.bin
    bad "unlabeled: labels, not images" 1 "1-D IDX data" $BIN distill --data $D --teacher $M/teacher.bin --arch dense:4 --temperature 2 --alpha 0.5 --epochs 1 --unlabeled $D/t10k-labels-idx1-ubyte --out $M/x.bin
    bad "unlabeled: int32 .npy" 1 "an int32 array; expected float32 samples like the data's" $BIN distill --data $D --teacher $M/teacher.bin --arch dense:4 --temperature 2 --alpha 0.5 --epochs 1 --unlabeled $T/unl_int.npy --out $M/x.bin
    bad "unlabeled: .npy of another shape" 1 "a 4-D array of shape (300, ...); expected samples like the data's: (N, 1, 12, 12) or (N, 144)" $BIN distill --data $D --teacher $M/teacher.bin --arch dense:4 --temperature 2 --alpha 0.5 --epochs 1 --unlabeled $T/unl_shape.npy --out $M/x.bin
    bad "unlabeled: teacher logits without its rows" 1 "shape (600, 4), expected (1200, 4): one row per training image, then one per --unlabeled sample" $BIN distill --data $D --teacher-logits $T/logits.npy --arch dense:4 --temperature 2 --alpha 0.5 --epochs 1 --unlabeled $T/unl.npy --out $M/x.bin
    bad "attention: not S:T" 2 "--attention: '1' is not S:T[:W]" $BIN distill --data $D --teacher $M/teacher.bin --arch dense:4 --temperature 2 --alpha 0.5 --epochs 1 --attention 1 --out $M/x.bin
    bad "attention: negative weight" 2 "--attention: weight: -1 is out of range" $BIN distill --data $D --teacher $M/teacher.bin --arch dense:4 --temperature 2 --alpha 0.5 --epochs 1 --attention 0:1:-1 --out $M/x.bin
    bad "attention: teacher logits" 2 "--attention needs --teacher (a model" $BIN distill --data $D --teacher-logits $T/logits.npy --arch dense:4 --temperature 2 --alpha 0.5 --epochs 1 --attention 0:1 --out $M/x.bin
    bad "attention: no such teacher layer" 1 "attention term 0: layers 1 and 99" $BIN distill --data $D --teacher $M/teacher.bin --arch conv:4:3:1:same,relu,flatten,dense:4 --temperature 2 --alpha 0.5 --epochs 1 --attention 1:99 --out $M/x.bin
    bad "attention: maps of no whole ratio" 1 "not in one whole ratio" $BIN distill --data $D --teacher $M/teacher.bin --arch conv:4:3,relu,flatten,dense:4 --temperature 2 --alpha 0.5 --epochs 1 --attention 1:1 --out $M/x.bin
    bad "attention: the second term's teacher layer" 1 "attention term 1: layers 1 and 99" $BIN distill --data $D --teacher $M/teacher.bin --arch conv:4:3:1:same,relu,flatten,dense:4 --temperature 2 --alpha 0.5 --epochs 1 --attention 1:1 --attention 1:99 --out $M/x.bin
    bad "hint: not S:T" 2 "--hint: '1' is not S:T[:W]" $BIN distill --data $D --teacher $M/teacher.bin --arch dense:4 --temperature 2 --alpha 0.5 --epochs 1 --hint 1 --out $M/x.bin
    bad "hint: a layer that is not a number" 2 "--hint: teacher layer: 'x' is not a whole number" $BIN distill --data $D --teacher $M/teacher.bin --arch dense:4 --temperature 2 --alpha 0.5 --epochs 1 --hint 0:x --out $M/x.bin
    bad "hint: four fields" 2 "--hint: weight: '2:3' is not a number" $BIN distill --data $D --teacher $M/teacher.bin --arch dense:4 --temperature 2 --alpha 0.5 --epochs 1 --hint 0:1:2:3 --out $M/x.bin
    bad "hint: a negative position" 2 "--hint: student layer: -1 is out of range" $BIN distill --data $D --teacher $M/teacher.bin --arch dense:4 --temperature 2 --alpha 0.5 --epochs 1 --hint=-1:1 --out $M/x.bin
    bad "hint: teacher logits" 2 "--hint needs --teacher (a model" $BIN distill --data $D --teacher-logits $T/logits.npy --arch dense:4 --temperature 2 --alpha 0.5 --epochs 1 --hint 0:1 --out $M/x.bin
    bad "hint: misspelt" 2 "unknown option --hints" $BIN distill --data $D --teacher $M/teacher.bin --arch dense:4 --temperature 2 --alpha 0.5 --epochs 1 --hints 0:1 --out $M/x.bin
    bad "hint: not for train" 2 "option --hint does not apply to train" $BIN train --data $D --arch dense:4 --epochs 1 --hint 0:1 --out $M/x.bin
    bad "hint: no such teacher layer" 1 "hint term 0: layers 1 and 99" $BIN distill --data $D --teacher $M/teacher.bin --arch conv:4:3:1:same,relu,flatten,dense:4 --temperature 2 --alpha 0.5 --epochs 1 --hint 1:99 --out $M/x.bin
    bad "hint: no such student layer" 1 "hint term 1: layers 9 and 1 (the student has 4" $BIN distill --data $D --teacher $M/teacher.bin --arch conv:4:3:1:same,relu,flatten,dense:4 --temperature 2 --alpha 0.5 --epochs 1 --hint 1:1 --hint 9:1 --out $M/x.bin
    bad "hint: maps of no whole ratio" 1 "hint term 0: student maps of" $BIN distill --data $D --teacher $M/teacher.bin --arch conv:4:3,relu,flatten,dense:4 --temperature 2 --alpha 0.5 --epochs 1 --hint 1:1 --out $M/x.bin
    bad "schedule: unknown" 2 "--schedule: 'linear' is not constant, cosine or step:E:G" $BIN train --data $D --arch dense:4 --epochs 2 --schedule linear --out x
    bad "schedule: step without factor" 2 "--schedule: 'step:3' is not step:E:G" $BIN train --data $D --arch dense:4 --epochs 2 --schedule step:3 --out x
    bad "schedule: step of 0 epochs" 2 "--schedule step: epochs: 0 is out of range" $BIN train --data $D --arch dense:4 --epochs 2 --schedule step:0:0.5 --out x
    bad "schedule: step factor above 1" 2 "--schedule step: factor: 2 is out of range" $BIN train --data $D --arch dense:4 --epochs 2 --schedule step:1:2 --out x
    bad "warmup: all the epochs" 2 "--warmup: 2 epochs leave none of the 2 to train at the full rate" $BIN train --data $D --arch dense:4 --epochs 2 --warmup 2 --out x
    bad "warmup: not a number" 2 "--warmup: 'x' is not a whole number" $BIN train --data $D --arch dense:4 --epochs 2 --warmup x --out x
    bad "bad split" 2 "--split: 'val' is not test or train" $BIN eval --data $D --model $M/mlp.bin --split val
    bad "--threads 0" 2 "--threads: 0 is out of range (1 to 256)" $BIN train --data $D --arch dense:4 --epochs 1 --threads 0 --out x
    bad "--threads x" 2 "--threads: 'x' is not a whole number" $BIN train --data $D --arch dense:4 --epochs 1 --threads x --out x
    bad "--threads 257" 2 "--threads: 257 is out of range (1 to 256)" $BIN eval --data $D --model $M/mlp.bin --threads 257
    bad "--threads -2" 2 "--threads: -2 is out of range" $BIN predict --model $M/mlp.bin --threads -2 $T/png/q0.png
    bad "--threads on info" 2 "option --threads does not apply to info" $BIN info $M/mlp.bin --threads 2
    bad "predict without images" 2 "no IMAGE given" $BIN predict --model $M/mlp.bin
    bad "predict a missing image" 1 "cannot open $T/png/none.png" $BIN predict --model $M/mlp.bin $T/png/none.png
    bad "predict a file that is no image" 1 "$D/classes.txt: not an image" $BIN predict --model $M/mlp.bin $D/classes.txt
    bad "predict: a model of table rows on a picture" 1 "--model takes 1x1x10 inputs, not images: the input shape does not fit a picture" $BIN predict --model $T/table.bin $T/png/q0.png
    bad "predict --top 0" 2 "--top: 0 is out of range" $BIN predict --model $M/mlp.bin --top 0 $T/png/q0.png
    bad "predict --invert maybe" 2 "--invert: 'maybe' is not auto, yes or no" $BIN predict --model $M/mlp.bin --invert maybe $T/png/q0.png
    bad "info without MODEL" 2 "no MODEL given" $BIN info
    bad "info with two models" 2 "one MODEL only" $BIN info $M/mlp.bin $M/student.bin
    bad "info on a missing file" 1 "$M/nope.bin" $BIN info $M/nope.bin
    bad "export-c bad name" 2 "--name: '9lives' is not a C identifier" $BIN export-c $M/mlp.bin --name 9lives
    bad "plot format" 2 "a plot's name ends in .png or .svg" $BIN plot --out $M/c.gif $M/mlp.csv
    bad "plot a missing log" 1 "cannot open $M/none.csv" $BIN plot --out $M/c.svg $M/none.csv
    printf 'epoch,train_loss\n1,0.5,oops\n' >$M/bad.csv
    bad "plot a malformed log" 1 "$M/bad.csv:2: expected 5 numbers" $BIN plot --out $M/c.svg $M/bad.csv
done

# ---- the short examples run (make builds them all) -------------------------
tag="[examples]"
good "minimal" $RUN $X/minimal$EXE
has "minimal learns the rings" '^held-out accuracy 0\.9[0-9]{2}$'
good "embedded" $RUN $X/embedded$EXE
has "embedded: the centre is in the inner disc" '^\( 0\.00,  0\.10\): inner disc$'
has "embedded: the ring" '^\( 0\.55, -0\.10\): ring$'
has "embedded: the corner is outside" '^\( 0\.90,  0\.90\): outside$'
good "classify" $RUN $X/classify$EXE $M/mlp.bin $T/png/q0.png $T/png/q3_rgb.png
has "classify: gray PNG" "^$T/png/q0.png: class 0 \\(top-left\\), probability "
has "classify: RGB PNG" "^$T/png/q3_rgb.png: class 3 \\(bottom-right\\), probability "
bad "classify: a missing image" 1 "$T/png/none.png" $RUN $X/classify$EXE $M/mlp.bin $T/png/none.png
good "offline_npy" $RUN $X/offline_npy$EXE $D $T/logits.npy 6
has "offline_npy prints the student's accuracy" "distilled student's test accuracy [01]\.[0-9]{4}$"
at_least "offline_npy's student learns from the .npy logits" "$(sed -n 's/.*test accuracy \([0-9.]*\)$/\1/p' $T/out)" 0.9
bad "offline_npy: not a .npy file" 1 "$D/classes.txt" $RUN $X/offline_npy$EXE $D $D/classes.txt 1
good "table" $RUN $X/table$EXE $G/game.csv species $T/table_student.dst
has "table: reads the CSV" '^400 rows, 3 features, 3 classes$'
at_least "table: the distilled student learns" "$(sed -n 's/^distilled student (8) test accuracy \([0-9.]*\)$/\1/p' $T/out)" 0.85
has "table: predicts a raw row through the stored normalisation" '^first test row: predicted [a-z]+, labelled [a-z]+$'
good "table: the command reads the example's model" $RUN ${BINS%% *} info $T/table_student.dst
has "table: per-feature std in the model" '^  input.std = [0-9.e-]+,[0-9.e-]+,[0-9.e-]+$'

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]

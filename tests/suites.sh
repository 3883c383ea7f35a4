#!/bin/sh
# tests/suites.sh - runs test suites one after another and sums them:
#   tests/suites.sh 'COMMAND' ['COMMAND' ...]
# Each COMMAND (a shell command line) prints "N passed, N failed" last, as
# build/test and tests/cli/test_cli.sh do; one that does not (a crash, a
# build that stopped) counts as a failure. Prints each suite's output and its
# wall time, then the sum as the last line; exits 1 on any failure.
pass=0
fail=0
mkdir -p build
for cmd in "$@"; do
    echo "== $cmd"
    t0=$(date +%s)
    sh -c "$cmd" >build/suites.log 2>&1
    rc=$?
    cat build/suites.log
    line=$(tail -n 1 build/suites.log)
    p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
    f=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
    if [ -z "$p" ]; then p=0; f=1; echo "$cmd did not finish (exit $rc)"; fi
    echo "   ($(($(date +%s) - t0)) s)"
    pass=$((pass + p))
    fail=$((fail + f))
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]

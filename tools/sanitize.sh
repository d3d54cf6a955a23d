#!/usr/bin/env bash
# Builds cnnfast's C++ kernels with AddressSanitizer and UndefinedBehaviorSanitizer (in a scratch
# copy of the tracked tree, so the normal build is untouched) and runs the op tests under them.
#   tools/sanitize.sh [pytest args...]      (default: tests/ops)
# Exit status is pytest's: any ASan/UBSan report aborts the run and fails it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/cnnfast-sanitize.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$root"
git ls-files -z | xargs -0 cp --parents -t "$work"
cd "$work"
echo "== building with -fsanitize=address,undefined in $work"
CNNFAST_CUDA=0 CNNFAST_SANITIZE=1 python setup.py -q build_ext --inplace > build.log 2>&1 || { tail -50 build.log; exit 1; }
asan=$(gcc -print-file-name=libasan.so)
ubsan=$(gcc -print-file-name=libubsan.so)
echo "== running the op tests with LD_PRELOAD=$asan $ubsan"
# Python and torch are not instrumented, so their allocations look like leaks: leak checking off.
export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=1:detect_odr_violation=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
LD_PRELOAD="$asan $ubsan" PYTHONPATH="$work" python -m pytest -q -p no:cacheprovider "${@:-tests/ops}"

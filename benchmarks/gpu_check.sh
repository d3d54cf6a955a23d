#!/usr/bin/env bash
# The GPU check (one call on a lent GPU machine; see the GPU issue): build for this GPU, run the GPU
# tests and the GPU benchmark, leave logs and JSON under $OUT (default ./gpu_out). The whole run
# stays inside GPU_CHECK_BUDGET_S seconds (default 480; 8 files under $OUT). torch.compile's max-autotune needs no
# cnnfast build and takes minutes (282 s for ResNet-50 on an H200), so it starts first, in the
# background (gpu_compile_peer.py), while the build and the tests run; the cnnfast benchmark runs
# once it is done (or stopped at the budget), so no two timings share the GPU.
# GPU_CHECK_COMPILE_PEER=0 leaves the compile peer out (a lease that has it already measured);
# GPU_BENCH_CASES (model:batch:dtype,...) picks the benchmark's cases, default all of them;
# GPU_CHECK_TEST_PATHS and GPU_CHECK_TEST_K narrow the tests.
#   bash benchmarks/gpu_check.sh
set -uo pipefail
OUT=${OUT:-$PWD/gpu_out}
BUDGET=${GPU_CHECK_BUDGET_S:-480}
mkdir -p "$OUT"
start=$(date +%s)
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/gpu.txt" 2>&1
python -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__, 'cudnn', torch.backends.cudnn.version())" >> "$OUT/gpu.txt" 2>&1
cat "$OUT/gpu.txt"
peer=
if [ "${GPU_CHECK_COMPILE_PEER:-1}" != 0 ]; then
  timeout $(( BUDGET - 130 )) python benchmarks/gpu_compile_peer.py --out "$OUT/compile_peer.json" > "$OUT/compile_peer.log" 2>&1 &
  peer=$!
fi
# The compute capability of the GPU present, e.g. 9.0 on an H100.
arch=$(python -c "import torch; print('%d.%d' % torch.cuda.get_device_capability())")
echo "building for sm_$arch" | tee "$OUT/build.log"
TORCH_CUDA_ARCH_LIST="$arch" CNNFAST_CUDA=1 MAX_JOBS=$(nproc) python -m pip install --no-build-isolation --no-deps -e . >> "$OUT/build.log" 2>&1 \
  || { echo "build failed"; tail -40 "$OUT/build.log"; exit 1; }
python -c "import cnnfast, json; print(json.dumps(cnnfast.build_info()))" | tee "$OUT/build_info.json"
echo "built after $(( $(date +%s) - start )) s"
# GPU tests: every op on CUDA and Triton-on-GPU against its reference, CUDA graphs, half and
# whole models on the GPU. Parallel workers where pytest-xdist is installed (Triton compiles
# each kernel specialisation once per process: the CPU cores do that work side by side).
par=$(python -c "import xdist" 2>/dev/null && echo "-n 8" || echo "")
timeout 200 python -m pytest -q -p no:cacheprovider $par ${GPU_CHECK_TEST_PATHS:-tests/ops tests/test_gpu_backend.py} \
  -k "${GPU_CHECK_TEST_K:-cuda or cudnn or triton or graphs or half}" > "$OUT/gpu_tests.log" 2>&1
echo "gpu tests rc=$? after $(( $(date +%s) - start )) s"
grep -E "FAILED|ERROR|passed|failed" "$OUT/gpu_tests.log" | tail -25
if [ -n "$peer" ]; then
  wait $peer; echo "compile peer rc=$? after $(( $(date +%s) - start )) s: $(grep -E 'compile [0-9]+ s' "$OUT/compile_peer.log" | tr '\n' ' ')"
fi
left=$(( BUDGET - ($(date +%s) - start) ))
timeout $(( left > 60 ? left : 60 )) python benchmarks/gpu_bench.py --out "$OUT/gpu_results.json" --skip-compile ${GPU_BENCH_CASES:+--cases "$GPU_BENCH_CASES"} \
  --budget-s $(( left > 90 ? left - 20 : 60 )) 2> "$OUT/gpu_bench.log"
echo "gpu bench rc=$?"; tail -40 "$OUT/gpu_bench.log"
echo "total $(( $(date +%s) - start )) s"

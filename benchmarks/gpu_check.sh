#!/usr/bin/env bash
# The GPU check (one call on a lent GPU machine; see the GPU issue): build for this GPU, run the GPU
# tests and the GPU benchmark, leave logs and JSON under $OUT (default ./gpu_out). About 8 minutes.
#   bash benchmarks/gpu_check.sh
set -uo pipefail
OUT=${OUT:-$PWD/gpu_out}
mkdir -p "$OUT"
start=$(date +%s)
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/gpu.txt" 2>&1
# The compute capability of the GPU present, e.g. 9.0 on an H100.
arch=$(python -c "import torch; print('%d.%d' % torch.cuda.get_device_capability())")
echo "building for sm_$arch" | tee "$OUT/build.log"
TORCH_CUDA_ARCH_LIST="$arch" CNNFAST_CUDA=1 pip install --no-build-isolation --no-deps -e . >> "$OUT/build.log" 2>&1 \
  || { echo "build failed"; tail -40 "$OUT/build.log"; exit 1; }
python -c "import cnnfast, json; print(json.dumps(cnnfast.build_info()))" | tee "$OUT/build_info.json"
# GPU tests: every op on CUDA and Triton-on-GPU against its reference, CUDA graphs, half models.
timeout 180 python -m pytest -q -p no:cacheprovider tests/ops tests/test_gpu_backend.py \
  -k "cuda or triton or graphs or half" > "$OUT/gpu_tests.log" 2>&1
echo "gpu tests rc=$? ($(tail -1 "$OUT/gpu_tests.log"))"
left=$(( 480 - ($(date +%s) - start) - 30 ))
timeout $(( left > 60 ? left : 60 )) python benchmarks/gpu_bench.py --out "$OUT/gpu_results.json" \
  --budget-s $(( left > 90 ? left - 30 : 60 )) 2> "$OUT/gpu_bench.log"
echo "gpu bench rc=$?"; tail -15 "$OUT/gpu_bench.log"
echo "total $(( $(date +%s) - start )) s"

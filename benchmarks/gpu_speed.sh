#!/usr/bin/env bash
# The GPU speed check, as one call on a lent NVIDIA GPU (the device tool), under 10 minutes:
#   run(command="bash benchmarks/gpu_speed.sh [EXECUTORS]", carry=[".carry", ".whl"], timeout_s=560)
# EXECUTORS: speed.py's settings (default: packed); SKIP_TESTS=1 leaves the CUDA tests out;
# SEEDS (default 1) and MICRO (the micro benchmark's pack size, default 30; 0: none).
# Brings its own inputs, since the GPU image has torch but not the audio readers:
#   .carry/ravdess-data  a prepared RAVDESS data/ folder (features, labels, split) of
#                        configs/ravdess.yaml, e.g. copied from runs/ravdess/data
#   .carry/ravdess.csv   its manifest, runs/manifests/ravdess.csv made at /work/main: the data
#                        folder is keyed by the manifest's path, so it goes to the same path there
#   .whl                 soundfile, soxr, cffi, pycparser wheels for the image's Python (the CUDA
#                        tests synthesize audio): pip download soundfile soxr cffi pycparser
#                        --python-version 3.12 --only-binary=:all: --platform manylinux_2_28_x86_64
# Writes the test log and the benchmark's section and log to $OUT (or runs/gpu).
set -u
EXECUTORS=${1:-packed}
OUT=${OUT:-runs/gpu}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --target /tmp/pylib .whl/*.whl >"$OUT/pip.log" 2>&1
export PYTHONPATH="$PWD/src:/tmp/pylib" HMTL_PROGRESS=0 PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"

if [ "${SKIP_TESTS:-0}" != 1 ]; then
    start=$(date +%s)
    timeout 150 python3 -m pytest -q -p no:cacheprovider tests/test_cuda_graphs.py \
        tests/test_executors.py -k "not executors_give" >"$OUT/tests.log" 2>&1
    echo "tests: rc $? in $(( $(date +%s) - start )) s"; tail -5 "$OUT/tests.log"
fi

mkdir -p /work/main/runs/manifests
cp .carry/ravdess.csv /work/main/runs/manifests/ravdess.csv 2>/dev/null
start=$(date +%s)
timeout 400 python3 benchmarks/speed.py configs/ravdess.yaml \
    data.manifest=/work/main/runs/manifests/ravdess.csv --executors "$EXECUTORS" --device cuda \
    --seeds "${SEEDS:-1}" --data .carry/ravdess-data --reference exhaustive --reference-executor packed \
    --micro "${MICRO:-30}" --micro-plain 2 --out runs/gpu-bench --title "GPU: RAVDESS, ${SEEDS:-1} seed(s)" \
    >"$OUT/speed.md" 2>"$OUT/speed.log"
echo "speed: rc $? in $(( $(date +%s) - start )) s"
grep -E "micro|reference:|  packed|Error|error" "$OUT/speed.log" | cut -c1-600
cat "$OUT/speed.md"

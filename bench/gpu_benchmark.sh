#!/bin/bash
# The GPU benchmark on a CUDA machine: the CUDA-only tests, bench/bench_gpu.py over sizes,
# precisions and runner variants, and the measured default for precision 'auto', in at most
# TOTAL (default 300) seconds. It writes into OUT (default gpu_out/): log.txt,
# gpu-<device>.json (bench/bench_gpu.py; rewritten after every case, so a cut run keeps its
# rows), cuda_defaults.json (what precision 'auto' becomes on CUDA) and pytest.txt.
#
# Optional, for the pipeline on real frames (8 KITTI 00 frames, validation data, 2.2 MB, into
# the git-ignored .gpu/; SRC names a KITTI odometry folder):
#   bash bench/gpu_benchmark.sh --prepare
# On a machine with an NVIDIA GPU and a CUDA build of PyTorch (python3, or PY=...):
#   bash bench/gpu_benchmark.sh
# Without CUDA, a check of the script itself (the bench exits 3 without CUDA unless DEV=cpu):
#   OUT=/tmp/gpu_out DEV=cpu PY=.venv/bin/python TOTAL=120 bash bench/gpu_benchmark.sh
# Then copy gpu-<device>.json to bench/results/ and cuda_defaults.json to rmdepth_ros/ to make
# the measured precision and runner variant the CUDA default; docs/gpu.md explains the table.
if [ "${1:-}" = "--prepare" ]; then
  SRC=${SRC:-../shared/data/kitti_odometry_00}
  mkdir -p .gpu/kitti00/image_l && cp "$SRC/calib.txt" .gpu/kitti00/ || exit 1
  for i in 0 1 2 3 4 5 6 7; do cp "$SRC/image_l/00000$i.png" .gpu/kitti00/image_l/ || exit 1; done
  du -sh .gpu; exit 0
fi
T0=$(date +%s)
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD OMP_WAIT_POLICY=PASSIVE
PY=${PY:-python3}
DEV=${DEV:-cuda}
TOTAL=${TOTAL:-300}
exec > >(tee -a "$OUT/log.txt") 2>&1
left() { echo $(( TOTAL - ($(date +%s) - T0) )); }
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm \
  --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi'
$PY -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, 'cuDNN',
torch.backends.cudnn.version(), 'available', torch.cuda.is_available())" || exit 1
# 1. The tests that need CUDA (graph replay against eager, fp16 / bf16 pipeline) and the rest.
timeout 90 $PY -m pytest -q -p no:cacheprovider -rs test/test_bench_gpu.py test/test_precision.py \
  > "$OUT/pytest.txt" 2>&1; echo "pytest exit $?"; tail -5 "$OUT/pytest.txt"
# 2. The benchmark: cheap variants first; no new case after BUDGET s, no compile near its end.
FRAMES=(); [ -d .gpu/kitti00 ] && FRAMES=(--frames .gpu/kitti00)
BUDGET=$(( $(left) - 90 ))
echo "bench budget ${BUDGET} s"
# 36 cases of ~2.5 s without compile; each compile case costs a minute or more, so they come
# after the variants the default may be chosen from, and run only while 90 s of budget remain.
timeout $(( $(left) - 15 )) $PY bench/bench_gpu.py --device "$DEV" --out "$OUT" \
  --budget-s "$BUDGET" "${FRAMES[@]}" --update-defaults --precisions fp16 bf16 fp32 \
  --seconds 0.25 --min-iters 15 --warmup 5 \
  --variants eager cuda_graph channels_last+cuda_graph compile+cuda_graph channels_last compile \
  ${EXTRA:-}
echo "bench exit $?"
cp rmdepth_ros/cuda_defaults.json "$OUT/"
echo "done in $(( $(date +%s) - T0 )) s"

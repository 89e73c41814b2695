#!/bin/bash
# Device lease for issue 21: the GPU benchmark, its CUDA tests and the measured 'auto' precision,
# in at most TOTAL (default 300) seconds on one H100 / H200. Everything it leaves in $OUT comes
# back: log.txt, gpu-<device>.json (bench/bench_gpu.py; rewritten after every case, so a cut
# run still returns its rows), cuda_defaults.json (what precision 'auto' becomes) and
# pytest.txt.
#
# Here, once (8 KITTI 00 frames, validation data, 2.2 MB, into the git-ignored .gpu/):
#   bash bench/gpu_lease.sh --prepare
# Rehearsal on the CPU (the script itself; the bench exits 3 without CUDA unless DEV=cpu):
#   OUT=/tmp/lease DEV=cpu PY=.venv/bin/python TOTAL=120 bash bench/gpu_lease.sh
# On the device (its own python3 with PyTorch + CUDA; nothing to install):
#   run(command='bash bench/gpu_lease.sh', carry=['.gpu'], timeout_s=420)
# Then, here: copy gpu-<device>.json to bench/results/ and cuda_defaults.json to rmdepth_ros/,
# and fill README "GPU" from the printed table.
if [ "${1:-}" = "--prepare" ]; then
  SRC=${SRC:-../shared/data/kitti_odometry_00}
  mkdir -p .gpu/kitti00/image_l && cp "$SRC/calib.txt" .gpu/kitti00/ || exit 1
  for i in 0 1 2 3 4 5 6 7; do cp "$SRC/image_l/00000$i.png" .gpu/kitti00/image_l/ || exit 1; done
  du -sh .gpu; exit 0
fi
T0=$(date +%s)
OUT=${OUT:?OUT must name the folder that comes back}
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
# 2. The benchmark: cheap variants first; no new case after the budget, no compile near its end.
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

#!/bin/bash
# One full stage bound by the GPU (configs/gpu_shards.yaml) on a CUDA machine, ending with an
# exported, validated float16 weights file under OUT (default gpu_out/). Phases, timed
# against TOTAL seconds:
#  1. render: RENDERERS processes render photo-look shards for RENDER_S seconds (uncompressed);
#  2. train: probe PROBE steps for the speed, then resume with max_steps sized to the time left
#     (optim.max_minutes is the safety net);
#  3. export the last checkpoint to float16 and validate it (held-out synthetic evaluation).
# CPU rehearsal at small scale (a tiny shard, one step):
#   PY=.venv/bin/python DEV=cpu RENDERERS=1 RENDER_S=5 SEQ=2 PROBE=1 STEPS=1 TOTAL=900 \
#     EXTRA="optim.batch_size=4 data.num_workers=0 amp=auto data.real_fraction=0 \
#            data.val_sequences=1 data.val_frames=4" OUT=/tmp/out bash training/gpu/run_shards.sh
T0=$(date +%s)
set -o pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD:$PWD/training OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
PY=${PY:-python3}
DEV=${DEV:-cuda}
RUNS=${RUNS:-/tmp/runs}
SHARDS=${SHARDS:-/tmp/shards}
C=training/configs/gpu_shards.yaml
TOTAL=${TOTAL:-570}        # seconds this script may use
RENDERERS=${RENDERERS:-15}
RENDER_S=${RENDER_S:-110}
SEQ=${SEQ:-100000}          # sequences per renderer (RENDER_S stops it first)
PROBE=${PROBE:-40}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null; nproc
mkdir -p "$SHARDS" "$RUNS"
# 1. Shards: disjoint seed ranges per renderer.
PIDS=""
for k in $(seq 0 $((RENDERERS - 1))); do
  $PY -m rmdepth_training.shards "$SHARDS/s$k.npz" --config $C --raw --sequences "$SEQ" \
      --first-seed $((1099511627776 + 1000000 * (k + 1))) --max-seconds "$RENDER_S" \
      $RENDER_EXTRA > "$SHARDS/s$k.json" &
  PIDS="$PIDS $!"
done
wait $PIDS  # (a bare wait would also wait for the log's tee)
cat "$SHARDS"/s*.json
LIST=$(ls "$SHARDS"/s*.npz | paste -sd, -)
echo "shards ready after $(( $(date +%s) - T0 )) s: $(du -sh "$SHARDS" | cut -f1)"
# Real frames: the half-resolution KITTI 06/07 copies in .gpu/ (training/gpu/README.md), if any.
if [ -d .gpu/kitti_odometry_06 ] && [ -d .gpu/kitti_odometry_07 ]; then
  REAL="data.real_sequences=[.gpu/kitti_odometry_06,.gpu/kitti_odometry_07]"
else
  REAL="data.real_fraction=0"
fi
COMMON="device=$DEV out_dir=$RUNS data.shards=[$LIST] data.shard_fraction=${FRACTION:-0.97} $REAL $EXTRA"
# 2. Probe, then the stage sized to the time left.
$PY -m rmdepth_training.cli train --config $C $COMMON optim.max_steps=$PROBE \
    optim.lr_milestones=[] log.log_every=$PROBE > /tmp/probe.json || { cat /tmp/probe.json; exit 1; }
tail -n 20 /tmp/probe.json
if [ -z "$STEPS" ]; then
  STEPS=$($PY - /tmp/probe.json "$T0" "$TOTAL" "$PROBE" <<'PYEOF'
import json, sys, time
text = open(sys.argv[1]).read()
summary = json.loads(text[text.index('\n{') + 1:] if not text.startswith('{') else text)
rate = 1.0 / summary['s_per_step']
left = float(sys.argv[3]) - (time.time() - float(sys.argv[2])) - 90  # export, validation
print(int(sys.argv[4]) + max(0, int(rate * left * 0.95)))
print(f"probe: {rate:.2f} steps/s, {summary['scalars']['samples_per_s']:.0f} samples/s, "
      f'{left:.0f} s left', file=sys.stderr)
PYEOF
)
fi
MS=$(( STEPS * 4 / 5 )); LEFT=$(( TOTAL - ($(date +%s) - T0) - 80 ))
echo "plan: $STEPS steps, milestone $MS, $LEFT s"
if [ "$STEPS" -gt "$PROBE" ]; then
  $PY -m rmdepth_training.cli train --resume $RUNS/gpu_shards device=$DEV optim.max_steps=$STEPS \
      optim.lr_milestones=[$MS] log.checkpoint_every=$STEPS \
      optim.max_minutes=$($PY -c "print(round(max($LEFT, 30) / 60, 3))") | tail -n 20
fi
# 3. Export and validate.
$PY -m rmdepth_training.cli export $RUNS/gpu_shards --dtype float16 \
    --out "$OUT/gpu_shards.safetensors" || exit 1
$PY -m rmdepth_ros.model.weights info "$OUT/gpu_shards.safetensors" | head -n 20
$PY -m rmdepth_training.cli evaluate "$OUT/gpu_shards.safetensors" --device $DEV \
    --sequences 2 --frames 8 --json "$OUT/validation.json" || exit 1
cp $RUNS/gpu_shards/validation.jsonl "$OUT/" 2>/dev/null
echo "done in $(( $(date +%s) - T0 )) s"

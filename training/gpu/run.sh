#!/bin/bash
# Stage 9 training on a CUDA machine (training/gpu/README.md); logs, checkpoints' exports
# and the weights files go to OUT (default gpu_out/).
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
T0=$(date +%s)
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD:$PWD/training OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
LOG=$OUT/log.txt
exec > >(tee -a $LOG) 2>&1
PY=${PY:-python3}
DEV=${DEV:-cuda}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null; nproc
$PY -c "import torch, cv2, yaml, safetensors, numpy; print('torch', torch.__version__, torch.cuda.is_available(), 'numpy', numpy.__version__)"
RUNS=${RUNS:-/tmp/runs}
C="training/configs/gpu_stage9.yaml"
COMMON="device=$DEV out_dir=$RUNS init_weights=.gpu/init_stage8.safetensors data.real_sequences=[.gpu/kitti_odometry_06,.gpu/kitti_odometry_07] $EXTRA"
TOTAL=${TOTAL:-570}   # seconds this script may use
PROBE=${PROBE:-60}
$PY -m rmdepth_training.cli train --config $C $COMMON optim.max_steps=$PROBE optim.lr_milestones=[] log.log_every=20 > /tmp/probe.json || { cat /tmp/probe.json; exit 1; }
cat /tmp/probe.json
STEPS=$($PY - /tmp/probe.json "$T0" "$TOTAL" "$PROBE" "${BATCH:-32}" <<'PYEOF'
import json, sys, time
text = open(sys.argv[1]).read()
summary = json.loads(text[text.index('\n{') + 1:] if not text.startswith('{') else text)
rate = summary['scalars']['samples_per_s'] / float(sys.argv[5])  # steps/s over the last logged steps
left = float(sys.argv[3]) - (time.time() - float(sys.argv[2])) - 75  # start-up, exports, margin
print(int(sys.argv[4]) + max(0, int(rate * left * 0.97)))
print(f'probe: {rate:.2f} steps/s, {left:.0f} s left', file=sys.stderr)
PYEOF
)
MS=$(( STEPS * 4 / 5 )); CE=$(( (STEPS + 3) / 4 ))
echo "plan: $STEPS steps, milestone $MS, checkpoint every $CE"
LEFT=$(( TOTAL - ($(date +%s) - T0) - 45 ))
$PY -m rmdepth_training.cli train --resume $RUNS/gpu_stage9 device=$DEV optim.max_steps=$STEPS optim.lr_milestones=[$MS] log.checkpoint_every=$CE optim.max_minutes=$($PY -c "print(round($LEFT/60, 3))"); echo "train exit $?"
for ck in $RUNS/gpu_stage9/checkpoints/step_*.pt; do
  s=$(basename $ck .pt)
  $PY -m rmdepth_training.cli export $RUNS/gpu_stage9 --checkpoint $ck --dtype float16 --out $OUT/w_$s.safetensors > /dev/null && echo exported $s
done
cp $RUNS/gpu_stage9/validation.jsonl $OUT/ 2>/dev/null
tar czf $OUT/tb.tgz -C $RUNS/gpu_stage9 tensorboard config.yaml 2>/dev/null
echo "done in $(( $(date +%s) - T0 )) s"

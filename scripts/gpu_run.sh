#!/usr/bin/env bash
# The device command of a rented-GPU session: the GPU checks (benchmarks/gpu_checks.py), then
# the jobs of gpu_campaign.py (all, or those named in $JOBS) side by side for the time left;
# logs and exports copied to $OUT as they appear, so a run cut short still returns them.
#   bash scripts/gpu_run.sh LIMIT_SECONDS CHECK_SECONDS
# SMOKE=1 runs the jobs as gpu_campaign.py --smoke does (the CPU test of this script).
set -u
LIMIT=${1:-585}
CHECKS=${2:-110}
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=$PYTHONPATH:/tmp/site
fi
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch, sys; print('torch', torch.__version__, 'python', sys.version.split()[0])"
mkdir -p "$OUT/w" /tmp/runs
[ "$CHECKS" -gt 0 ] && timeout "$CHECKS" python3 benchmarks/gpu_checks.py --photos gpu/val --out "$OUT/gpu_checks.json" 2>&1 | tail -n 20
save_logs() { tar czf /tmp/logs.tgz --exclude='*.pt' --exclude='*.safetensors' -C /tmp runs 2>/dev/null && cp /tmp/logs.tgz "$OUT/logs.tgz"; }
(while sleep 40; do save_logs; done) &
saver=$!
(sleep 120; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader) &
MINUTES=$(python3 -c "print(round(($LIMIT - $SECONDS - 60) / 60, 2))")
echo "training $MINUTES min per job"
timeout $((LIMIT - SECONDS - 5)) python3 scripts/gpu_campaign.py --data gpu --minutes "$MINUTES" \
  ${JOBS:+--jobs "$JOBS"} ${SMOKE:+--smoke} --exports "$OUT/w" --runs /tmp/runs 2>&1 | grep -v 'stage . on'
kill "$saver"
save_logs
rm -f "$OUT/w/SHA256SUMS"
for f in /tmp/runs/*/log.csv; do echo "== $f"; grep val_ "$f" | tail -n 2 | cut -c1-420; done
ls -la "$OUT" "$OUT/w"

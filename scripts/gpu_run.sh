#!/usr/bin/env bash
# The device command of a rented-GPU session: the jobs of gpu_campaign.py (all, or those named
# in $JOBS) side by side, logs and exports copied to $OUT as they appear, so a run cut short
# still returns them.
set -u
MINUTES=${1:-7.4}
LIMIT=${2:-545}
export PYTHONPATH=$PWD/gpu/src PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch, sys; print('torch', torch.__version__, 'python', sys.version.split()[0])"
mkdir -p "$OUT/w" /tmp/runs
save_logs() { tar czf /tmp/logs.tgz --exclude='*.pt' -C /tmp runs 2>/dev/null && cp /tmp/logs.tgz "$OUT/logs.tgz"; }
(while sleep 40; do save_logs; done) &
(sleep 150; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader) &
timeout "$LIMIT" python3 scripts/gpu_campaign.py --data gpu --minutes "$MINUTES" ${JOBS:+--jobs "$JOBS"} --exports "$OUT/w" --runs /tmp/runs 2>&1 \
  | grep -v 'stage . on'
save_logs
for f in /tmp/runs/*/log.csv; do echo "== $f"; grep val_ "$f" | tail -n 2 | cut -c1-400; done
ls -la "$OUT" "$OUT/w"

#!/usr/bin/env bash
# One device-machine session for issue 12 (docs/benchmarks.md, "The paper's schedule"): the paper config with the
# paper's schedule (125,000 steps of batch 8), alone on one H200 in float32 (at batch 8 bf16 autocast is slower:
# "Throughput on an idle GPU"), stopped by a wall-clock cap; last.pt (0.8 GB with Adam's state) is written every
# 40 epochs instead of every 125-step epoch. Back in $OUT: the log, the GPU's utilisation every 5 s, and the run
# folder without checkpoints (history.jsonl, config, split) in one .tgz. The 65 M-parameter best.pt cannot come
# back (16 MiB a file), so the curve is the validation scenes'; the test scenes stay here (placeholders there).
# Prepared here, git-ignored and carried (.gpu_b and the spectral wheel):
#   python benchmarks/gpu/cave_pack.py pack ../shared/data/cave_256 .gpu_b --exclude $TEST   (+ nikon_d700_cave.mat)
#   pip download --no-deps spectral==0.25 -d .whl
# Dry run on a CPU, in a copy of the repository whose ../shared is not the real one:
#   DEVICE=cpu CAP_MIN=0.3 bash benchmarks/gpu/paper_schedule.sh
set -u
T0=$SECONDS
TEST="beads_256 fake_and_real_lemons_256 flowers_256 glass_tiles_256 real_and_fake_peppers_256"
CAP_MIN=${CAP_MIN:-7}
DEVICE=${DEVICE:-cuda}
OUT=${OUT:-/tmp/paper_schedule_out}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/spectral-*.whl || exit 1
mkdir -p /tmp/shim && python3 -c "import imagecodecs" 2>/dev/null || printf '%s\n' \
  'def __getattr__(name):' '    raise ImportError("imagecodecs is not installed on this machine")' > /tmp/shim/imagecodecs.py
export PYTHONPATH=$PWD/src:/tmp/site:/tmp/shim PYTHONUNBUFFERED=1
mkdir -p ../shared/data/srf && cp .gpu_b/nikon_d700_cave.mat ../shared/data/srf/ || exit 1
python3 benchmarks/gpu/cave_pack.py unpack .gpu_b ../shared/data/cave_256 --placeholder $TEST || exit 1
echo "scenes: $(ls ../shared/data/cave_256 | wc -l) at $((SECONDS - T0)) s"
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name(0))"
RUNS=/tmp/runs; mkdir -p $RUNS
if [ "$DEVICE" = cuda ]; then
  nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used,power.draw --format=csv -l 5 > "$OUT/gpu_utilisation.csv" &
fi
python3 -m hsinr.cli train configs/inr_hsisr_paper.yaml -o $RUNS/paper_fp32 --set train.device=$DEVICE \
  --set train.max_minutes=$CAP_MIN --set train.val_every=8 --set train.save_every=40 > "$OUT/paper_fp32.log" 2>&1
echo "training exited with $? at $((SECONDS - T0)) s"
[ "$DEVICE" = cuda ] && kill %1
grep -v "^epoch\|it/s\|step/s" "$OUT/paper_fp32.log" | tail -5
tail -2 $RUNS/paper_fp32/history.jsonl
(cd /tmp && tar czf "$OUT/paper_fp32.tgz" --exclude='*.pt' runs/paper_fp32)
ls -la "$OUT"; echo "all done at $((SECONDS - T0)) s"

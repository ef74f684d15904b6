#!/usr/bin/env bash
# One device-machine session for issue 12 (docs/benchmarks.md, "Training on a GPU"), all on one H200:
#   1. side by side (one process each, MPS on): the paper config with the paper's schedule (125,000 steps, bf16,
#      stopped by a wall-clock cap: its curve and throughput are the result) and the rows of configs/recipe_gpu.yaml;
#   2. back in $OUT: histories, summaries and run configs (one .tgz) and the recipe rows' best.pt. The
#      recipe table is then made on a CPU, where the test scenes are: `hsinr benchmark configs/recipe_gpu.yaml -o
#      runs/recipe_gpu` with the fetched run folders in runs/recipe_gpu/runs/ (it reuses their best.pt).
# Prepared here, git-ignored and carried (.gpu_b .whl):
#   python benchmarks/gpu/cave_pack.py pack ../shared/data/cave_256 .gpu_b --exclude $TEST   (+ nikon_d700_cave.mat)
#   .whl/spectral-0.25-py3-none-any.whl (the device image lacks it; `pip wheel spectral==0.25 --no-deps`).
# The image lacks imagecodecs too: a stand-in module is written below (no PNG is read or written by these runs).
set -u
T0=$SECONDS
TEST="beads_256 fake_and_real_lemons_256 flowers_256 glass_tiles_256 real_and_fake_peppers_256"
RECIPE_ROWS=("Recipe, 4000 steps" "Recipe, 16000 steps" "Recipe, batch 32, 8000 steps"
             "Recipe with a larger residual, 8000 steps")
DEADLINE=${DEADLINE:-500}   # seconds after the start: jobs still running then are stopped, results are packed
DEVICE=${DEVICE:-cuda}      # DEVICE=cpu DEADLINE=120 (in a copy of the repo): a dry run of this script
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
mkdir -p /tmp/shim && python3 -c "import imagecodecs" 2>/dev/null || printf '%s\n' \
  'def __getattr__(name):' '    raise ImportError("imagecodecs is not installed on this machine")' > /tmp/shim/imagecodecs.py
export PYTHONPATH=$PWD/src:/tmp/site:/tmp/shim PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
mkdir -p ../shared/data/srf && cp .gpu_b/nikon_d700_cave.mat ../shared/data/srf/ || exit 1
python3 benchmarks/gpu/cave_pack.py unpack .gpu_b ../shared/data/cave_256 --placeholder $TEST || exit 1
echo "scenes: $(ls ../shared/data/cave_256 | wc -l) at $((SECONDS - T0)) s"
RUNS=/tmp/runs; mkdir -p $RUNS/logs
nvidia-smi --query-gpu=name,memory.used,memory.total,clocks.sm --format=csv
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name(0))"

nvidia-cuda-mps-control -d && echo "MPS daemon started"
python3 -m hsinr.cli train configs/inr_hsisr_paper.yaml -o $RUNS/paper_bf16 --quiet --set train.device=$DEVICE \
  --set train.amp=bf16 --set train.max_minutes=6 --set train.val_every=4 --set train.threads=1 \
  > $RUNS/logs/paper_bf16.log 2>&1 &
for row in "${RECIPE_ROWS[@]}"; do
  python3 -m hsinr.cli benchmark configs/recipe_gpu.yaml -o $RUNS/recipe_gpu --only "$row" --device $DEVICE --quiet \
    > "$RUNS/logs/$(echo "$row" | tr -c 'A-Za-z0-9\n' '_').log" 2>&1 &
done
while [ -n "$(jobs -r)" ] && [ $((SECONDS - T0)) -lt "$DEADLINE" ]; do sleep 5; done
[ -n "$(jobs -r)" ] && { echo "deadline: stopping $(jobs -r | wc -l) job(s)"; kill $(jobs -pr); sleep 3; }
echo "training done at $((SECONDS - T0)) s"
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv

for log in $RUNS/logs/*.log; do echo "== $log"; tail -3 "$log"; done
cd /tmp && tar czf "$OUT/results.tgz" --exclude='*.pt' runs
k=0
for row in "${RECIPE_ROWS[@]}"; do
  k=$((k + 1))
  slug=$(python3 -c "import sys; from hsinr.benchmark import slug; print(slug(sys.argv[1]))" "$row" 2>/dev/null)
  best=$RUNS/recipe_gpu/runs/$slug/best.pt
  [ -f "$best" ] && cp "$best" "$OUT/row$k.pt"
done
ls -la "$OUT"; echo "all done at $((SECONDS - T0)) s"

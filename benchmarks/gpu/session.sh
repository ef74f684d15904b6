#!/usr/bin/env bash
# One device-machine session (docs/benchmarks.md): unpack the CAVE scenes, run benchmarks/gpu_tables.sh, and copy
# back the tables, histories and the checkpoints worth keeping (the device returns at most 8 files). Prepared here:
#   python benchmarks/gpu/cave_pack.py pack ../shared/data/cave_256 .gpu_b   (+ the three responses as .mat files)
#   .whl/ (the `spectral` wheel for Python 3.12), .gpu_src/ (a copy of src/); all three are git-ignored and carried.
# `TABLES=table1` runs Table I only.
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
export PYTHONPATH=.gpu_src:/tmp/site
python3 benchmarks/gpu/cave_pack.py unpack .gpu_b .gpu_data/cave_256
mkdir -p .gpu_data/srf && cp .gpu_b/*.mat .gpu_data/srf/
nvidia-cuda-mps-control -d && echo "MPS daemon started"
echo "scenes: $(ls .gpu_data/cave_256 | wc -l)"; nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv
RUNS=/tmp/runs
DATA=.gpu_data RUNS=$RUNS CAP_MIN=${CAP_MIN:-5} SRGB=.gpu_data/srf/srgb.mat CIE=.gpu_data/srf/cie1964_xyz.mat \
  bash benchmarks/gpu_tables.sh
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv
cd /tmp && tar czf "$OUT/results.tgz" --exclude='*.pt' --exclude='*.png' runs
for r in srgb cie1964 nikon_d700_cave; do cp $RUNS/pretrained_$r/best.pt "$OUT/pretrained_$r.pt"; done
cp $RUNS/table1/runs/inr_hsisr_recipe_prior_plus_residual/best.pt "$OUT/heldout_nikon_d700_cave.pt"
cp $RUNS/heldout_srgb/runs/inr_hsisr_recipe_prior_plus_residual/best.pt "$OUT/heldout_srgb.pt"
cp $RUNS/heldout_cie1964/runs/inr_hsisr_recipe_prior_plus_residual/best.pt "$OUT/heldout_cie1964.pt"
ls -la "$OUT"; cat $RUNS/table1.md

#!/usr/bin/env bash
# Train every learned method of Tables I-III, the held-out pretrained recipes and the shipped weights side by side on
# one GPU (one process per method), then evaluate each table with the same `hsinr benchmark` command a CPU user runs.
#   DATA=../shared/data RUNS=runs/gpu CAP_MIN=6 bash benchmarks/gpu_tables.sh
# CAP_MIN is a wall-clock safety cap per run (train.max_minutes); the tables report the steps each method really ran.
set -u
DATA=${DATA:-../shared/data}; RUNS=${RUNS:-runs/gpu}; DEVICE=${DEVICE:-cuda}; CAP_MIN=${CAP_MIN:-6}
EXTRA=${EXTRA:-}   # e.g. "--set train.steps=4" for a smoke test
PYTHON=${PYTHON:-python3}
HSINR="$PYTHON -m hsinr.cli"
NIKON="$DATA/srf/nikon_d700_cave.mat"
SRGB=${SRGB:-srgb}; CIE=${CIE:-cie1964_xyz}   # builtin names, or files holding the same responses
export OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1
mkdir -p "$RUNS/logs"
common=(--set "data.root=$DATA/cave_256" --set "train.max_minutes=$CAP_MIN" --set train.threads=1 $EXTRA)

labels() { $PYTHON -c "import yaml,sys; [print(m['label']) for m in yaml.safe_load(open(sys.argv[1]))['methods']]" "$1"; }
SHARED_LABELS="S=8 (8-px cells)|N=5"   # the same method as Table I's recipe row: trained once, copied below
launch_table() {  # config, out name, extra args...
  local config=$1 name=$2; shift 2
  while IFS= read -r label; do
    if [[ "$name" != table1 && "|$SHARED_LABELS|" == *"|$label|"* ]]; then continue; fi
    $HSINR benchmark "$config" -o "$RUNS/$name" --device "$DEVICE" --quiet --only "$label" "${common[@]}" "$@" \
      > "$RUNS/logs/${name}_$(echo "$label" | tr -c 'A-Za-z0-9\n' '_').log" 2>&1 &
  done < <(labels "$config")
}
launch_table configs/table1_cave.yaml table1 --set "data.response=$NIKON"
if [ "${TABLES:-all}" = all ]; then
launch_table configs/table2_grid.yaml table2 --set "data.response=$NIKON"
launch_table configs/table3_encoding.yaml table3 --set "data.response=$NIKON"
launch_table configs/pretrained/heldout.yaml heldout_srgb --set "data.response=$SRGB" --set data.camera_encoding=srgb8
launch_table configs/pretrained/heldout.yaml heldout_cie1964 --set "data.response=$CIE"
for name in srgb cie1964 nikon_d700_cave; do
  case $name in srgb) response=$SRGB;; cie1964) response=$CIE;; *) response=$NIKON;; esac
  $HSINR train configs/pretrained/$name.yaml -o "$RUNS/pretrained_$name" --set train.device=$DEVICE "${common[@]}" \
    --set "data.response=$response" > "$RUNS/logs/pretrained_$name.log" 2>&1 &
done
fi
wait
echo "training done: $(date)"
$HSINR benchmark configs/table1_cave.yaml -o "$RUNS/table1" --device "$DEVICE" --quiet "${common[@]}" --set "data.response=$NIKON" > "$RUNS/table1.md" 2>&1
[ "${TABLES:-all}" = all ] || exit 0
recipe="$RUNS/table1/runs/inr_hsisr_recipe_prior_plus_residual"
mkdir -p "$RUNS/table2/runs" "$RUNS/table3/runs"
cp -r "$recipe" "$RUNS/table2/runs/s_8_8_px_cells"; cp -r "$recipe" "$RUNS/table3/runs/n_5"
# Evaluation: every best.pt exists now, so each benchmark only evaluates and writes its table.
$HSINR benchmark configs/table2_grid.yaml -o "$RUNS/table2" --device "$DEVICE" --quiet "${common[@]}" --set "data.response=$NIKON" > "$RUNS/table2.md" 2>&1 &
$HSINR benchmark configs/table3_encoding.yaml -o "$RUNS/table3" --device "$DEVICE" --quiet "${common[@]}" --set "data.response=$NIKON" > "$RUNS/table3.md" 2>&1 &
$HSINR benchmark configs/pretrained/heldout.yaml -o "$RUNS/heldout_srgb" --device "$DEVICE" --quiet "${common[@]}" --set "data.response=$SRGB" --set data.camera_encoding=srgb8 > "$RUNS/heldout_srgb.md" 2>&1 &
$HSINR benchmark configs/pretrained/heldout.yaml -o "$RUNS/heldout_cie1964" --device "$DEVICE" --quiet "${common[@]}" --set "data.response=$CIE" > "$RUNS/heldout_cie1964.md" 2>&1 &
wait
echo "evaluation done: $(date)"

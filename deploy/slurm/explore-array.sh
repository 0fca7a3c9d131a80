#!/bin/bash
# tokenfab explore on Slurm: a job array runs one shard per task, then a dependent job merges.
#
#   bash deploy/slurm/explore-array.sh [SPACE.toml]        # on a login node: submits both jobs
#
# Run with bash on a login node, this script submits itself twice: once as the array (one task per
# shard, SLURM_ARRAY_TASK_ID = shard index) and once as the merge job, which starts only when
# every array task has succeeded (--dependency=afterok). Shards are deterministic, so a requeued
# task rewrites the same file (atomically).
#
# Set SHARDS, OUT (on a filesystem every node sees) and SEED in the environment, or edit the
# defaults below. Without a SPACE argument the built-in space `custom-asic` is explored.
#SBATCH --job-name=tokenfab-explore
#SBATCH --cpus-per-task=2
#SBATCH --mem=2G
#SBATCH --time=00:30:00
#SBATCH --output=logs/%x-%A_%a.out
set -euo pipefail

SHARDS=${SHARDS:-16}
SEED=${SEED:-0}
OUT=${OUT:-$PWD/explore-results}          # must be visible from every node
SPACE=${1:-}
TOKENFAB=${TOKENFAB:-tokenfab}
export RAYON_NUM_THREADS=${SLURM_CPUS_PER_TASK:-2}

case "${MODE:-submit}" in
  submit)
    mkdir -p logs "$OUT"
    array=$(sbatch --parsable \
      --export=ALL,MODE=shard,SHARDS=$SHARDS,SEED=$SEED,OUT=$OUT \
      --array=0-$((SHARDS - 1)) "$0" $SPACE)
    sbatch --dependency=afterok:"$array" --job-name=tokenfab-explore-merge \
      --export=ALL,MODE=merge,OUT=$OUT "$0"
    echo "submitted array $array ($SHARDS shards) and its merge job; results in $OUT/final"
    ;;
  shard)
    # One shard: every SHARDS-th design starting at this task's index.
    $TOKENFAB explore $SPACE --shard "${SLURM_ARRAY_TASK_ID}/${SHARDS}" --seed "$SEED" --out "$OUT/shards"
    ;;
  merge)
    # Checks that shards 0..N-1 are all present, from the same space and seed; recomputes the
    # frontier; writes summary.json, pareto.*, designs.*, catalog.*, report.html, run.toml.
    $TOKENFAB merge "$OUT/shards" --out "$OUT/final"
    ;;
esac

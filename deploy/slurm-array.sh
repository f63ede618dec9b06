#!/usr/bin/env bash
# Label an archive as a Slurm job array, one shard per task, then merge.
#
#   sbatch --array=1-N deploy/slurm-array.sh /shared/archive /shared/out
#
# N is the number of parts: `--array` on the command line overrides the
# default below (1-8); `--array=1-N%K` runs at most K tasks at once. Task
# ids must be 1..N, as the parts are numbered.
# /shared must be visible to every node. The model is fetched once, into
# $THEMES_MODELS on the shared file system, before the array starts (the
# login node or a first small job needs network access for that; the tasks
# then run offline). Each task keeps its embedding cache on node-local disk.
# A task that fails can be requeued (scontrol requeue): --resume makes it go
# on from its journal instead of starting over.
#SBATCH --job-name=themes-label
#SBATCH --array=1-8
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=24:00:00
#SBATCH --requeue
#SBATCH --output=themes-%A_%a.log
set -euo pipefail

ARCHIVE=${1:?usage: sbatch deploy/slurm-array.sh ARCHIVE OUTDIR}
OUTDIR=${2:?usage: sbatch deploy/slurm-array.sh ARCHIVE OUTDIR}
N=${SLURM_ARRAY_TASK_COUNT:?run this with sbatch --array=1-N}
I=${SLURM_ARRAY_TASK_ID}
if [ "${SLURM_ARRAY_TASK_MIN:-1}" != 1 ] || [ "${SLURM_ARRAY_TASK_MAX:-$N}" != "$N" ]; then
  echo "task ids must be 1..N (sbatch --array=1-$N), not ${SLURM_ARRAY_TASK_MIN}-${SLURM_ARRAY_TASK_MAX}" >&2
  exit 2
fi

export THEMES_MODELS=${THEMES_MODELS:-/shared/themes/models}
export THEMES_CACHE=${TMPDIR:-/tmp}/themes-cache
export HF_HUB_OFFLINE=1
mkdir -p "$OUTDIR"

# Exit code 1 means files were skipped (--keep-going): recorded in the
# manifest and listed by merge, so the task still counts as done.
themes label "$ARCHIVE" --shard "$I/$N" --resume --keep-going --out "$OUTDIR/part-$I.jsonl" || [ $? -eq 1 ]

# The merge, once every task is done, as a dependent job:
#   sbatch --dependency=afterok:<array job id> --wrap \
#     "themes merge $OUTDIR/part-*.jsonl --out $OUTDIR/all.jsonl --summary $OUTDIR/articles.jsonl"

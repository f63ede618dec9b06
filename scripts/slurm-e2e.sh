#!/usr/bin/env bash
# deploy/slurm-array.sh on a real Slurm: a single-node cluster (munged,
# slurmctld, slurmd) on this machine, the array job over real articles, the
# merge as a dependent job, and the result compared byte for byte with one
# plain `themes label` run over the same inputs. Not run in CI: it installs
# Debian packages and starts daemons, as root.
#
#   THEMES_MODELS=/path/to/models scripts/slurm-e2e.sh [PARTS]    # default 4
#
# Needs: `themes` on PATH, the default model already in $THEMES_MODELS (the
# tasks run offline, as on a cluster), Debian or Ubuntu (apt-get), and the
# dev and train articles in ../shared/data (read from there; the archive is
# a folder of links to them, made under $WORK). Environment:
#   WORK     scratch folder (default /tmp/themes-slurm-e2e; emptied first)
#   KEEP=1   leave the cluster running at the end (default: stop it)
#   REQUEUE=1  kill and requeue task 1 (`scontrol requeue`) once it has
#            committed an article, so that it resumes from its journal
# Prints the times (array job, merge, single run) and exits non-zero if the
# outputs differ.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PARTS=${1:-4}
WORK=${WORK:-/tmp/themes-slurm-e2e}
SHARED=$REPO/../shared/data

command -v themes >/dev/null || { echo "themes is not on PATH" >&2; exit 2; }
: "${THEMES_MODELS:?set THEMES_MODELS to a model store holding the default model}"
export THEMES_MODELS HF_HUB_OFFLINE=1
[ "$(id -u)" -eq 0 ] || { echo "run as root (it installs packages and starts daemons)" >&2; exit 2; }

now() { date +%s.%N; }
secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$2"; }

# 1. Slurm and munge from the distribution.
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends slurm-wlm munge
fi

# 2. A one-node cluster, its state and logs under $WORK.
if [ -f "$WORK/slurm.conf" ]; then
  # A previous run's daemons, if any.
  for p in "$WORK"/run/*.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true; done
  sleep 1
fi
rm -rf "$WORK"
mkdir -p "$WORK"/{state,spool,run,log,jobs,tmp-array,tmp-single}
NODE=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
export SLURM_CONF=$WORK/slurm.conf
cat > "$SLURM_CONF" <<EOF
ClusterName=themes-e2e
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/run/slurmctld.pid
SlurmdPidFile=$WORK/run/slurmd.pid
SlurmctldLogFile=$WORK/log/slurmctld.log
SlurmdLogFile=$WORK/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
MpiDefault=none
ReturnToService=2
MinJobAge=3600
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=main Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF

mkdir -p /run/munge && chown munge:munge /run/munge
started_munged=0
if ! pgrep -u munge -x munged >/dev/null; then
  runuser -u munge -- /usr/sbin/munged
  started_munged=1
fi
munge -n | unmunge >/dev/null
sinfo --version
slurmctld
slurmd -N "$NODE"
stop() {
  if [ "${KEEP:-0}" != 1 ]; then
    for p in "$WORK"/run/slurmd.pid "$WORK"/run/slurmctld.pid; do
      [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true
    done
    [ "$started_munged" = 1 ] && [ -f /run/munge/munged.pid ] && kill "$(cat /run/munge/munged.pid)" 2>/dev/null || true
  fi
}
trap stop EXIT
for _ in $(seq 60); do
  state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
  [ "$state" = idle ] && break
  sleep 1
done
[ "$state" = idle ] || { echo "node $NODE is '$state', not idle; see $WORK/log" >&2; exit 1; }
sinfo

# 3. The archive: the dev and train articles (links, never copies).
mkdir -p "$WORK/archive/dev" "$WORK/archive/train"
ln -s "$SHARED"/dev/*.txt "$WORK/archive/dev/"
ln -s "$SHARED"/train/*.txt "$WORK/archive/train/"
ARCHIVE=$WORK/archive
OUT=$WORK/out
echo "archive: $(find -L "$ARCHIVE" -name '*.txt' | wc -l) articles, $PARTS parts, node $NODE: $CPUS CPUs, ${MEM_MB} MB"

# 4. The array job, then the merge as a dependent job. sbatch passes this
# environment (PATH, THEMES_MODELS) on; TMPDIR gives the tasks a cold cache.
t0=$(now)
ARRAY=$(cd "$WORK/jobs" && TMPDIR=$WORK/tmp-array sbatch --parsable --array="1-$PARTS" "$REPO/deploy/slurm-array.sh" "$ARCHIVE" "$OUT")
MERGE=$(cd "$WORK/jobs" && sbatch --parsable --dependency="afterok:$ARRAY" --job-name=themes-merge --output=merge-%j.log \
  --wrap "themes merge $OUT/part-*.jsonl --out $OUT/all.jsonl --summary $OUT/articles.jsonl")
echo "submitted array job $ARRAY (1-$PARTS) and merge job $MERGE"
show_logs() { for f in "$WORK"/jobs/*.log; do echo "== $(basename "$f")"; cat "$f"; done; }
if [ "${REQUEUE:-0}" = 1 ]; then
  # The journal (part-1.jsonl.partial) holds whole committed articles: wait
  # for one, then kill the task and put it back in the queue.
  until [ -s "$OUT/part-1.jsonl.partial" ] && [ "$(wc -l < "$OUT/part-1.jsonl.partial")" -ge 10 ]; do sleep 0.2; done
  scontrol requeue "${ARRAY}_1"
  echo "requeued task 1 with $(wc -l < "$OUT/part-1.jsonl.partial") journal lines written"
  # A requeued job is held back a while before it may start again.
  sleep 1
  scontrol -o show job "${ARRAY}_1" | tr ' ' '\n' | grep -E '^(JobState|Restarts|BeginTime)=' | paste -d' ' - - -
fi
while squeue -h -j "$ARRAY" -o %i 2>/dev/null | grep -q .; do sleep 0.2; done
t_array=$(now)
scontrol -o show job "$ARRAY" | tr ' ' '\n' | grep -E '^(JobId|ArrayTaskId|JobState|StartTime|EndTime)=' | paste -d' ' - - - - -
if scontrol -o show job "$ARRAY" | grep -oE 'JobState=[A-Z_]+' | grep -qv 'JobState=COMPLETED'; then
  show_logs
  scancel "$MERGE" 2>/dev/null || true
  echo "a task of the array job did not complete; the merge was cancelled" >&2
  exit 1
fi
while squeue -h -j "$MERGE" -o %i 2>/dev/null | grep -q .; do sleep 0.2; done
t_merge=$(now)
scontrol -o show job "$MERGE" | tr ' ' '\n' | grep -E '^(JobId|JobState|StartTime|EndTime)=' | paste -d' ' - - - -
show_logs
[ -f "$OUT/all.jsonl" ] || { echo "the merge wrote no $OUT/all.jsonl" >&2; exit 1; }

# The merge again, timed on its own (the dependent job's time includes
# the scheduler noticing the dependency).
t3=$(now)
themes merge "$OUT"/part-*.jsonl --out "$WORK/merge-direct.jsonl"
t4=$(now)

# 5. One plain run over the same inputs, cold cache.
t1=$(now)
THEMES_CACHE=$WORK/tmp-single/themes-cache themes label "$ARCHIVE" --out "$WORK/single.jsonl" --summary "$WORK/single-articles.jsonl"
t2=$(now)

# 6. Same bytes?
status=0
for pair in "$OUT/all.jsonl $WORK/single.jsonl" "$OUT/articles.jsonl $WORK/single-articles.jsonl" \
            "$OUT/all.jsonl $WORK/merge-direct.jsonl"; do
  set -- $pair
  if cmp "$1" "$2"; then
    echo "identical: $1 ($(wc -l < "$1") rows, $(wc -c < "$1") bytes) and $2"
  else
    echo "DIFFERENT: $1 and $2" >&2
    status=1
  fi
done
echo "times (s): array job $(secs "$t0" "$t_array") (submit to last task done), merge job $(secs "$t_array" "$t_merge") (merge alone $(secs "$t3" "$t4")), single run $(secs "$t1" "$t2")"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "date $(date -u +%F), CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $CPUS CPUs"
exit $status

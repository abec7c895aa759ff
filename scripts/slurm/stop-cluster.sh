#!/usr/bin/env bash
# Stops the single-node Slurm cluster that start-cluster.sh started: its jobs are cancelled, then
# slurmd, slurmctld and its munged end (only the processes named in this cluster's pid files).
# The folder stays (munge key, configuration, logs); a later start reuses it.
#
# Usage: scripts/slurm/stop-cluster.sh [--if-unused]
#   --if-unused: stop only when no job is queued or running and nobody holds the cluster's users
#   lock (the Slurm test holds it while it submits and waits), else leave it running.
# Environment: LLFC_SLURM_DIR as for start-cluster.sh.
set -euo pipefail
source "$(dirname "$0")/cluster-env.sh"
PATH=$PATH:/usr/sbin:/sbin

if_unused=false
case "${1:-}" in
  --if-unused) if_unused=true ;;
  '') ;;
  *)
    say "usage: $0 [--if-unused]"
    exit 2
    ;;
esac

[ -d "$cluster_dir" ] || exit 0
exec 9>"$lock_file"
flock -w 120 9 || {
  say "error: another start or stop of $cluster_dir did not finish in 120 s"
  exit 1
}

controller=$(live_pid "$slurmctld_pid" slurmctld)
if $if_unused; then
  exec 8>"$users_lock"
  if ! flock -n -x 8; then
    say "left running: in use by another run"
    exit 0
  fi
  if [ -n "$controller" ] && [ -n "$(squeue -h -o %i 2>/dev/null || echo unknown)" ]; then
    say "left running: jobs are queued or running"
    exit 0
  fi
elif [ -n "$controller" ]; then
  jobs=$(squeue -h -o %i 2>/dev/null || true)
  if [ -n "$jobs" ]; then
    say "cancelling jobs $(echo $jobs)"
    # shellcheck disable=SC2086 # one job id per word
    scancel $jobs 2>/dev/null || true
    for _ in $(seq 1 40); do
      [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.25
    done
  fi
fi

stopped=()
for daemon in "$slurmd_pid slurmd" "$slurmctld_pid slurmctld" "$munged_pid munged"; do
  read -r file program <<<"$daemon"
  [ -n "$(live_pid "$file" "$program")" ] || continue
  end_daemon "$file" "$program"
  stopped+=("$program")
done
say "stopped ${stopped[*]:-nothing (not running)}"

# The single-node Slurm cluster's places, shared by start-cluster.sh and stop-cluster.sh (sourced).
# Everything lives in one folder ($LLFC_SLURM_DIR, default /var/tmp/llfc-slurm): its own munge
# key and socket, slurm.conf, state, spool, logs and pid files, so that a machine's own Slurm or
# munge, if it has one, is neither read nor touched. Clients find the cluster by SLURM_CONF.
cluster_dir=${LLFC_SLURM_DIR:-/var/tmp/llfc-slurm}
slurm_conf=$cluster_dir/slurm.conf
munge_dir=$cluster_dir/munge
munge_socket=$munge_dir/munge.socket
munge_key=$munge_dir/munge.key
munged_pid=$munge_dir/munged.pid
slurmctld_pid=$cluster_dir/slurmctld.pid
slurmd_pid=$cluster_dir/slurmd.pid
log_dir=$cluster_dir/log
# Held exclusively while starting or stopping; held shared by whoever is using the cluster
# (the Slurm test) so that `stop-cluster.sh --if-unused` leaves it running for them.
lock_file=$cluster_dir/lock
users_lock=$cluster_dir/users.lock
export SLURM_CONF=$slurm_conf

say() { echo "llfc slurm cluster: $*" >&2; }

# Whether a process runs (a zombie does not: in a container whose first process reaps nothing,
# an ended daemon stays one).
alive() { [ -d "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# The pid in a pid file when that process is alive and runs the named program, else nothing.
live_pid() {
  local file=$1 program=$2 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file" 2>/dev/null || true)
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  if alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = "$program" ]; then echo "$pid"; fi
  return 0
}

# Ends one of this cluster's daemons (named by its pid file) and waits until it is gone: 10 s,
# then SIGKILL.
end_daemon() {
  local file=$1 program=$2 pid
  pid=$(live_pid "$file" "$program")
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do
    alive "$pid" || break
    sleep 0.25
  done
  if alive "$pid"; then
    say "$program ($pid) did not end in 10 s: killing it"
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

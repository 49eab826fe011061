#!/usr/bin/env bash
# A throwaway Slurm cluster on this machine, for the tests labelled `slurm` (ctest -L slurm):
# munged, slurmctld and three slurmd node entries n1..n3 that all live on 127.0.0.1 (Debian's
# Slurm is not built with --enable-multiple-slurmd, and the backfill scheduler places each
# component of a heterogeneous job on a node of its own: three roles need three node entries;
# /work/shared/reference/dependencies.md section 8). Every file lives under
# $GRAMRL_SLURM_DIR (default /tmp/gramrl-slurm-test); clients find the cluster through
# SLURM_CONF=$GRAMRL_SLURM_DIR/slurm.conf. Runs as root (slurmd must); installs slurm-wlm and munge
# with apt-get when they are missing.
#
#   scripts/slurm_test_cluster.sh start   # (re)start; waits until the three nodes are idle
#   scripts/slurm_test_cluster.sh stop    # stops every daemon it started, by pid file
#
# Ports: slurmctld on $GRAMRL_SLURM_PORT (default 16817), the slurmds on the next three.
set -euo pipefail
S=${GRAMRL_SLURM_DIR:-/tmp/gramrl-slurm-test}
PORT=${GRAMRL_SLURM_PORT:-16817}
NODES="n1 n2 n3"

die() { echo "slurm_test_cluster: $*" >&2; exit 1; }

stop_pidfile() {  # stop_pidfile FILE: SIGTERM the pid in FILE, wait up to 10 s, then SIGKILL
  local f=$1 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f" 2>/dev/null || true)
  rm -f "$f"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

stop() {
  for n in $NODES; do stop_pidfile "$S/slurmd.$n.pid"; done
  stop_pidfile "$S/slurmctld.pid"
  stop_pidfile "$S/munge-run/munged.pid"
}

start() {
  [ "$(id -u)" = 0 ] || die "must run as root (slurmd runs as root); the slurm tests need a root CI machine"
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    echo "slurm_test_cluster: installing slurm-wlm and munge" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurm-wlm munge >/dev/null ||
      { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurm-wlm munge >/dev/null; } ||
      die "cannot install slurm-wlm and munge with apt-get"
  fi
  stop
  rm -rf "$S/state" "$S/spool"
  mkdir -p "$S/munge" "$S/munge-run" "$S/state" "$S/log"
  for n in $NODES; do mkdir -p "$S/spool/$n"; done
  chmod 700 "$S/munge"; chmod 755 "$S/munge-run"
  [ -f "$S/munge/munge.key" ] || mungekey --create --keyfile="$S/munge/munge.key" --bits=1024
  munged --key-file="$S/munge/munge.key" --socket="$S/munge-run/munge.socket.2" --pid-file="$S/munge-run/munged.pid" \
         --log-file="$S/log/munged.log" --seed-file="$S/munge/munged.seed"
  local cpus mem
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 4 ))  # MiB per node entry: a quarter each
  {
    echo "ClusterName=gramrltest"
    echo "SlurmctldHost=localhost"
    echo "SlurmUser=root"
    echo "SlurmdUser=root"
    echo "AuthType=auth/munge"
    echo "AuthInfo=socket=$S/munge-run/munge.socket.2"
    echo "CredType=cred/munge"
    echo "SlurmctldPort=$PORT"
    echo "StateSaveLocation=$S/state"
    echo "SlurmdSpoolDir=$S/spool/%n"
    echo "SlurmctldPidFile=$S/slurmctld.pid"
    echo "SlurmdPidFile=$S/slurmd.%n.pid"
    echo "SlurmctldLogFile=$S/log/slurmctld.log"
    echo "SlurmdLogFile=$S/log/slurmd.%n.log"
    echo "ProctrackType=proctrack/linuxproc"
    echo "TaskPlugin=task/none"
    echo "JobAcctGatherType=jobacct_gather/none"
    echo "AccountingStorageType=accounting_storage/none"
    echo "SelectType=select/cons_tres"
    echo "SelectTypeParameters=CR_Core_Memory"
    echo "DefMemPerCPU=500"
    echo "SchedulerType=sched/backfill"
    echo "SchedulerParameters=bf_interval=1"
    echo "SlurmdParameters=config_overrides"  # the node entries share this machine's cores
    echo "MpiDefault=none"
    echo "ReturnToService=2"
    echo "SlurmctldTimeout=30"
    echo "SlurmdTimeout=30"
    echo "KillWait=30"
    echo "MinJobAge=600"
    echo "MailProg=/bin/true"
    local i=1
    for n in $NODES; do
      echo "NodeName=$n NodeHostname=$n NodeAddr=127.0.0.1 Port=$((PORT + i)) CPUs=$cpus RealMemory=$mem State=UNKNOWN"
      i=$((i + 1))
    done
    echo "PartitionName=debug Nodes=$(echo $NODES | tr ' ' ',') Default=YES MaxTime=INFINITE State=UP"
  } > "$S/slurm.conf"
  export SLURM_CONF="$S/slurm.conf"
  slurmctld -f "$S/slurm.conf"
  for n in $NODES; do slurmd -f "$S/slurm.conf" -N "$n"; done
  for _ in $(seq 300); do
    if [ "$(sinfo -h -N -o '%t' 2>/dev/null | grep -c idle)" = 3 ]; then
      echo "export SLURM_CONF=$S/slurm.conf"
      return 0
    fi
    sleep 0.1
  done
  sinfo -N >&2 || true
  die "the nodes did not become idle within 30 s; logs in $S/log"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) die "usage: $0 start|stop" ;;
esac

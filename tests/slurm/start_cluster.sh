#!/usr/bin/env bash
# A real single-node SLURM cluster on localhost, for the submission test (and for trying the
# slurm profile by hand). Needs root and Debian's packages; installs them when absent.
# Idempotent: a cluster already answering `sinfo` is left as it is.
#   usage: bash tests/slurm/start_cluster.sh [STATE_DIR]      (default /tmp/slurm-local)
#   SLURM_LOCAL_CPUS=N advertises N CPUs (at most nproc) instead of all, to try a smaller node.
set -euo pipefail
state=${1:-/tmp/slurm-local}

if [ "$(id -u)" != 0 ]; then
    echo "start_cluster.sh: needs root (it starts munged, slurmctld and slurmd)" >&2
    exit 2
fi
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    # The packages' install scripts must not start daemons of their own (with no config yet, and
    # holding the caller's output open): policy-rc.d 101 forbids it while they install.
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
        trap 'rm -f "$policy"' EXIT
    fi
    apt_options=(-o Acquire::Retries=3 -o Acquire::http::Timeout=30 -o DPkg::Lock::Timeout=120)
    timeout 240 apt-get "${apt_options[@]}" update -qq
    timeout 240 apt-get "${apt_options[@]}" install -y -qq --no-install-recommends \
        slurmctld slurmd slurm-client munge >/dev/null
fi
if timeout 10 sinfo -h -o %T 2>/dev/null | grep -q idle; then
    echo "start_cluster.sh: a cluster is already up"
    exit 0
fi

mkdir -p "$state"/{spool,slurmd,log} /etc/slurm /run/munge /etc/munge /var/lib/munge /var/log/munge
chown munge:munge /run/munge /etc/munge /var/lib/munge /var/log/munge
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
fi
# Daemons write to their own logs, never to this script's (the test's) output.
pgrep -x munged >/dev/null || runuser -u munge -- munged </dev/null >>"$state/log/munged.out" 2>&1

cpus=$(nproc)
if [ -n "${SLURM_LOCAL_CPUS:-}" ] && [ "$SLURM_LOCAL_CPUS" -lt "$cpus" ]; then cpus=$SLURM_LOCAL_CPUS; fi
memory_mb=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
# The jobstep plugin strips SLURM_* variables, so the config must be at the default path.
cat >/etc/slurm/slurm.conf <<CONF
ClusterName=local
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
# A job asking for more than the node has is refused at submission, as on most sites, instead of
# pending forever (reason PartitionConfig) while Snakemake waits on it.
EnforcePartLimits=ALL
ReturnToService=2
MinJobAge=300
StateSaveLocation=$state/spool
SlurmdSpoolDir=$state/slurmd
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$state/log/jobcomp.txt
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF

pgrep -x slurmctld >/dev/null || slurmctld -i </dev/null >>"$state/log/slurmctld.out" 2>&1
pgrep -x slurmd >/dev/null || slurmd -N localhost </dev/null >>"$state/log/slurmd.out" 2>&1
for _ in $(seq 60); do
    if timeout 10 sinfo -h -o %T 2>/dev/null | grep -q idle; then
        echo "start_cluster.sh: node idle, $cpus CPUs, ${memory_mb} MB"
        exit 0
    fi
    sleep 1
done
echo "start_cluster.sh: the node did not become idle within 60 s; see $state/log" >&2
timeout 10 sinfo >&2 || true
tail -n 20 "$state"/log/* >&2 || true
exit 1

#!/usr/bin/env bash
# A real single-node SLURM cluster on localhost, for the submission test (and for trying the
# slurm profile by hand). Needs root and Debian's packages; installs them when absent.
# The node declares fake GPUs (a `gpu` GRES whose device files are links to /dev/null: SLURM
# schedules them; the machine need not have any), and three partitions share it: `debug` (the
# default, for a plain `sbatch`), `cpu` and `gpu` (the names in profiles/slurm/partitions.yaml).
# Idempotent: a cluster already answering `sinfo` with the same config is left as it is; one
# running another config (an older version of this script, other CPU or GPU counts) is restarted
# with this one (its jobs are lost).
#   usage: bash tests/slurm/start_cluster.sh [STATE_DIR]      (default /tmp/slurm-local)
#   SLURM_LOCAL_CPUS=N advertises N CPUs (at most nproc) instead of all, to try a smaller node.
#   SLURM_LOCAL_GPUS=N declares N fake GPUs (default 2).
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

cpus=$(nproc)
if [ -n "${SLURM_LOCAL_CPUS:-}" ] && [ "$SLURM_LOCAL_CPUS" -lt "$cpus" ]; then cpus=$SLURM_LOCAL_CPUS; fi
gpus=${SLURM_LOCAL_GPUS:-2}
if [ "$gpus" -lt 1 ]; then echo "start_cluster.sh: SLURM_LOCAL_GPUS must be at least 1" >&2; exit 2; fi
memory_mb=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
slurm_conf=$(cat <<CONF
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
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory_mb Gres=gpu:$gpus State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
PartitionName=cpu Nodes=localhost MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=localhost MaxTime=INFINITE State=UP
CONF
)
# Fake GPUs. slurmd drops a GPU without a device file ("Removing file-less GPU"), and refuses a
# File= that is no character device, so each is a link to /dev/null named like a GPU's
# (nvidia0, nvidia1, ...: SLURM numbers them from the name); autodetection is off. A job asking
# for GPUs is scheduled as on a GPU node, and finds no CUDA device when it runs.
fake_gpus=$state/fake-gpus
gres_conf=$(cat <<CONF
AutoDetect=off
NodeName=localhost Name=gpu File=$fake_gpus/nvidia[0-$((gpus - 1))]
CONF
)

# The config this script writes; a cluster running exactly it is left alone, one running another
# (an older version of this script, other counts) is shut down and restarted with it.
same_config() {
    [ "$(cat /etc/slurm/slurm.conf 2>/dev/null)" == "$slurm_conf" ] && [ "$(cat /etc/slurm/gres.conf 2>/dev/null)" == "$gres_conf" ]
}
if pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null; then
    if same_config; then
        if timeout 10 sinfo -h -o %T 2>/dev/null | grep -q idle; then
            echo "start_cluster.sh: a cluster is already up"
            exit 0
        fi
    else
        echo "start_cluster.sh: the running cluster has another config; restarting it"
        timeout 30 scontrol shutdown >/dev/null 2>&1 || true
        for _ in $(seq 30); do
            pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null || break
            sleep 1
        done
        # What `scontrol shutdown` did not reach: SIGTERM, then SIGKILL (a slurmd still retrying
        # its registration with a slurmctld that is gone ignores SIGTERM).
        for signal in TERM KILL; do
            for pid in $(pgrep -x slurmctld) $(pgrep -x slurmd); do kill -s "$signal" "$pid" 2>/dev/null || true; done
            sleep 3
        done
        if pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null; then
            echo "start_cluster.sh: the old slurmctld/slurmd did not stop; see $state/log" >&2
            exit 1
        fi
    fi
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

mkdir -p "$fake_gpus"
for i in $(seq 0 $((gpus - 1))); do ln -sfn /dev/null "$fake_gpus/nvidia$i"; done
# The jobstep plugin strips SLURM_* variables, so the config must be at the default path.
printf '%s\n' "$slurm_conf" >/etc/slurm/slurm.conf
printf '%s\n' "$gres_conf" >/etc/slurm/gres.conf

pgrep -x slurmctld >/dev/null || slurmctld -i </dev/null >>"$state/log/slurmctld.out" 2>&1
pgrep -x slurmd >/dev/null || slurmd -N localhost </dev/null >>"$state/log/slurmd.out" 2>&1
for _ in $(seq 60); do
    if ! pgrep -x slurmctld >/dev/null || ! pgrep -x slurmd >/dev/null; then
        echo "start_cluster.sh: slurmctld or slurmd stopped; see $state/log" >&2
        tail -n 5 "$state"/log/slurm*.log >&2 || true
        exit 1
    fi
    # A node drained by an earlier config (its saved state: "gres/gpu count reported lower than
    # configured" while slurmd ran an older gres.conf) returns to service under this one.
    if timeout 10 sinfo -h -n localhost -o %T 2>/dev/null | grep -q -E 'drain|inval'; then
        timeout 10 scontrol update NodeName=localhost State=RESUME >/dev/null 2>&1 || true
    fi
    if timeout 10 sinfo -h -o %T 2>/dev/null | grep -q idle; then
        echo "start_cluster.sh: node idle, $cpus CPUs, ${memory_mb} MB, $gpus fake GPUs; partitions debug (default), cpu, gpu"
        exit 0
    fi
    sleep 1
done
echo "start_cluster.sh: the node did not become idle within 60 s; see $state/log" >&2
timeout 10 sinfo >&2 || true
tail -n 20 "$state"/log/* >&2 || true
exit 1

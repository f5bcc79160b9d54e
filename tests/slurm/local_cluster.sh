#!/usr/bin/env bash
# Start or stop a one-node SLURM cluster on this machine, for the workflow's
# cluster test (tests/test_slurm.py) and for trying the SLURM profile by hand.
#
#   bash tests/slurm/local_cluster.sh start DIR   # writes DIR/slurm.conf, starts daemons
#   export SLURM_CONF=DIR/slurm.conf               # then sbatch/squeue talk to it
#   bash tests/slurm/local_cluster.sh stop DIR    # stops exactly the daemons it started
#
# Needs Debian's slurm-wlm and munge, run as root (slurmd launches jobs as
# their owner). Everything it writes (config, munge key and socket, spool,
# state, logs, pid files) lives in DIR, except one symbolic link:
# /etc/slurm/slurm.conf -> DIR/slurm.conf, made only when that path is free and
# removed by `stop`. Inside a job, Snakemake's SLURM job-step plugin runs srun
# with every SLURM_* variable but the job's identity removed (SLURM_CONF too),
# so srun must find the configuration at its default path. A machine that
# already has /etc/slurm/slurm.conf is a real cluster: the script refuses.
# Exits 0 when sinfo shows the node idle, non-zero with the reason otherwise.
set -euo pipefail

action=${1:?usage: local_cluster.sh start|stop DIR}
dir=$(mkdir -p "${2:?usage: local_cluster.sh start|stop DIR}" && cd "$2" && pwd)

stop() {
    if [[ -L /etc/slurm/slurm.conf && $(readlink /etc/slurm/slurm.conf) == "$dir/slurm.conf" ]]; then
        rm -f /etc/slurm/slurm.conf
    fi
    for name in slurmd slurmctld munged; do
        if [[ -f "$dir/$name.pid" ]]; then
            kill "$(cat "$dir/$name.pid" 2>/dev/null)" 2>/dev/null || true
        fi
    done
    # Give the daemons a moment to exit, then make sure.
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        alive=0
        for name in slurmd slurmctld munged; do
            if [[ -f "$dir/$name.pid" ]] && kill -0 "$(cat "$dir/$name.pid" 2>/dev/null)" 2>/dev/null; then
                alive=1
            fi
        done
        [[ $alive == 0 ]] && break
        sleep 0.5
    done
    for name in slurmd slurmctld munged; do
        if [[ -f "$dir/$name.pid" ]]; then
            kill -9 "$(cat "$dir/$name.pid" 2>/dev/null)" 2>/dev/null || true
            rm -f "$dir/$name.pid"
        fi
    done
}

if [[ $action == stop ]]; then
    stop
    exit 0
fi
[[ $action == start ]] || { echo "unknown action '$action' (start or stop)" >&2; exit 2; }

for tool in munged mungekey slurmctld slurmd sbatch sinfo; do
    command -v "$tool" >/dev/null || PATH="$PATH:/usr/sbin:/sbin"
    command -v "$tool" >/dev/null || { echo "$tool not found (apt-get install slurm-wlm munge)" >&2; exit 3; }
done
[[ $(id -u) == 0 ]] || { echo "a local SLURM cluster needs root (slurmd runs jobs as their owner)" >&2; exit 3; }

if [[ -e /etc/slurm/slurm.conf && ! ( -L /etc/slurm/slurm.conf &&
      $(readlink /etc/slurm/slurm.conf) == "$dir/slurm.conf" ) ]]; then
    echo "/etc/slurm/slurm.conf exists: this machine has its own SLURM; not starting another" >&2
    exit 3
fi

host=$(hostname -s)
cpus=$(nproc)
# Two free TCP ports for slurmctld and slurmd (a running SLURM or anything else
# on 6817/6818 does not get in the way); loopback addresses, so no name lookup.
read -r ctld_port slurmd_port < <(python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
PY
)
mem_mb=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
mkdir -p "$dir/spool" "$dir/state" "$dir/munge"
chmod 700 "$dir/munge"

# munge: its own key and socket in DIR.
[[ -f "$dir/munge/munge.key" ]] || mungekey --create --keyfile="$dir/munge/munge.key" >/dev/null
chmod 600 "$dir/munge/munge.key"
munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munge/munge.seed"

cat > "$dir/slurm.conf" <<CONF
# One-node cluster written by tests/slurm/local_cluster.sh
ClusterName=netpet-local
SlurmctldHost=$host(127.0.0.1)
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# Finished jobs stay visible to squeue for 10 minutes: the Snakemake SLURM
# executor reads job states with squeue when there is no accounting database.
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF

mkdir -p /etc/slurm
ln -sfn "$dir/slurm.conf" /etc/slurm/slurm.conf
export SLURM_CONF="$dir/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"

for _ in $(seq 1 40); do
    state=$(sinfo --noheader --format=%t 2>/dev/null | head -1 || true)
    if [[ $state == idle ]]; then
        echo "SLURM up: node $host ($cpus CPUs, $mem_mb MB), SLURM_CONF=$SLURM_CONF"
        exit 0
    fi
    sleep 0.5
done
echo "SLURM did not come up (node state '${state:-none}'); logs in $dir" >&2
tail -n 5 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
stop
exit 4

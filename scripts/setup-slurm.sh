#!/usr/bin/env bash
# A one-node Slurm cluster on this machine for the batch test
# (deploy/slurm_test.go): installs Debian's slurm-wlm and munge, writes a
# slurm.conf for localhost into a state folder, and starts munged,
# slurmctld and slurmd unless they already answer. Needs root (or sudo):
# the daemons run as root, nothing under /etc/slurm is changed.
# Prints the path of slurm.conf, for SLURM_CONF.
set -euo pipefail
STATE=${BODY4D_SLURM_DIR:-/tmp/body4d-slurm}
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo

if ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
	echo "setup-slurm: installing slurm-wlm and munge (apt)" >&2
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq slurm-wlm munge >/dev/null
fi

$SUDO mkdir -p "$STATE/ctld" "$STATE/d" "$STATE/log"
conf=$STATE/slurm.conf
host=$(hostname -s)
cpus=$(nproc)
mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2))
$SUDO tee "$conf" >/dev/null <<CONF
# Written by scripts/setup-slurm.sh: one node, this machine.
ClusterName=body4d
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
# Finished jobs stay visible to scontrol long enough for the test.
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=body4d Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF

# munge: the key Debian's package made; munged runs as its own user.
if ! munge -n </dev/null >/dev/null 2>&1; then
	[ -f /etc/munge/munge.key ] || $SUDO /usr/sbin/mungekey --create
	$SUDO mkdir -p /run/munge
	$SUDO chown munge:munge /run/munge /etc/munge/munge.key
	$SUDO chmod 0400 /etc/munge/munge.key
	$SUDO runuser -u munge -- /usr/sbin/munged
fi

export SLURM_CONF=$conf
if ! scontrol ping 2>/dev/null | grep -q UP; then
	$SUDO /usr/sbin/slurmctld -f "$conf"
fi
if ! pgrep -x slurmd >/dev/null; then
	$SUDO /usr/sbin/slurmd -f "$conf"
fi
# Wait for the node to take jobs (at most a minute).
for _ in $(seq 60); do
	state=$(sinfo -h -N -o %t 2>/dev/null | head -1)
	case "$state" in idle | mix | alloc) echo "$conf"; exit 0 ;; esac
	sleep 1
done
echo "setup-slurm: the node did not come up (state '$state'); logs in $STATE/log" >&2
exit 1

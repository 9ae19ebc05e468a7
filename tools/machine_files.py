"""Files written into each machine's own layer before it boots. Pure: each returns text."""

from __future__ import annotations

from collections.abc import Sequence

from tools.machine_plan import MachineSpec

SETUP_SCRIPT = "/usr/local/sbin/homelab-machine-setup"
SETUP_UNIT = "homelab-machine-setup.service"

# What kind's node entrypoint does before exec'ing systemd, as an early oneshot unit:
# a container's /proc/sys, cgroup controllers and /dev are not what the kubelet needs.
_SETUP = r"""#!/bin/sh
# homelab local machine: make this container ready for containerd and the kubelet at
# every boot (what kind's node entrypoint does). Runs before containerd and kubelet.
set -eu

# The kubelet's OOM watcher opens /dev/kmsg; a container has none (kind links the console).
if [ ! -e /dev/kmsg ] && [ -e /dev/console ]; then
  ln -s /dev/console /dev/kmsg
fi

# The kubelet sets six kernel-wide sysctls unless they already hold its values. They are
# not per machine: writing them would change the host (kind's nodes do). Each machine sees
# a copy holding the kubelet's value instead, and /proc/sys stays read-only; the net.* keys
# belong to the machine's own network namespace and are writable.
mkdir -p /run/homelab/sysctl
for kv in KUBELET_SYSCTLS; do
  key="${kv%%=*}"
  copy="/run/homelab/sysctl/$(echo "$key" | tr / .)"
  echo "${kv#*=}" > "$copy"
  if ! mountpoint -q "/proc/sys/$key"; then
    mount --bind "$copy" "/proc/sys/$key"
    mount -o remount,bind,ro "/proc/sys/$key"
  fi
done

# The net.* keys belong to the machine's own network namespace (the kernel keeps the
# global ones read-only there): the prepare script sets ip_forward and bridge-nf-call-*.
if ! mountpoint -q /proc/sys/net; then
  mount --bind /proc/sys/net /proc/sys/net
fi
mount -o remount,bind,rw /proc/sys/net

# runc and the kubelet create cgroups; the container gets the v1 controllers read-only.
# This machine has its own cgroup namespace: a fresh mount shows its own subtree.
for dir in /sys/fs/cgroup/*/; do
  dir="${dir%/}"
  opts="$(awk -v d="$dir" '$2 == d {print $4}' /proc/mounts | tail -n 1)"
  fstype="$(awk -v d="$dir" '$2 == d {print $3}' /proc/mounts | tail -n 1)"
  case "$fstype" in cgroup|cgroup2) ;; *) continue ;; esac
  case ",$opts," in *,ro,*) ;; *) continue ;; esac
  if ! mount -o remount,rw "$dir" 2>/dev/null; then
    # busy (systemd keeps the memory controller open): a fresh mount of the same hierarchy
    ctrl="$(echo "$opts" | tr ',' '\n' | grep -vE '^(ro|rw|nosuid|nodev|noexec|relatime|seclabel)$' | paste -sd, -)"
    umount -l "$dir"
    if [ "$fstype" = cgroup2 ]; then
      mount -t cgroup2 -o rw,nosuid,nodev,noexec cgroup2 "$dir"
    else
      mount -t cgroup -o "rw,nosuid,nodev,noexec,$ctrl" cgroup "$dir"
    fi
  fi
done
mount -o remount,rw /sys/fs/cgroup 2>/dev/null || true

# Mount propagation for the kubelet's Bidirectional mounts (CSI, Cilium's bpffs).
mount --make-rshared /

# Distinct product_uuid per node (kubelet's systemUUID), as kind does.
mkdir -p /run/homelab
# /sys came from the host's network namespace: its class/net lists the host's interfaces
# (and MACs). A sysfs mounted here, in the machine's own namespace, lists the machine's.
mkdir -p /run/homelab/sysfs
if ! mountpoint -q /run/homelab/sysfs; then
  mount -t sysfs -o ro,nosuid,nodev,noexec sysfs /run/homelab/sysfs
fi
for dir in /sys/class/net /sys/devices/virtual/net; do  # the links of one point into the other
  if ! mountpoint -q "$dir"; then
    mount --bind "/run/homelab/sysfs${dir#/sys}" "$dir"
  fi
done
if [ -f /sys/class/dmi/id/product_uuid ]; then
  sed -E 's/^(.{8})(.{4})(.{4})(.{4})(.{12}).*/\1-\2-\3-\4-\5/' /etc/machine-id > /run/homelab/product_uuid
  mount -o ro,bind /run/homelab/product_uuid /sys/class/dmi/id/product_uuid
fi
echo "homelab-machine-setup: ready for containerd and the kubelet"
"""

_UNIT = f"""[Unit]
Description=homelab: make this container ready for containerd and the kubelet
DefaultDependencies=no
After=systemd-remount-fs.service
Before=sysinit.target containerd.service kubelet.service
ConditionVirtualization=container

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart={SETUP_SCRIPT}

[Install]
WantedBy=sysinit.target
"""

_SSHD = """# homelab local machine: root by key only, this machine's own host key.
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
"""


# What the kubelet's setupKernelTunables wants (pkg/kubelet/cm/container_manager_linux.go).
KUBELET_SYSCTLS: dict[str, int] = {
    "vm/overcommit_memory": 1,
    "vm/panic_on_oom": 0,
    "kernel/panic": 10,
    "kernel/panic_on_oops": 1,
    "kernel/keys/root_maxkeys": 1000000,
    "kernel/keys/root_maxbytes": 25000000,
}


def setup_script() -> str:
    return _SETUP.replace("KUBELET_SYSCTLS", " ".join(f"{k}={v}" for k, v in KUBELET_SYSCTLS.items()))


def setup_unit() -> str:
    return _UNIT


def sshd_config() -> str:
    return _SSHD


def hosts_file(machines: Sequence[MachineSpec]) -> str:
    lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback"]
    lines += [f"{m.address} {m.name}" for m in machines]
    return "\n".join(lines) + "\n"


def resolv_conf(gateway: str) -> str:
    # No DNS server on the lab bridge: lookups fail fast (port unreachable) instead of
    # timing out, and a resolver that is not loopback keeps CoreDNS's loop check quiet.
    return f"# homelab local machine: no DNS server is reachable (air-gapped)\nnameserver {gateway}\n"


def files_for(
    machine: MachineSpec, all_machines: Sequence[MachineSpec], gateway: str, machine_id: str, authorized_key: str
) -> dict[str, tuple[str, int]]:
    """path inside the machine -> (content, mode). Host keys are written separately (ssh-keygen)."""
    return {
        "/etc/hostname": (machine.name + "\n", 0o644),
        "/etc/hosts": (hosts_file(all_machines), 0o644),
        "/etc/machine-id": (machine_id + "\n", 0o444),
        "/etc/resolv.conf": (resolv_conf(gateway), 0o644),
        "/etc/ssh/sshd_config.d/homelab.conf": (sshd_config(), 0o644),
        "/root/.ssh/authorized_keys": (authorized_key.strip() + "\n", 0o600),
        SETUP_SCRIPT: (setup_script(), 0o755),
        f"/etc/systemd/system/{SETUP_UNIT}": (setup_unit(), 0o644),
    }


# Enabled by hand (a symlink in the machine's layer) since systemctl cannot run before boot.
ENABLE_LINKS = {f"/etc/systemd/system/sysinit.target.wants/{SETUP_UNIT}": f"/etc/systemd/system/{SETUP_UNIT}"}

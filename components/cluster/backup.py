"""etcd snapshots on every control plane: the script, its systemd units, their install. Pure.

Where etcdctl/etcdutl come from: kubeadm runs etcd as a static pod, so the host has no
etcd client. The etcd image (registry.k8s.io/etcd) ships etcdctl and etcdutl next to
etcd, in the same version as the server, and the pod mounts the data directory and the
etcd PKI at the same paths as on the host. So the script runs them inside the running
etcd container (`crictl exec`), writes the snapshot under /var/lib/etcd, then moves it
to the backup directory. Nothing to install, no version skew, works on air-gapped
hosts. `tools="host"` uses etcdctl/etcdutl from PATH instead (a host that has them;
the real-etcd test).

A snapshot holds every Secret of the cluster: files are 0600 in a 0700 directory.
"""

from __future__ import annotations

import posixpath
import shlex
from typing import Annotated, Literal

from pydantic import AfterValidator

from components.cluster.host_scripts import HEADER, write_file
from components.cluster.oncalendar import calendar_problem
from components.model import Flag, Int, Model, between, problem

SCRIPT_PATH = "/usr/local/sbin/homelab-etcd-snapshot"
UNIT = "homelab-etcd-snapshot"
UNIT_DIR = "/etc/systemd/system"
PKI_DIR = "/etc/kubernetes/pki/etcd"
ENDPOINT = "https://127.0.0.1:2379"
# kubeadm's etcd data directory: mounted at the same path inside the etcd container.
STAGE_DIR = "/var/lib/etcd"
CRICTL = "crictl --runtime-endpoint unix:///run/containerd/containerd.sock"
Tools = Literal["container", "host"]


# Directories a snapshot must never land in: wiped by kubeadm reset, or by the OS.
_FORBIDDEN = ("/", "/etc/kubernetes", "/var/lib/etcd", "/tmp", "/run", "/proc", "/sys", "/dev")
DEFAULT_DIRECTORY = "/var/backups/homelab-etcd"


def _schedule(schedule: str) -> str:
    if why := calendar_problem(schedule):
        raise problem(
            "schedule",
            f"{schedule!r} is not a systemd OnCalendar expression ({why}); "
            "examples: daily, '*-*-* 03:00', 'Mon..Fri 02:30', '*-*-* 00/6:00'",
        )
    return " ".join(schedule.split())


def _directory(directory: str) -> str:
    found: list[str] = []
    if not directory.startswith("/"):
        found.append(f"{directory!r} must be an absolute path on the control planes")
    else:
        normal = posixpath.normpath(directory)
        if any(normal == f or (f != "/" and normal.startswith(f + "/")) for f in _FORBIDDEN):
            found.append(
                f"{directory!r} is wiped by kubeadm reset or the OS; use e.g. {DEFAULT_DIRECTORY} or an NFS mount"
            )
        directory = normal
    if any(c in directory for c in "'\"\n$`\\"):
        found.append("must not contain quotes, backslashes, '$', '`' or newlines")
    if found:
        raise problem("directory", "; ".join(found))
    return directory


class EtcdBackup(Model):
    """etcd snapshots on every control plane: when, where and how many each keeps (systemd timers)."""

    schedule: Annotated[str, AfterValidator(_schedule)] = "daily"
    """When to take a snapshot: a systemd OnCalendar expression (default daily)."""
    directory: Annotated[str, AfterValidator(_directory)] = DEFAULT_DIRECTORY
    """Absolute directory on each control plane (may be an NFS mount you made); not one kubeadm reset or the
    OS wipes."""
    keep: Annotated[Int, between(1, 10000)] = 7
    """Snapshots kept per node; older ones are pruned (default 7)."""
    enabled: Flag = True
    """false: the script and timers are removed from the control planes, snapshots already taken stay (default true)."""


def snapshot_prefix(node_name: str) -> str:
    # Per node: control planes sharing one NFS directory never prune each other's files.
    return f"etcd-{node_name}-"


def snapshot_script(
    backup: EtcdBackup,
    node_name: str,
    *,
    tools: Tools = "container",
    pki_dir: str = PKI_DIR,
    endpoint: str = ENDPOINT,
    stage_dir: str = STAGE_DIR,
    lock_file: str = "/run/homelab-etcd-snapshot.lock",
    timeout_s: int = 600,
) -> str:
    """Take one snapshot, check it, move it into place atomically, prune beyond `keep`.

    The last line of its output says where the snapshot went:
    `homelab: snapshot <path> <bytes> bytes`.
    """
    q = shlex.quote
    prefix = snapshot_prefix(node_name)
    if tools == "container":
        runner = f"""CID="$({CRICTL} ps -q --state Running --name '^etcd$' | head -n 1)"
if [ -z "$CID" ]; then
  echo "homelab: no running etcd container on $(hostname); is this a control plane?" >&2
  exit 1
fi
etcd_tool() {{ {CRICTL} exec "$CID" "$@"; }}
STAGE={q(stage_dir)}
"""
    else:
        runner = """for tool in etcdctl etcdutl; do
  command -v "$tool" >/dev/null || { echo "homelab: $tool is not on PATH" >&2; exit 1; }
done
etcd_tool() { "$@"; }
STAGE="$DIR"
"""
    return (
        HEADER
        + f"""DIR={q(backup.directory)}
KEEP={backup.keep}
PREFIX={q(prefix)}
umask 077
# One snapshot at a time (the timer and an on-demand run may meet).
exec 9>{q(lock_file)}
flock -n 9 || {{ echo "homelab: another etcd snapshot is running" >&2; exit 1; }}
install -d -m 0700 "$DIR"
"""
        + runner
        + f"""NAME="$PREFIX$(date -u +%Y%m%dT%H%M%SZ).db"
PART="$STAGE/.$NAME.part"
trap 'rm -f "$PART" "$PART.part" "$DIR/.$NAME.part"' EXIT
# Bounded: without --command-timeout, etcdctl retries an unreachable etcd forever.
etcd_tool etcdctl --endpoints={q(endpoint)} --dial-timeout=10s --command-timeout={timeout_s}s \\
  --cacert={q(pki_dir + "/ca.crt")} \\
  --cert={q(pki_dir + "/healthcheck-client.crt")} \\
  --key={q(pki_dir + "/healthcheck-client.key")} \\
  snapshot save "$PART" >/dev/null
# A snapshot that does not read back is no backup: fail before it replaces anything.
STATUS="$(etcd_tool etcdutl snapshot status "$PART" -w table)"
if [ "$PART" != "$DIR/.$NAME.part" ]; then
  cp "$PART" "$DIR/.$NAME.part"
  rm -f "$PART"
fi
chmod 0600 "$DIR/.$NAME.part"
sync "$DIR/.$NAME.part"
mv -f "$DIR/.$NAME.part" "$DIR/$NAME"  # atomic inside the directory
# Prune this node's oldest snapshots beyond KEEP (names sort by time).
{{ ls -1 "$DIR" | grep -E "^$PREFIX[0-9]{{8}}T[0-9]{{6}}Z\\.db$" || true; }} | sort | head -n -"$KEEP" \\
  | while read -r old; do rm -f -- "$DIR/$old"; echo "homelab: pruned $DIR/$old"; done
echo "$STATUS"
echo "homelab: snapshot $DIR/$NAME $(stat -c %s "$DIR/$NAME") bytes"
"""
    )


def service_unit() -> str:
    return f"""[Unit]
Description=homelab: etcd snapshot
Documentation=file://{SCRIPT_PATH}
After=kubelet.service

[Service]
Type=oneshot
ExecStart={SCRIPT_PATH}
Nice=10
IOSchedulingClass=best-effort
IOSchedulingPriority=7
"""


def timer_unit(backup: EtcdBackup) -> str:
    return f"""[Unit]
Description=homelab: etcd snapshot on {backup.schedule}

[Timer]
OnCalendar={backup.schedule}
# A snapshot missed while the machine was off runs at the next boot.
Persistent=true
RandomizedDelaySec=5min

[Install]
WantedBy=timers.target
"""


def uninstall_lines() -> str:
    return f"""systemctl disable --now {UNIT}.timer >/dev/null 2>&1 || true
rm -f {UNIT_DIR}/{UNIT}.timer {UNIT_DIR}/{UNIT}.service {SCRIPT_PATH}
systemctl daemon-reload
"""


def install_script(backup: EtcdBackup, node_name: str) -> str:
    """On one control plane: the script and units in place, the timer on (or all of it off)."""
    if not backup.enabled:
        return (
            HEADER
            + uninstall_lines()
            + 'echo "homelab: etcd snapshots are off (homelab:backup.enabled: false); existing ones are kept"\n'
        )
    return (
        HEADER
        + write_file(SCRIPT_PATH, snapshot_script(backup, node_name), mode="0700")
        + write_file(f"{UNIT_DIR}/{UNIT}.service", service_unit(), mode="0644")
        + write_file(f"{UNIT_DIR}/{UNIT}.timer", timer_unit(backup), mode="0644")
        + f"""install -d -m 0700 {shlex.quote(backup.directory)}
systemctl daemon-reload
systemctl enable {UNIT}.timer >/dev/null
systemctl restart {UNIT}.timer
echo "homelab: etcd snapshots of {node_name} on '{backup.schedule}' into {backup.directory}, keeping {backup.keep}"
"""
    )


def uninstall_script() -> str:
    """When the resource goes (node removed, backups dropped): the timer stops, snapshots stay."""
    return HEADER + uninstall_lines() + 'echo "homelab: etcd snapshot timer removed; snapshots are kept"\n'

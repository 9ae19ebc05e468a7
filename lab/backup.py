"""`homelab:backup` → EtcdBackup (etcd snapshots on every control plane), or None when absent."""

from __future__ import annotations

import posixpath
from typing import Any

from components.cluster.backup import EtcdBackup
from components.cluster.oncalendar import calendar_problem
from components.validation import Problems
from lab.context import Section

KEY = "homelab:backup"
# Directories a snapshot must never land in: wiped by kubeadm reset, or by the OS.
_FORBIDDEN = ("/", "/etc/kubernetes", "/var/lib/etcd", "/tmp", "/run", "/proc", "/sys", "/dev")


def parse_backup(raw: Any, problems: Problems) -> EtcdBackup | None:
    """None (no snapshot timers) when the section is absent or empty: Pulumi.yaml's schema
    default is `{}`, so `{}` must mean "not asked for". `{enabled: true}` takes the defaults."""
    if raw is None or raw == {}:
        return None
    s = Section(raw, KEY, problems)
    s.unknown({"schedule", "directory", "keep", "enabled"})
    default = EtcdBackup()
    schedule = s.str("schedule", default.schedule) or default.schedule
    if why := calendar_problem(schedule):
        problems.error(
            s.sub("schedule"),
            f"{schedule!r} is not a systemd OnCalendar expression ({why}); "
            "examples: daily, '*-*-* 03:00', 'Mon..Fri 02:30', '*-*-* 00/6:00'",
        )
    directory = s.str("directory", default.directory) or default.directory
    if not directory.startswith("/"):
        problems.error(s.sub("directory"), f"{directory!r} must be an absolute path on the control planes")
    else:
        normal = posixpath.normpath(directory)
        if any(normal == f or (f != "/" and normal.startswith(f + "/")) for f in _FORBIDDEN):
            problems.error(
                s.sub("directory"),
                f"{directory!r} is wiped by kubeadm reset or the OS; use e.g. {default.directory} or an NFS mount",
            )
        directory = normal
    if any(c in directory for c in "'\"\n$`\\"):
        problems.error(s.sub("directory"), "must not contain quotes, backslashes, '$', '`' or newlines")
    keep = s.int("keep", default.keep, lo=1, hi=10000) or default.keep
    enabled = s.bool("enabled", True)
    return EtcdBackup(schedule=" ".join(schedule.split()), directory=directory, keep=keep, enabled=enabled)

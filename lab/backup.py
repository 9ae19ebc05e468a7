"""`homelab:backup` → EtcdBackup (etcd snapshots on every control plane), or None when absent."""

from __future__ import annotations

from typing import Any

from components.cluster.backup import EtcdBackup
from components.model import parse
from components.validation import Problems

KEY = "homelab:backup"


def parse_backup(raw: Any, problems: Problems) -> EtcdBackup | None:
    """None (no snapshot timers) when the section is absent or empty: Pulumi.yaml's schema
    default is `{}`, so `{}` must mean "not asked for". `{enabled: true}` takes the defaults."""
    if raw is None or raw == {}:
        return None
    return parse(EtcdBackup, raw, KEY, problems)

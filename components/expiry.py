"""The `certificateExpiry` output: kubeadm's certificates per control plane and the lab CA's leaves.

A preview or `up` warns (pulumi.log.warn) for any that expire within 30 days. The
kubeadm half is read on the hosts (components/cluster/day_two.py); the lab CA's
leaves come from pulumi-tls's `validity_end_time`, known at preview.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pulumi

from components.cluster.cert_expiry import expiry_warnings, leaf_expiry


def lab_ca_report(ends: dict[str, str], now: datetime) -> list[dict[str, object]]:
    certs = [leaf_expiry(name, end) for name, end in sorted(ends.items()) if end]
    for line in expiry_warnings("lab CA (homelab:tls)", certs, now):
        pulumi.log.warn(line)
    return [c.as_output() for c in certs]


def certificate_expiry(cluster: Any, tls: Any | None) -> pulumi.Output[dict[str, Any]]:
    """{"kubeadm": {node: [...]}, "labCa": [...]}; each entry {name, expires, authority}."""
    kubeadm = cluster.certificate_expiry
    if tls is None:
        return pulumi.Output.all(kubeadm=kubeadm).apply(dict)
    lab = tls.leaf_expiry.apply(lambda ends: lab_ca_report(ends, datetime.now(UTC)))
    return pulumi.Output.all(kubeadm=kubeadm, labCa=lab).apply(dict)

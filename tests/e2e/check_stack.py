"""A stack file for throwaway hosts (tests/e2e/hosts.py), for `scripts/lab check` and benchmarks."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import yaml

from tests.e2e.hosts import E2EHost


def write_check_stack(
    directory: Path, hosts: list[E2EHost], subnet: str, *, lan_interface: str | None = None, comment: str = ""
) -> Path:
    """config/Pulumi.e2e.yaml under `directory`: the hosts as nodes, the first a control plane."""
    net = ipaddress.ip_network(subnet)
    config: dict[str, object] = {
        "homelab:lan": {"cidr": str(net), "gateway": str(net[1])},
        "homelab:cluster": {"name": "e2e", "podCidr": "10.244.0.0/16", "serviceCidr": "10.96.0.0/12"},
        "homelab:ssh": {"user": hosts[0].user, "privateKeyPath": str(hosts[0].private_key_path)},
        "homelab:nodes": [
            {"name": h.name, "address": h.address, "role": "control-plane" if i == 0 else "worker"}
            for i, h in enumerate(hosts)
        ],
    }
    if lan_interface:
        config["homelab:network"] = {
            "lanAttachment": {"enabled": True, "interface": lan_interface, "range": f"{net[200]}-{net[210]}"}
        }
    path = directory / "config" / "Pulumi.e2e.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    # Flow-style nodes and a comment, as the example stacks have: pinning must keep both.
    text = yaml.safe_dump({"config": config}, default_flow_style=None, sort_keys=False, width=200)
    path.write_text((f"# {comment}\n" if comment else "") + text)
    return path

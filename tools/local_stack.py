"""`config/Pulumi.local.yaml`: the stack for the local machines. Pure: renders text."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from components.versions import DEFAULT_KUBERNETES_VERSION
from tools.machine_plan import LabNetwork, MachineSpec

STACK = "local"
CLUSTER_NAME = "lab-local"
HEADER = (
    "# Written by `scripts/lab machines up`: the local machines on bridge {bridge} ({subnet}).\n"
    "# Regenerated on every `up`; edit the tool (tools/local_stack.py), not this file.\n"
)


def toolchain_kubernetes_version(manifest: Path | None = None) -> str:
    """The Kubernetes version scripts/toolchain built (the packages and images the lab serves),
    else the project's default."""
    if manifest is None:
        root = Path(os.environ.get("HOMELAB_TOOLCHAIN_DIR", Path.home() / ".cache/homelab/toolchain"))
        manifest = root / "manifest.json"
    try:
        data = json.loads(manifest.read_text())
        version = data["items"]["kubernetes"]["version"]
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_KUBERNETES_VERSION
    return str(version).removeprefix("v")


def local_services_config(cilium_chart: Path | None) -> dict[str, Any]:
    """The services the local machines can have without the internet.

    The Cilium chart comes from the toolchain (no Helm repository is reachable) and is not
    awaited: its images (quay.io) cannot reach these machines, so its pods wait. A TLS
    Secret from the lab's CA shows the services half at work. Left out, each because it
    needs a controller that cannot run here: MetalLB (its webhook admits the pools), DNS
    zones (CoreDNS rolls out over a running CNI) and egress policies (the Cilium operator
    registers their CRD). `tests/e2e/test_engine_cluster.py` applies those with stand-ins.
    """
    config: dict[str, Any] = {
        "homelab:tls": {"secrets": [{"name": "lab-web", "namespaces": ["default"], "dnsNames": ["web.lab.local"]}]}
    }
    if cilium_chart is not None:
        config["homelab:network"] = {"chart": {"path": str(cilium_chart)}, "skipAwait": True}
    return config


def local_stack_config(
    network: LabNetwork,
    machines: Sequence[MachineSpec],
    host_keys: Mapping[str, str],
    private_key_path: str,
    kubernetes_version: str,
    extra_config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The stack's `config:` mapping.

    `extra_config` is where the packages/image keys go (`homelab:packages`,
    `homelab:cluster` sub-keys such as `imageRepository`/`registries`): a top-level key is
    added, and a mapping given for an existing section is merged into it.
    """
    config: dict[str, Any] = {
        "homelab:lan": {"cidr": str(network.subnet), "gateway": str(network.gateway), "dhcpRange": network.dhcp_range},
        # No endpoint: the API server is reached at the first control plane (no kube-vip here).
        "homelab:cluster": {"name": CLUSTER_NAME, "kubernetesVersion": kubernetes_version},
        "homelab:ssh": {"user": "root", "privateKeyPath": private_key_path},
        "homelab:nodes": [
            {"name": m.name, "address": m.address, "role": m.role, "ssh": {"hostKey": host_keys[m.name]}}
            for m in machines
        ],
    }
    for key, value in (extra_config or {}).items():
        if isinstance(value, Mapping) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


def render_local_stack(
    network: LabNetwork,
    machines: Sequence[MachineSpec],
    host_keys: Mapping[str, str],
    private_key_path: str,
    kubernetes_version: str,
    extra_config: Mapping[str, Any] | None = None,
) -> str:
    config = local_stack_config(network, machines, host_keys, private_key_path, kubernetes_version, extra_config)
    body = yaml.safe_dump({"config": config}, sort_keys=False, default_flow_style=False, width=200)
    return HEADER.format(bridge=network.bridge, subnet=network.subnet) + body

"""The whole lab's settings, built from stack config before any resource exists."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import pulumi

from components.cluster.backup import EtcdBackup
from components.cluster.model import ClusterSpec
from components.cluster.upgrade import version_step_problem
from components.dns import DnsZonesArgs
from components.egress import EgressPoliciesArgs
from components.loadbalancer.model import LoadBalancerArgs
from components.namespaces import NamespacesArgs
from components.network.model import FlatNetworkArgs
from components.tls import TlsSecretsArgs
from components.validation import Problem, Problems
from components.versions import CILIUM_VERSION
from lab.backup import parse_backup
from lab.cluster import parse_cluster
from lab.context import LabContext
from lab.dns import parse_dns
from lab.egress import parse_egress
from lab.loadbalancer import parse_load_balancer
from lab.namespaces import parse_namespaces
from lab.network import parse_network
from lab.packages import kubernetes_version_of, parse_packages
from lab.running_version import read_running_version
from lab.tls import parse_tls

PROJECT = "homelab"
KEYS = (
    "lan",
    "cluster",
    "ssh",
    "nodes",
    "packages",
    "network",
    "loadBalancer",
    "dns",
    "egress",
    "tls",
    "backup",
    "namespaces",
)


@dataclass(frozen=True)
class LabSettings:
    cluster: ClusterSpec
    context: LabContext
    network: FlatNetworkArgs
    load_balancer: LoadBalancerArgs | None = None  # None: no homelab:loadBalancer section
    dns: DnsZonesArgs | None = None
    egress: EgressPoliciesArgs | None = None
    tls: TlsSecretsArgs | None = None
    backup: EtcdBackup | None = None  # None: no homelab:backup section, no snapshot timers
    namespaces: NamespacesArgs | None = None  # None: none to ensure (or homelab:namespaces.create false)
    warnings: tuple[Problem, ...] = ()


def read_stack_config(project: str = PROJECT) -> tuple[dict[str, Any], set[str]]:
    """Raw values of this project's top-level keys (JSON decoded) and the secret ones."""
    raw: dict[str, Any] = {}
    secret: set[str] = set()
    for key in KEYS:
        full = f"{project}:{key}"
        value = pulumi.runtime.get_config(full)
        if value is None:
            continue
        try:
            raw[key] = json.loads(value)
        except (TypeError, ValueError):
            raw[key] = value
        if pulumi.runtime.is_config_secret(full):
            secret.add(full)
    return raw, secret


OPTIONAL_SECTIONS = ("loadBalancer", "dns", "egress", "tls")


def build_settings(
    raw: Mapping[str, Any], secret_keys: set[str], *, preview: bool = False, running_version: str | None = None
) -> LabSettings:
    """Validate everything; raise ConfigError listing every problem with its key.

    `running_version`: what the stack's cluster runs (lab.running_version), against which
    a change of homelab:cluster.kubernetesVersion must be one minor up at most.
    """
    # Pulumi.yaml's defaults ({} or []) reach the program under the real engine (mocks and
    # the render read the stack file only): an empty optional section is an absent one,
    # not a LoadBalancer without pools or a CoreDNS patch with no zone.
    raw = {k: v for k, v in raw.items() if not (k in OPTIONAL_SECTIONS and v in ({}, []))}
    problems = Problems()
    unknown = sorted(set(raw) - set(KEYS))
    for key in unknown:
        close = difflib.get_close_matches(key, KEYS, n=1) or difflib.get_close_matches(
            key.lower(), [k.lower() for k in KEYS], n=1
        )
        hint = f"did you mean {PROJECT}:{next(k for k in KEYS if k.lower() == close[0].lower())}? " if close else ""
        problems.error(f"{PROJECT}:{key}", f"unknown key ({hint}known: {', '.join(KEYS)})")
    cluster = parse_cluster(
        raw.get("lan"), raw.get("cluster"), raw.get("ssh"), raw.get("nodes", []), secret_keys, problems, preview=preview
    )
    if cluster.spec is not None:
        step = version_step_problem(running_version, cluster.spec.kubernetes_version)
        if step is not None:
            problems.error(f"{PROJECT}:cluster.kubernetesVersion", step)
    control_planes = [n.name for n in cluster.spec.control_planes] if cluster.spec else []
    packages = parse_packages(raw.get("packages"), problems, kubernetes_version_of(raw.get("cluster")))
    # Every section is checked even when an earlier one failed: all problems at once.
    network = parse_network(raw.get("network"), cluster.context, problems, control_planes)
    load_balancer = parse_load_balancer(raw.get("loadBalancer"), cluster.context, problems, network)
    dns = parse_dns(raw.get("dns"), cluster.context, problems)
    egress = parse_egress(
        raw.get("egress"),
        cluster.context,
        problems,
        cilium_version=network.chart.version if network else CILIUM_VERSION,
        dns_reject_code=network.dns_proxy.reject_response_code if network else None,
    )
    tls = parse_tls(raw.get("tls"), cluster.context, problems)
    backup = parse_backup(raw.get("backup"), problems)
    namespaces = parse_namespaces(
        raw.get("namespaces"), problems, network=network, load_balancer=load_balancer, egress=egress, tls=tls
    )
    problems.raise_if_any()
    assert cluster.spec is not None and network is not None  # no errors means complete settings
    return LabSettings(
        cluster=replace(cluster.spec, packages=packages),
        context=cluster.context,
        network=network,
        load_balancer=load_balancer,
        dns=dns,
        egress=egress,
        tls=tls,
        backup=backup,
        namespaces=namespaces,
        warnings=tuple(problems.warnings),
    )


def load(project: str = PROJECT) -> LabSettings:
    raw, secret = read_stack_config(project)
    return build_settings(raw, secret, preview=pulumi.runtime.is_dry_run(), running_version=read_running_version())

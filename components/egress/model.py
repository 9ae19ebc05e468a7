"""EgressPolicies arguments: which pods, which names they may reach, on which ports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from components.versions import CILIUM_VERSION

PROTOCOLS: tuple[str, ...] = ("TCP", "UDP", "ANY")
# What the selected pods may *look up* through the DNS proxy:
#   all      any name (they can still only connect to the allowed ones)
#   allowed  only the allowed names/patterns (other lookups are rejected by the proxy)
DnsLookups = Literal["all", "allowed"]
DNS_LOOKUPS: tuple[str, ...] = ("all", "allowed")
DEFAULT_DNS_LOOKUPS: DnsLookups = "all"


@dataclass(frozen=True)
class Port:
    """A destination port of an allowed name (protocol TCP, UDP or ANY)."""

    port: int
    protocol: str = "TCP"


@dataclass(frozen=True)
class EgressPolicy:
    """Pods matching `selector` (in `namespace`) may reach only `allow` (+ DNS).

    `allow` entries are exact names (`api.github.com`) or Cilium patterns (`*.k8s.intra`;
    `*` matches within one label). `ports` empty means any port and protocol.
    `clusterwide` makes a CiliumClusterwideNetworkPolicy; its `namespace` is optional
    and narrows the selector to that namespace.
    """

    name: str
    allow: tuple[str, ...]
    namespace: str | None = None
    selector: Mapping[str, str] = field(default_factory=dict)
    ports: tuple[Port, ...] = ()
    clusterwide: bool = False
    dns: DnsLookups = DEFAULT_DNS_LOOKUPS
    # A bare "*" in `allow` (every IP the pod has resolved) is refused unless this is set.
    allow_all: bool = False
    description: str | None = None


@dataclass(frozen=True)
class EgressPoliciesArgs:
    """Args of EgressPolicies: one Cilium policy per entry."""

    policies: tuple[EgressPolicy, ...] = ()
    # Which Cilium will enforce these: pattern rules differ between releases.
    cilium_version: str = CILIUM_VERSION
    # Where the cluster DNS runs (kubeadm's CoreDNS): the DNS proxy rule targets it.
    dns_namespace: str = "kube-system"
    dns_labels: Mapping[str, str] = field(default_factory=lambda: {"k8s-app": "kube-dns"})

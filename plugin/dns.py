"""DnsZones for other Pulumi languages: inputs derived from DnsZonesArgs, read by the model.

A record is an IP or a Service to follow; the host takes no Union types, so a record
is an object with one of `ip` / `service` (components.dns.model.DnsRecord).
"""

from collections.abc import Mapping
from typing import Any

import pulumi

from components.dns.component import DnsZones as RealDnsZones
from components.dns.model import DnsRecord, DnsZonesArgs, ForwardZone, Zone
from components.model import parse, plain
from components.validation import Problems
from plugin.derive import plugin_inputs
from plugin.inputs import check_plain, child_options, raise_if_any

TOKEN = "homelab:index:DnsZones"

DnsZonesArgsInput = plugin_inputs(
    DnsZonesArgs,
    "DnsZonesArgsInput",
    names={Zone: "DnsZoneSettings", ForwardZone: "ForwardZoneSettings", DnsRecord: "DnsRecord"},
)


def dns_zones_args(args: Mapping[str, Any]) -> DnsZonesArgs:
    """The real component's DnsZonesArgs (it checks the rules across zones itself when constructed)."""
    problems = Problems()
    check_plain(args, problems, inputs_ok=frozenset({"ip"}))
    raise_if_any("DnsZones", problems)
    domain = plain(args).get("cluster_domain") or DnsZonesArgs.model_fields["cluster_domain"].default
    result = parse(DnsZonesArgs, plain(args), "", problems, context={"cluster_domain": domain})
    raise_if_any("DnsZones", problems)
    assert result is not None  # no problems: the model validated
    return result


class DnsZones(pulumi.ComponentResource):
    """The lab's own DNS zones (and forwarded zones) in kubeadm's CoreDNS.

    Patches the coredns ConfigMap (Corefile + zone files) and rolls the Deployment on
    every change; deleting it gives the patched fields back without deleting CoreDNS.
    Pass the cluster's Kubernetes provider in the resource options.
    """

    corefile: pulumi.Output[str]
    """The Corefile CoreDNS serves."""
    config_hash: pulumi.Output[str]
    """sha256 of the ConfigMap data (rolls CoreDNS when it changes)."""
    records: pulumi.Output[dict[str, dict[str, str]]]
    """Zone → fully qualified name → IPv4."""

    def __init__(self, name: str, args: DnsZonesArgsInput, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TOKEN, name, None, opts)
        inner = RealDnsZones(name, dns_zones_args(args), opts=child_options(self, opts))
        self.corefile = inner.corefile
        self.config_hash = inner.config_hash
        self.records = inner.records
        self.register_outputs({"corefile": self.corefile, "configHash": self.config_hash, "records": self.records})

"""FlatNetwork for other Pulumi languages: inputs derived from FlatNetworkArgs, read by the model."""

from collections.abc import Mapping
from typing import Any

import pulumi

from components.model import parse, plain
from components.network.component import FlatNetwork as RealFlatNetwork
from components.network.model import (
    BgpPeering,
    CiliumChart,
    DnsProxyTunables,
    FlatNetworkArgs,
    LanAttachment,
    NodeAddress,
)
from components.validation import Problems
from plugin.derive import plugin_inputs
from plugin.inputs import ChartSource, check_plain, child_options, raise_if_any

FLAT_NETWORK_TOKEN = "homelab:index:FlatNetwork"

FlatNetworkArgsInput = plugin_inputs(
    FlatNetworkArgs,
    "FlatNetworkArgsInput",
    names={
        NodeAddress: "NodeAddressSettings",
        BgpPeering: "BgpPeeringSettings",
        LanAttachment: "LanAttachmentSettings",
        DnsProxyTunables: "DnsProxySettings",
        CiliumChart: ChartSource,
    },
)


def flat_network_args(args: Mapping[str, Any]) -> FlatNetworkArgs:
    """The real component's FlatNetworkArgs; every problem in the inputs at once (PluginInputError)."""
    problems = Problems()
    check_plain(args, problems)
    raise_if_any("FlatNetwork", problems)
    result = parse(FlatNetworkArgs, plain(args), "", problems)
    raise_if_any("FlatNetwork", problems)
    assert result is not None  # no problems: the model validated
    return result


class FlatNetwork(pulumi.ComponentResource):
    """Cilium in native routing (no encapsulation, kube-proxy replacement) on the home LAN.

    Optional BGP peering with the router and a second LAN interface for pods (Multus +
    macvlan). Pass the cluster's Kubernetes provider in the resource options.
    """

    release_name: pulumi.Output[str]
    """The Cilium Helm release name."""
    namespace: pulumi.Output[str]
    """Cilium's namespace."""
    bgp_enabled: pulumi.Output[bool]
    """Whether Cilium peers with the router."""
    router_routes: pulumi.Output[dict[str, Any]]
    """Static routes to enter on a router without BGP: {routes, summary, serviceRoute, predicted, commands}."""
    lan_network: pulumi.Output[str | None]
    """Name of the LAN NetworkAttachmentDefinition, when there is one."""

    def __init__(self, name: str, args: FlatNetworkArgsInput, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(FLAT_NETWORK_TOKEN, name, None, opts)
        inner = RealFlatNetwork(name, flat_network_args(args), opts=child_options(self, opts))
        self.release_name = inner.release_name
        self.namespace = inner.namespace
        self.bgp_enabled = inner.bgp_enabled
        self.router_routes = inner.router_routes
        self.lan_network = inner.lan_attachment
        self.register_outputs(
            {
                "releaseName": self.release_name,
                "namespace": self.namespace,
                "bgpEnabled": self.bgp_enabled,
                "routerRoutes": self.router_routes,
                "lanNetwork": self.lan_network,
            }
        )

"""LoadBalancer for other Pulumi languages: inputs derived from LoadBalancerArgs, read by the model."""

from collections.abc import Mapping
from typing import Any

import pulumi

from components.loadbalancer.component import LoadBalancer as RealLoadBalancer
from components.loadbalancer.model import AddressPool, BgpSession, LoadBalancerArgs, MetalLbChart
from components.loadbalancer.validation import check_pool_conflicts
from components.model import parse, plain
from components.validation import IPRange, Problems
from plugin.derive import plugin_inputs
from plugin.inputs import ChartSource, check_plain, child_options, raise_if_any

TOKEN = "homelab:index:LoadBalancer"

LoadBalancerArgsInput = plugin_inputs(
    LoadBalancerArgs,
    "LoadBalancerArgsInput",
    names={AddressPool: "AddressPoolSettings", BgpSession: "BgpSessionSettings", MetalLbChart: ChartSource},
)


def load_balancer_args(args: Mapping[str, Any]) -> LoadBalancerArgs:
    """The real component's LoadBalancerArgs; every problem in the inputs at once (PluginInputError)."""
    problems = Problems()
    check_plain(args, problems)
    raise_if_any("LoadBalancer", problems)
    result = parse(LoadBalancerArgs, plain(args), "", problems)
    if not args.get("pools"):
        problems.error("pools", "at least one pool is required")
    if plain(args).get("mode") == "bgp" and args.get("bgp") is None:
        problems.error("bgp", "is required when mode is bgp")  # the model's rule, also when it failed elsewhere
    # Pools must not overlap each other (the LAN's own rules need a stack: lab/loadbalancer.py).
    ranges: list[tuple[str, list[IPRange | None]]] = []
    for pool in args.get("pools") or []:
        found: list[IPRange | None] = []
        for text in pool.get("addresses") or []:
            try:
                found.append(IPRange.parse(str(text)))
            except ValueError:
                found.append(None)
        ranges.append((str(pool.get("name", "")), found))
    check_pool_conflicts(ranges, [], problems, "pools")
    raise_if_any("LoadBalancer", problems)
    assert result is not None  # no problems: the model validated
    return result


class LoadBalancer(pulumi.ComponentResource):
    """MetalLB with address pools on the home LAN and their L2 (or BGP) announcements.

    Pass the cluster's Kubernetes provider in the resource options, and depend on the
    network (MetalLB's pods need the CNI).
    """

    namespace: pulumi.Output[str]
    """MetalLB's namespace."""
    announce_mode: pulumi.Output[str]
    """l2 or bgp, as applied."""
    pool_addresses: pulumi.Output[dict[str, list[str]]]
    """Pool name → address ranges, as MetalLB got them."""

    def __init__(self, name: str, args: LoadBalancerArgsInput, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TOKEN, name, None, opts)
        inner = RealLoadBalancer(name, load_balancer_args(args), opts=child_options(self, opts))
        self.namespace = inner.namespace
        self.announce_mode = inner.mode
        self.pool_addresses = inner.pools
        self.register_outputs(
            {"namespace": self.namespace, "announceMode": self.announce_mode, "poolAddresses": self.pool_addresses}
        )

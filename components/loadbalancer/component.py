"""LoadBalancer: MetalLB in its own namespace, its pools and their announcements."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kube import create_custom, inherited_depends_on
from components.loadbalancer.manifests import render_custom_resources, render_metallb_values, render_namespace
from components.loadbalancer.model import LoadBalancerArgs, MetalLbChart

TYPE = "homelab:loadbalancer:LoadBalancer"


def chart_source(chart: MetalLbChart) -> dict[str, Any]:
    """helm.v4.Chart arguments: a local chart path, or the repo + pinned version."""
    if chart.path:
        return {"chart": chart.path}
    return {
        "chart": "metallb",
        "version": chart.version,
        "repository_opts": k8s.helm.v4.RepositoryOptsArgs(repo=chart.repo),
    }


class LoadBalancer(pulumi.ComponentResource):
    """MetalLB from its chart; IPAddressPools and advertisements once its CRDs and webhook exist.

    Outputs: namespace, mode, pools (pool name → addresses).
    """

    namespace: pulumi.Output[str]
    mode: pulumi.Output[str]
    pools: pulumi.Output[dict[str, list[str]]]

    def __init__(self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE, name, None, opts)
        base = inherited_depends_on(opts)
        ns = render_namespace(args.namespace)
        self.ns = k8s.core.v1.Namespace(
            f"{name}-namespace", metadata=ns["metadata"], opts=pulumi.ResourceOptions(parent=self, depends_on=base)
        )
        self.chart = k8s.helm.v4.Chart(
            f"{name}-metallb",
            name=args.release_name,
            namespace=self.ns.metadata.name,
            values=render_metallb_values(),
            skip_await=args.skip_await,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*base, self.ns]),
            **chart_source(args.chart),
        )
        # Pools and adverts are validated by MetalLB's webhook and need its CRDs: after the chart.
        after_chart = pulumi.ResourceOptions(parent=self, depends_on=[*base, self.chart])
        self.custom_resources: list[k8s.apiextensions.CustomResource] = []
        for obj in render_custom_resources(args):
            res_name = f"{name}-{obj['kind'].lower()}-{obj['metadata']['name']}"
            self.custom_resources.append(create_custom(res_name, obj, after_chart))

        self.namespace = self.ns.metadata.name
        self.mode = pulumi.Output.from_input(args.mode)
        self.pools = pulumi.Output.from_input({p.name: list(p.addresses) for p in args.pools})
        self.register_outputs({"namespace": self.namespace, "mode": self.mode, "pools": self.pools})

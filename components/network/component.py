"""FlatNetwork: Cilium in native routing, optional BGP to the router, optional LAN attachment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kube import create_custom, inherited_depends_on
from components.network.bgp import render_bgp_resources
from components.network.cilium_values import render_cilium_values
from components.network.model import CiliumChart, FlatNetworkArgs
from components.network.multus import render_multus_objects, render_network_attachments
from components.network.routes import router_routes

TYPE = "homelab:network:FlatNetwork"


def chart_source(chart: CiliumChart) -> dict[str, Any]:
    """helm.v4.Chart arguments: a local chart path, or the repo + pinned version."""
    if chart.path:
        return {"chart": chart.path}
    return {
        "chart": "cilium",
        "version": chart.version,
        "repository_opts": k8s.helm.v4.RepositoryOptsArgs(repo=chart.repo),
    }


def create_builtin(name: str, obj: dict[str, Any], opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """A typed pulumi-kubernetes resource for one rendered built-in object (camelCase dicts inside)."""
    kind = obj["kind"]
    meta = obj["metadata"]
    if kind == "CustomResourceDefinition":
        return k8s.apiextensions.v1.CustomResourceDefinition(name, metadata=meta, spec=obj["spec"], opts=opts)
    if kind == "ClusterRole":
        return k8s.rbac.v1.ClusterRole(name, metadata=meta, rules=obj["rules"], opts=opts)
    if kind == "ClusterRoleBinding":
        return k8s.rbac.v1.ClusterRoleBinding(
            name, metadata=meta, role_ref=obj["roleRef"], subjects=obj["subjects"], opts=opts
        )
    if kind == "ServiceAccount":
        return k8s.core.v1.ServiceAccount(name, metadata=meta, opts=opts)
    if kind == "ConfigMap":
        return k8s.core.v1.ConfigMap(name, metadata=meta, data=obj["data"], opts=opts)
    if kind == "DaemonSet":
        return k8s.apps.v1.DaemonSet(name, metadata=meta, spec=obj["spec"], opts=opts)
    raise ValueError(f"no typed resource for kind {kind}")


class FlatNetwork(pulumi.ComponentResource):
    """Cilium (kube-proxy replacement, native routing, no encapsulation) and what rides on it.

    Outputs: release_name, namespace, bgp_enabled, router_routes ({routes, summary,
    serviceRoute, predicted, commands}) and lan_attachment (the NAD name or None).
    """

    release_name: pulumi.Output[str]
    namespace: pulumi.Output[str]
    bgp_enabled: pulumi.Output[bool]
    router_routes: pulumi.Output[dict[str, Any]]
    lan_attachment: pulumi.Output[str | None]

    def __init__(
        self,
        name: str,
        args: FlatNetworkArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        node_ready: Mapping[str, pulumi.Input[Any]] | None = None,
    ) -> None:
        """`node_ready`: per node name, a value known once that node has joined (e.g. its
        join command's id). A node's Node object is read only then, so the preview of a
        node that is new to the stack reads nothing that does not exist yet."""
        super().__init__(TYPE, name, None, opts)
        self.args = args
        self.node_ready = dict(node_ready or {})
        # E.g. the cluster: Cilium and the Node reads must wait for the nodes to have joined.
        base = inherited_depends_on(opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=base)

        self.chart = k8s.helm.v4.Chart(
            f"{name}-cilium",
            name=args.release_name,
            namespace=args.namespace,
            values=render_cilium_values(args),
            skip_await=args.skip_await,
            opts=child,
            **chart_source(args.chart),
        )
        after_chart = pulumi.ResourceOptions(parent=self, depends_on=[*base, self.chart])

        # BGP CRs need the CRDs, which the agent/operator register once the chart is running.
        self.bgp_resources: list[k8s.apiextensions.CustomResource] = []
        if args.bgp is not None:
            for obj in render_bgp_resources(args.bgp, expose_cluster_ips=args.expose_cluster_ips):
                res_name = f"{name}-{obj['kind'].lower()}-{obj['metadata']['name']}"
                self.bgp_resources.append(create_custom(res_name, obj, after_chart))

        self.multus_resources: list[pulumi.CustomResource] = []
        self.network_attachments: list[k8s.apiextensions.CustomResource] = []
        if args.lan_attachment is not None:
            lan = args.lan_attachment
            crd: pulumi.CustomResource | None = None
            # Multus wraps Cilium's CNI config, so it starts after Cilium.
            for obj in render_multus_objects(lan.multus_version, args.namespace):
                res_name = f"{name}-multus-{obj['kind'].lower()}"
                res = create_builtin(res_name, obj, after_chart)
                self.multus_resources.append(res)
                if obj["kind"] == "CustomResourceDefinition":
                    crd = res
            after_crd = pulumi.ResourceOptions(parent=self, depends_on=[*base, self.chart, *([crd] if crd else [])])
            for obj in render_network_attachments(lan):
                res_name = f"{name}-nad-{obj['metadata']['namespace']}-{obj['metadata']['name']}"
                self.network_attachments.append(create_custom(res_name, obj, after_crd))

        # The Node reads need the cluster, not Cilium: they run beside the chart, not after it.
        self.router_routes = self._router_routes(name, child)
        self.release_name = pulumi.Output.from_input(args.release_name)
        self.namespace = pulumi.Output.from_input(args.namespace)
        self.bgp_enabled = pulumi.Output.from_input(args.bgp is not None)
        self.lan_attachment = pulumi.Output.from_input(
            args.lan_attachment.network_name if args.lan_attachment is not None else None
        )
        self.register_outputs(
            {
                "release_name": self.release_name,
                "namespace": self.namespace,
                "bgp_enabled": self.bgp_enabled,
                "router_routes": self.router_routes,
                "lan_attachment": self.lan_attachment,
            }
        )

    def _router_routes(self, name: str, opts: pulumi.ResourceOptions) -> pulumi.Output[dict[str, Any]]:
        args = self.args

        def table(cidrs: dict[str, str | None]) -> dict[str, Any]:
            return router_routes(
                args.pod_cidr,
                args.nodes,
                cidrs,
                service_cidr=args.service_cidr if args.expose_cluster_ips else None,
                mask=args.node_cidr_mask,
            ).as_output()

        if not args.read_node_pod_cidrs or not args.nodes:
            return pulumi.Output.from_input(table({}))
        # The Node objects say which slice kube-controller-manager really gave each node.
        reads: dict[str, pulumi.Output[str | None]] = {}
        for node in args.nodes:
            # An unknown id (a node not joined yet, in a preview) makes the engine skip the read.
            ready = self.node_ready.get(node.name)
            node_id = node.name if ready is None else pulumi.Output.from_input(ready).apply(lambda _, n=node.name: n)
            read = k8s.core.v1.Node.get(f"{name}-node-{node.name}", node_id, opts=opts)
            reads[node.name] = read.spec.apply(lambda s: s.pod_cidr if s is not None else None)
        return pulumi.Output.all(**reads).apply(table)

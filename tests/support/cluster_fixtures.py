"""Small ClusterSpecs for renderer tests."""

from __future__ import annotations

from dataclasses import replace

from components.cluster.model import ApiServerConfig, ClusterSpec, NodeSpec, SshAccess

SSH = SshAccess(user="lab", private_key="not-a-key")


def node(name: str, address: str, role: str = "worker", **kw: object) -> NodeSpec:
    return NodeSpec(name=name, address=address, role=role, ssh=SSH, **kw)  # type: ignore[arg-type]


def ha_spec(**kw: object) -> ClusterSpec:
    spec = ClusterSpec(
        name="lab",
        kubernetes_version="1.34.5",
        nodes=(
            node("cp01", "192.168.2.11", "control-plane"),
            node("cp02", "192.168.2.12", "control-plane"),
            node("cp03", "192.168.2.13", "control-plane"),
            node("worker01", "192.168.2.21"),
        ),
        pod_cidr="10.244.0.0/16",
        service_cidr="10.96.0.0/12",
        endpoint="192.168.2.10",
        vip=True,
        extra_sans=("k8s.home.lan",),
        api_server=ApiServerConfig(),
    )
    return replace(spec, **kw)  # type: ignore[arg-type]


def single_spec(**kw: object) -> ClusterSpec:
    spec = ClusterSpec(
        name="dev",
        kubernetes_version="1.34.5",
        nodes=(node("cp01", "192.168.2.11", "control-plane"), node("worker01", "192.168.2.21")),
        pod_cidr="10.244.0.0/16",
        service_cidr="10.96.0.0/12",
        endpoint="192.168.2.11",
        vip=False,
    )
    return replace(spec, **kw)  # type: ignore[arg-type]

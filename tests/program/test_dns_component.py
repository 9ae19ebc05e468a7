"""DnsZones under Pulumi mocks: patches (never creates), provider, ordering, rollout hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components.dns import ROLLOUT_ANNOTATION, DnsZones, DnsZonesArgs, ForwardZone, ServiceRef, Zone
from tests.support import harness
from tests.support.harness import ProgramRun, run
from tests.unit.test_dns_corefile import parse_corefile

CM = "kubernetes:core/v1:ConfigMapPatch"
DEPLOY = "kubernetes:apps/v1:DeploymentPatch"
SERVICE_IPS = {"monitoring/grafana": "192.168.2.241"}


def lb_status(args: Any) -> dict[str, Any] | None:
    """What the API returns for a LoadBalancer Service MetalLB has served."""
    if args.typ == "kubernetes:core/v1:Service" and args.resource_id in SERVICE_IPS:
        return {"status": {"loadBalancer": {"ingress": [{"ip": SERVICE_IPS[args.resource_id]}]}}}
    return None


def example(echo: str = "172.17.0.2", **kw: Any) -> DnsZonesArgs:
    return DnsZonesArgs(
        zones=(
            Zone("k8s.intra", {"echo": echo, "grafana": ServiceRef("monitoring", "grafana")}),
            Zone("lab.intra", {"nas": "192.168.2.5"}, type="file"),
        ),
        forwards=(ForwardZone("home.lan", ("192.168.2.1",)),),
        **kw,
    )


def program(args: DnsZonesArgs | Callable[[], DnsZonesArgs]) -> Any:
    def fn() -> None:
        # Outputs bind to the running event loop: build them inside the program.
        nonlocal args
        if callable(args):
            args = args()
        provider = k8s.Provider("k8s", kubeconfig="{}")
        network = k8s.core.v1.Namespace(
            "network-stand-in", metadata={"name": "x"}, opts=pulumi.ResourceOptions(provider=provider)
        )
        dns = DnsZones("dns", args, opts=pulumi.ResourceOptions(provider=provider, depends_on=[network]))
        pulumi.export("records", dns.records)
        pulumi.export("corefile", dns.corefile)
        pulumi.export("hash", dns.config_hash)

    return fn


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """ReadResource requests (Service.get), which the harness doesn't record."""
    seen: list[Any] = []
    original = harness.RecordingMonitor.ReadResource

    def read(self: Any, request: Any) -> Any:
        seen.append(request)
        return original(self, request)

    monkeypatch.setattr(harness.RecordingMonitor, "ReadResource", read, raising=False)
    yield seen


def go(args: DnsZonesArgs | Callable[[], DnsZonesArgs] | None = None) -> ProgramRun:
    return run(program(args or example()), hooks=[lb_status])


def rollout_hash(r: ProgramRun) -> str:
    (patch,) = r.by_type(DEPLOY)
    return patch.inputs["spec"]["template"]["metadata"]["annotations"][ROLLOUT_ANNOTATION]


def test_kubeadms_objects_are_patched_never_created() -> None:
    r = go()
    assert r.by_type("kubernetes:core/v1:ConfigMap") == []
    assert r.by_type("kubernetes:apps/v1:Deployment") == []
    (cm,) = r.by_type(CM)
    (deploy,) = r.by_type(DEPLOY)
    for patch in (cm, deploy):
        assert patch.inputs["metadata"]["name"] == "coredns"
        assert patch.inputs["metadata"]["namespace"] == "kube-system"
        assert patch.inputs["metadata"]["annotations"]["pulumi.com/patchForce"] == "true"


def test_every_kubernetes_resource_uses_the_given_provider() -> None:
    r = go()
    provider = r.named("k8s").urn
    (component,) = r.by_type("homelab:dns:DnsZones")
    children = [x for x in r.resources if x.parent == component.urn]
    kube = [x for x in children if x.type.startswith("kubernetes:")]
    assert {x.type for x in kube} == {CM, DEPLOY}
    for child in kube:
        assert child.provider_urn == provider
    # The rest: the file zone's SOA serial, kept in the state (no Kubernetes object).
    assert [x.type for x in children if x not in kube] == ["pulumi-python:dynamic/dns:ZoneSerial"]


def test_service_records_are_read_with_the_provider(reads: list[Any]) -> None:
    r = go()
    (read,) = reads
    assert read.type == "kubernetes:core/v1:Service" and read.id == "monitoring/grafana"
    assert read.provider.rsplit("::", 1)[0] == r.named("k8s").urn
    assert r.outputs["records"]["k8s.intra"]["grafana.k8s.intra"] == "192.168.2.241"


def test_ordering_network_then_configmap_then_rollout() -> None:
    r = go()
    (cm,) = r.by_type(CM)
    (deploy,) = r.by_type(DEPLOY)
    assert cm.depends_on(r.named("network-stand-in").urn)
    assert deploy.depends_on(cm.urn)


def test_corefile_carries_every_zone_and_the_followed_address() -> None:
    r = go()
    (cm,) = r.by_type(CM)
    data = cm.inputs["data"]
    assert sorted(data) == ["Corefile", "db.lab.intra"]
    blocks = {b.keys[0]: b for b in parse_corefile(data["Corefile"])}
    assert list(blocks) == [".:53", "k8s.intra:53", "lab.intra:53", "home.lan:53"]
    hosts = {d.args[0]: d.name for d in blocks["k8s.intra:53"].one("hosts").body if d.name != "ttl"}
    assert hosts == {"echo.k8s.intra": "172.17.0.2", "grafana.k8s.intra": "192.168.2.241"}
    assert data["Corefile"] == r.outputs["corefile"]


def test_zone_files_are_mounted() -> None:
    (deploy,) = go().by_type(DEPLOY)
    (volume,) = deploy.inputs["spec"]["template"]["spec"]["volumes"]
    assert volume["name"] == "config-volume"
    assert volume["configMap"] == {
        "name": "coredns",
        "items": [{"key": "Corefile", "path": "Corefile"}, {"key": "db.lab.intra", "path": "db.lab.intra"}],
    }


def test_rollout_annotation_is_the_hash_of_the_configmap() -> None:
    r = go()
    (cm,) = r.by_type(CM)
    expected = hashlib.sha256(json.dumps(cm.inputs["data"], sort_keys=True).encode()).hexdigest()
    assert rollout_hash(r) == expected == r.outputs["hash"]


def test_rollout_annotation_changes_with_a_record_and_only_then() -> None:
    first = rollout_hash(go())
    assert rollout_hash(go()) == first
    reordered = DnsZonesArgs(
        zones=(
            Zone("lab.intra", {"nas": "192.168.2.5"}, type="file"),
            Zone("k8s.intra", {"grafana": ServiceRef("monitoring", "grafana"), "echo": "172.17.0.2"}),
        ),
        forwards=(ForwardZone("home.lan", ("192.168.2.1",)),),
    )
    assert rollout_hash(go(reordered)) == first
    assert rollout_hash(go(example(echo="172.17.0.3"))) != first
    SERVICE_IPS["monitoring/grafana"] = "192.168.2.242"
    try:
        assert rollout_hash(go()) != first  # the name follows the Service's address
    finally:
        SERVICE_IPS["monitoring/grafana"] = "192.168.2.241"


def test_records_output() -> None:
    assert go().outputs["records"] == {
        "k8s.intra": {"echo.k8s.intra": "172.17.0.2", "grafana.k8s.intra": "192.168.2.241"},
        "lab.intra": {"nas.lab.intra": "192.168.2.5"},
    }


def test_a_record_may_be_any_output() -> None:
    def args() -> DnsZonesArgs:
        return DnsZonesArgs(zones=(Zone("k8s.intra", {"echo": pulumi.Output.from_input("172.17.0.9")}),))

    assert go(args).outputs["records"] == {"k8s.intra": {"echo.k8s.intra": "172.17.0.9"}}


def test_skip_await_marks_the_rollout() -> None:
    (deploy,) = go(example(skip_await=True)).by_type(DEPLOY)
    assert deploy.inputs["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"
    (deploy,) = go().by_type(DEPLOY)
    assert "pulumi.com/skipAwait" not in deploy.inputs["metadata"]["annotations"]


def test_a_service_without_an_address_fails_clearly() -> None:
    args = DnsZonesArgs(zones=(Zone("k8s.intra", {"web": ServiceRef("apps", "pending")}),))
    with pytest.raises(Exception, match=r"Service apps/pending has no LoadBalancer IP"):
        go(args)


def test_bad_arguments_are_refused_before_any_resource() -> None:
    # A zone valid by itself, wrong next to the cluster domain: the component refuses it.
    args = DnsZonesArgs(zones=(Zone("cluster.local", {"a": "1.2.3.4"}),))
    with pytest.raises(Exception, match="inside the cluster domain"):
        go(args)
    # A rule of the zone alone: the model refuses it when the args are built.
    with pytest.raises(ValueError, match="no wildcard records"):
        Zone("cluster.local", {"*": "1.2.3.4"})


def test_forward_zones_only() -> None:
    r = go(DnsZonesArgs(forwards=(ForwardZone("home.lan", ("192.168.2.1",)),)))
    (cm,) = r.by_type(CM)
    assert [b.keys[0] for b in parse_corefile(cm.inputs["data"]["Corefile"])] == [".:53", "home.lan:53"]
    assert r.outputs["records"] == {}

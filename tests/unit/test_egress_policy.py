"""Rendered Cilium policies: the reference scenario exactly, rule shapes, and the real CRD schema."""

from __future__ import annotations

import copy
import functools
import ipaddress
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from components.egress.check import args_problems
from components.egress.model import EgressPoliciesArgs, EgressPolicy, Port
from components.egress.policy import render_policy
from components.validation import Problems
from components.versions import CILIUM_VERSION
from lab.context import LabContext
from lab.egress import parse_egress

KUBE_DNS = {"k8s:io.kubernetes.pod.namespace": "kube-system", "k8s:k8s-app": "kube-dns"}

# The reference scenario: pods labelled app=net in `default` may reach only *.k8s.intra.
REFERENCE_CONFIG = [
    {"name": "net-to-intra", "namespace": "default", "selector": {"app": "net"}, "allow": ["*.k8s.intra"]}
]
REFERENCE_POLICY = {
    "apiVersion": "cilium.io/v2",
    "kind": "CiliumNetworkPolicy",
    "metadata": {
        "name": "net-to-intra",
        "namespace": "default",
        "labels": {"app.kubernetes.io/managed-by": "homelab"},
    },
    "spec": {
        "description": "egress only to *.k8s.intra (any port) and DNS; everything else is dropped",
        "endpointSelector": {"matchLabels": {"app": "net"}},
        "egress": [
            {
                "toEndpoints": [{"matchLabels": KUBE_DNS}],
                "toPorts": [{"ports": [{"port": "53", "protocol": "ANY"}], "rules": {"dns": [{"matchPattern": "*"}]}}],
            },
            {"toFQDNs": [{"matchPattern": "*.k8s.intra"}]},
        ],
    },
}


def parse(raw: Any) -> EgressPoliciesArgs:
    problems = Problems()
    ctx = LabContext(lan=ipaddress.IPv4Network("192.168.2.0/24"), gateway=None, dhcp_range=None)
    args = parse_egress(raw, ctx, problems)
    assert not problems.errors, problems.errors
    assert args is not None
    return args


def test_reference_scenario_config_to_policy() -> None:
    args = parse(REFERENCE_CONFIG)
    assert args.policies == (
        EgressPolicy(name="net-to-intra", allow=("*.k8s.intra",), namespace="default", selector={"app": "net"}),
    )
    assert render_policy(args.policies[0]) == REFERENCE_POLICY


def test_names_and_patterns_with_ports() -> None:
    args = parse(
        [
            {
                "name": "updates",
                "namespace": "apps",
                "selector": {"app": "updater"},
                "allow": ["api.github.com", "*.debian.org"],
                "ports": [443, {"port": 80, "protocol": "tcp"}],
            }
        ]
    )
    spec = render_policy(args.policies[0])["spec"]
    assert spec["egress"][1] == {
        "toFQDNs": [{"matchName": "api.github.com"}, {"matchPattern": "*.debian.org"}],
        "toPorts": [{"ports": [{"port": "443", "protocol": "TCP"}, {"port": "80", "protocol": "TCP"}]}],
    }
    assert "443/TCP, 80/TCP" in spec["description"]


def test_dns_lookups_limited_to_the_allowed_names() -> None:
    policy = EgressPolicy(name="p", namespace="apps", allow=("api.github.com", "*.debian.org"), dns="allowed")
    dns = render_policy(policy)["spec"]["egress"][0]
    assert dns["toPorts"][0]["rules"]["dns"] == [{"matchName": "api.github.com"}, {"matchPattern": "*.debian.org"}]


def test_no_rule_mixes_tofqdns_with_another_l3_selector() -> None:
    policy = EgressPolicy(name="p", namespace="apps", allow=("a.com",), ports=(Port(443),))
    for rule in render_policy(policy)["spec"]["egress"]:
        l3 = {k for k in rule if k.startswith("to") and k != "toPorts"}
        assert len(l3) == 1, rule


def test_dns_rule_reaches_kube_dns_on_port_53_any_protocol() -> None:
    dns = render_policy(EgressPolicy(name="p", namespace="apps", allow=("a.com",)))["spec"]["egress"][0]
    assert dns["toEndpoints"] == [{"matchLabels": KUBE_DNS}]
    assert dns["toPorts"][0]["ports"] == [{"port": "53", "protocol": "ANY"}]


def test_dns_rule_follows_another_dns_deployment() -> None:
    policy = EgressPolicy(name="p", namespace="apps", allow=("a.com",))
    dns = render_policy(policy, dns_namespace="dns", dns_labels={"app": "resolver"})["spec"]["egress"][0]
    assert dns["toEndpoints"] == [{"matchLabels": {"k8s:io.kubernetes.pod.namespace": "dns", "k8s:app": "resolver"}}]


def test_clusterwide_policy() -> None:
    args = parse(
        [
            {"name": "sandbox", "clusterwide": True, "selector": {"tier": "sandbox"}, "allow": ["*.k8s.intra"]},
            {"name": "lab", "clusterwide": True, "namespace": "lab", "allow": ["*.k8s.intra"]},
        ]
    )
    first, second = (render_policy(p) for p in args.policies)
    assert first["kind"] == "CiliumClusterwideNetworkPolicy"
    assert "namespace" not in first["metadata"]
    assert first["spec"]["endpointSelector"] == {"matchLabels": {"tier": "sandbox"}}
    assert second["spec"]["endpointSelector"] == {"matchLabels": {"k8s:io.kubernetes.pod.namespace": "lab"}}


def test_empty_selector_selects_the_whole_namespace() -> None:
    policy = EgressPolicy(name="p", namespace="apps", allow=("a.com",))
    assert render_policy(policy)["spec"]["endpointSelector"] == {}


def test_args_problems() -> None:
    # The models refuse all of these; the component checks args built without validation too.
    bad = EgressPoliciesArgs.model_construct(
        policies=(
            EgressPolicy.model_construct(name="p", namespace="apps", allow=("**.a.com", "*")),
            EgressPolicy.model_construct(
                name="p",
                namespace="apps",
                allow=("a.com",),
                ports=(Port.model_construct(port=0), Port.model_construct(port=53, protocol="SCTP")),
            ),
            EgressPolicy.model_construct(name="q", allow=("a.com",), clusterwide=True),
            EgressPolicy.model_construct(
                name="r", namespace="apps", allow=(), selector={"k8s:io.kubernetes.pod.namespace": "x"}
            ),
        )
    )
    problems = "\n".join(args_problems(bad))
    for expected in (
        "no multi-level wildcard",
        "allowAll",
        "defined twice in apps",
        "from 1 to 65535",
        "TCP, UDP, ANY",
        "every pod in the cluster",
        "allow lists no names",
        "use `namespace` instead",
    ):
        assert expected in problems


# --- the real CRD schema (from scripts/toolchain or the Go module cache) ------------------------


def _crd_dir() -> Path | None:
    try:
        from tests.realbin.controlplane import find_tool
    except ImportError:  # pragma: no cover - the helper moved
        find_tool = None  # type: ignore[assignment]
    found = find_tool("cilium-crds") if find_tool else None
    if found:
        return found
    cache = Path.home() / "go/pkg/mod/github.com/cilium" / f"cilium@v{CILIUM_VERSION}"
    path = cache / "pkg/k8s/apis/cilium.io/client/crds/v2"
    return path if path.is_dir() else None


def _strict(schema: Any) -> Any:
    """Structural schemas prune unknown fields silently; refuse them instead, to catch typos."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if out.get("type") == "object" and "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def check(obj: Any, schema: dict[str, Any]) -> None:
    """Validate without checking the schema itself: some CRD patterns are Go-only regexps (\\PC)."""
    jsonschema.Draft7Validator(schema).validate(obj)


def crd_schema(kind_file: str) -> dict[str, Any]:
    return copy.deepcopy(_crd_schema(kind_file))


@functools.cache
def _crd_schema(kind_file: str) -> dict[str, Any]:
    crds = _crd_dir()
    if crds is None:
        pytest.skip(f"Cilium {CILIUM_VERSION} CRDs not found (build them with `scripts/toolchain --only cilium`)")
    doc = yaml.safe_load((crds / kind_file).read_text())
    (version,) = [v for v in doc["spec"]["versions"] if v["name"] == "v2"]
    schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
    schema["properties"]["metadata"] = {"type": "object"}
    return _strict(schema)


@pytest.mark.parametrize(
    "policy",
    [
        EgressPolicy(name="net-to-intra", namespace="default", selector={"app": "net"}, allow=("*.k8s.intra",)),
        EgressPolicy(
            name="updates",
            namespace="apps",
            selector={"app": "updater"},
            allow=("api.github.com", "*.debian.org"),
            ports=(Port(443), Port(53, "UDP"), Port(123, "ANY")),
            dns="allowed",
        ),
    ],
)
def test_namespaced_policy_fits_the_crd(policy: EgressPolicy) -> None:
    check(render_policy(policy), crd_schema("ciliumnetworkpolicies.yaml"))


def test_clusterwide_policy_fits_the_crd() -> None:
    policy = EgressPolicy(name="lab", clusterwide=True, namespace="lab", selector={"tier": "x"}, allow=("*.k8s.intra",))
    check(render_policy(policy), crd_schema("ciliumclusterwidenetworkpolicies.yaml"))


def test_the_strict_schema_catches_a_typo() -> None:
    obj = copy.deepcopy(REFERENCE_POLICY)
    obj["spec"]["egress"][1] = {"toFqdns": [{"matchPattern": "*.k8s.intra"}]}
    with pytest.raises(jsonschema.ValidationError):
        check(obj, crd_schema("ciliumnetworkpolicies.yaml"))


def test_the_crd_pattern_agrees_with_our_checks() -> None:
    fqdn = crd_schema("ciliumnetworkpolicies.yaml")["properties"]["spec"]["properties"]["egress"]["items"]
    pattern = fqdn["properties"]["toFQDNs"]["items"]["properties"]["matchPattern"]
    for ok in ("*.k8s.intra", "api.github.com", "sub*.cilium.io"):
        check(ok, pattern)
    for bad in ("a b.com", "x..com", ".x.com"):
        with pytest.raises(jsonschema.ValidationError):
            check(bad, pattern)

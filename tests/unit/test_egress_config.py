"""`homelab:egress` parsing: each rule fails with one clear message under its key."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from components.egress.model import EgressPoliciesArgs, EgressPolicy, Port
from components.validation import Problems
from lab.context import LabContext
from lab.egress import parse_egress

CTX = LabContext(lan=ipaddress.IPv4Network("192.168.2.0/24"), gateway=None, dhcp_range=None)
GOOD = {"name": "p", "namespace": "apps", "selector": {"app": "x"}, "allow": ["a.com"]}


def parse(raw: Any, **kw: Any) -> tuple[EgressPoliciesArgs | None, Problems]:
    problems = Problems()
    return parse_egress(raw, CTX, problems, **kw), problems


def errors(raw: Any, **kw: Any) -> dict[str, str]:
    args, problems = parse(raw, **kw)
    assert args is None and problems.errors, "expected errors"
    out: dict[str, str] = {}
    for p in problems.errors:
        assert p.key not in out, f"two errors for {p.key}: {out[p.key]!r} and {p.message!r}"
        out[p.key] = p.message
    return out


def one_error(entry: dict[str, Any], key: str) -> str:
    errs = errors([entry])
    assert list(errs) == [key], errs
    return errs[key]


def test_the_issue_examples() -> None:
    args, problems = parse(
        [
            {"name": "net-to-intra", "namespace": "default", "selector": {"app": "net"}, "allow": ["*.k8s.intra"]},
            {
                "name": "updates",
                "namespace": "apps",
                "selector": {"app": "updater"},
                "allow": ["api.github.com", "*.debian.org"],
                "ports": [443],
            },
        ]
    )
    assert not problems.errors
    assert args is not None
    assert args.policies[1] == EgressPolicy(
        name="updates",
        namespace="apps",
        selector={"app": "updater"},
        allow=("api.github.com", "*.debian.org"),
        ports=(Port(443, "TCP"),),
    )


def test_absent_section() -> None:
    args, problems = parse(None)
    assert args is None and not problems.errors


def test_section_must_be_a_list() -> None:
    assert "must be a list" in errors({"name": "p"})["homelab:egress"]


def test_a_pattern_cilium_would_reject() -> None:
    msg = one_error({**GOOD, "allow": ["a.com", "*.k8s.intra/x"]}, "homelab:egress[0].allow[1]")
    assert "Cilium allows only" in msg


def test_multi_level_wildcard_is_refused_on_1_18() -> None:
    msg = one_error({**GOOD, "allow": ["**.k8s.intra"]}, "homelab:egress[0].allow[0]")
    assert "1.19" in msg


def test_multi_level_wildcard_with_a_newer_cilium() -> None:
    args, problems = parse([{**GOOD, "allow": ["**.k8s.intra"]}], cilium_version="1.19.1")
    assert not problems.errors and args is not None


def test_bare_star_needs_allow_all() -> None:
    assert "allowAll" in one_error({**GOOD, "allow": ["*"]}, "homelab:egress[0].allow[0]")
    args, problems = parse([{**GOOD, "allow": ["*"], "allowAll": True}])
    assert not problems.errors and args is not None and args.policies[0].allow_all


def test_trailing_dot_is_dropped_and_then_duplicates_show() -> None:
    msg = one_error({**GOOD, "allow": ["a.com", "a.com."]}, "homelab:egress[0].allow[1]")
    assert "listed twice" in msg


@pytest.mark.parametrize(
    ("patch", "key", "expected"),
    [
        ({"name": "Bad_Name"}, "name", "DNS-1123 subdomain"),
        ({"namespace": "Apps"}, "namespace", "DNS-1123 label"),
        ({"namespace": None}, "namespace", "is required"),
        ({"allow": []}, "allow", "lists no names"),
        ({"allow": None, "selector": {"app": "x"}}, "allow", "lists no names"),
        ({"allow": "a.com"}, "allow", "must be a list"),
        ({"ports": [0]}, "ports[0]", "between 1 and 65535, got 0"),
        ({"ports": [70000]}, "ports[0]", "between 1 and 65535, got 70000"),
        ({"ports": [{"port": 0}]}, "ports[0].port", "between 1 and 65535, got 0"),
        ({"ports": ["https"]}, "ports[0]", "port number"),
        ({"ports": [{"port": 53, "protocol": "ICMP"}]}, "ports[0].protocol", "TCP, UDP, ANY"),
        ({"ports": [{"protocol": "UDP"}]}, "ports[0].port", "is required"),
        ({"ports": [443, {"port": 443}]}, "ports[1]", "listed twice"),
        ({"dns": "none"}, "dns", "all, allowed"),
        ({"selector": {"app/x/y": "v"}}, "selector[app/x/y]", "DNS subdomain"),
        ({"selector": {"app": "bad value"}}, "selector[app]", "label value"),
        ({"selector": {"foo:app": "x"}}, "selector[foo:app]", "source prefix"),
        (
            {"selector": {"k8s:io.kubernetes.pod.namespace": "x"}},
            "selector[k8s:io.kubernetes.pod.namespace]",
            "namespace",
        ),
        ({"to": ["a.com"]}, "to", "unknown setting"),
        ({"clusterwide": "yes"}, "clusterwide", "true or false"),
    ],
)
def test_policy_rules(patch: dict[str, Any], key: str, expected: str) -> None:
    entry = {k: v for k, v in {**GOOD, **patch}.items() if v is not None}
    if "allow" in patch and patch["allow"] is None:
        entry["allow"] = []
    msg = one_error(entry, f"homelab:egress[0].{key}")
    assert expected in msg


def test_allow_is_required() -> None:
    entry = {k: v for k, v in GOOD.items() if k != "allow"}
    assert "is required" in one_error(entry, "homelab:egress[0].allow")


def test_clusterwide_needs_a_selector_or_namespace() -> None:
    msg = one_error({"name": "all", "clusterwide": True, "allow": ["a.com"]}, "homelab:egress[0].selector")
    assert "every pod in the cluster" in msg


def test_clusterwide_may_select_on_the_namespace_label() -> None:
    args, problems = parse(
        [
            {
                "name": "x",
                "clusterwide": True,
                "selector": {"k8s:io.kubernetes.pod.namespace": "apps"},
                "allow": ["a.com"],
            }
        ]
    )
    assert not problems.errors and args is not None


def test_duplicate_policies_even_when_the_second_has_other_errors() -> None:
    errs = errors([GOOD, {**GOOD, "allow": ["a b"]}, {**GOOD, "namespace": "other"}, {**GOOD, "clusterwide": True}])
    assert errs["homelab:egress[1].name"] == "'p' is already defined at homelab:egress[0]"
    assert "homelab:egress[1].allow[0]" in errs
    assert set(errs) == {"homelab:egress[1].name", "homelab:egress[1].allow[0]"}


def test_every_problem_at_once() -> None:
    errs = errors(
        [
            {"name": "a", "namespace": "x", "allow": ["*.k8s.intra", "bad name"], "ports": [0]},
            {"name": "b", "allow": ["ok.com"]},
            "not a mapping",
        ]
    )
    assert set(errs) == {
        "homelab:egress[0].allow[1]",
        "homelab:egress[0].ports[0]",
        "homelab:egress[1].namespace",
        "homelab:egress[2]",
    }


def test_restricted_lookups_warn_when_the_proxy_answers_refused() -> None:
    entry = {**GOOD, "dns": "allowed"}
    args, problems = parse([entry], dns_reject_code="refused")
    assert args is not None and args.policies[0].dns == "allowed"
    assert [w.key for w in problems.warnings] == ["homelab:egress[0].dns"]
    _, problems = parse([entry], dns_reject_code="nameError")
    assert not problems.warnings
    _, problems = parse([GOOD], dns_reject_code="refused")
    assert not problems.warnings


def test_no_selector_means_the_whole_namespace_with_a_warning() -> None:
    args, problems = parse([{"name": "all-of-apps", "namespace": "apps", "allow": ["a.com"]}])
    assert args is not None and args.policies[0].selector == {}
    assert [w.key for w in problems.warnings] == ["homelab:egress[0].selector"]


def test_every_problem_in_one_entry_at_once() -> None:
    """Rules across a policy's fields still run when one of its values is refused."""
    errs = errors([{"name": "a", "allow": ["*", "a.com", "a.com", "bad name"], "ports": [443, "x", 443], "dns": "no"}])
    assert errs == {
        "homelab:egress[0].namespace": "is required (or set clusterwide: true)",
        "homelab:egress[0].allow[0]": "a bare '*' allows every name the pod resolves; set allowAll: true if that "
        "is really meant",
        "homelab:egress[0].allow[2]": "'a.com' is listed twice",
        "homelab:egress[0].allow[3]": errs["homelab:egress[0].allow[3]"],
        "homelab:egress[0].ports[1]": "must be a port number from 1 to 65535, got 'x'",
        "homelab:egress[0].ports[2]": "443/TCP is listed twice",
        "homelab:egress[0].dns": "must be one of all, allowed, got 'no'",
    }
    assert "Cilium allows only" in errs["homelab:egress[0].allow[3]"]


def test_protocols_in_any_case_and_the_plugin_form() -> None:
    args, problems = parse([{**GOOD, "ports": [{"port": 53, "protocol": "udp"}, {"port": 443.0}]}])
    assert not problems.errors and args is not None
    assert args.policies[0].ports == (Port(53, "UDP"), Port(443, "TCP"))


def test_the_cilium_release_is_checked_by_the_args_too() -> None:
    """Python callers and the plugin: the version is a field of the args, not the stack's network."""
    policy = EgressPolicy(name="p", namespace="apps", allow=("**.a.com",))
    assert EgressPoliciesArgs(policies=(policy,), cilium_version="1.19.0").policies == (policy,)
    with pytest.raises(ValueError, match="1.19"):
        EgressPoliciesArgs(policies=(policy,), cilium_version="1.18.4")

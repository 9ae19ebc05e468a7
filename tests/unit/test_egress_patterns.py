"""toFQDNs names and patterns: what Cilium 1.18 accepts, and what a pattern really matches."""

from __future__ import annotations

import pytest

from components.egress.patterns import fqdn_problem, is_pattern, matches, normalise, selector


@pytest.mark.parametrize(
    "entry",
    [
        "api.github.com",
        "*.k8s.intra",
        "*.debian.org",
        "sub*.cilium.io",
        "*cilium.io",
        "api.*-example.com",
        "_acme-challenge.k8s.intra",
        "echo.k8s.intra.",  # a trailing dot is fine (dropped)
        "a" * 63 + ".com",
    ],
)
def test_accepted(entry: str) -> None:
    assert fqdn_problem(entry) is None


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("", "must be a DNS name or pattern"),
        (42, "must be a DNS name or pattern"),
        ("a b.com", "holds ' '"),
        ("api.github.com/path", "holds '/'"),
        ("https://x.com", "holds '/', ':'"),
        ("*.k8s.intra?", "holds '?'"),
        ("[a-z].com", "holds '[', ']'"),
        ("x..com", "empty label"),
        (".x.com", "empty label"),
        ("API.github.com", "lowercase"),
        ("*", "allowAll"),
        ("**.k8s.intra", "no multi-level wildcard"),
        ("a.**.k8s.intra", "no multi-level wildcard"),
        ("a" * 64 + ".com", "longer than 63"),
        (".".join(["abcdefgh"] * 29), "longer than 253"),
    ],
)
def test_refused(entry: object, expected: str) -> None:
    problem = fqdn_problem(entry)
    assert problem is not None and expected in problem, problem


def test_bare_star_only_with_allow_all() -> None:
    assert fqdn_problem("*", allow_all=True) is None


def test_double_star_from_cilium_1_19_as_a_prefix_only() -> None:
    assert fqdn_problem("**.k8s.intra", cilium_version="1.19.0") is None
    problem = fqdn_problem("a.**.k8s.intra", cilium_version="1.19.0")
    assert problem is not None and "leading '**.'" in problem
    assert fqdn_problem("**.k8s.intra", cilium_version="v1.18.6") is not None


def test_normalise_and_selector() -> None:
    assert normalise(" echo.k8s.intra. ") == "echo.k8s.intra"
    assert selector("echo.k8s.intra.") == {"matchName": "echo.k8s.intra"}
    assert selector("*.k8s.intra") == {"matchPattern": "*.k8s.intra"}
    assert is_pattern("a*") and not is_pattern("a")


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("*.k8s.intra", "echo.k8s.intra", True),
        ("*.k8s.intra", "echo.k8s.intra.", True),
        ("*.k8s.intra", "ECHO.k8s.intra", True),
        ("*.k8s.intra", "a.b.k8s.intra", False),  # `*` doesn't cross a dot
        ("*.k8s.intra", "k8s.intra", False),
        ("*.k8s.intra", "echo.k8s.intra.evil.com", False),
        ("*cilium.io", "subcilium.io", True),
        ("*cilium.io", "cilium.io", True),
        ("*cilium.io", "www.cilium.io", False),
        ("sub*.cilium.io", "subdomain.cilium.io", True),
        ("sub*.cilium.io", "www.cilium.io", False),
        ("api.github.com", "api.github.com", True),
        ("api.github.com", "apixgithub.com", False),  # the dot is literal
        ("*", "anything.at.all", True),
        ("**.k8s.intra", "a.b.k8s.intra", True),  # 1.19 semantics, for reference
    ],
)
def test_matching_follows_cilium(pattern: str, name: str, expected: bool) -> None:
    assert matches(pattern, name) is expected

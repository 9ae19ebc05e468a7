"""`homelab:tls` parsing: SAN, name, usage and validity rules under their config keys."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from components.tls.model import CaSpec, CertManagerIssuer, TlsSecretsArgs, TlsSecretSpec
from components.validation import Problems
from lab.context import LabContext
from lab.tls import parse_tls

CTX = LabContext(lan=ipaddress.IPv4Network("192.168.2.0/24"), gateway=None, dhcp_range=None)
WEB = {"name": "web", "namespaces": ["default"], "dnsNames": ["web.k8s.intra"], "ipAddresses": ["192.168.2.240"]}


def parse(raw: Any) -> tuple[TlsSecretsArgs | None, Problems]:
    problems = Problems()
    return parse_tls(raw, CTX, problems), problems


def errors(raw: Any) -> dict[str, str]:
    args, problems = parse(raw)
    assert args is None and problems.errors, "expected errors"
    out: dict[str, str] = {}
    for p in problems.errors:
        assert p.key not in out, f"two errors for {p.key}: {out[p.key]!r} and {p.message!r}"
        out[p.key] = p.message
    return out


def one_error(secret: dict[str, Any], key: str) -> str:
    errs = errors({"secrets": [secret]})
    assert list(errs) == [key], errs
    return errs[key]


def test_the_issue_example() -> None:
    args, problems = parse(
        {
            "ca": {"commonName": "homelab CA", "validityHours": 87600},
            "secrets": [{**WEB, "usages": ["server"]}],
            "certManager": {"enabled": False},
        }
    )
    assert not problems.errors and not problems.warnings
    assert args == TlsSecretsArgs(
        ca=CaSpec(common_name="homelab CA", validity_hours=87600),
        secrets=(
            TlsSecretSpec(
                name="web",
                namespaces=("default",),
                dns_names=("web.k8s.intra",),
                ip_addresses=("192.168.2.240",),
                usages=("server",),
            ),
        ),
        cert_manager=CertManagerIssuer(enabled=False),
    )


def test_absent_section() -> None:
    args, problems = parse(None)
    assert args is None and not problems.errors


def test_single_namespace_shorthand_and_mtls() -> None:
    args, problems = parse(
        {
            "secrets": [
                {"name": "peer", "namespace": "apps", "dnsNames": ["p.k8s.intra"], "usages": ["server", "client"]}
            ]
        }
    )
    assert not problems.errors and args is not None
    assert args.secrets[0].namespaces == ("apps",)
    assert args.secrets[0].usages == ("server", "client")


def test_same_certificate_in_several_namespaces() -> None:
    args, problems = parse({"secrets": [{**WEB, "namespaces": ["default", "monitoring"]}]})
    assert not problems.errors and args is not None
    assert args.secrets[0].namespaces == ("default", "monitoring")


def test_a_san_that_is_neither_name_nor_ip() -> None:
    msg = one_error({**WEB, "dnsNames": ["web.k8s.intra", "web server"]}, "homelab:tls.secrets[0].dnsNames[1]")
    assert "neither a DNS name nor an IP address" in msg


def test_an_ip_in_dns_names_is_refused_with_a_hint() -> None:
    msg = one_error({**WEB, "dnsNames": ["192.168.2.241"]}, "homelab:tls.secrets[0].dnsNames[0]")
    assert "list it under ipAddresses" in msg


def test_a_name_in_ip_addresses_is_refused_with_a_hint() -> None:
    msg = one_error({**WEB, "ipAddresses": ["web.k8s.intra"]}, "homelab:tls.secrets[0].ipAddresses[0]")
    assert "DNS names go under dnsNames" in msg


@pytest.mark.parametrize(
    ("patch", "key", "expected"),
    [
        ({"name": "Web"}, "name", "DNS-1123 subdomain"),
        ({"name": None}, "name", "is required"),
        ({"namespaces": []}, "namespaces", "at least one namespace"),
        ({"namespaces": ["default", "default"]}, "namespaces[1]", "listed twice"),
        ({"namespaces": ["Default"]}, "namespaces[0]", "namespace name"),
        ({"namespace": "apps"}, "namespace", "either namespace or namespaces"),
        ({"dnsNames": ["a.*.k8s.intra"]}, "dnsNames[0]", "whole leftmost label"),
        ({"dnsNames": ["web.k8s.intra", "web.k8s.intra"]}, "dnsNames[1]", "listed twice"),
        ({"usages": ["server", "peer"]}, "usages[1]", "not a usage"),
        ({"usages": []}, "usages", "one or both"),
        ({"validityHours": 0}, "validityHours", "between 1"),
        ({"validityHours": 100, "earlyRenewalHours": 100}, "earlyRenewalHours", "shorter than the validity"),
        ({"commonName": "x" * 65}, "commonName", "1 to 64"),
        ({"rotation": -1}, "rotation", "must be at least 0, got -1"),
        ({"sans": []}, "sans", "unknown setting"),
    ],
)
def test_secret_rules(patch: dict[str, Any], key: str, expected: str) -> None:
    entry = {k: v for k, v in {**WEB, **patch}.items() if v is not None}
    assert expected in one_error(entry, f"homelab:tls.secrets[0].{key}")


def test_server_certificate_needs_a_san() -> None:
    msg = one_error({"name": "web", "namespaces": ["default"]}, "homelab:tls.secrets[0].dnsNames")
    assert "at least one" in msg


def test_client_certificate_may_have_no_san() -> None:
    args, problems = parse({"secrets": [{"name": "me", "namespaces": ["default"], "usages": ["client"]}]})
    assert not problems.errors and args is not None


def test_duplicates_are_refused_even_when_the_second_entry_has_errors() -> None:
    errs = errors({"secrets": [WEB, {**WEB, "dnsNames": ["bad name"]}]})
    assert set(errs) == {"homelab:tls.secrets[1].name", "homelab:tls.secrets[1].dnsNames[0]"}
    assert "already used by homelab:tls.secrets[0]" in errs["homelab:tls.secrets[1].name"]


def test_a_secret_may_not_overwrite_the_issuer_secret() -> None:
    errs = errors(
        {"certManager": {"enabled": True}, "secrets": [{**WEB, "name": "homelab-ca", "namespaces": ["cert-manager"]}]}
    )
    assert errs == {
        "homelab:tls.secrets[0].name": "Secret cert-manager/homelab-ca is already written by homelab:tls.certManager"
    }


def test_ca_and_cert_manager_settings() -> None:
    errs = errors(
        {
            "ca": {"validityHours": 10, "earlyRenewalHours": 20, "cn": "x"},
            "certManager": {"enabled": "yes", "namespace": "Cert-Manager", "issuerName": "Homelab"},
        }
    )
    assert set(errs) == {
        "homelab:tls.ca.earlyRenewalHours",
        "homelab:tls.ca.cn",
        "homelab:tls.certManager.enabled",
        "homelab:tls.certManager.namespace",
        "homelab:tls.certManager.issuerName",
    }


def test_a_leaf_outliving_the_ca_is_a_warning() -> None:
    args, problems = parse({"ca": {"validityHours": 1000, "earlyRenewalHours": 100}, "secrets": [WEB]})
    assert args is not None
    assert [w.key for w in problems.warnings] == ["homelab:tls.secrets[0].validityHours"]


def test_every_problem_at_once() -> None:
    errs = errors(
        {
            "secrets": [
                {"name": "a", "namespaces": ["x"], "dnsNames": ["ok.intra", "not ok"], "usages": ["server", "both"]},
                {"name": "b", "namespaces": ["y"], "dnsNames": ["b.intra"], "ipAddresses": ["1.2.3"]},
                "junk",
            ]
        }
    )
    assert set(errs) == {
        "homelab:tls.secrets[0].dnsNames[1]",
        "homelab:tls.secrets[0].usages[1]",
        "homelab:tls.secrets[1].ipAddresses[0]",
        "homelab:tls.secrets[2]",
    }


def test_every_problem_in_one_secret_at_once() -> None:
    """Rules across a secret's fields still run when one of its values is refused."""
    errs = errors(
        {
            "secrets": [
                {
                    "name": "Web",
                    "namespace": "apps",
                    "namespaces": ["apps", "Bad", "apps"],
                    "dnsNames": ["a.intra", "a.intra"],
                    "validityHours": 100,
                    "earlyRenewalHours": 100,
                },
                {"name": "peer", "usages": ["server", "client"], "rotation": -1},
            ]
        }
    )
    assert errs == {
        "homelab:tls.secrets[0].name": errs["homelab:tls.secrets[0].name"],
        "homelab:tls.secrets[0].namespace": "give either namespace or namespaces, not both",
        "homelab:tls.secrets[0].namespaces[1]": "'Bad' is not a valid namespace name (DNS-1123 label)",
        "homelab:tls.secrets[0].namespaces[2]": "namespace 'apps' is listed twice",
        "homelab:tls.secrets[0].dnsNames[1]": "'a.intra' is listed twice",
        "homelab:tls.secrets[0].earlyRenewalHours": "early renewal (100 h) must be at least 0 and shorter than the "
        "validity (100 h)",
        "homelab:tls.secrets[1].namespaces": "list at least one namespace to write the Secret to",
        "homelab:tls.secrets[1].dnsNames": "a server certificate needs at least one dnsNames or ipAddresses entry",
        "homelab:tls.secrets[1].rotation": "must be at least 0, got -1",
    }
    assert "not a valid Secret name" in errs["homelab:tls.secrets[0].name"]


def test_usages_given_twice_count_once() -> None:
    args, problems = parse({"secrets": [{**WEB, "usages": ["server", "client", "server"]}]})
    assert not problems.errors and args is not None
    assert args.secrets[0].usages == ("server", "client")

"""TLS renderers and pure checks: Secret shape, key usages, SAN rules."""

from __future__ import annotations

import pytest

from components.tls.check import args_problems, dns_san_problem, ip_san_problem, secret_problems
from components.tls.manifests import allowed_uses, ca_cluster_issuer, tls_secret
from components.tls.model import CaSpec, CertManagerIssuer, TlsSecretsArgs, TlsSecretSpec
from tests.support.keys import ec_private_key_pem
from tests.support.schema import validate_builtin

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def test_tls_secret_is_a_valid_kubernetes_tls_secret() -> None:
    obj = tls_secret("web", "default", cert=PEM, key=ec_private_key_pem(), ca=PEM)
    assert obj["type"] == "kubernetes.io/tls"
    assert sorted(obj["stringData"]) == ["ca.crt", "tls.crt", "tls.key"]
    assert obj["metadata"] == {
        "name": "web",
        "namespace": "default",
        "labels": {"app.kubernetes.io/managed-by": "homelab"},
    }
    validate_builtin(obj)


def test_cluster_issuer_names_its_ca_secret() -> None:
    assert ca_cluster_issuer("homelab-ca", "homelab-ca-keypair") == {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": "homelab-ca", "labels": {"app.kubernetes.io/managed-by": "homelab"}},
        "spec": {"ca": {"secretName": "homelab-ca-keypair"}},
    }


@pytest.mark.parametrize(
    ("usages", "expected"),
    [
        (("server",), ["digital_signature", "key_encipherment", "server_auth"]),
        (("client",), ["digital_signature", "key_encipherment", "client_auth"]),
        (("client", "server"), ["digital_signature", "key_encipherment", "server_auth", "client_auth"]),
    ],
)
def test_allowed_uses(usages: tuple[str, ...], expected: list[str]) -> None:
    assert allowed_uses(usages) == expected


@pytest.mark.parametrize("name", ["web.k8s.intra", "*.k8s.intra", "*.apps.k8s.intra", "localhost", "a-b.c"])
def test_dns_sans_accepted(name: str) -> None:
    assert dns_san_problem(name) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("192.168.2.240", "list it under ipAddresses"),
        ("::1", "list it under ipAddresses"),
        ("web_server.k8s.intra", "neither a DNS name nor an IP address"),
        ("a.*.k8s.intra", "whole leftmost label"),
        ("*web.k8s.intra", "whole leftmost label"),
        ("*", "bare '*'"),
        ("Web.k8s.intra", "lowercase"),
        ("web.k8s.intra.", "trailing dot"),
        ("https://web.k8s.intra", "neither a DNS name nor an IP address"),
        ("", "must be a DNS name"),
    ],
)
def test_dns_sans_refused(name: str, expected: str) -> None:
    problem = dns_san_problem(name)
    assert problem is not None and expected in problem, problem


def test_ip_sans() -> None:
    assert ip_san_problem("192.168.2.240") is None
    assert ip_san_problem("fd00::1") is None
    assert ip_san_problem("192.168.2.300") is not None


def test_secret_problems() -> None:
    # The model refuses all of these; the component checks args built without validation too.
    spec = TlsSecretSpec.model_construct(
        name="Web",
        namespaces=("default", "default", "Bad"),
        dns_names=("x_y.intra",),
        ip_addresses=("nope",),
        usages=("server", "peer"),
        validity_hours=10,
        early_renewal_hours=10,
    )
    text = "\n".join(secret_problems(spec))
    for expected in (
        "not a valid Secret name",
        "listed twice",
        "not a valid namespace name",
        "neither a DNS name",
        "'nope' is not an IP address",
        "'peer' is not one of server, client",
        "shorter than the validity",
    ):
        assert expected in text


def test_server_certificate_needs_a_san() -> None:
    no_san = TlsSecretSpec.model_construct(
        name="web", namespaces=("d",), dns_names=(), ip_addresses=(), usages=("server",)
    )
    assert any("at least one" in p for p in secret_problems(no_san))
    assert secret_problems(TlsSecretSpec(name="me", namespaces=("d",), usages=("client",))) == []


def test_args_problems_find_clashes() -> None:
    args = TlsSecretsArgs.model_construct(
        ca=CaSpec(),
        secrets=(
            TlsSecretSpec(name="web", namespaces=("default",), dns_names=("a.b",)),
            TlsSecretSpec(name="web", namespaces=("apps",), dns_names=("a.b",)),
            TlsSecretSpec(name="homelab-ca", namespaces=("cert-manager",), dns_names=("a.b",)),
        ),
        cert_manager=CertManagerIssuer(enabled=True),
    )
    text = "\n".join(args_problems(args))
    assert "the name is used twice" in text
    assert "Secret cert-manager/homelab-ca would be written twice" in text


def test_subject_name() -> None:
    ns = ("default",)
    assert TlsSecretSpec(name="web", namespaces=ns, dns_names=("web.k8s.intra",)).subject_name == "web.k8s.intra"
    assert TlsSecretSpec(name="web", namespaces=ns, usages=("client",), common_name="Web UI").subject_name == "Web UI"
    long = "a" * 60 + ".k8s.intra"
    assert TlsSecretSpec(name="web", namespaces=ns, dns_names=(long,)).subject_name == "web"

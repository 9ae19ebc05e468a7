"""TlsSecrets under Pulumi mocks: keys stay secret, Secrets per namespace, rotation, issuer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from google.protobuf import json_format
from pulumi.runtime import rpc

from components.tls import CaSpec, CertManagerIssuer, TlsSecrets, TlsSecretsArgs, TlsSecretSpec
from tests.support import harness
from tests.support.harness import ProgramRun, run

SECRET = "kubernetes:core/v1:Secret"
KEY = "tls:index/privateKey:PrivateKey"
ISSUER = "kubernetes:cert-manager.io/v1:ClusterIssuer"
WEB = TlsSecretSpec(
    name="web",
    namespaces=("default", "monitoring"),
    dns_names=("web.k8s.intra",),
    ip_addresses=("192.168.2.240",),
)
PEER = TlsSecretSpec(
    name="peer", namespaces=("apps",), dns_names=("peer.k8s.intra",), usages=("server", "client"), rotation=2
)


def fake_pems(args: Any) -> dict[str, Any] | None:
    """What pulumi-tls computes, enough for the graph."""
    return {
        "tls:index/privateKey:PrivateKey": {"privateKeyPem": f"-----KEY {args.name}-----", "publicKeyPem": "pub"},
        "tls:index/selfSignedCert:SelfSignedCert": {"certPem": f"-----CA CERT {args.name}-----"},
        "tls:index/certRequest:CertRequest": {"certRequestPem": f"-----CSR {args.name}-----"},
        "tls:index/locallySignedCert:LocallySignedCert": {"certPem": f"-----CERT {args.name}-----"},
    }.get(args.typ)


@pytest.fixture
def raw(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, dict[str, Any]]]:
    """Raw RegisterResource requests by name: per-field secrecy and replacement triggers."""
    seen: dict[str, dict[str, Any]] = {}
    original = harness.RecordingMonitor.RegisterResource

    def register(self: Any, request: Any) -> Any:
        seen[request.name] = {
            "object": json_format.MessageToDict(request.object, preserving_proto_field_name=True),
            "replacement_trigger": json_format.MessageToDict(request.replacement_trigger)
            if request.HasField("replacement_trigger")
            else None,
        }
        return original(self, request)

    monkeypatch.setattr(harness.RecordingMonitor, "RegisterResource", register)
    yield seen


def go(args: TlsSecretsArgs, *, with_cert_manager: bool = False) -> ProgramRun:
    def fn() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        deps = []
        if with_cert_manager:
            deps.append(
                k8s.core.v1.Namespace(
                    "cert-manager-stand-in", metadata={"name": "x"}, opts=pulumi.ResourceOptions(provider=provider)
                )
            )
        tls = TlsSecrets("tls", args, opts=pulumi.ResourceOptions(provider=provider, depends_on=deps))
        pulumi.export("caCertificate", tls.ca_cert_pem)
        pulumi.export("tlsSecrets", tls.secrets)
        pulumi.export("issuer", tls.issuer)

    return run(fn, hooks=[fake_pems])


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig


def test_one_secret_per_namespace_with_the_tls_keys() -> None:
    r = go(TlsSecretsArgs(secrets=(WEB, PEER)))
    secrets = {x.name: x for x in r.by_type(SECRET)}
    assert sorted(secrets) == ["tls-apps-peer", "tls-default-web", "tls-monitoring-web"]
    web = secrets["tls-default-web"].inputs
    assert web["type"] == "kubernetes.io/tls"
    assert web["metadata"]["name"] == "web" and web["metadata"]["namespace"] == "default"
    assert web["stringData"] == {
        "tls.crt": "-----CERT tls-web-cert-----",
        "tls.key": "-----KEY tls-web-key-----",
        "ca.crt": "-----CA CERT tls-ca-----",
    }
    # The same certificate in both namespaces.
    assert secrets["tls-monitoring-web"].inputs["stringData"] == web["stringData"]
    assert r.outputs["tlsSecrets"] == ["default/web", "monitoring/web", "apps/peer"]


def test_every_secret_value_is_secret(raw: dict[str, dict[str, Any]]) -> None:
    r = go(TlsSecretsArgs(secrets=(WEB, PEER), cert_manager=CertManagerIssuer(enabled=True)))
    secrets = r.by_type(SECRET)
    assert len(secrets) == 4
    for s in secrets:
        # On the wire the SDK lifts the values' secrecy to the whole map: every key inside
        # a secret stringData is secret, and nothing of it is sent in the clear.
        data = raw[s.name]["object"]["stringData"]
        assert is_secret(data), f"{s.name}: stringData is not secret"
        assert set(data["value"]) >= {"tls.crt", "tls.key", "ca.crt"}
        assert s.secret_inputs == {"stringData"}


def test_each_value_is_wrapped_secret_on_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """Per key, on the Python side: every stringData value handed to a Secret is a secret Output."""
    handed: list[tuple[str, str, Any]] = []

    class Recording(k8s.core.v1.Secret):
        def __init__(self, name: str, *args: Any, **kwargs: Any) -> None:
            for key, value in (kwargs.get("string_data") or {}).items():
                handed.append((name, key, value))
            super().__init__(name, *args, **kwargs)

    monkeypatch.setattr(k8s.core.v1, "Secret", Recording)

    def fn() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        args = TlsSecretsArgs(secrets=(WEB,), cert_manager=CertManagerIssuer(enabled=True))
        TlsSecrets("tls", args, opts=pulumi.ResourceOptions(provider=provider))
        for name, key, value in handed:
            pulumi.export(f"{name}/{key}", value)

    r = run(fn, hooks=[fake_pems])
    # (Exports of earlier runs linger on the mock root stack: look at this run's keys only.)
    mine = {f"{name}/{key}" for name, key, _ in handed}
    assert len(mine) == 9  # 3 Secrets x tls.crt, tls.key, ca.crt
    assert mine <= set(r.outputs)
    assert mine <= r.secret_outputs


def test_private_keys_are_secret_outputs() -> None:
    r = go(TlsSecretsArgs(secrets=(WEB,)))
    keys = r.by_type(KEY)
    assert sorted(k.name for k in keys) == ["tls-ca-key", "tls-web-key"]
    for k in keys:
        assert {"privateKeyPem", "privateKeyOpenssh", "privateKeyPemPkcs8"} <= set(k.additional_secret_outputs)
        assert k.inputs == {"algorithm": "ECDSA", "ecdsaCurve": "P256"}
    for typ in ("tls:index/certRequest:CertRequest", "tls:index/selfSignedCert:SelfSignedCert"):
        for res in r.by_type(typ):
            assert "privateKeyPem" in res.secret_inputs
    (signed,) = r.by_type("tls:index/locallySignedCert:LocallySignedCert")
    assert "caPrivateKeyPem" in signed.secret_inputs


def test_the_ca_certificate_is_exported_in_the_clear_and_no_key_is() -> None:
    r = go(TlsSecretsArgs(secrets=(WEB,)))
    assert r.outputs["caCertificate"] == "-----CA CERT tls-ca-----"
    assert "caCertificate" not in r.secret_outputs
    assert not any("KEY" in str(r.outputs[k]) for k in ("caCertificate", "tlsSecrets", "issuer"))


def test_ca_and_leaf_certificates() -> None:
    r = go(
        TlsSecretsArgs(
            ca=CaSpec(common_name="homelab CA", validity_hours=1000, early_renewal_hours=100), secrets=(WEB, PEER)
        )
    )
    (ca,) = r.by_type("tls:index/selfSignedCert:SelfSignedCert")
    assert ca.inputs["isCaCertificate"] is True
    assert ca.inputs["allowedUses"] == ["cert_signing", "crl_signing", "digital_signature"]
    assert ca.inputs["validityPeriodHours"] == 1000 and ca.inputs["earlyRenewalHours"] == 100
    assert ca.inputs["subject"] == {"commonName": "homelab CA"}
    csrs = {x.name: x.inputs for x in r.by_type("tls:index/certRequest:CertRequest")}
    assert csrs["tls-web-csr"]["dnsNames"] == ["web.k8s.intra"]
    assert csrs["tls-web-csr"]["ipAddresses"] == ["192.168.2.240"]
    assert csrs["tls-web-csr"]["subject"] == {"commonName": "web.k8s.intra"}
    certs = {x.name: x.inputs for x in r.by_type("tls:index/locallySignedCert:LocallySignedCert")}
    assert certs["tls-web-cert"]["allowedUses"] == ["digital_signature", "key_encipherment", "server_auth"]
    assert certs["tls-peer-cert"]["allowedUses"] == [
        "digital_signature",
        "key_encipherment",
        "server_auth",
        "client_auth",
    ]
    assert certs["tls-web-cert"]["validityPeriodHours"] == 8760 and certs["tls-web-cert"]["earlyRenewalHours"] == 720
    assert certs["tls-web-cert"]["caCertPem"] == "-----CA CERT tls-ca-----"


def test_rotation_counters_are_replacement_triggers(raw: dict[str, dict[str, Any]]) -> None:
    go(TlsSecretsArgs(ca=CaSpec(rotation=1), secrets=(WEB, PEER)))
    assert raw["tls-ca-key"]["replacement_trigger"] == 1
    assert raw["tls-ca"]["replacement_trigger"] == 1
    for name in ("tls-peer-key", "tls-peer-csr", "tls-peer-cert"):
        assert raw[name]["replacement_trigger"] == 2
    assert raw["tls-web-key"]["replacement_trigger"] == 0


def test_kubernetes_resources_use_the_provider_and_tls_ones_do_not() -> None:
    r = go(TlsSecretsArgs(secrets=(WEB,), cert_manager=CertManagerIssuer(enabled=True)), with_cert_manager=True)
    provider = r.named("k8s").urn
    (component,) = r.by_type("homelab:tls:TlsSecrets")
    children = [x for x in r.resources if x.parent == component.urn]
    assert {x.type for x in children} == {
        SECRET,
        ISSUER,
        KEY,
        "tls:index/selfSignedCert:SelfSignedCert",
        "tls:index/certRequest:CertRequest",
        "tls:index/locallySignedCert:LocallySignedCert",
    }
    for child in children:
        if child.type.startswith("kubernetes:"):
            assert child.provider_urn == provider
        else:
            assert not child.provider_urn.endswith("::k8s")


def test_cert_manager_issuer_backed_by_the_same_ca() -> None:
    r = go(TlsSecretsArgs(secrets=(WEB,), cert_manager=CertManagerIssuer(enabled=True)), with_cert_manager=True)
    (issuer,) = r.by_type(ISSUER)
    assert issuer.inputs["spec"] == {"ca": {"secretName": "homelab-ca"}}
    assert issuer.inputs["metadata"]["name"] == "homelab-ca"
    ca_secret = r.named("tls-issuer-secret")
    assert ca_secret.inputs["metadata"]["namespace"] == "cert-manager"
    assert ca_secret.inputs["stringData"]["tls.key"] == "-----KEY tls-ca-key-----"
    assert ca_secret.inputs["stringData"]["tls.crt"] == "-----CA CERT tls-ca-----"
    assert issuer.depends_on(ca_secret.urn)
    assert issuer.depends_on(r.named("cert-manager-stand-in").urn)
    assert r.outputs["issuer"] == "homelab-ca"


def test_no_issuer_unless_enabled() -> None:
    r = go(TlsSecretsArgs(secrets=(WEB,)))
    assert r.by_type(ISSUER) == [] and r.outputs["issuer"] is None


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="list it under ipAddresses"):
        TlsSecretSpec(name="web", namespaces=("default",), dns_names=("192.168.2.240",))
    # Args built without validation: the component checks them itself, before any resource.
    bad = TlsSecretSpec.model_construct(
        name="web", namespaces=("default",), dns_names=("192.168.2.240",), ip_addresses=(), usages=("server",)
    )
    with pytest.raises(Exception, match="list it under ipAddresses"):
        go(TlsSecretsArgs.model_construct(ca=CaSpec(), secrets=(bad,), cert_manager=CertManagerIssuer()))

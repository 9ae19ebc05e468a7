"""TlsSecrets for other Pulumi languages: plugin-friendly inputs → TlsSecretsArgs → the real component.

`usages` is a list of strings, not of an enum: the host maps a list of enum values
item by item as objects and would hand over empty dicts.
"""

from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

import pulumi

from components.tls.component import TlsSecrets as RealTlsSecrets
from components.tls.model import CaSpec, CertManagerIssuer, TlsSecretsArgs, TlsSecretSpec
from components.validation import Problems
from plugin.inputs import check_plain, child_options, integer, optional_text, raise_if_any, strings, text

TOKEN = "homelab:index:TlsSecrets"


class CaSettings(TypedDict):
    """The private CA (ECDSA P-256, self-signed)."""

    common_name: NotRequired[str]
    """CA common name (default homelab CA)."""
    organization: NotRequired[str]
    """CA organization."""
    validity_hours: NotRequired[int]
    """Validity in hours (default 87600, ten years)."""
    early_renewal_hours: NotRequired[int]
    """Re-issue on an update this close to expiry (default 8760)."""
    rotation: NotRequired[int]
    """Bump to replace the CA key and certificate, and so every certificate it signed."""


class TlsSecretSettings(TypedDict):
    """One key and certificate, written as a kubernetes.io/tls Secret into each namespace."""

    name: str
    """Secret name."""
    namespaces: list[str]
    """Namespaces that get the Secret."""
    dns_names: NotRequired[list[str]]
    """DNS SANs (`*` only as the whole leftmost label)."""
    ip_addresses: NotRequired[list[str]]
    """IP SANs."""
    usages: NotRequired[list[str]]
    """server and/or client (default [server])."""
    common_name: NotRequired[str]
    """Subject CN (default: the first DNS name, else the secret's name)."""
    validity_hours: NotRequired[int]
    """Validity in hours (default 8760)."""
    early_renewal_hours: NotRequired[int]
    """Re-issue on an update this close to expiry (default 720)."""
    rotation: NotRequired[int]
    """Bump to replace this secret's key and certificate."""


class CertManagerSettings(TypedDict):
    """A cert-manager CA ClusterIssuer that signs with the same CA (cert-manager must be installed)."""

    enabled: NotRequired[bool]
    """Create the issuer (default false)."""
    namespace: NotRequired[str]
    """cert-manager's cluster resource namespace (default cert-manager)."""
    issuer_name: NotRequired[str]
    """ClusterIssuer name (default homelab-ca)."""
    secret_name: NotRequired[str]
    """Name of the Secret holding the CA (default homelab-ca)."""


class TlsSecretsArgsInput(TypedDict):
    """Inputs of TlsSecrets."""

    ca: NotRequired[CaSettings]
    """The private CA."""
    secrets: NotRequired[list[TlsSecretSettings]]
    """The TLS Secrets to issue."""
    cert_manager: NotRequired[CertManagerSettings]
    """Optional cert-manager ClusterIssuer."""


def tls_secrets_args(args: Mapping[str, Any]) -> TlsSecretsArgs:
    """The real component's TlsSecretsArgs (it checks names, SANs and validity itself when constructed)."""
    problems = Problems()
    check_plain(args, problems)
    raise_if_any("TlsSecrets", problems)
    ca_raw: Mapping[str, Any] = args.get("ca") or {}
    c = CaSpec()
    ca = CaSpec(
        common_name=text(ca_raw.get("common_name", c.common_name)),
        organization=optional_text(ca_raw.get("organization")),
        validity_hours=integer(ca_raw.get("validity_hours", c.validity_hours), "ca.validityHours", problems),
        early_renewal_hours=integer(
            ca_raw.get("early_renewal_hours", c.early_renewal_hours), "ca.earlyRenewalHours", problems
        ),
        rotation=integer(ca_raw.get("rotation", c.rotation), "ca.rotation", problems, lo=0),
    )
    secrets: list[TlsSecretSpec] = []
    for i, raw in enumerate(args.get("secrets") or []):
        d = TlsSecretSpec(name="", namespaces=())
        key = f"secrets[{i}]"
        secrets.append(
            TlsSecretSpec(
                name=text(raw.get("name", "")),
                namespaces=strings(raw.get("namespaces")),
                dns_names=strings(raw.get("dns_names")),
                ip_addresses=strings(raw.get("ip_addresses")),
                usages=strings(raw.get("usages")) or d.usages,
                common_name=optional_text(raw.get("common_name")),
                validity_hours=integer(raw.get("validity_hours", d.validity_hours), f"{key}.validityHours", problems),
                early_renewal_hours=integer(
                    raw.get("early_renewal_hours", d.early_renewal_hours), f"{key}.earlyRenewalHours", problems
                ),
                rotation=integer(raw.get("rotation", d.rotation), f"{key}.rotation", problems, lo=0),
            )
        )
    cm_raw: Mapping[str, Any] = args.get("cert_manager") or {}
    m = CertManagerIssuer()
    raise_if_any("TlsSecrets", problems)
    return TlsSecretsArgs(
        ca=ca,
        secrets=tuple(secrets),
        cert_manager=CertManagerIssuer(
            enabled=bool(cm_raw.get("enabled", m.enabled)),
            namespace=text(cm_raw.get("namespace", m.namespace)),
            issuer_name=text(cm_raw.get("issuer_name", m.issuer_name)),
            secret_name=text(cm_raw.get("secret_name", m.secret_name)),
        ),
    )


class TlsSecrets(pulumi.ComponentResource):
    """A private CA and kubernetes.io/tls Secrets it signs (DNS and IP SANs), optionally a cert-manager issuer.

    Keys stay in secret outputs. Pass the cluster's Kubernetes provider in the resource
    options (and depend on cert-manager when the issuer is enabled).
    """

    ca_cert_pem: pulumi.Output[str]
    """The CA certificate (PEM; public)."""
    secret_refs: pulumi.Output[list[str]]
    """namespace/name of every Secret written."""
    issuer: pulumi.Output[str | None]
    """The ClusterIssuer's name, when enabled."""

    def __init__(self, name: str, args: TlsSecretsArgsInput, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TOKEN, name, None, opts)
        inner = RealTlsSecrets(name, tls_secrets_args(args), opts=child_options(self, opts))
        self.ca_cert_pem = inner.ca_cert_pem
        self.secret_refs = inner.secrets
        self.issuer = inner.issuer
        self.register_outputs({"caCertPem": self.ca_cert_pem, "secretRefs": self.secret_refs, "issuer": self.issuer})

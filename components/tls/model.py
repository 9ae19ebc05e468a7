"""TlsSecrets arguments: the private CA, the leaf certificates, the optional cert-manager issuer."""

from __future__ import annotations

from dataclasses import dataclass, field

USAGES: tuple[str, ...] = ("server", "client")
# X.509 key usages per role, as pulumi-tls names them. Both roles together give an
# mTLS certificate. key_encipherment matters only for RSA keys but costs nothing.
ALLOWED_USES: dict[str, tuple[str, ...]] = {
    "server": ("digital_signature", "key_encipherment", "server_auth"),
    "client": ("digital_signature", "key_encipherment", "client_auth"),
}
CA_USES: tuple[str, ...] = ("cert_signing", "crl_signing", "digital_signature")
KEY_ALGORITHM = "ECDSA"
ECDSA_CURVE = "P256"


@dataclass(frozen=True)
class CaSpec:
    """The private CA: subject, validity and a rotation counter."""

    common_name: str = "homelab CA"
    organization: str | None = None
    validity_hours: int = 87600  # 10 years
    # Re-issued on an `up` this close to expiry (every leaf is then re-signed).
    early_renewal_hours: int = 8760
    # Bump to replace the CA key and certificate (and so every leaf certificate).
    rotation: int = 0


@dataclass(frozen=True)
class TlsSecretSpec:
    """One key + certificate, written as a kubernetes.io/tls Secret into each namespace."""

    name: str
    namespaces: tuple[str, ...]
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    usages: tuple[str, ...] = ("server",)
    common_name: str | None = None
    validity_hours: int = 8760  # 1 year
    early_renewal_hours: int = 720  # 30 days
    # Bump to replace this secret's key and certificate.
    rotation: int = 0

    @property
    def subject_name(self) -> str | None:
        """CN: given, else the first DNS name, else the secret's name (X.509 caps CN at 64)."""
        for candidate in (self.common_name, *self.dns_names, self.name):
            if candidate and len(candidate) <= 64:
                return candidate
        return None


@dataclass(frozen=True)
class CertManagerIssuer:
    """A cert-manager CA ClusterIssuer signing with the same CA (cert-manager must be installed)."""

    enabled: bool = False
    # cert-manager's cluster resource namespace: where a ClusterIssuer finds its Secret.
    namespace: str = "cert-manager"
    issuer_name: str = "homelab-ca"
    secret_name: str = "homelab-ca"


@dataclass(frozen=True)
class TlsSecretsArgs:
    """Args of TlsSecrets: the CA, the certificates and an optional cert-manager issuer."""

    ca: CaSpec = field(default_factory=CaSpec)
    secrets: tuple[TlsSecretSpec, ...] = ()
    cert_manager: CertManagerIssuer = field(default_factory=CertManagerIssuer)

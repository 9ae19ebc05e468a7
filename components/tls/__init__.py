"""TlsSecrets: a private CA and kubernetes.io/tls Secrets for the lab's names and IPs."""

from components.tls.component import TlsSecrets
from components.tls.model import CaSpec, CertManagerIssuer, TlsSecretsArgs, TlsSecretSpec

__all__ = ["CaSpec", "CertManagerIssuer", "TlsSecretSpec", "TlsSecrets", "TlsSecretsArgs"]

"""Key material for tests, generated when the tests run: no key is ever committed."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519


def ssh_private_key() -> str:
    """A fresh ed25519 key in OpenSSH form, as `ssh-keygen` writes it."""
    return (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
        .decode()
    )


def ec_private_key_pem() -> str:
    """A fresh P-256 key in PKCS#8 PEM, the shape pulumi-tls hands to a Secret's tls.key."""
    return (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )


# One per test session: tests compare against it.
TEST_SSH_KEY = ssh_private_key()

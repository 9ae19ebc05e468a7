"""Rules for where hosts get software: the apt repository, its key, images and registries.

Pure checks shared by the stack settings (`lab/packages.py`) and the plugin's inputs:
each returns a problem message, or None when the value is fine.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from components.validation import DNS1123_SUBDOMAIN

ARMORED_KEY_BEGIN = "-----BEGIN PGP PUBLIC KEY BLOCK-----"
ARMORED_KEY_END = "-----END PGP PUBLIC KEY BLOCK-----"
PEM_CERT_BEGIN = "-----BEGIN CERTIFICATE-----"
PEM_CERT_END = "-----END CERTIFICATE-----"
PLACEHOLDER = "{minor}"

# The distribution reference grammar: a domain (name or IP, optional port), then
# lowercase path components separated by "/".
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)"
HOST_PORT = re.compile(rf"^{_HOST}(?::(?P<port>[0-9]{{1,5}}))?$")
IMAGE_REPOSITORY = re.compile(rf"^(?P<host>{_HOST}(?::[0-9]{{1,5}})?)(?:/{_COMPONENT})*$")
DEBIAN_VERSION = re.compile(r"^[0-9][A-Za-z0-9.+~-]*-[A-Za-z0-9.+~]+$")


def check_url(url: str, what: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"{url!r} is not an http:// or https:// URL of {what}"
    if any(c.isspace() for c in url):
        return f"{url!r} contains whitespace"
    return None


def check_apt_repository(url: str) -> str | None:
    """A flat apt repository URL (like pkgs.k8s.io's); `{minor}` may stand for e.g. v1.34."""
    if problem := check_url(url, "a flat apt repository"):
        return problem
    leftover = url.replace(PLACEHOLDER, "")
    if "{" in leftover or "}" in leftover:
        return f"{url!r}: the only placeholder is {PLACEHOLDER} (the cluster's minor, e.g. v1.34)"
    return None


def check_armored_key(text: str) -> str | None:
    body = text.strip()
    if not (body.startswith(ARMORED_KEY_BEGIN) and body.endswith(ARMORED_KEY_END)):
        return f"must be an ASCII-armored OpenPGP public key ({ARMORED_KEY_BEGIN} ... {ARMORED_KEY_END})"
    return None


def check_package_version(version: str, kubernetes_version: str | None) -> str | None:
    if not DEBIAN_VERSION.match(version):
        return f"{version!r} is not a Debian package version like 1.34.5-1.1 (no epoch)"
    if kubernetes_version and not version.startswith(f"{kubernetes_version}-"):
        return f"{version!r} is not a package of Kubernetes {kubernetes_version} (want {kubernetes_version}-<revision>)"
    return None


def check_registry_host(host: str) -> str | None:
    """host[:port] as in an image reference: no scheme, no path."""
    if "://" in host or "/" in host:
        return f"{host!r} must be host[:port], without a scheme or path"
    m = HOST_PORT.match(host)
    if not m:
        return f"{host!r} is not a host name or IPv4 address with an optional :port"
    if m.group("port") and not 1 <= int(m.group("port")) <= 65535:
        return f"{host!r}: the port must be 1-65535"
    name = host.rsplit(":", 1)[0] if m.group("port") else host
    try:
        ipaddress.ip_address(name)
    except ValueError:
        if not DNS1123_SUBDOMAIN.match(name.lower()):
            return f"{host!r} is not a DNS name or IPv4 address"
    return None


def image_repository_host(repository: str) -> str:
    return repository.split("/", 1)[0]


def check_image_repository(repository: str) -> str | None:
    """kubeadm's imageRepository: `host[:port][/path]`, as in an image reference without the name."""
    if "://" in repository:
        return f"{repository!r} must not have a scheme (plain HTTP is set per registry in registries)"
    if not IMAGE_REPOSITORY.match(repository):
        return f"{repository!r} is not an image repository like registry.example.lan:5000/k8s (lowercase path)"
    return check_registry_host(image_repository_host(repository))


def check_pem_certificate(text: str) -> str | None:
    body = text.strip()
    if not (body.startswith(PEM_CERT_BEGIN) and body.endswith(PEM_CERT_END)):
        return f"must be a PEM certificate ({PEM_CERT_BEGIN} ... {PEM_CERT_END})"
    return None

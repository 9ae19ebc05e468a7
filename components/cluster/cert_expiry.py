"""Certificate expiry: kubeadm's certificates on each control plane, and warnings. Pure.

`kubeadm certs check-expiration -o json` prints a CertificateExpirationInfo
(output.kubeadm.k8s.io/v1alpha3): `certificates` and `certificateAuthorities`, each
`{name, expirationDate (RFC 3339, UTC), residualTime (s), externallyManaged, caName,
missing}`. tests/realbin checks this against the real kubeadm on a kubeadm-made PKI.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from components.cluster.host_scripts import HEADER

WARN_WITHIN = timedelta(days=30)


@dataclass(frozen=True)
class CertExpiry:
    name: str
    expires: datetime | None  # None: missing on the host
    authority: bool = False  # a CA rather than a leaf
    ca_name: str = ""
    externally_managed: bool = False

    def as_output(self) -> dict[str, object]:
        return {
            "name": self.name,
            "expires": self.expires.strftime("%Y-%m-%dT%H:%M:%SZ") if self.expires else None,
            "authority": self.authority,
            **({"caName": self.ca_name} if self.ca_name else {}),
        }


def check_expiration_script(day: str) -> str:
    """Prints kubeadm's JSON on stdout. `day` only makes the text change once a day, so a
    `pulumi up` re-reads the certificates at most daily (pulumi-command has no refresh)."""
    return (
        HEADER
        + f"""# reading of {day}
export KUBECONFIG=/etc/kubernetes/admin.conf
# A failed reading must not fail `up`: it becomes a warning in the preview and `up`.
kubeadm certs check-expiration -o json 2>/dev/null \
  || echo '{{"error": "kubeadm certs check-expiration failed on '"$(hostname)"'"}}'
"""
    )


def _time(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def parse_check_expiration(stdout: str) -> list[CertExpiry]:
    """kubeadm's JSON → certificates (leaves first, then CAs). Raises ValueError on anything else."""
    start = stdout.find("{")
    if start < 0:
        raise ValueError("no JSON object in the output of kubeadm certs check-expiration")
    doc, _ = json.JSONDecoder().raw_decode(stdout[start:])
    if isinstance(doc, dict) and "error" in doc:
        raise ValueError(str(doc["error"]))
    if not isinstance(doc, dict) or doc.get("kind") not in (None, "CertificateExpirationInfo"):
        raise ValueError(f"unexpected kind {doc.get('kind') if isinstance(doc, dict) else type(doc).__name__}")
    out: list[CertExpiry] = []
    for field, authority in (("certificates", False), ("certificateAuthorities", True)):
        for item in doc.get(field) or []:
            out.append(
                CertExpiry(
                    name=str(item["name"]),
                    expires=None if item.get("missing") else _time(item.get("expirationDate")),
                    authority=authority,
                    ca_name=str(item.get("caName") or ""),
                    externally_managed=bool(item.get("externallyManaged")),
                )
            )
    return out


def expiry_warnings(owner: str, certs: list[CertExpiry], now: datetime, within: timedelta = WARN_WITHIN) -> list[str]:
    """One line per certificate that expired or expires within `within` of `now`."""
    lines: list[str] = []
    for c in certs:
        if c.expires is None:
            continue
        left = c.expires - now
        kind = "CA" if c.authority else "certificate"
        when = c.expires.strftime("%Y-%m-%d %H:%M UTC")
        if left <= timedelta(0):
            lines.append(f"{owner}: {kind} {c.name} EXPIRED on {when}")
        elif left <= within:
            lines.append(f"{owner}: {kind} {c.name} expires on {when} (in {left.days} days); see docs/day-two.md")
    return lines


def leaf_expiry(name: str, validity_end_time: str) -> CertExpiry:
    """A lab-CA leaf (pulumi-tls `validity_end_time`, RFC 3339) as a CertExpiry."""
    return CertExpiry(name=name, expires=_time(validity_end_time), ca_name="lab CA")


def renew_script(api_port: int = 6443) -> str:
    """On one control plane: renew every kubeadm certificate, restart the static pods on them.

    The static pods read their certificates only at start; stopping their containers
    makes the kubelet start them again at once. The caller renews one control plane at
    a time, so etcd keeps its quorum.
    """
    crictl = "crictl --runtime-endpoint unix:///run/containerd/containerd.sock"
    return (
        HEADER
        + f"""export KUBECONFIG=/etc/kubernetes/admin.conf
kubeadm certs renew all
if command -v crictl >/dev/null 2>&1; then
  {crictl} ps -q --name '^(kube-apiserver|kube-controller-manager|kube-scheduler|etcd)$' \\
    | xargs -r {crictl} stop >/dev/null
  for _ in $(seq 90); do
    curl -ksf https://127.0.0.1:{api_port}/readyz >/dev/null 2>&1 && break
    sleep 2
  done
  if ! curl -ksf https://127.0.0.1:{api_port}/readyz >/dev/null; then
    echo "homelab: the API server on $(hostname) is not ready after the renewal" >&2
    exit 1
  fi
else
  # Without a restart the static pods keep serving the old certificates.
  echo "homelab: no crictl on $(hostname): restart kube-apiserver, kube-controller-manager," \
    "kube-scheduler and etcd yourself (move their manifests out of /etc/kubernetes/manifests" \
    "and back); they still use the old certificates" >&2
fi
kubeadm certs check-expiration
echo "homelab: certificates of $(hostname) renewed"
"""
    )

"""`homelab:tls` → TlsSecretsArgs: the private CA and the certificates written as Secrets.

homelab:tls:
  ca: {commonName: homelab CA, validityHours: 87600}
  secrets:
    - name: web
      namespaces: [default]            # or `namespace: default`
      dnsNames: [web.k8s.intra, "*.apps.k8s.intra"]
      ipAddresses: [192.168.2.240]
      usages: [server]                 # server, client, or both (mTLS)
      validityHours: 8760
      earlyRenewalHours: 720
      rotation: 0                      # bump to replace the key and certificate
  certManager: {enabled: false, namespace: cert-manager, issuerName: homelab-ca}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.model import parse
from components.tls.check import secret_clashes
from components.tls.model import TlsSecretsArgs, TlsSection, issuer_place, key_of, raw_secret_rules, secret_identity
from components.validation import Problems
from lab.context import LabContext

KEY = "homelab:tls"


def parse_tls(raw: Any, ctx: LabContext, problems: Problems) -> TlsSecretsArgs | None:
    """None when the section is absent or has errors (reported to `problems`)."""
    del ctx  # certificates don't depend on the LAN facts
    if raw is None:
        return None
    before = len(problems.errors)
    section = parse(TlsSection, raw, KEY, problems)

    entries = raw.get("secrets") if isinstance(raw, Mapping) else None
    entries = entries if isinstance(entries, list) else []
    if section is None:  # the rules across a secret's fields may not have run: run them on what is valid
        for i, entry in enumerate(entries):
            for loc, message in raw_secret_rules(entry) if isinstance(entry, Mapping) else []:
                problems.error(key_of(f"{KEY}.secrets[{i}]", loc), message)
    # Clashes are checked on the raw names and namespaces, so an entry with other errors
    # still reports them.
    cert_manager = raw.get("certManager") if isinstance(raw, Mapping) else None
    for i, message in secret_clashes(
        [secret_identity(e) for e in entries], issuer_place(cert_manager), where=f"{KEY}."
    ):
        problems.error(f"{KEY}.secrets[{i}].name", message)

    if section is None or len(problems.errors) > before:
        return None
    for i, secret in enumerate(section.secrets):
        if secret.validity_hours > section.ca.validity_hours:
            problems.warn(
                f"{KEY}.secrets[{i}].validityHours",
                f"{secret.validity_hours} h outlives the CA ({section.ca.validity_hours} h): "
                "clients stop trusting it when the CA expires",
            )
    return TlsSecretsArgs(
        ca=section.ca, secrets=tuple(s.spec() for s in section.secrets), cert_manager=section.cert_manager
    )

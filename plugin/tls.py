"""TlsSecrets for other Pulumi languages: inputs derived from TlsSecretsArgs, read by the model.

`usages` is a list of strings, not of an enum: the host maps a list of enum values
item by item as objects and would hand over empty dicts.
"""

from collections.abc import Mapping
from typing import Any

import pulumi

from components.model import parse, plain
from components.tls.check import secret_clashes
from components.tls.component import TlsSecrets as RealTlsSecrets
from components.tls.model import (
    CaSpec,
    CertManagerIssuer,
    TlsSecretsArgs,
    TlsSecretSpec,
    issuer_place,
    key_of,
    raw_secret_rules,
    secret_identity,
)
from components.validation import Problems
from plugin.derive import plugin_inputs
from plugin.inputs import check_plain, child_options, raise_if_any

TOKEN = "homelab:index:TlsSecrets"

TlsSecretsArgsInput = plugin_inputs(
    TlsSecretsArgs,
    "TlsSecretsArgsInput",
    names={CaSpec: "CaSettings", TlsSecretSpec: "TlsSecretSettings", CertManagerIssuer: "CertManagerSettings"},
)


def tls_secrets_args(args: Mapping[str, Any]) -> TlsSecretsArgs:
    """The real component's TlsSecretsArgs; every problem in the inputs at once (PluginInputError).

    Every input is plain: names, SANs and validity name resources or go into certificates,
    and the keys are made here (they stay in secret outputs).
    """
    problems = Problems()
    check_plain(args, problems)
    raise_if_any("TlsSecrets", problems)
    given = plain(args)
    result = parse(TlsSecretsArgs, given, "", problems)
    secrets = given.get("secrets")
    if result is None and isinstance(secrets, list):  # the rules the model did not reach
        for i, raw in enumerate(secrets):
            for loc, message in raw_secret_rules(raw, stack=False) if isinstance(raw, Mapping) else []:
                problems.error(key_of(f"secrets[{i}]", loc), message)
        clashes = secret_clashes(
            [secret_identity(s) for s in secrets], issuer_place(given.get("cert_manager")), where=""
        )
        for i, message in clashes:
            problems.error(f"secrets[{i}].name", message)
    raise_if_any("TlsSecrets", problems)
    assert result is not None  # no problems: the model validated
    return result


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

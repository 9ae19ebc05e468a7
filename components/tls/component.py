"""TlsSecrets: a private CA and kubernetes.io/tls Secrets signed by it (pulumi-tls)."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pulumi_tls as tls

from components.kube import inherited_depends_on, refuse_invalid
from components.tls.check import args_problems
from components.tls.manifests import allowed_uses, ca_cluster_issuer, tls_secret
from components.tls.model import CA_USES, ECDSA_CURVE, KEY_ALGORITHM, TlsSecretsArgs


def _as_list(deps: object) -> list[pulumi.Resource]:
    if deps is None:
        return []
    if isinstance(deps, pulumi.Resource):
        return [deps]
    if isinstance(deps, list | tuple):
        return list(deps)
    raise TypeError("TlsSecrets: depends_on must be a resource or a list of resources")


class TlsSecrets(pulumi.ComponentResource):
    """A private CA and one key + certificate per secret spec, written to Kubernetes.

    Children:
      <name>-ca-key, <name>-ca                  the CA (ECDSA P-256, self-signed)
      <name>-<secret>-key / -csr / -cert        per secret spec
      <name>-<namespace>-<secret>               the kubernetes.io/tls Secret, per namespace
      <name>-issuer-secret, <name>-issuer       optional cert-manager CA ClusterIssuer
    Keys live only in secret outputs and secret Secret inputs. `rotation` counters feed
    the `replacement_trigger` option: bump one to replace that key and certificate.
    Pass `depends_on=[<cert-manager>]` in opts when the issuer is enabled (its CRD).
    """

    ca_cert_pem: pulumi.Output[str]
    secrets: pulumi.Output[list[str]]
    issuer: pulumi.Output[str | None]

    def __init__(self, name: str, args: TlsSecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("homelab:tls:TlsSecrets", name, None, opts)
        refuse_invalid("TlsSecrets", args_problems(args))
        # A component's depends_on doesn't hold back its children: pass it on.
        deps = inherited_depends_on(opts)
        kube = pulumi.ResourceOptions(parent=self, depends_on=deps)

        def keyed(trigger: int) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, replacement_trigger=trigger)

        ca = args.ca
        ca_key = tls.PrivateKey(
            f"{name}-ca-key", algorithm=KEY_ALGORITHM, ecdsa_curve=ECDSA_CURVE, opts=keyed(ca.rotation)
        )
        ca_cert = tls.SelfSignedCert(
            f"{name}-ca",
            private_key_pem=ca_key.private_key_pem,
            is_ca_certificate=True,
            allowed_uses=list(CA_USES),
            subject=tls.SelfSignedCertSubjectArgs(common_name=ca.common_name, organization=ca.organization),
            validity_period_hours=ca.validity_hours,
            early_renewal_hours=ca.early_renewal_hours,
            set_subject_key_id=True,
            opts=keyed(ca.rotation),
        )
        ca_pem = pulumi.Output.secret(ca_cert.cert_pem)

        written: list[str] = []
        leaf_ends: dict[str, pulumi.Output[str]] = {}  # secret name -> validity_end_time
        for spec in args.secrets:
            key = tls.PrivateKey(
                f"{name}-{spec.name}-key", algorithm=KEY_ALGORITHM, ecdsa_curve=ECDSA_CURVE, opts=keyed(spec.rotation)
            )
            csr = tls.CertRequest(
                f"{name}-{spec.name}-csr",
                private_key_pem=key.private_key_pem,
                subject=tls.CertRequestSubjectArgs(common_name=spec.subject_name),
                dns_names=list(spec.dns_names),
                ip_addresses=list(spec.ip_addresses),
                opts=keyed(spec.rotation),
            )
            cert = tls.LocallySignedCert(
                f"{name}-{spec.name}-cert",
                cert_request_pem=csr.cert_request_pem,
                ca_private_key_pem=ca_key.private_key_pem,
                ca_cert_pem=ca_cert.cert_pem,
                allowed_uses=allowed_uses(spec.usages),
                validity_period_hours=spec.validity_hours,
                early_renewal_hours=spec.early_renewal_hours,
                set_subject_key_id=True,
                opts=keyed(spec.rotation),
            )
            leaf_ends[spec.name] = cert.validity_end_time
            for ns in spec.namespaces:
                obj = tls_secret(
                    spec.name,
                    ns,
                    cert=pulumi.Output.secret(cert.cert_pem),
                    key=pulumi.Output.secret(key.private_key_pem),
                    ca=ca_pem,
                )
                k8s.core.v1.Secret(
                    f"{name}-{ns}-{spec.name}",
                    metadata=obj["metadata"],
                    type=obj["type"],
                    string_data=obj["stringData"],
                    opts=kube,
                )
                written.append(f"{ns}/{spec.name}")

        issuer: str | None = None
        cm = args.cert_manager
        if cm.enabled:
            obj = tls_secret(
                cm.secret_name, cm.namespace, cert=ca_pem, key=pulumi.Output.secret(ca_key.private_key_pem), ca=ca_pem
            )
            ca_secret = k8s.core.v1.Secret(
                f"{name}-issuer-secret",
                metadata=obj["metadata"],
                type=obj["type"],
                string_data=obj["stringData"],
                opts=kube,
            )
            issuer_obj = ca_cluster_issuer(cm.issuer_name, cm.secret_name)
            k8s.apiextensions.CustomResource(
                f"{name}-issuer",
                api_version=issuer_obj["apiVersion"],
                kind=issuer_obj["kind"],
                metadata=issuer_obj["metadata"],
                spec=issuer_obj["spec"],
                # The CRD (opts' depends_on) and the Secret it reads.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[*_as_list(deps), ca_secret]),
            )
            issuer = cm.issuer_name

        # The CA certificate is public; its key never leaves secret outputs.
        self.ca_cert_pem = pulumi.Output.unsecret(ca_cert.cert_pem)
        self.secrets = pulumi.Output.from_input(written)
        # For the certificateExpiry output and its 30-day warning (components/expiry.py).
        self.leaf_expiry = pulumi.Output.all(**leaf_ends).apply(dict) if leaf_ends else pulumi.Output.from_input({})
        self.issuer = pulumi.Output.from_input(issuer)
        self.register_outputs({"ca_cert_pem": self.ca_cert_pem, "secrets": self.secrets, "issuer": self.issuer})

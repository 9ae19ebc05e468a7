"""Structured API server configuration: AuthenticationConfiguration, AuthorizationConfiguration.

The API server refuses to start when `--authentication-config` meets `--oidc-*`, or
`--authorization-config` meets `--authorization-mode`/`--authorization-webhook-*`;
`conflicts` finds those combinations so they are refused before anything runs.
"""

from __future__ import annotations

from typing import Any

import yaml

from components.cluster.model import ApiServerConfig, ClusterSpec, WebhookAuthorizer

AUTHN_FILE = "authentication.yaml"
AUTHZ_FILE = "authorization.yaml"
VOLUME_NAME = "homelab-apiserver-config"
BUILTIN_AUTHORIZERS = {"Node": "node", "RBAC": "rbac"}


def authn_api_version(minor: int) -> str:
    return "apiserver.config.k8s.io/v1" if minor >= 34 else "apiserver.config.k8s.io/v1beta1"


def authz_api_version(minor: int) -> str:
    return "apiserver.config.k8s.io/v1" if minor >= 32 else "apiserver.config.k8s.io/v1beta1"


def conflicts(cfg: ApiServerConfig) -> list[tuple[str, str]]:
    """(extra arg, why) for each extra arg the API server would refuse next to structured config."""
    out: list[tuple[str, str]] = []
    for arg in cfg.extra_args:
        if cfg.structured_authn and arg.startswith("oidc-"):
            out.append((arg, "cannot be combined with structured authentication (jwt issuers)"))
        if cfg.structured_authz and (arg == "authorization-mode" or arg.startswith("authorization-webhook-")):
            out.append((arg, "cannot be combined with structured authorization (authorizers)"))
        if arg in ("authentication-config", "authorization-config"):
            out.append((arg, "is set by homelab from the structured settings; do not pass it as an extra arg"))
    return out


def authentication_configuration(cfg: ApiServerConfig, minor: int) -> dict[str, Any]:
    jwt: list[dict[str, Any]] = []
    for issuer in cfg.jwt:
        entry: dict[str, Any] = {"issuer": {"url": issuer.url, "audiences": list(issuer.audiences)}}
        if issuer.certificate_authority:
            entry["issuer"]["certificateAuthority"] = issuer.certificate_authority
        mappings: dict[str, Any] = {"username": {"claim": issuer.username_claim, "prefix": issuer.username_prefix}}
        if issuer.groups_claim:
            mappings["groups"] = {"claim": issuer.groups_claim, "prefix": issuer.groups_prefix}
        entry["claimMappings"] = mappings
        jwt.append(entry)
    return {"apiVersion": authn_api_version(minor), "kind": "AuthenticationConfiguration", "jwt": jwt}


def authorization_configuration(cfg: ApiServerConfig, minor: int) -> dict[str, Any]:
    authorizers: list[dict[str, Any]] = []
    for a in cfg.authorizers:
        if isinstance(a, WebhookAuthorizer):
            webhook: dict[str, Any] = {
                "timeout": a.timeout,
                "authorizedTTL": "5m",
                "unauthorizedTTL": "30s",
                "subjectAccessReviewVersion": "v1",
                "matchConditionSubjectAccessReviewVersion": "v1",
                "failurePolicy": a.failure_policy,
                "connectionInfo": {"type": "KubeConfigFile", "kubeConfigFile": a.kubeconfig_path},
            }
            if a.match_conditions:
                webhook["matchConditions"] = [{"expression": e} for e in a.match_conditions]
            authorizers.append({"type": "Webhook", "name": a.name, "webhook": webhook})
        else:
            authorizers.append({"type": a, "name": BUILTIN_AUTHORIZERS[a]})
    return {"apiVersion": authz_api_version(minor), "kind": "AuthorizationConfiguration", "authorizers": authorizers}


def config_files(spec: ClusterSpec) -> dict[str, str]:
    """Absolute path on each control plane → content."""
    cfg = spec.api_server
    files: dict[str, str] = {}
    if cfg.structured_authn:
        files[f"{cfg.config_dir}/{AUTHN_FILE}"] = yaml.safe_dump(
            authentication_configuration(cfg, spec.minor), sort_keys=False
        )
    if cfg.structured_authz:
        files[f"{cfg.config_dir}/{AUTHZ_FILE}"] = yaml.safe_dump(
            authorization_configuration(cfg, spec.minor), sort_keys=False
        )
    return files


def api_server_args(spec: ClusterSpec) -> dict[str, str]:
    cfg = spec.api_server
    args = dict(cfg.extra_args)
    if cfg.structured_authn:
        args["authentication-config"] = f"{cfg.config_dir}/{AUTHN_FILE}"
    if cfg.structured_authz:
        args["authorization-config"] = f"{cfg.config_dir}/{AUTHZ_FILE}"
    return args


def api_server_volumes(spec: ClusterSpec) -> list[dict[str, Any]]:
    cfg = spec.api_server
    if not (cfg.structured_authn or cfg.structured_authz):
        return []
    return [
        {
            "name": VOLUME_NAME,
            "hostPath": cfg.config_dir,
            "mountPath": cfg.config_dir,
            "readOnly": True,
            "pathType": "DirectoryOrCreate",
        }
    ]

"""AuthenticationConfiguration / AuthorizationConfiguration documents."""

from __future__ import annotations

import yaml

from components.cluster.apiserver_config import (
    authentication_configuration,
    authn_api_version,
    authorization_configuration,
    authz_api_version,
    config_files,
)
from components.cluster.model import ApiServerConfig, JwtIssuer, WebhookAuthorizer
from tests.support.cluster_fixtures import ha_spec

API = ApiServerConfig(
    jwt=(JwtIssuer(url="https://id.home.lan", audiences=("k8s", "lab"), groups_claim="groups", groups_prefix="oidc:"),),
    authorizers=(
        "Node",
        "RBAC",
        WebhookAuthorizer(
            name="opa",
            kubeconfig_path="/etc/kubernetes/homelab/opa.kubeconfig",
            failure_policy="NoOpinion",
            match_conditions=("request.resourceAttributes.namespace == 'apps'",),
        ),
    ),
)


def test_api_versions_follow_kubernetes_minor() -> None:
    assert authn_api_version(33) == "apiserver.config.k8s.io/v1beta1"
    assert authn_api_version(34) == "apiserver.config.k8s.io/v1"
    assert authz_api_version(31) == "apiserver.config.k8s.io/v1beta1"
    assert authz_api_version(32) == "apiserver.config.k8s.io/v1"


def test_authentication_document() -> None:
    doc = authentication_configuration(API, 34)
    assert doc["kind"] == "AuthenticationConfiguration"
    (jwt,) = doc["jwt"]
    assert jwt["issuer"] == {"url": "https://id.home.lan", "audiences": ["k8s", "lab"]}
    assert jwt["claimMappings"]["groups"] == {"claim": "groups", "prefix": "oidc:"}
    assert jwt["claimMappings"]["username"] == {"claim": "sub", "prefix": ""}


def test_authorization_document_in_order() -> None:
    doc = authorization_configuration(API, 34)
    assert [a["type"] for a in doc["authorizers"]] == ["Node", "RBAC", "Webhook"]
    hook = doc["authorizers"][2]["webhook"]
    assert hook["failurePolicy"] == "NoOpinion"
    assert hook["connectionInfo"] == {
        "type": "KubeConfigFile",
        "kubeConfigFile": "/etc/kubernetes/homelab/opa.kubeconfig",
    }
    assert hook["matchConditions"] == [{"expression": "request.resourceAttributes.namespace == 'apps'"}]


def test_files_only_for_what_is_configured() -> None:
    assert config_files(ha_spec()) == {}
    files = config_files(ha_spec(api_server=API))
    assert set(files) == {"/etc/kubernetes/homelab/authentication.yaml", "/etc/kubernetes/homelab/authorization.yaml"}
    assert yaml.safe_load(files["/etc/kubernetes/homelab/authorization.yaml"])["kind"] == "AuthorizationConfiguration"

"""The package schema the component provider host infers from plugin/, as `pulumi package add` sees it.

The host builds the schema with pulumi.provider.experimental's Analyzer and
generate_schema; ComponentProvider is what serves it (GetSchema), so it is built the
same way here, without a Pulumi CLI.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pulumi.provider.experimental.component import ComponentProvider

from plugin import COMPONENTS, PACKAGE

TOKENS = {
    "KubeadmCluster": "homelab:index:KubeadmCluster",
    "FlatNetwork": "homelab:index:FlatNetwork",
    "LoadBalancer": "homelab:index:LoadBalancer",
    "DnsZones": "homelab:index:DnsZones",
    "EgressPolicies": "homelab:index:EgressPolicies",
    "TlsSecrets": "homelab:index:TlsSecrets",
}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    provider = ComponentProvider(COMPONENTS, PACKAGE, None, "0.1.0")
    assert provider.schema is not None
    return dict(json.loads(provider.schema))


def resource(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(schema["resources"][TOKENS[name]])


def ref(schema: dict[str, Any], prop: dict[str, Any]) -> dict[str, Any]:
    """The type a property (or its array items) refers to."""
    target = prop.get("$ref") or prop["items"]["$ref"]
    return dict(schema["types"][target.removeprefix("#/types/")])


def test_package_and_every_component(schema: dict[str, Any]) -> None:
    assert schema["name"] == "homelab" and schema["version"] == "0.1.0"
    assert set(schema["resources"]) == set(TOKENS.values())
    for token, res in schema["resources"].items():
        assert res["isComponent"] is True, token
        assert res["description"], f"{token} has no description"
    # Only our own types: no resource references into other packages' schemas.
    assert schema.get("dependencies", []) == []


def test_component_tokens_match_the_classes() -> None:
    # The engine asks for homelab:index:<Name>; the wrapper must register exactly that type.
    import plugin.cluster
    import plugin.dns
    import plugin.egress
    import plugin.loadbalancer
    import plugin.network
    import plugin.tls

    assert {
        plugin.cluster.TOKEN,
        plugin.network.FLAT_NETWORK_TOKEN,
        plugin.loadbalancer.TOKEN,
        plugin.dns.TOKEN,
        plugin.egress.TOKEN,
        plugin.tls.TOKEN,
    } == set(TOKENS.values())
    assert {c.__name__ for c in COMPONENTS} == set(TOKENS)


def test_every_property_and_type_is_documented(schema: dict[str, Any]) -> None:
    missing: list[str] = []
    for token, res in schema["resources"].items():
        for section in ("inputProperties", "properties"):
            missing += [f"{token}.{section}.{k}" for k, v in res[section].items() if not v.get("description")]
    for token, typ in schema["types"].items():
        if not typ.get("description"):
            missing.append(token)
        missing += [f"{token}.{k}" for k, v in (typ.get("properties") or {}).items() if not v.get("description")]
        missing += [f"{token}.{e['name']}" for e in typ.get("enum") or [] if not e.get("description")]
    assert missing == []


def test_no_output_reuses_an_input_name_with_another_type(schema: dict[str, Any]) -> None:
    # A generated SDK fills an output the engine left out from the same-named input.
    def kind(p: dict[str, Any]) -> Any:
        return (p.get("type"), p.get("$ref"), json.dumps(p.get("items")), json.dumps(p.get("additionalProperties")))

    clashes = [
        f"{token}.{name}"
        for token, res in schema["resources"].items()
        for name, out in res["properties"].items()
        if name in res["inputProperties"] and kind(out) != kind({**res["inputProperties"][name], "plain": None})
    ]
    assert clashes == []


def test_kubeadm_cluster(schema: dict[str, Any]) -> None:
    res = resource(schema, "KubeadmCluster")
    inputs = res["inputProperties"]
    assert res["requiredInputs"] == ["nodes", "ssh"]
    assert inputs["nodes"]["type"] == "array" and inputs["nodes"]["plain"] is True
    node = ref(schema, inputs["nodes"])
    assert node["required"] == ["address", "name"]
    assert set(node["properties"]) == {"name", "address", "role", "prepare", "labels", "ssh"}
    assert node["properties"]["role"]["$ref"] == "#/types/homelab:index:NodeRole"
    assert node["properties"]["labels"]["additionalProperties"]["type"] == "string"
    assert [e["value"] for e in schema["types"]["homelab:index:NodeRole"]["enum"]] == ["control-plane", "worker"]
    ssh = ref(schema, inputs["ssh"])
    assert ssh["required"] == ["user"] and ssh["properties"]["port"]["type"] == "integer"
    # The keys are the only non-plain inputs: they may be secrets or come from other resources.
    assert inputs["sshPrivateKey"] == {"description": inputs["sshPrivateKey"]["description"], "type": "string"}
    assert "plain" not in inputs["nodePrivateKeys"]["additionalProperties"]
    assert "privateKey" not in ssh["properties"]
    for name in ("clusterName", "kubernetesVersion", "endpoint", "podCidr", "serviceCidr", "dnsDomain", "vipInterface"):
        assert inputs[name]["type"] == "string" and inputs[name]["plain"] is True, name
    assert inputs["apiPort"]["type"] == "integer" and inputs["kubeProxy"]["type"] == "boolean"
    api = ref(schema, inputs["apiServer"])
    assert ref(schema, api["properties"]["authorizers"])["properties"]["type"]["$ref"].endswith(":AuthorizerType")
    outputs = res["properties"]
    assert set(outputs) == {"kubeconfig", "apiEndpoint", "caCertificate", "clusterIdentifier", "clusterNodes"}
    assert res["required"] == sorted(outputs)
    assert outputs["kubeconfig"]["type"] == "string"
    assert ref(schema, outputs["clusterNodes"])["required"] == ["address", "name", "role"]


def test_flat_network(schema: dict[str, Any]) -> None:
    res = resource(schema, "FlatNetwork")
    assert res["requiredInputs"] == ["apiHost", "lanCidr", "nodes", "podCidr"]
    inputs = res["inputProperties"]
    assert ref(schema, inputs["nodes"])["required"] == ["address", "name"]
    bgp = ref(schema, inputs["bgp"])
    assert bgp["required"] == ["localAsn", "peerAddress", "peerAsn"]
    lan = ref(schema, inputs["lanAttachment"])
    assert lan["properties"]["ipam"]["$ref"].endswith(":LanIpamMode")
    assert set(ref(schema, inputs["chart"])["properties"]) == {"repo", "version", "path"}
    assert inputs["skipAwait"]["type"] == "boolean"
    outputs = res["properties"]
    assert outputs["routerRoutes"]["additionalProperties"]["$ref"] == "pulumi.json#/Any"
    assert outputs["bgpEnabled"]["type"] == "boolean"
    assert "lanNetwork" not in res["required"]  # None without a LAN attachment


def test_load_balancer(schema: dict[str, Any]) -> None:
    res = resource(schema, "LoadBalancer")
    assert res["requiredInputs"] == ["pools"]
    inputs = res["inputProperties"]
    pool = ref(schema, inputs["pools"])
    assert pool["required"] == ["addresses", "name"] and pool["properties"]["addresses"]["items"]["type"] == "string"
    assert [e["value"] for e in schema["types"]["homelab:index:LoadBalancerMode"]["enum"]] == ["l2", "bgp"]
    assert ref(schema, inputs["bgp"])["required"] == ["myAsn", "peerAddress", "peerAsn"]
    assert res["properties"]["poolAddresses"]["additionalProperties"]["items"]["type"] == "string"
    assert res["properties"]["announceMode"]["type"] == "string"


def test_dns_zones(schema: dict[str, Any]) -> None:
    res = resource(schema, "DnsZones")
    assert res["requiredInputs"] == []
    zone = ref(schema, res["inputProperties"]["zones"])
    assert zone["required"] == ["name"]
    records = zone["properties"]["records"]
    assert records["type"] == "object" and records["additionalProperties"]["$ref"].endswith(":DnsRecord")
    record = schema["types"]["homelab:index:DnsRecord"]
    # No union: an IP (may come from another resource) or a Service to follow.
    assert record.get("required") is None
    assert record["properties"]["ip"] == {"description": record["properties"]["ip"]["description"], "type": "string"}
    assert record["properties"]["service"]["plain"] is True
    assert ref(schema, res["inputProperties"]["forwards"])["required"] == ["name", "upstreams"]
    assert set(res["properties"]) == {"corefile", "configHash", "records"}


def test_egress_policies(schema: dict[str, Any]) -> None:
    res = resource(schema, "EgressPolicies")
    assert res["requiredInputs"] == ["policies"]
    policy = ref(schema, res["inputProperties"]["policies"])
    assert policy["required"] == ["allow", "name"]
    port = ref(schema, policy["properties"]["ports"])
    assert port["required"] == ["port"] and port["properties"]["protocol"]["$ref"].endswith(":PortProtocol")
    assert policy["properties"]["dns"]["$ref"].endswith(":DnsLookupMode")
    assert res["properties"]["policyRefs"]["items"]["type"] == "string"


def test_tls_secrets(schema: dict[str, Any]) -> None:
    res = resource(schema, "TlsSecrets")
    assert res["requiredInputs"] == []
    secret = ref(schema, res["inputProperties"]["secrets"])
    assert secret["required"] == ["name", "namespaces"]
    # Strings, not an enum: the host would map a list of enum values as objects.
    assert secret["properties"]["usages"]["items"]["type"] == "string"
    assert set(ref(schema, res["inputProperties"]["ca"])["properties"]) == {
        "commonName",
        "organization",
        "validityHours",
        "earlyRenewalHours",
        "rotation",
    }
    assert set(res["properties"]) == {"caCertPem", "secretRefs", "issuer"}
    assert res["required"] == ["caCertPem", "secretRefs"]  # issuer is optional

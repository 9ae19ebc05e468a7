"""Every validation rule of lan/cluster/ssh/nodes: a failing case and its message each."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.validation import ConfigError
from lab.settings import build_settings

SECRET = {"homelab:ssh"}


def base() -> dict[str, Any]:
    return {
        "lan": {"cidr": "192.168.2.0/24", "gateway": "192.168.2.1", "dhcpRange": "192.168.2.100-192.168.2.199"},
        "cluster": {"kubernetesVersion": "1.34.5", "endpoint": "192.168.2.10"},
        "ssh": {"user": "lab", "privateKey": "KEY"},
        "nodes": [
            {"name": "cp01", "address": "192.168.2.11", "role": "control-plane"},
            {"name": "worker01", "address": "192.168.2.21", "role": "worker"},
        ],
    }


def problems(raw: dict[str, Any], secret: set[str] = SECRET) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        build_settings(raw, secret)
    return [str(p) for p in exc.value.problems]


def edit(path: str, value: Any) -> dict[str, Any]:
    raw = copy.deepcopy(base())
    target: Any = raw
    parts = path.split(".")
    for p in parts[:-1]:
        target = target[int(p)] if p.isdigit() else target[p]
    last = parts[-1]
    if value is DELETE:
        del target[last]
    elif last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return raw


DELETE = object()


def test_valid_base() -> None:
    s = build_settings(base(), SECRET)
    assert s.cluster.endpoint == "192.168.2.10" and s.cluster.vip
    assert [n.name for n in s.cluster.control_planes] == ["cp01"]
    assert s.context.node_addresses["worker01"].exploded == "192.168.2.21"


def test_endpoint_defaults_to_first_control_plane() -> None:
    s = build_settings(edit("cluster.endpoint", DELETE), SECRET)
    assert s.cluster.endpoint == "192.168.2.11" and not s.cluster.vip


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("nodes.0.name", "CP_01", "homelab:nodes[0].name: 'CP_01' is not a DNS-1123 label"),
        ("nodes.1.name", "cp01", "homelab:nodes[1].name: 'cp01' is already used by homelab:nodes[0]"),
        ("nodes.1.address", "192.168.3.21", "homelab:nodes[1].address: 192.168.3.21 is outside the LAN"),
        ("nodes.1.address", "192.168.2.300", "homelab:nodes[1].address: '192.168.2.300' is not an IPv4 address"),
        ("nodes.1.address", "192.168.2.11", "homelab:nodes[1].address: 192.168.2.11 is already node cp01's address"),
        ("nodes.1.address", "192.168.2.1", "homelab:nodes[1].address: 192.168.2.1 is the router's address"),
        ("nodes.1.role", "master", "homelab:nodes[1].role: must be one of control-plane, worker, got 'master'"),
        ("nodes.0.role", "worker", "homelab:nodes: at least one node must have role: control-plane"),
        ("cluster.podCidr", "10.96.0.0/16", "homelab:cluster.serviceCidr: 10.96.0.0/12 overlaps the pod CIDR"),
        ("cluster.podCidr", "192.168.0.0/16", "homelab:cluster.podCidr: 192.168.0.0/16 overlaps the LAN"),
        ("cluster.serviceCidr", "192.168.2.128/25", "homelab:cluster.serviceCidr: 192.168.2.128/25 overlaps the LAN"),
        ("cluster.podCidr", "10.244.0.1/16", "homelab:cluster.podCidr: '10.244.0.1/16' is not an IPv4 network"),
        ("cluster.kubernetesVersion", "1.34", "homelab:cluster.kubernetesVersion: '1.34' is not a Kubernetes version"),
        (
            "cluster.kubernetesVersion",
            "1.29.3",
            "homelab:cluster.kubernetesVersion: 1.29.3 is outside the supported range",
        ),
        ("cluster.kubernetesVersion", "2.34.0", "is outside the supported range"),
        ("cluster.endpoint", "192.168.2.11", "homelab:cluster.endpoint: 192.168.2.11 is node cp01's address"),
        ("cluster.endpoint", "10.0.0.10", "homelab:cluster.endpoint: 10.0.0.10 is outside the LAN"),
        ("cluster.endpoint", "192.168.2.150", "homelab:cluster.endpoint: 192.168.2.150 is inside the DHCP range"),
        ("cluster.name", "Lab", "homelab:cluster.name: 'Lab' is not a DNS-1123 label"),
        ("cluster.extraSans", ["ok.home.lan", "not a name"], "homelab:cluster.extraSans[1]: 'not a name' is neither"),
        ("cluster.tunnel", "vxlan", "homelab:cluster.tunnel: unknown setting"),
        ("ssh.user", DELETE, "homelab:ssh.user: an SSH user is required"),
        ("ssh.privateKey", DELETE, "homelab:ssh.privateKey: an SSH private key is required"),
        ("lan.gateway", "192.168.3.1", "homelab:lan.gateway: 192.168.3.1 is outside the LAN"),
        ("lan.dhcpRange", "192.168.2.200-192.168.2.100", "homelab:lan.dhcpRange: '192.168.2.200-192.168.2.100' is not"),
        ("lan.cidr", DELETE, "homelab:lan.cidr: is required"),
    ],
)
def test_rule(path: str, value: Any, expected: str) -> None:
    found = problems(edit(path, value))
    assert any(expected in p for p in found), found


def test_ssh_key_must_be_secret() -> None:
    found = problems(base(), secret=set())
    assert any(p.startswith("homelab:ssh.privateKey: must be a secret") for p in found), found


def test_ssh_key_file_must_exist(tmp_path: Any) -> None:
    raw = edit("ssh", {"user": "lab", "privateKeyPath": str(tmp_path / "missing")})
    assert any("homelab:ssh.privateKeyPath: cannot read the SSH private key file" in p for p in problems(raw))


def test_missing_key_file_only_warns_in_preview(tmp_path: Any) -> None:
    raw = edit("ssh", {"user": "lab", "privateKeyPath": str(tmp_path / "missing")})
    s = build_settings(raw, set(), preview=True)
    assert any("homelab:ssh.privateKeyPath" in str(w) and "preview goes on" in str(w) for w in s.warnings)
    # Every node previews against the key in the state (the placeholder is never diffed).
    assert s.cluster.nodes and all(n.ssh.key_from_state for n in s.cluster.nodes)


def test_missing_key_file_stops_up_naming_the_key(tmp_path: Any) -> None:
    raw = edit("ssh", {"user": "lab", "privateKeyPath": str(tmp_path / "missing")})
    found = problems(raw)
    assert any(
        p.startswith("homelab:ssh.privateKeyPath: cannot read the SSH private key file") and "pulumi up" in p
        for p in found
    ), found


def test_a_node_with_its_own_key_does_not_use_the_state(tmp_path: Any) -> None:
    raw = edit("ssh", {"user": "lab", "privateKeyPath": str(tmp_path / "missing")})
    raw["nodes"][0]["ssh"] = {"privateKey": "K"}
    s = build_settings(raw, {"homelab:nodes"}, preview=True)
    by_name = {n.name: n.ssh.key_from_state for n in s.cluster.nodes}
    assert list(by_name.values()).count(False) == 1 and list(by_name.values()).count(True) == len(by_name) - 1


def test_ssh_key_file_is_read_as_secret(tmp_path: Any) -> None:
    key = tmp_path / "id"
    key.write_text("PRIVATE")
    s = build_settings(edit("ssh", {"user": "lab", "privateKeyPath": str(key)}), set())
    assert s.cluster.nodes[0].ssh.user == "lab"


def test_per_node_ssh_without_default() -> None:
    raw = edit("ssh", DELETE)
    raw["nodes"][0]["ssh"] = {"user": "a", "privateKey": "K"}
    found = problems(raw, secret={"homelab:nodes"})
    assert found == ["homelab:nodes[1].ssh: no SSH access: set homelab:ssh or this node's ssh"]


def test_every_problem_at_once() -> None:
    raw = base()
    raw["nodes"][0]["name"] = "Bad"
    raw["nodes"][1]["address"] = "10.1.1.1"
    raw["cluster"]["kubernetesVersion"] = "banana"
    raw["cluster"]["podCidr"] = "192.168.2.0/25"
    found = problems(raw)
    assert len(found) >= 4
    keys = {p.split(":")[0] + ":" + p.split(":")[1] for p in found}
    assert {
        "homelab:nodes[0].name",
        "homelab:nodes[1].address",
        "homelab:cluster.kubernetesVersion",
        "homelab:cluster.podCidr",
    } <= keys


def test_even_control_planes_warn() -> None:
    raw = base()
    raw["nodes"][1]["role"] = "control-plane"
    s = build_settings(raw, SECRET)
    assert any("even count" in str(w) for w in s.warnings)


def test_node_in_dhcp_range_warns() -> None:
    s = build_settings(edit("nodes.1.address", "192.168.2.150"), SECRET)
    assert any("homelab:nodes[1].address" in str(w) and "DHCP" in str(w) for w in s.warnings)


def test_structured_api_config_conflicts_with_extra_args() -> None:
    raw = base()
    raw["cluster"]["apiServer"] = {
        "extraArgs": {"oidc-issuer-url": "https://x", "authorization-mode": "Node,RBAC"},
        "authentication": {"jwt": [{"issuer": "https://id.home.lan", "audiences": ["k8s"]}]},
        "authorization": {"authorizers": [{"type": "Node"}, {"type": "RBAC"}]},
    }
    found = problems(raw)
    assert any(p.startswith("homelab:cluster.apiServer.extraArgs[oidc-issuer-url]: cannot be combined") for p in found)
    assert any(
        p.startswith("homelab:cluster.apiServer.extraArgs[authorization-mode]: cannot be combined") for p in found
    )


@pytest.mark.parametrize(
    ("api", "expected"),
    [
        ({"authentication": {"jwt": [{"issuer": "http://id", "audiences": ["a"]}]}}, "must be an https:// URL"),
        (
            {"authentication": {"jwt": [{"issuer": "https://id"}]}},
            "audiences: is required: needs at least one audience",
        ),
        (
            {"authorization": {"authorizers": [{"type": "ABAC"}]}},
            "authorizers[0].type: must be one of Node, RBAC, Webhook, got 'ABAC'",
        ),
        (
            {"authorization": {"authorizers": [{"type": "Webhook", "name": "w", "kubeConfigFile": "/root/w"}]}},
            "kubeConfigFile: must be under /etc/kubernetes/homelab/",
        ),
    ],
)
def test_structured_api_config_rules(api: dict[str, Any], expected: str) -> None:
    raw = base()
    raw["cluster"]["apiServer"] = api
    assert any(expected in p for p in problems(raw))


def test_unknown_top_level_key() -> None:
    raw = base()
    raw["clusters"] = {}
    assert any(p.startswith("homelab:clusters: unknown key") for p in problems(raw))


def test_unpinned_host_keys_warn_naming_the_nodes() -> None:
    s = build_settings(base(), {"homelab:ssh"})
    [w] = [w for w in s.warnings if "hostKey" in str(w)]
    assert "any host key is accepted" in str(w) and "cp01" in str(w) and "worker01" in str(w)
    raw = base()
    pinned = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    for node in raw["nodes"]:
        node["ssh"] = {"hostKey": pinned}
    s = build_settings(raw, {"homelab:ssh"})
    assert not [w for w in s.warnings if "hostKey" in str(w)]
    assert s.cluster.nodes[0].ssh.host_key == pinned


def test_host_key_must_be_a_public_key_line() -> None:
    raw = base()
    raw["nodes"][0]["ssh"] = {"hostKey": "AAAAC3Nza not a key"}
    assert any(p.startswith("homelab:nodes[0].ssh.hostKey: must be one public key") for p in problems(raw)), problems(
        raw
    )


def test_project_defaults_of_optional_sections_are_absent_sections() -> None:
    # The real engine passes Pulumi.yaml's defaults ({} / []) for keys a stack leaves out.
    raw = base()
    for key in ("loadBalancer", "dns", "egress", "tls"):
        raw.pop(key, None)
    defaults = {**raw, "loadBalancer": {}, "dns": {}, "egress": [], "tls": {}}
    s = build_settings(defaults, {"homelab:ssh"})
    assert (s.load_balancer, s.dns, s.egress, s.tls) == (None, None, None, None)


def test_model_and_lab_problems_all_at_once() -> None:
    # Value problems (the models) and rules across keys (lab/cluster.py) in one pass, even
    # when the values they compare sit next to a wrong one.
    raw = base()
    raw["lan"] = {"cidr": "192.168.2.0/24", "gateway": "192.168.3.1", "dhcpRange": "x", "vlan": 1}
    raw["cluster"].update(
        {
            "apiPort": 0,
            "podCidr": "192.168.2.0/25",
            "apiServer": {
                "extraArgs": {"oidc-issuer-url": "https://x", "v": True},
                "authentication": {"jwt": [{"issuer": "http://id"}]},
                "authorization": {"authorizers": [{"type": "Webhook"}]},
            },
            "registries": [{"host": "a.lan", "caCert": "x"}, {"host": "a.lan", "insecure": True}],
        }
    )
    raw["ssh"]["port"] = "x"
    raw["nodes"][1]["ssh"] = {"user": "w", "port": 99999, "hostKey": "zz"}
    found = problems(raw)
    for expected in (
        "homelab:lan.dhcpRange: 'x' is not an address range",
        "homelab:lan.vlan: unknown setting",
        "homelab:lan.gateway: 192.168.3.1 is outside the LAN",
        "homelab:cluster.apiPort: must be between 1 and 65535, got 0",
        "homelab:cluster.podCidr: 192.168.2.0/25 overlaps the LAN",
        "homelab:cluster.apiServer.extraArgs[v]: must be a string, got bool",
        "homelab:cluster.apiServer.extraArgs[oidc-issuer-url]: cannot be combined",
        "homelab:cluster.apiServer.authentication.jwt[0].issuer: 'http://id' must be an https:// URL",
        "homelab:cluster.apiServer.authentication.jwt[0].audiences: is required",
        "homelab:cluster.apiServer.authorization.authorizers[0].name: is required for a Webhook authorizer",
        "homelab:cluster.apiServer.authorization.authorizers[0].kubeConfigFile: is required for a Webhook",
        "homelab:cluster.registries[0].caCert: must be a PEM certificate",
        "homelab:cluster.registries[1].host: 'a.lan' is already homelab:cluster.registries[0]",
        "homelab:ssh.port: must be an integer, got 'x'",
        "homelab:nodes[1].ssh.port: must be between 1 and 65535, got 99999",
        "homelab:nodes[1].ssh.hostKey: must be one public key",
    ):
        assert any(p.startswith(expected) for p in found), (expected, found)


def test_ssh_private_key_stays_out_of_reprs() -> None:
    from components.cluster.model import SshSettingsSection

    assert "SECRET" not in repr(SshSettingsSection(user="lab", private_key="SECRET"))
    s = build_settings(base(), SECRET)
    assert "KEY" not in repr(s.cluster.nodes[0].ssh.private_key)  # a secret Output


def test_sections_validate_into_their_models() -> None:
    from components.cluster.model import ClusterSection, LanSection

    lan = LanSection.model_validate(base()["lan"])
    assert (lan.cidr, lan.gateway, lan.dhcp_range) == ("192.168.2.0/24", "192.168.2.1", "192.168.2.100-192.168.2.199")
    cluster = ClusterSection.model_validate({"kubernetesVersion": "v1.34.5", "extraSans": ["api.lab"]})
    assert (cluster.kubernetes_version, cluster.pod_cidr, cluster.extra_sans) == (
        "1.34.5",
        "10.244.0.0/16",
        ("api.lab",),
    )

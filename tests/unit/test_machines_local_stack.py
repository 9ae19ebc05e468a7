"""config/Pulumi.local.yaml as rendered for the local machines, checked by the project's own parser."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.versions import DEFAULT_KUBERNETES_VERSION
from lab.settings import build_settings
from tools.local_stack import (
    local_services_config,
    local_stack_config,
    render_local_stack,
    toolchain_kubernetes_version,
)
from tools.machine_plan import parse_network, plan

NET = parse_network("hlbr0", "10.251.0.0/24")
MACHINES = plan(NET, 3)
KEYS = {m.name: f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{m.name}" for m in MACHINES}


def settings_of(config: dict[str, Any]) -> Any:
    raw = {k.split(":", 1)[1]: v for k, v in config.items()}
    return build_settings(raw, set())


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    f = tmp_path / "id_ed25519"
    f.write_text("not a real key; only read\n")
    return f


def test_rendered_stack_validates_and_pins_every_host_key(key_file: Path) -> None:
    text = render_local_stack(NET, MACHINES, KEYS, str(key_file), "1.34.5")
    assert text.startswith("# Written by `scripts/lab machines up`")
    config = yaml.safe_load(text)["config"]
    settings = settings_of(config)
    spec = settings.cluster
    assert spec.kubernetes_version == "1.34.5"
    assert spec.endpoint == "10.251.0.11"  # no VIP: the first control plane
    assert [(n.name, n.address, n.role, n.ssh.host_key, n.ssh.user) for n in spec.nodes] == [
        (m.name, m.address, m.role, KEYS[m.name], "root") for m in MACHINES
    ]
    assert config["homelab:lan"] == {"cidr": "10.251.0.0/24", "gateway": "10.251.0.1",
                                     "dhcpRange": "10.251.0.100-10.251.0.199"}  # fmt: skip
    # No MetalLB: its controller's image cannot reach these machines, and its webhook admits pools.
    assert "homelab:loadBalancer" not in config


def test_the_services_come_from_the_toolchain_and_are_not_awaited(key_file: Path, tmp_path: Path) -> None:
    extra = local_services_config(tmp_path / "cilium-chart")
    config = yaml.safe_load(render_local_stack(NET, MACHINES, KEYS, str(key_file), "1.34.5", extra))["config"]
    settings = settings_of(config)
    assert settings.network.chart.path == str(tmp_path / "cilium-chart") and settings.network.skip_await
    assert settings.tls is not None and [s.name for s in settings.tls.secrets] == ["lab-web"]
    assert settings.load_balancer is None and settings.dns is None and settings.egress is None
    # Without the chart built, the network keeps its defaults (the upstream repository).
    assert "homelab:network" not in local_services_config(None)


def test_extra_config_adds_keys_and_merges_sections(key_file: Path) -> None:
    extra = {"homelab:cluster": {"imageRepository": "10.251.0.1:5000/k8s"}, "homelab:packages": {"x": 1}}
    config = local_stack_config(NET, MACHINES, KEYS, str(key_file), "1.34.5", extra)
    assert config["homelab:cluster"] == {"name": "lab-local", "kubernetesVersion": "1.34.5",
                                         "imageRepository": "10.251.0.1:5000/k8s"}  # fmt: skip
    assert config["homelab:packages"] == {"x": 1}
    assert "imageRepository" not in local_stack_config(NET, MACHINES, KEYS, "k", "1.34.5")["homelab:cluster"]


def test_other_subnet_and_size(key_file: Path) -> None:
    net = parse_network("hlbt0", "10.252.0.0/24")
    machines = plan(net, 5, 3)
    keys = {m.name: "ssh-ed25519 AAAA" + m.name for m in machines}
    config = yaml.safe_load(render_local_stack(net, machines, keys, str(key_file), "1.33.2"))["config"]
    spec = settings_of(config).cluster
    assert [n.role for n in spec.nodes].count("control-plane") == 3
    assert spec.kubernetes_version == "1.33.2"


def test_kubernetes_version_from_the_toolchain_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    assert toolchain_kubernetes_version(manifest) == DEFAULT_KUBERNETES_VERSION  # none yet
    manifest.write_text(json.dumps({"items": {"kubernetes": {"version": "v1.34.4", "requested_version": "1.34.5"}}}))
    assert toolchain_kubernetes_version(manifest) == "1.34.4"
    manifest.write_text("{not json")
    assert toolchain_kubernetes_version(manifest) == DEFAULT_KUBERNETES_VERSION

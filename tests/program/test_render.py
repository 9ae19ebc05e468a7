"""The offline render: deterministic, secret-free, and its diff names exactly what changed."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from tests.support.stacks import STACKS, raw_stack
from tools.render import SERIAL_AT_DEPLOY, StandIns, placeholder_service_ip, render
from tools.render_diff import compare, format_changes


@pytest.mark.parametrize("stack", STACKS)
def test_render_is_deterministic(stack: str, tmp_path: Path) -> None:
    render(stack, tmp_path / "a")
    render(stack, tmp_path / "b")
    assert compare(tmp_path / "a", tmp_path / "b") == []
    files = {p.relative_to(tmp_path / "a").as_posix() for p in (tmp_path / "a").rglob("*") if p.is_file()}
    assert "resources.txt" in files and "outputs.yaml" in files
    assert any(
        f.startswith("hosts/") and f.endswith("-init/files/etc/kubernetes/homelab/kubeadm-init.yaml") for f in files
    )
    assert any(f.startswith("helm/") and f.endswith("/values.yaml") for f in files)


@pytest.mark.parametrize("stack", STACKS)
def test_render_holds_no_secret(stack: str, tmp_path: Path) -> None:
    render(stack, tmp_path)
    text = "\n".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
    assert "PRIVATE KEY" not in text
    assert "kubeconfig: <redacted>" in (tmp_path / "outputs.yaml").read_text()
    assert "token: <join-token>" in text  # joins carry placeholders, never tokens
    for connection in tmp_path.glob("hosts/*.yaml"):
        assert "privateKey: <redacted>" in connection.read_text(), connection


def test_render_diff_names_exactly_the_changed_objects(tmp_path: Path) -> None:
    render("dev", tmp_path / "base")
    lb = copy.deepcopy(raw_stack("dev")["loadBalancer"])
    lb["pools"][0]["addresses"] = ["192.168.2.240-192.168.2.245"]
    render("dev", tmp_path / "head", config_overrides={"homelab:loadBalancer": lb})
    changes = compare(tmp_path / "base", tmp_path / "head")
    assert {(c.kind, c.path) for c in changes} == {
        ("changed", "kubernetes/metallb.io_v1beta1/IPAddressPool/metallb-system/lan.yaml"),
        ("changed", "outputs.yaml"),
    }
    text = format_changes(changes)
    assert "-  - 192.168.2.240-192.168.2.250" in text and "+  - 192.168.2.240-192.168.2.245" in text


def test_render_diff_added_node(tmp_path: Path) -> None:
    render("dev", tmp_path / "base")
    nodes = copy.deepcopy(raw_stack("dev")["nodes"]) + [{"name": "worker02", "address": "192.168.2.22"}]
    render("dev", tmp_path / "head", config_overrides={"homelab:nodes": nodes})
    changes = compare(tmp_path / "base", tmp_path / "head")
    added = {c.path for c in changes if c.kind == "added"}
    assert added and all("worker02" in p for p in added)
    assert {c.path for c in changes if c.kind == "removed"} == set()
    assert "+ hosts/lab-dev-worker02-join.sh" in format_changes(changes)
    assert "`+` `hosts/lab-dev-worker02-join.sh`" in format_changes(changes, markdown=True)


def test_one_changed_record_diffs_exactly_the_objects_it_touches(tmp_path: Path) -> None:
    render("dev", tmp_path / "base")
    dns = copy.deepcopy(raw_stack("dev")["dns"])
    dns["zones"][0]["records"]["echo"] = "172.17.0.3"
    render("dev", tmp_path / "head", config_overrides={"homelab:dns": dns})
    changes = compare(tmp_path / "base", tmp_path / "head")
    assert {(c.kind, c.path) for c in changes} == {
        ("changed", "dns/dns-corefile.Corefile"),  # the Corefile, extracted for reading
        ("changed", "kubernetes/v1/ConfigMap/kube-system/coredns.yaml"),  # the ConfigMap patch
        ("changed", "kubernetes/apps_v1/Deployment/kube-system/coredns.yaml"),  # the rollout annotation
        ("changed", "outputs.yaml"),  # dnsRecords
    }
    text = format_changes(changes)
    assert "-        172.17.0.2 echo.k8s.intra" in text and "+        172.17.0.3 echo.k8s.intra" in text
    assert "homelab/corefile-sha256" in text


def test_values_only_the_cluster_or_the_state_knows_are_marked_as_such(tmp_path: Path) -> None:
    render("prod", tmp_path)
    outputs = yaml.safe_load((tmp_path / "outputs.yaml").read_text())
    # prod: grafana.k8s.intra follows monitoring/grafana's LoadBalancer IP.
    assert outputs["dnsRecords"]["k8s.intra"]["grafana.k8s.intra"] == "<resolved at deploy: monitoring/grafana>"
    corefile = (tmp_path / "dns" / "dns-corefile.Corefile").read_text()
    assert "<resolved at deploy: monitoring/grafana> grafana.k8s.intra" in corefile
    text = "\n".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
    assert not re.search(r"\b192\.0\.2\.\d+", text), "a documentation address stands in unmarked"
    configmap = yaml.safe_load((tmp_path / "kubernetes/v1/ConfigMap/kube-system/coredns.yaml").read_text())
    assert f"hostmaster.lab.intra. {SERIAL_AT_DEPLOY} " in configmap["data"]["db.lab.intra"]


def test_stand_in_addresses_avoid_the_stacks_own_and_mark_whole_addresses() -> None:
    stand_ins = StandIns(avoid="records: {a: 192.0.2.5}")
    first = placeholder_service_ip("ns/svc")
    taken = StandIns(avoid=f"x: {first}").service_ip("ns/svc")
    assert taken != first and taken.startswith("192.0.2.")
    ip = stand_ins.service_ip("ns/svc")
    assert ip != "192.0.2.5" and stand_ins.service_ip("ns/svc") == ip  # stable per Service
    marked = stand_ins.mark(f"{ip} svc\n192.0.2.5 literal\n{ip}9 other")
    assert marked.splitlines() == ["<resolved at deploy: ns/svc> svc", "192.0.2.5 literal", f"{ip}9 other"]

"""The rendered zone blocks served by the real CoreDNS (skipped when scripts/toolchain hasn't built it).

kubeadm's `.:53` block needs a Kubernetes API, so only the custom blocks run here; the
default block is checked against kubeadm's text in test_dns_corefile.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from components.dns.corefile import configmap_data, file_block, forward_block, hosts_block, zone_file
from components.dns.model import ForwardZone, Zone

pytestmark = pytest.mark.realbin

controlplane = pytest.importorskip("tests.realbin.controlplane")

K8S = Zone("k8s.intra", {"echo": "172.17.0.2", "@": "192.168.2.240"})
LAB = Zone("lab.intra", {"nas": "192.168.2.5", "*.apps": "192.168.2.242"}, type="file", ttl=60)


def on_test_port(block: str) -> str:
    return block.replace(":53 {", ":{port} {")


def test_hosts_and_file_zones_answer(tmp_path: Path) -> None:
    (tmp_path / LAB.file_key).write_text(zone_file(LAB, dict(LAB.records), "cluster.local", serial=1))
    corefile = on_test_port(hosts_block(K8S, dict(K8S.records)) + file_block(LAB, str(tmp_path)))
    with controlplane.coredns(corefile, tmp_path) as dns:
        assert dns.query("echo.k8s.intra").records == ["172.17.0.2"]
        assert dns.query("k8s.intra", tcp=True).records == ["192.168.2.240"]
        assert dns.query("nas.lab.intra").records == ["192.168.2.5"]
        assert dns.query("web.apps.lab.intra").records == ["192.168.2.242"]
        assert dns.query("nope.lab.intra").rcode == "NXDOMAIN"
        (soa,) = dns.query("lab.intra", "SOA").records
        assert soa.split()[:2] == ["kube-dns.kube-system.svc.cluster.local.", "hostmaster.lab.intra."]
        # The hosts plugin has no SOA to deny with: an unknown name is SERVFAIL (documented).
        assert dns.query("nope.k8s.intra").rcode == "SERVFAIL"


def test_changed_zone_file_is_reloaded(tmp_path: Path) -> None:
    path = tmp_path / LAB.file_key
    path.write_text(zone_file(LAB, dict(LAB.records), "cluster.local", serial=1))
    corefile = on_test_port(file_block(LAB, str(tmp_path))).replace(
        f"file {tmp_path}/{LAB.file_key} lab.intra",
        f"file {tmp_path}/{LAB.file_key} lab.intra {{\n        reload 1s\n    }}",
    )
    with controlplane.coredns(corefile, tmp_path) as dns:
        assert dns.query("nas.lab.intra").records == ["192.168.2.5"]
        moved = Zone("lab.intra", {**LAB.records, "nas": "192.168.2.6"}, type="file", ttl=60)
        path.write_text(zone_file(moved, dict(moved.records), "cluster.local", serial=2))  # a new serial
        dns.wait_for_answer("nas.lab.intra", "A", lambda a: a.records == ["192.168.2.6"], timeout=30)


def test_forward_zone_reaches_its_upstream(tmp_path: Path) -> None:
    upstream = on_test_port(hosts_block(Zone("home.lan", {"router": "192.168.2.1"}), {"router": "192.168.2.1"}))
    with controlplane.coredns(upstream, tmp_path / "upstream") as up:
        front = on_test_port(forward_block(ForwardZone("home.lan", (f"127.0.0.1:{up.port}",))))
        with controlplane.coredns(front, tmp_path / "front") as dns:
            assert dns.query("router.home.lan").records == ["192.168.2.1"]


def test_the_whole_configmap_minus_the_kubernetes_block_starts(tmp_path: Path) -> None:
    data = configmap_data(
        [(K8S, dict(K8S.records)), (LAB, dict(LAB.records))],
        [ForwardZone("home.lan", ("192.0.2.1",))],
        cluster_domain="cluster.local",
        config_dir=str(tmp_path),
        serials={LAB.name: 1},
    )
    for key, text in data.items():
        if key != "Corefile":
            (tmp_path / key).write_text(text)
    custom = data["Corefile"].split("\n}\n", 1)[1]  # drop kubeadm's `.:53` block
    with controlplane.coredns(on_test_port(custom), tmp_path) as dns:
        assert dns.query("echo.k8s.intra").records == ["172.17.0.2"]
        assert dns.query("nas.lab.intra").records == ["192.168.2.5"]

"""The real CoreDNS: hosts, reload, forward, and the kubernetes plugin on the fixture API."""

from __future__ import annotations

from pathlib import Path

import pytest

from .controlplane import ControlPlane
from .coredns import running_coredns

pytestmark = pytest.mark.realbin

HOSTS_COREFILE = """\
example.intra {
    bind 127.0.0.1
    hosts {
        %s web.example.intra
        10.1.2.4 db.example.intra
    }
    reload 2s
}
"""


def test_hosts_block_answers(tmp_path: Path) -> None:
    with running_coredns(HOSTS_COREFILE % "10.1.2.3", tmp_path) as dns:
        assert dns.query("web.example.intra").records == ["10.1.2.3"]
        assert dns.query("db.example.intra", tcp=True).records == ["10.1.2.4"]
        # hosts has no SOA to put in an NXDOMAIN, so without `fallthrough` it answers SERVFAIL.
        assert dns.query("nope.example.intra").rcode == "SERVFAIL"


def test_reload_picks_up_corefile_edits(tmp_path: Path) -> None:
    with running_coredns(HOSTS_COREFILE % "10.1.2.3", tmp_path) as dns:
        assert dns.query("web.example.intra").records == ["10.1.2.3"]
        dns.write_corefile(HOSTS_COREFILE % "10.9.9.9")
        ans = dns.wait_for_answer("web.example.intra", "A", lambda a: a.records == ["10.9.9.9"], timeout=30)
        assert ans.rcode == "NOERROR"


def test_forward_zone_to_an_upstream(tmp_path: Path) -> None:
    upstream_corefile = """\
lab.intra {
    bind 127.0.0.1
    hosts {
        10.5.5.5 nas.lab.intra
    }
}
"""
    with running_coredns(upstream_corefile, tmp_path / "upstream") as upstream:
        front_corefile = f"""\
lab.intra {{
    bind 127.0.0.1
    forward . 127.0.0.1:{upstream.port}
}}
example.intra {{
    bind 127.0.0.1
    hosts {{
        10.1.2.3 web.example.intra
    }}
}}
"""
        with running_coredns(front_corefile, tmp_path / "front") as front:
            assert front.port != upstream.port
            assert front.query("nas.lab.intra").records == ["10.5.5.5"]
            assert front.query("web.example.intra").records == ["10.1.2.3"]


def test_kubernetes_plugin_resolves_services(control_plane: ControlPlane, tmp_path: Path) -> None:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "dns-test"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "protocol": "TCP"}]},
    }
    assert control_plane.apply([svc]) == []
    cluster_ip = control_plane.get("/api/v1/namespaces/dns-test/services/web")["spec"]["clusterIP"]
    corefile = f"""\
cluster.local {{
    bind 127.0.0.1
    kubernetes cluster.local {{
        kubeconfig {control_plane.kubeconfig} {control_plane.context}
    }}
}}
"""
    with running_coredns(corefile, tmp_path) as dns:
        ans = dns.wait_for_answer("web.dns-test.svc.cluster.local", "A", lambda a: a.rcode == "NOERROR", timeout=30)
        assert ans.records == [cluster_ip]
        assert dns.query("missing.dns-test.svc.cluster.local").rcode == "NXDOMAIN"

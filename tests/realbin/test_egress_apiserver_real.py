"""Rendered Cilium policies, server-side dry-run on a real kube-apiserver with Cilium's CRDs.

Skipped unless scripts/toolchain has built etcd, kube-apiserver and fetched the Cilium CRDs.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from components.egress.model import EgressPolicy, Port
from components.egress.patterns import fqdn_problem
from components.egress.policy import render_policy

pytestmark = pytest.mark.realbin

controlplane = pytest.importorskip("tests.realbin.controlplane")

POLICIES = [
    EgressPolicy(name="net-to-intra", namespace="default", selector={"app": "net"}, allow=("*.k8s.intra",)),
    EgressPolicy(
        name="updates",
        namespace="apps",
        selector={"app": "updater"},
        allow=("api.github.com", "*.debian.org"),
        ports=(Port(443), Port(123, "UDP"), Port(8443, "ANY")),
        dns="allowed",
    ),
    EgressPolicy(name="sandbox", clusterwide=True, namespace="lab", selector={"tier": "x"}, allow=("*.k8s.intra",)),
    EgressPolicy(name="whole-ns", namespace="apps", allow=("*", "a.com"), allow_all=True),
]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    for key in ("etcd", "kube-apiserver", "cilium-crds"):
        controlplane.require_tool(key)
    cp = controlplane.start_control_plane(tmp_path_factory.mktemp("egress-apiserver"))
    try:
        crds = [c for c in controlplane.cilium_crds() if "networkpolicies" in c["metadata"]["name"]]
        cp.install_crds(crds)
        yield cp
    finally:
        cp.stop()


def test_rendered_policies_are_accepted(api: Any) -> None:
    assert api.server_side_dry_run([render_policy(p) for p in POLICIES]) == []


@pytest.mark.parametrize("bad", ["a b.com", "x..com", "api.github.com/x"])
def test_the_api_refuses_what_we_refuse(api: Any, bad: str) -> None:
    assert fqdn_problem(bad) is not None
    obj = copy.deepcopy(render_policy(POLICIES[0]))
    obj["spec"]["egress"][1]["toFQDNs"] = [{"matchPattern": bad}]
    errors = api.server_side_dry_run([obj])
    assert len(errors) == 1 and errors[0].code == 422, errors


def test_double_star_passes_the_api_so_only_our_check_stops_it(api: Any) -> None:
    # Cilium 1.18's CRD accepts it, and the agent then reads `**` as a one-label `*`.
    obj = copy.deepcopy(render_policy(POLICIES[0]))
    obj["spec"]["egress"][1]["toFQDNs"] = [{"matchPattern": "**.k8s.intra"}]
    assert api.server_side_dry_run([obj]) == []
    assert fqdn_problem("**.k8s.intra", cilium_version="1.18.6") is not None

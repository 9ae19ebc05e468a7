"""The real Pulumi engine drives hosts over SSH: homelab's command layout on test hosts.

tests/e2e/ssh_stack/ is homelab's own settings code (`lab.settings.load()`) and the
KubeadmCluster component's own command factory, per node, with harmless logging scripts
in place of kubeadm. It goes through the Pulumi CLI, the Python language host and the
pulumi-command provider to tests/e2e's network-namespace hosts (real OpenSSH sshd, root
login, host keys pinned in the stack). Every SSH session a step opens is counted in the
hosts' sshd logs (`Accepted publickey`).

The steps, in order, on one stack (2 control planes, then a worker):
1. `up` runs each step once on its own host;
2. a no-op `preview --expect-no-changes` and a no-op `up` open no SSH session;
3. a preview with the key file gone passes with a warning; `up` then stops naming the key;
4. adding a worker previews as that worker's resources only; `up` logs in to that worker
   and, for its join token, to the first control plane, nowhere else;
5. removing it drains it (on the first control plane) before resetting it;
6. an `up` interrupted (SIGINT, then SIGKILL) while a worker joins converges on the next
   `up`; init ran once and no resource is duplicated;
7. a changed host key (the pin no longer matches) is refused, naming the node; without a
   pin the preview warns that any host key is accepted;
8. an unreachable machine fails its own resources, naming its address; the others stay;
9. the state holds no plaintext SSH private key or join token;
10. `destroy` leaves no file of the stack on any host;
11. figures: up, no-op preview against an empty program's preview, SSH sessions.

The cluster itself (kubeadm, Cilium, ...) needs real machines: test_engine_cluster.py.
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.engine_plugins import accepted_logins, engine_env, kill_plugins_under
from tests.e2e.hosts import DEFAULT_SUBNET, E2EHost
from tests.e2e.pulumi_cli import Pulumi, StackSteps, is_secret, key_lines, new_workspace, plaintext_leaks, write_figures

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
STACK_SRC = Path(__file__).resolve().parent / "ssh_stack"
FIGURES_FILE = ROOT / "build" / "e2e" / "engine_ssh_figures.json"
STACK = "e2e-ssh"
CLUSTER = "lab-e2e"
LOG_DIR = "etc/kubernetes/homelab-e2e"  # under each host's private root
RESETS = "etc/kubernetes/homelab-e2e-resets"
PLUGINS = ("command",)


# --- the stack ----------------------------------------------------------------------------------


def network() -> ipaddress.IPv4Network:
    net = ipaddress.ip_network(os.environ.get("HOMELAB_E2E_SUBNET", DEFAULT_SUBNET))
    assert isinstance(net, ipaddress.IPv4Network)
    return net


def node_entry(host: E2EHost, role: str, *, pin: str | None = "host") -> dict[str, Any]:
    entry: dict[str, Any] = {"name": host.name, "address": host.address, "role": role}
    if pin:
        entry["ssh"] = {"hostKey": host.host_key_pub if pin == "host" else pin}
    return entry


@dataclass
class Lab(StackSteps):
    hosts: list[E2EHost]
    pulumi: Pulumi
    floor: Pulumi
    project: Path
    state_dir: Path
    key_path: Path
    home: Path
    nodes: list[dict[str, Any]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)

    def host(self, name: str) -> E2EHost:
        return next(h for h in self.hosts if h.name == name)

    def write_config(self, nodes: list[dict[str, Any]]) -> None:
        """The stack file: the LAN is the hosts' test subnet, root over SSH with a key file."""
        net = network()
        path = self.project / f"Pulumi.{STACK}.yaml"
        doc = yaml.safe_load(path.read_text()) or {}
        doc["config"] = {
            "homelab:lan": {"cidr": str(net), "gateway": str(net[1]), "dhcpRange": f"{net[200]}-{net[250]}"},
            "homelab:cluster": {"name": CLUSTER},
            "homelab:ssh": {"user": "root", "privateKeyPath": str(self.key_path)},
            "homelab:nodes": nodes,
        }
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        self.nodes = nodes

    def logins(self) -> dict[str, int]:
        return {h.name: accepted_logins(h.root / "sshd.log") for h in self.hosts}

    def runs(self, name: str) -> list[str]:
        f = self.host(name).root / LOG_DIR / "runs"
        return f.read_text().splitlines() if f.exists() else []

    def preview_changes(self) -> dict[str, str]:
        """resource name -> op, for every step of a preview that is not `same`."""
        ran = self.pulumi.run("preview", "--json", timeout=300)
        steps = json.loads(ran.stdout).get("steps") or []
        return {s["urn"].split("::")[-1]: s["op"] for s in steps if s["op"] != "same"}


def resources_of(lab: Lab, node: str) -> set[str]:
    names = {r["urn"].split("::")[-1] for r in lab.export()["deployment"].get("resources") or []}
    return {n for n in names if n.startswith(f"{CLUSTER}-{node}-")}


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before[k] for k in after}


@pytest.fixture(scope="module")
def lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    engine = engine_env(PLUGINS)  # first: a missing plugin skips before any host starts
    e2e_hosts: list[E2EHost] = request.getfixturevalue("e2e_hosts")
    if len(e2e_hosts) < 3:
        pytest.skip("SKIPPED LOUDLY: needs 3 test hosts (HOMELAB_E2E_NODES=3)")
    tmp = tmp_path_factory.mktemp("engine-ssh")
    ws = new_workspace(tmp, engine, PLUGINS, STACK_SRC, STACK)
    pulumi = ws.pulumi
    key = tmp / "id_ed25519"
    key.write_text(e2e_hosts[0].private_key_path.read_text())
    key.chmod(0o600)

    lab = Lab(list(e2e_hosts), pulumi, ws.floor, pulumi.cwd, ws.state, key, ws.home)
    lab.write_config([node_entry(e2e_hosts[0], "control-plane"), node_entry(e2e_hosts[1], "control-plane")])
    try:
        yield lab
    finally:
        if "destroy" not in lab.done:
            if not key.exists():
                key.write_text(e2e_hosts[0].private_key_path.read_text())
            ran = pulumi.run("destroy", "--yes", "--skip-preview", timeout=300, check=False)
            if ran.returncode != 0:
                print(f"\n!!! teardown: `pulumi destroy` failed:\n{ran.tail(30)}")
        for h in e2e_hosts:
            h.ssh("rm -rf /etc/kubernetes/homelab-e2e /etc/kubernetes/homelab-e2e-resets")


# --- the steps ----------------------------------------------------------------------------------------


def test_up_runs_each_step_once_on_its_own_host(lab: Lab) -> None:
    before = lab.logins()
    ran = lab.pulumi.run("up", "--yes", "--skip-preview", timeout=300)
    lab.figures["up_2_nodes_s"] = round(ran.seconds, 2)
    logins = delta(before, lab.logins())
    lab.figures["up_2_nodes_ssh_sessions"] = logins

    node1, node2 = lab.hosts[0].name, lab.hosts[1].name
    steps1 = [line.split()[0] for line in lab.runs(node1) if not line.endswith(" done")]
    steps2 = [line.split()[0] for line in lab.runs(node2) if not line.endswith(" done")]
    # The first control plane: prepare, init, then node2's token; node2: prepare, join.
    assert steps1 == ["prepare", "init", "join-token"], lab.runs(node1)
    assert steps2 == ["prepare", "join"], lab.runs(node2)
    assert all(line.endswith(" done") for line in lab.runs(node1)[1::2])
    # One session per command that runs; the membership command runs nothing at create.
    assert logins[node1] == 3 and logins[node2] == 2, logins
    assert logins[lab.hosts[2].name] == 0
    # The join saw the token the first control plane made for it.
    token = (lab.host(node1).root / LOG_DIR / "tokens").read_text().split()[-1]
    assert token in (lab.host(node2).root / LOG_DIR / "joined-with").read_text()
    assert resources_of(lab, node2) == {
        f"{CLUSTER}-{node2}-{s}" for s in ("prepare", "join-token", "join", "membership")
    }
    lab.done.add("up")


def test_noop_preview_and_up_open_no_ssh_session(lab: Lab) -> None:
    lab.require("up")
    before = lab.logins()
    previews = [lab.pulumi.run("preview", "--expect-no-changes", timeout=300) for _ in range(3)]
    after_preview = lab.logins()
    up = lab.pulumi.run("up", "--yes", "--expect-no-changes", "--skip-preview", timeout=300)
    after_up = lab.logins()
    lab.figures["noop_preview_s"] = [round(r.seconds, 2) for r in previews]
    lab.figures["noop_up_s"] = round(up.seconds, 2)
    lab.figures["noop_preview_ssh_sessions"] = sum(delta(before, after_preview).values())
    lab.figures["noop_up_ssh_sessions"] = sum(delta(after_preview, after_up).values())
    assert delta(before, after_preview) == dict.fromkeys(before, 0), "a no-op preview logged in"
    assert delta(after_preview, after_up) == dict.fromkeys(before, 0), "a no-op up logged in"
    lab.done.add("noop")


def test_preview_needs_no_key_file_and_up_names_it(lab: Lab) -> None:
    lab.require("up")
    saved = lab.key_path.read_text()
    lab.key_path.unlink()
    try:
        before = lab.logins()
        ran = lab.pulumi.run("preview", "--expect-no-changes", timeout=300)
        out = ran.stdout + ran.stderr
        assert "homelab:ssh.privateKeyPath: cannot read the SSH private key file" in out, ran.tail()
        assert "preview goes on" in out
        failed = lab.pulumi.run("up", "--yes", "--skip-preview", timeout=300, check=False)
        assert failed.returncode != 0
        text = failed.stdout + failed.stderr
        assert "invalid configuration" in text and "homelab:ssh.privateKeyPath" in text, failed.tail()
        assert str(lab.key_path) in text
        assert lab.logins() == before, "nothing may connect without the key"
    finally:
        lab.key_path.write_text(saved)
        lab.key_path.chmod(0o600)
    lab.pulumi.run("preview", "--expect-no-changes", timeout=300)


def test_adding_a_worker_touches_only_that_worker(lab: Lab) -> None:
    lab.require("up")
    node1, node2, node3 = (h.name for h in lab.hosts[:3])
    lab.write_config([*lab.nodes, node_entry(lab.hosts[2], "worker")])
    changes = lab.preview_changes()
    expected = {f"{CLUSTER}-{node3}-{s}": "create" for s in ("prepare", "join-token", "join", "membership")}
    assert changes == expected, changes

    before = lab.logins()
    runs1 = len(lab.runs(node1))
    ran = lab.pulumi.run("up", "--yes", "--skip-preview", timeout=300)
    lab.figures["up_added_worker_s"] = round(ran.seconds, 2)
    logins = delta(before, lab.logins())
    lab.figures["up_added_worker_ssh_sessions"] = logins
    # The worker: prepare + join. The first control plane: its join token only. node2: nothing.
    assert logins == {node1: 1, node2: 0, node3: 2}, logins
    assert [line.split()[0] for line in lab.runs(node1)[runs1:]] == ["join-token", "join-token"]
    assert [line.split()[0] for line in lab.runs(node3) if not line.endswith(" done")] == ["prepare", "join"]
    lab.pulumi.run("preview", "--expect-no-changes", timeout=300)
    lab.done.add("add")


def test_removing_a_worker_drains_then_resets_it(lab: Lab) -> None:
    lab.require("add")
    node1, node3 = lab.hosts[0].name, lab.hosts[2].name
    lab.write_config(lab.nodes[:2])
    changes = lab.preview_changes()
    assert changes == {f"{CLUSTER}-{node3}-{s}": "delete" for s in ("prepare", "join-token", "join", "membership")}
    before = lab.logins()
    lab.pulumi.run("up", "--yes", "--skip-preview", timeout=300)
    logins = delta(before, lab.logins())
    # Drain on the first control plane (membership's delete), reset on the worker (join's delete).
    assert logins == {node1: 1, lab.hosts[1].name: 0, node3: 1}, logins
    assert lab.runs(node1)[-1] == f"drain {node3}"
    assert (lab.host(node3).root / RESETS).read_text().splitlines()[-1] == f"reset {node3}"
    assert not (lab.host(node3).root / LOG_DIR).exists(), "the reset leaves nothing of the stack"
    assert not resources_of(lab, node3)
    lab.done.add("remove")


def test_interrupted_join_converges_on_the_next_up(lab: Lab) -> None:
    lab.require("remove")
    node1, node3 = lab.hosts[0].name, lab.hosts[2].name
    lab.write_config([*lab.nodes, node_entry(lab.hosts[2], "worker")])
    env = {**lab.pulumi.env, "HOMELAB_E2E_SLOW_JOINS": node3}
    argv = ["pulumi", "up", "--yes", "--skip-preview", "--non-interactive"]
    proc = subprocess.Popen(
        argv, cwd=lab.project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 240
    runs = lab.host(node3).root / LOG_DIR / "runs"
    while not (runs.exists() and f"join {node3}" in runs.read_text()):
        assert proc.poll() is None, f"up ended before the join started:\n{proc.communicate()[0][-3000:]}"
        assert time.monotonic() < deadline, "the join never started"
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)  # the CLI: cancel
    time.sleep(3)
    os.killpg(proc.pid, signal.SIGKILL)  # then the CLI, mid-join
    interrupted = proc.communicate()[0]
    lab.figures["plugins_left_running_by_the_killed_cli"] = len(kill_plugins_under(lab.home))
    lab.figures["interrupted_up_tail"] = interrupted.strip().splitlines()[-5:]

    # The next `up` converges. A killed run leaves its lock on a self-managed backend; the
    # error says to remove it with `pulumi cancel`, which is what a user does.
    ran = lab.pulumi.run("up", "--yes", "--skip-preview", timeout=300, check=False)
    if ran.returncode != 0 and "locked" in ran.stdout + ran.stderr:
        lab.figures["interrupted_up_left_a_lock"] = [
            line for line in (ran.stdout + ran.stderr).splitlines() if "lock" in line
        ][:1]
        lab.pulumi.run("cancel", "--yes", timeout=60)
        ran = lab.pulumi.run("up", "--yes", "--skip-preview", timeout=300, check=False)
    lab.figures["up_after_interrupt"] = ran.tail(12).splitlines()
    assert ran.returncode == 0, ran.tail()
    lab.pulumi.run("preview", "--expect-no-changes", timeout=300)

    # The killed create stays recorded as pending (its outcome is unknown to the engine),
    # though the next `up` created the resource again. `refresh --clear-pending-creates`
    # drops the record; commands have no read, so it opens no SSH session.
    pending = [o["resource"]["urn"].split("::")[-1] for o in lab.export()["deployment"].get("pending_operations") or []]
    lab.figures["pending_after_interrupt"] = pending
    assert set(pending) <= {f"{CLUSTER}-{node3}-join"}, pending
    before = lab.logins()
    lab.pulumi.run("refresh", "--clear-pending-creates", "--yes", "--skip-preview", timeout=300)
    assert lab.logins() == before, "refresh logged in"
    lab.pulumi.run("preview", "--expect-no-changes", timeout=300)

    export = lab.export()["deployment"]
    assert not export.get("pending_operations"), export.get("pending_operations")
    urns = [r["urn"] for r in export.get("resources") or []]
    assert len(urns) == len(set(urns)), "a resource is in the state twice"
    assert sum(line.startswith(f"init {node1} ") for line in lab.runs(node1)) == 1, "kubeadm init ran twice"
    joins = [line for line in lab.runs(node3) if line.startswith(f"join {node3} ")]
    lab.figures["join_runs_after_interrupt"] = len(joins)
    assert joins and lab.runs(node3)[-1] == "join done"
    assert resources_of(lab, node3) == {
        f"{CLUSTER}-{node3}-{s}" for s in ("prepare", "join-token", "join", "membership")
    }
    lab.done.add("interrupt")


def test_changed_host_key_is_refused_naming_the_node(lab: Lab, tmp_path: Path) -> None:
    lab.require("up")
    node2 = lab.hosts[1].name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    other = " ".join((tmp_path / "other.pub").read_text().split()[:2])
    good = list(lab.nodes)
    lab.write_config([n if n["name"] != node2 else {**n, "ssh": {"hostKey": other}} for n in good])
    before = lab.logins()
    failed = lab.pulumi.run("up", "--yes", "--skip-preview", timeout=300, check=False)
    text = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert f"{CLUSTER}-{node2}-" in text and "host key mismatch" in text, failed.tail()
    others = {k: v for k, v in delta(before, lab.logins()).items() if k != node2}
    assert others == dict.fromkeys(others, 0), f"other hosts were touched: {others}"
    assert accepted_logins(lab.host(node2).root / "sshd.log") == before[node2], "no session on a mismatched key"

    # Without a pin, any key is accepted; the preview says so, naming the node.
    lab.write_config([n if n["name"] != node2 else {k: v for k, v in n.items() if k != "ssh"} for n in good])
    ran = lab.pulumi.run("preview", timeout=300)
    assert "any host key is accepted" in ran.stdout + ran.stderr and node2 in ran.stdout + ran.stderr
    lab.write_config(good)
    lab.pulumi.run("up", "--yes", "--skip-preview", timeout=300)
    lab.pulumi.run("preview", "--expect-no-changes", timeout=300)


def test_unreachable_machine_fails_its_own_resources(lab: Lab) -> None:
    lab.require("up")
    address = str(network()[99])  # on the test bridge's subnet; nobody answers there
    good = list(lab.nodes)
    lab.write_config([*good, {"name": "gone", "address": address, "role": "worker"}])
    before = lab.logins()
    failed = lab.pulumi.run("up", "--yes", "--skip-preview", timeout=420, check=False)
    text = failed.stdout + failed.stderr
    lab.figures["unreachable_up_s"] = round(failed.seconds, 2)
    assert failed.returncode != 0
    assert f"{CLUSTER}-gone-prepare" in text and address in text, failed.tail()
    logins = delta(before, lab.logins())
    # Only the join token for `gone` ran, on the first control plane.
    assert logins[lab.hosts[0].name] <= 1 and all(v == 0 for k, v in logins.items() if k != lab.hosts[0].name)
    lab.write_config(good)
    lab.pulumi.run("up", "--yes", "--skip-preview", timeout=300)
    lab.pulumi.run("preview", "--expect-no-changes", timeout=300)
    assert not resources_of(lab, "gone")


def test_state_holds_no_plaintext_secrets(lab: Lab) -> None:
    lab.require("up")
    key = lab.hosts[0].private_key_path.read_text()
    needles = key_lines("SSH key", key)
    tokens = (lab.hosts[0].root / LOG_DIR / "tokens").read_text().split()
    assert tokens
    needles |= {f"join token {i}": t for i, t in enumerate(tokens)}
    leaks = plaintext_leaks(lab.export(), lab.state_dir, needles)
    assert not leaks, "plaintext secrets in the state:\n" + "\n".join(leaks)
    commands = [r for r in lab.export()["deployment"]["resources"] if r["type"] == "command:remote:Command"]
    assert commands and all(is_secret(r["inputs"]["connection"]) for r in commands)


def test_destroy_leaves_the_hosts_clean(lab: Lab) -> None:
    lab.require("up")
    ran = lab.pulumi.run("destroy", "--yes", "--skip-preview", timeout=300)
    lab.figures["destroy_s"] = round(ran.seconds, 2)
    left = [str(h.root / LOG_DIR) for h in lab.hosts if (h.root / LOG_DIR).exists()]
    assert not left, f"left on the hosts: {left}"
    assert not lab.export()["deployment"].get("resources")
    lab.done.add("destroy")


def test_figures(lab: Lab) -> None:
    lab.require("up", "noop")
    f = lab.figures
    write_figures(f, lab.pulumi, lab.floor, FIGURES_FILE, floor_runs=3)
    print(f"\nengine over SSH (pulumi {f['engine']}): {json.dumps(f)}\n-> {FIGURES_FILE}")

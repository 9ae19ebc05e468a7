"""homelab's cluster layout over SSH, with harmless scripts: what the real engine does on the hosts.

Same settings code as the real program (`lab.settings.load()`: the key file is read, or
tolerated during a preview; host keys are pinned per node) and the same command factory
as KubeadmCluster (`KubeadmCluster._command`: connection, `sudo bash -s` with the script
on stdin, triggers, secret stdout, and the stored key kept when a preview has no key
file). The resources carry the component's names and dependencies:
  <cluster>-<node>-prepare, <cluster>-<first>-init, <cluster>-<node>-join-token (on the
  first control plane), <cluster>-<node>-join (delete: reset), <cluster>-<node>-membership
  (on the first control plane; delete: drain).
Each script appends one line to a log under /etc/kubernetes/homelab-e2e on its host, so
the test can count what ran where. The joins of the nodes listed in HOMELAB_E2E_SLOW_JOINS
(environment) sleep 30 s first, so that the test can interrupt one.
"""

from __future__ import annotations

import os
import sys
from functools import partial
from pathlib import Path

# The components of the checkout this file lives in, not whatever the venv has installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

import pulumi  # noqa: E402

from components.cluster.component import KubeadmCluster  # noqa: E402
from components.cluster.model import ClusterSpec, NodeSpec  # noqa: E402
from components.validation import ConfigError  # noqa: E402
from lab.settings import load  # noqa: E402

LOG_DIR = "/etc/kubernetes/homelab-e2e"


def step(name: str, node: str, body: str = "") -> str:
    """A script that logs its run on the host, then runs `body`."""
    return (
        "set -eu\n"
        f"mkdir -p {LOG_DIR}\n"
        f'echo "{name} $(hostname) $$" >> {LOG_DIR}/runs\n'
        f"{body}\n"
        f'echo "{name} done" >> {LOG_DIR}/runs\n'
    )


SLOW = set(os.environ.get("HOMELAB_E2E_SLOW_JOINS", "").split(","))


def join_script(node: NodeSpec, join_info: str) -> str:
    # The token travels in the script (a secret stdin), as kubeadm's join config does.
    body = "sleep 30\n" if node.name in SLOW else ""
    body += f"(umask 077; printf '%s\\n' '{join_info.strip()}' > {LOG_DIR}/joined-with)"
    return step("join", node.name, body)


class SshLayout(pulumi.ComponentResource):
    """KubeadmCluster's resources, names and order, with logging scripts."""

    def __init__(self, name: str, spec: ClusterSpec) -> None:
        super().__init__("homelab:e2e:SshLayout", name)
        self._after: list[pulumi.Resource] = []
        command = partial(KubeadmCluster._command, self)  # type: ignore[arg-type]
        first = spec.first_control_plane
        prepared = {n.name: [command(f"{name}-{n.name}-prepare", n, step("prepare", n.name))] for n in spec.nodes}
        init = command(
            f"{name}-{first.name}-init",
            first,
            step("init", first.name),
            delete=f"rm -rf {LOG_DIR}",
            depends_on=prepared[first.name],
            ignore_changes=["stdin"],
        )
        previous_cp: pulumi.Resource | None = None
        for node in spec.nodes:
            if node is first:
                continue
            # A fresh secret per join, made on the first control plane like kubeadm's token.
            token = command(
                f"{name}-{node.name}-join-token",
                first,
                step("join-token", node.name, f"head -c 18 /dev/urandom | base64 >> {LOG_DIR}/tokens")
                + f"tail -n 1 {LOG_DIR}/tokens\n",
                depends_on=[init],
                secret_stdout=True,
            )
            after = [token, *prepared[node.name]]
            if node.is_control_plane and previous_cp is not None:
                after.append(previous_cp)
            join = command(
                f"{name}-{node.name}-join",
                node,
                pulumi.Output.secret(token.stdout.apply(lambda out, n=node: join_script(n, out))),
                delete=f"echo 'reset {node.name}' >> /etc/kubernetes/homelab-e2e-resets; rm -rf {LOG_DIR}",
                depends_on=after,
            )
            if node.is_control_plane:
                previous_cp = join
            command(
                f"{name}-{node.name}-membership",
                first,
                None,  # as in KubeadmCluster: nothing runs at create
                delete=f"mkdir -p {LOG_DIR} && echo 'drain {node.name}' >> {LOG_DIR}/runs",
                depends_on=[join],
            )
        self.register_outputs({})


try:
    settings = load()
except ConfigError as err:
    raise pulumi.RunError(str(err)) from None
for warning in settings.warnings:
    pulumi.log.warn(str(warning))
spec = settings.cluster
SshLayout(spec.name, spec)
pulumi.export("nodes", [{"name": n.name, "address": n.address, "role": n.role} for n in spec.nodes])

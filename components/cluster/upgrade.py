"""Kubernetes upgrades, one minor at a time: the version-skew rule and the host scripts. Pure.

Not wired into KubeadmCluster yet (docs/day-two.md, "Upgrades"): what is missing is the
current version at evaluation time (a `kubernetesVersion` output read back through a
StackReference to the stack itself, or a value `scripts/lab` passes in), and the
resources that run these scripts in order.

Order (kubeadm's): the first control plane runs `upgrade plan` then `upgrade apply`;
every other control plane `upgrade node`; then each node in turn (control planes first)
is drained, gets the new kubelet/kubectl, restarts the kubelet, is uncordoned and is
waited for Ready before the next.
"""

from __future__ import annotations

import re

from components.cluster.host_scripts import HEADER

_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")
ADMIN_CONF = "/etc/kubernetes/admin.conf"


def _parse(version: str) -> tuple[int, int, int]:
    m = _VERSION.match(version.strip())
    if not m:
        raise ValueError(f"{version!r} is not a version like 1.34.5")
    major, minor, patch = (int(g) for g in m.groups())
    return major, minor, patch


def version_step_problem(current: str | None, requested: str) -> str | None:
    """Why going from `current` (what the cluster runs) to `requested` is refused, or None.

    No current version (a new cluster) allows anything; kubeadm upgrades one minor at a
    time and never downgrades.
    """
    if not current:
        return None
    cur, req = _parse(current), _parse(requested)
    if req == cur:
        return None
    if req < cur:
        return f"{requested} is older than {current}, which the cluster runs: kubeadm does not downgrade"
    if req[0] != cur[0] or req[1] > cur[1] + 1:
        nxt = f"{cur[0]}.{cur[1] + 1}"
        return (
            f"{requested} skips a minor: the cluster runs {current}; upgrade to the latest {nxt}.x first "
            "(kubeadm upgrades one minor at a time)"
        )
    return None


def upgrade_first_control_plane_script(version: str) -> str:
    v = ".".join(str(x) for x in _parse(version))
    return (
        HEADER
        + f"""export KUBECONFIG={ADMIN_CONF}
current="$(kubeadm version -o short)"
if [ "$current" != "v{v}" ]; then
  echo "homelab: kubeadm is $current, not v{v}: its package is upgraded first" >&2
  exit 1
fi
kubeadm upgrade plan "v{v}"
kubeadm upgrade apply -y "v{v}"
echo "homelab: control plane upgraded to v{v}"
"""
    )


def upgrade_other_control_plane_script() -> str:
    return HEADER + 'kubeadm upgrade node\necho "homelab: $(hostname) upgraded (kubeadm upgrade node)"\n'


def drain_script(node: str) -> str:
    """On the first control plane, before a node's kubelet is upgraded."""
    return (
        HEADER
        + f"""export KUBECONFIG={ADMIN_CONF}
kubectl cordon {node}
kubectl drain {node} --ignore-daemonsets --delete-emptydir-data --timeout=600s
"""
    )


def uncordon_script(node: str, version: str) -> str:
    """On the first control plane, after the node's kubelet restarted: Ready at `version`, then uncordon."""
    v = ".".join(str(x) for x in _parse(version))
    return (
        HEADER
        + f"""export KUBECONFIG={ADMIN_CONF}
for _ in $(seq 60); do
  if [ "$(kubectl get node {node} -o jsonpath='{{.status.nodeInfo.kubeletVersion}}')" = "v{v}" ] \\
    && kubectl wait --for=condition=Ready node/{node} --timeout=10s >/dev/null 2>&1; then
    kubectl uncordon {node}
    echo "homelab: {node} is Ready at v{v}"
    exit 0
  fi
  sleep 5
done
echo "homelab: {node} did not come back Ready at v{v}; the rollout stops here" >&2
exit 1
"""
    )

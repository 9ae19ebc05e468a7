"""Kubernetes upgrades, one minor at a time: the version-skew rule and the host scripts. Pure.

Wired into KubeadmCluster by components/cluster/upgrade_chain.py. Order (kubeadm's):
the first control plane runs `upgrade plan` then `upgrade apply`; every other control
plane `upgrade node`; then each node in turn (control planes first) is drained, gets the
new kubelet/kubectl (a worker runs `kubeadm upgrade node` first), restarts the kubelet, is
waited for at the new version and uncordoned before the next.

Every script checks what already runs at the new version first, so it is safe to run
again: a rollout stopped by a failing node resumes there on the next `up`. What the
cluster runs is read on the host, from the API server's static pod image tag (it answers
with the API down too); no copy of it is kept in the stack's state.
"""

from __future__ import annotations

import re
import shlex

from components.cluster.host_scripts import HEADER, STATE_DIR, _package_source_vars, _signing_key_lines
from components.cluster.model import ClusterSpec

_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")
ADMIN_CONF = "/etc/kubernetes/admin.conf"
MANIFEST = "/etc/kubernetes/manifests/kube-apiserver.yaml"
# One line per `kubeadm upgrade apply|node` that ran on the host (the real test counts them).
UPGRADE_LOG = f"{STATE_DIR}/upgrades.log"
# Nodes of a cluster without a CNI yet stay NotReady with this in their Ready condition.
NO_CNI = "NetworkPluginNotReady|cni plugin not initialized|network plugin is not ready"


def _parse(version: str) -> tuple[int, int, int]:
    m = _VERSION.match(version.strip())
    if not m:
        raise ValueError(f"{version!r} is not a version like 1.34.5")
    major, minor, patch = (int(g) for g in m.groups())
    return major, minor, patch


def _plain(version: str) -> str:
    return ".".join(str(x) for x in _parse(version))


def version_step_problem(current: str | None, requested: str) -> str | None:
    """Why going from `current` (what the cluster runs) to `requested` is refused, or None.

    No current version (a new cluster) allows anything; kubeadm upgrades one minor at a
    time and never downgrades. `step_rule_lines` is the same rule in shell.
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


def step_rule_lines(manifest: str = MANIFEST) -> str:
    """Shell functions: `running_version` (this host's API server tag, '' without one),
    `control_plane_at V` (all three control-plane static pods at V: an upgrade that stopped
    half-way is not taken for done) and `refuse_step HAVE WANT` (exits 1 naming both
    versions when kubeadm cannot go there)."""
    manifests = manifest.rsplit("/", 1)[0]
    return (
        f"""running_version() {{
  if [ -f {manifest} ]; then
    sed -n 's/^[ -]*image: .*kube-apiserver:v\\([0-9][0-9.]*\\).*/\\1/p' {manifest} | head -n 1
  fi
}}
control_plane_at() {{
  local c
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    grep -q "^[ -]*image: .*/$c:v$1\\$" "{manifests}/$c.yaml" 2>/dev/null || return 1
  done
}}
"""
        + r"""refuse_step() {
  local have="$1" want="$2" why=""
  if [ -z "$have" ] || [ "$have" = "$want" ]; then
    return 0
  fi
  local hmaj="${have%%.*}" hrest="${have#*.}" wmaj="${want%%.*}" wrest="${want#*.}"
  local hmin="${hrest%%.*}" wmin="${wrest%%.*}"
  if [ "$(printf '%s\n%s\n' "$have" "$want" | sort -V | head -n 1)" = "$want" ]; then
    why="$want is older than $have, which the cluster runs: kubeadm does not downgrade"
  elif [ "$wmaj" != "$hmaj" ] || [ "$wmin" -gt $((hmin + 1)) ]; then
    why="$want skips a minor: the cluster runs $have; upgrade to the latest $hmaj.$((hmin + 1)).x first"
    why="$why (kubeadm upgrades one minor at a time)"
  fi
  if [ -n "$why" ]; then
    echo "homelab:cluster.kubernetesVersion: $why" >&2
    exit 1
  fi
}
"""
    )


def running_version_script(requested: str, manifest: str = MANIFEST) -> str:
    """`<cluster>-running-version`, on the first control plane before any prepare: refuse a
    version the running cluster cannot be moved to (a skipped minor, a downgrade), naming
    both. One minor up, or a patch, passes: the upgrade resources do the rest.

    It fails rather than printing a verdict, so the engine keeps the old inputs and the
    next `up` reads the running version again (after a manual upgrade, say).
    """
    return (
        HEADER
        + step_rule_lines(manifest)
        + f"""want={_plain(requested)}
have="$(running_version)"
echo "running=$have"
refuse_step "$have" "$want"
if [ -n "$have" ] && [ "$have" != "$want" ]; then
  echo "homelab: the cluster runs $have; upgrading to $want (kubeadm upgrade, then node by node)"
fi
"""
    )


def _pin_lines(spec: ClusterSpec) -> str:
    """`pin PKG...`: the packages at the cluster's version from its minor's repository, held.

    The repository is switched to the new minor's (pkgs.k8s.io has one per minor); a
    repository holding several versions works too: apt picks by `=version`.
    """
    minor = ".".join(spec.kubernetes_version.split(".")[:2])
    return (
        f'K8S_VERSION="{_plain(spec.kubernetes_version)}"\n'
        + _package_source_vars(spec, minor)
        + "export DEBIAN_FRONTEND=noninteractive\n"
        + _signing_key_lines(spec)
        + r"""installed_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true; }
at_version() {  # every named package installed at $K8S_VERSION
  local pkg
  for pkg in "$@"; do
    [ "$(installed_version "$pkg" | cut -d- -f1)" = "$K8S_VERSION" ] || return 1
  done
}
# `kubeadm upgrade node` reads the cluster's configuration from the API server: a busy one
# (a control plane just restarted) may time out once; it is safe to run again.
upgrade_node() {
  local attempt
  for attempt in 1 2 3; do
    if kubeadm upgrade node; then
      return 0
    fi
    echo "homelab: kubeadm upgrade node failed on $(hostname) (attempt $attempt of 3)" >&2
    [ "$attempt" = 3 ] || sleep 10
  done
  return 1
}
pin() {
  local pkg want=()
  install -m 0755 -d /etc/apt/keyrings
  if [ -n "$K8S_KEY_URL" ]; then
    curl -fsSL "$K8S_KEY_URL" | gpg --dearmor --yes -o "$K8S_KEYRING"
  fi
  echo "deb [signed-by=$K8S_KEYRING] $K8S_REPO /" > /etc/apt/sources.list.d/kubernetes.list
  apt-get update -q >/dev/null
  if [ -n "$K8S_PKG_VERSION" ]; then
    PKG_VERSION="$(apt-cache madison kubeadm | awk -v v="$K8S_PKG_VERSION" '$3 == v {print $3; exit}')"
  else
    PKG_VERSION="$(apt-cache madison kubeadm | awk -v v="$K8S_VERSION" '$3 ~ "^"v"-" {print $3; exit}')"
  fi
  if [ -z "$PKG_VERSION" ]; then
    echo "homelab: kubeadm ${K8S_PKG_VERSION:-$K8S_VERSION} is not in $K8S_REPO" >&2
    exit 1
  fi
  for pkg in "$@"; do want+=("$pkg=$PKG_VERSION"); done
  apt-mark unhold "$@" >/dev/null 2>&1 || true
  apt-get install -y -q --allow-downgrades "${want[@]}"
  apt-mark hold "$@" >/dev/null
}
"""
    )


def _no_cni_lines() -> str:
    """`ignore_without_cni`: kubeadm's health checks that cannot pass before a CNI exists."""
    messages = '{range .items[*]}{.status.conditions[?(@.type=="Ready")].message}{"\\n"}{end}'
    return f"""ignore_without_cni() {{
  if kubectl get nodes -o jsonpath={shlex.quote(messages)} | grep -E {shlex.quote(NO_CNI)} >/dev/null; then
    echo "homelab: nodes are NotReady for want of a CNI: kubeadm's CreateJob and" \\
      "ControlPlaneNodesReady checks are skipped" >&2
    echo "--ignore-preflight-errors=CreateJob,ControlPlaneNodesReady"
  fi
}}
"""


def upgrade_first_control_plane_script(spec: ClusterSpec) -> str:
    """`<cluster>-<first>-upgrade-apply`: new kubeadm, `upgrade plan`, `upgrade apply`; once."""
    v = _plain(spec.kubernetes_version)
    return (
        HEADER
        + step_rule_lines()
        + _pin_lines(spec)
        + _no_cni_lines()
        + f"""export KUBECONFIG={ADMIN_CONF}
have="$(running_version)"
if [ -z "$have" ]; then
  echo "homelab: $(hostname) runs no API server; nothing to upgrade" >&2
  exit 1
fi
if control_plane_at "{v}"; then
  echo "homelab: the control plane already runs v{v}"
  exit 0
fi
refuse_step "$have" "{v}"
at_version kubeadm || pin kubeadm
ignore="$(ignore_without_cni)"
# shellcheck disable=SC2086 # empty or one flag
kubeadm upgrade plan $ignore "v{v}"
# shellcheck disable=SC2086
kubeadm upgrade apply -y $ignore "v{v}"
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $(hostname) kubeadm upgrade apply v$have -> v{v}" >> {UPGRADE_LOG}
echo "homelab: control plane upgraded from v$have to v{v}"
"""
    )


def upgrade_other_control_plane_script(spec: ClusterSpec) -> str:
    """`<cluster>-<cp>-upgrade-node` on every other control plane, one at a time."""
    v = _plain(spec.kubernetes_version)
    return (
        HEADER
        + step_rule_lines()
        + _pin_lines(spec)
        + f"""have="$(running_version)"
if control_plane_at "{v}"; then
  echo "homelab: $(hostname)'s control plane already runs v{v}"
  exit 0
fi
at_version kubeadm || pin kubeadm
upgrade_node
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $(hostname) kubeadm upgrade node v$have -> v{v}" >> {UPGRADE_LOG}
echo "homelab: $(hostname)'s control plane upgraded from v$have to v{v}"
"""
    )


def _kubelet_version(node: str) -> str:
    return f"kubectl get node {node} -o jsonpath='{{.status.nodeInfo.kubeletVersion}}'"


def drain_script(node: str, version: str) -> str:
    """`<cluster>-<node>-drain`, on the first control plane: cordon and drain, unless the
    node's kubelet already runs `version`."""
    v = _plain(version)
    return (
        HEADER
        + f"""export KUBECONFIG={ADMIN_CONF}
if [ "$({_kubelet_version(node)})" = "v{v}" ]; then
  echo "homelab: {node}'s kubelet already runs v{v}; not drained"
  exit 0
fi
kubectl cordon {node}
if ! kubectl drain {node} --ignore-daemonsets --delete-emptydir-data --timeout=300s; then
  echo "homelab: {node} did not drain; the rollout stops here (it stays cordoned; fix and run up again)" >&2
  exit 1
fi
"""
    )


def kubelet_script(spec: ClusterSpec, node: str, control_plane: bool, *, managed: bool = True) -> str:
    """`<cluster>-<node>-kubelet`, on the node: re-pin the packages and restart the kubelet
    (a worker first runs `kubeadm upgrade node`, which refreshes its kubelet config).

    A node with `prepare: false` has its packages installed by its owner: the step only
    checks the kubelet's version and, when it is not there yet, stops the rollout saying so.
    """
    v = _plain(spec.kubernetes_version)
    if not managed:
        return (
            HEADER
            + f"""have="$(kubelet --version 2>/dev/null | awk '{{print $2}}')"
if [ "$have" = "v{v}" ]; then
  echo "homelab: {node}'s kubelet runs v{v}"
  exit 0
fi
echo "homelab: {node} has prepare: false and kubelet ${{have:-(none)}}: upgrade kubeadm, kubelet and" \\
  "kubectl to v{v} on it yourself (kubeadm's procedure), then run up again" >&2
exit 1
"""
        )
    stamp = f'echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) {node} kubeadm upgrade node -> v{v}" >> {UPGRADE_LOG}'
    worker = "" if control_plane else f"upgrade_node\n{stamp}\n"
    return (
        HEADER
        + _pin_lines(spec)
        + f"""if at_version kubeadm kubelet kubectl; then
  echo "homelab: {node} already has kubelet, kubeadm and kubectl v{v}"
  exit 0
fi
at_version kubeadm || pin kubeadm
{worker}pin kubelet kubectl
systemctl daemon-reload
systemctl restart kubelet
echo "homelab: {node}'s kubelet restarted at v{v}"
"""
    )


def uncordon_script(node: str, version: str, attempts: int = 60) -> str:
    """`<cluster>-<node>-uncordon`, on the first control plane: the node's kubelet reports
    `version`, then Ready (not awaited while NotReady for want of a CNI), then uncordon."""
    v = _plain(version)
    return (
        HEADER
        + f"""export KUBECONFIG={ADMIN_CONF}
for _ in $(seq {attempts}); do
  if [ "$({_kubelet_version(node)} 2>/dev/null || true)" = "v{v}" ]; then
    ready="$(kubectl get node {node} -o jsonpath='{{.status.conditions[?(@.type=="Ready")].status}}' || true)"
    why="$(kubectl get node {node} -o jsonpath='{{.status.conditions[?(@.type=="Ready")].message}}' || true)"
    if [ "$ready" = "True" ]; then
      kubectl uncordon {node}
      echo "homelab: {node} is Ready at v{v}"
      exit 0
    fi
    if printf '%s' "$why" | grep -qE {shlex.quote(NO_CNI)}; then
      kubectl uncordon {node}
      echo "homelab: {node} runs v{v}; NotReady for want of a CNI, so Ready is not awaited"
      exit 0
    fi
  fi
  sleep 5
done
echo "homelab: {node} did not come back Ready at v{v}; the rollout stops here" >&2
exit 1
"""
    )

"""Shell scripts run on the hosts over SSH. Pure: each returns the text of one script.

Every script is safe to run again: it checks what is already in place first. The
remote command is always `SUDO_BASH` with the script on stdin, so the script text
(and any secret inside it) never appears on a command line.
"""

from __future__ import annotations

import shlex

from components.cluster.kube_vip import ADMIN_CONF, MANIFEST_PATH, SUPER_ADMIN_CONF, render_kube_vip
from components.cluster.model import ClusterSpec, NodeSpec

SUDO_BASH = 'if [ "$(id -u)" -eq 0 ]; then bash -s; else sudo -n bash -s; fi'
STATE_DIR = "/etc/kubernetes/homelab"
INIT_CONFIG = f"{STATE_DIR}/kubeadm-init.yaml"
INIT_MARKER = f"{STATE_DIR}/initialised"
INIT_LOG = f"{STATE_DIR}/kubeadm-init.log"
JOIN_MARKER = f"{STATE_DIR}/joined"
HEADER = (
    "#!/usr/bin/env bash\n# Rendered by homelab; safe to run again.\nset -euo pipefail\n"
    # Empty a directory but keep it: it may be a mount point (an etcd disk, say).
    'clear_dir() { for d in "$@"; do [ -d "$d" ] && find "$d" -mindepth 1 -delete; done; return 0; }\n'
)
_EOF = "HOMELAB_EOF"


def sudo_bash_c(script: str) -> str:
    """A command line running `script` as root without reading stdin."""
    q = shlex.quote(script)
    return f'if [ "$(id -u)" -eq 0 ]; then bash -c {q}; else sudo -n bash -c {q}; fi'


def write_file(path: str, content: str, mode: str = "0600") -> str:
    """Shell lines that write `content` to `path` verbatim (quoted heredoc: no expansion)."""
    if any(line.strip() == _EOF for line in content.splitlines()):
        raise ValueError(f"content for {path} contains the heredoc terminator {_EOF}")
    body = content if content.endswith("\n") else content + "\n"
    q = shlex.quote(path)
    return (
        f"install -d -m 0755 {shlex.quote(path.rsplit('/', 1)[0] or '/')}\n"
        f"cat > {q}.tmp <<'{_EOF}'\n{body}{_EOF}\n"
        f"chmod {mode} {q}.tmp\nmv -f {q}.tmp {q}\n"
    )


def prepare_script(kubernetes_version: str) -> str:
    """Kernel modules, sysctls, swap off, containerd (systemd cgroups), pinned kube packages."""
    minor = ".".join(kubernetes_version.split(".")[:2])
    return (
        HEADER
        + f'K8S_VERSION="{kubernetes_version}"\nK8S_MINOR="v{minor}"\n'
        + r"""export DEBIAN_FRONTEND=noninteractive

if ! command -v apt-get >/dev/null 2>&1; then
  echo "homelab: host preparation supports Debian/Ubuntu (apt) only; set prepare: false for this node" >&2
  exit 1
fi

# Kernel modules and sysctls the kubelet and the CNI need, now and at boot.
printf 'overlay\nbr_netfilter\n' > /etc/modules-load.d/homelab-k8s.conf
modprobe overlay
modprobe br_netfilter
cat > /etc/sysctl.d/99-homelab-k8s.conf <<'SYSCTL'
net.ipv4.ip_forward = 1
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
SYSCTL
sysctl --system >/dev/null

# The kubelet refuses to run with swap on.
swapoff -a
sed -ri '/^[^#].*\sswap\s/s/^/# disabled by homelab: /' /etc/fstab
systemctl mask --now swap.target >/dev/null 2>&1 || true

installed_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true; }

# containerd with the systemd cgroup driver (the kubelet uses systemd too).
if [ -z "$(installed_version containerd)" ] && [ -z "$(installed_version containerd.io)" ]; then
  apt-get update -q
  apt-get install -y -q containerd
fi
mkdir -p /etc/containerd
if ! grep -q 'SystemdCgroup = true' /etc/containerd/config.toml 2>/dev/null; then
  containerd config default > /etc/containerd/config.toml
  sed -i 's/SystemdCgroup = false/SystemdCgroup = true/' /etc/containerd/config.toml
  systemctl restart containerd
fi
systemctl enable --now containerd >/dev/null

# kubelet, kubeadm, kubectl from pkgs.k8s.io, pinned and held.
if [ "$(installed_version kubeadm)" != "" ] && [ "$(installed_version kubeadm | cut -d- -f1)" = "$K8S_VERSION" ] \
  && [ "$(installed_version kubelet | cut -d- -f1)" = "$K8S_VERSION" ] \
  && [ "$(installed_version kubectl | cut -d- -f1)" = "$K8S_VERSION" ]; then
  echo "homelab: kubernetes packages $K8S_VERSION already installed"
else
  apt-get update -q
  apt-get install -y -q apt-transport-https ca-certificates curl gpg conntrack socat
  install -m 0755 -d /etc/apt/keyrings
  curl -fsSL "https://pkgs.k8s.io/core:/stable:/${K8S_MINOR}/deb/Release.key" \
    | gpg --dearmor --yes -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg
  echo "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/${K8S_MINOR}/deb/ /" \
    > /etc/apt/sources.list.d/kubernetes.list
  apt-get update -q
  PKG_VERSION="$(apt-cache madison kubeadm | awk -v v="$K8S_VERSION" '$3 ~ "^"v"-" {print $3; exit}')"
  if [ -z "$PKG_VERSION" ]; then
    echo "homelab: kubeadm $K8S_VERSION is not in pkgs.k8s.io ${K8S_MINOR}" >&2
    exit 1
  fi
  apt-mark unhold kubelet kubeadm kubectl >/dev/null 2>&1 || true
  apt-get install -y -q --allow-downgrades \
    "kubelet=$PKG_VERSION" "kubeadm=$PKG_VERSION" "kubectl=$PKG_VERSION" kubernetes-cni
  apt-mark hold kubelet kubeadm kubectl >/dev/null
fi
systemctl enable kubelet >/dev/null
echo "homelab: host prepared for Kubernetes $K8S_VERSION"
"""
    )


def _files(spec: ClusterSpec, files: dict[str, str]) -> str:
    return "".join(write_file(path, content) for path, content in sorted(files.items()))


def init_script(spec: ClusterSpec, kubeadm_config: str, extra_files: dict[str, str]) -> str:
    """`kubeadm init` on the first control plane, never twice.

    A completed init leaves a marker; without it, leftovers of a failed attempt are
    reset first, so the next `pulumi up` retries cleanly.
    """
    node = spec.first_control_plane
    vip = ""
    vip_after = ""
    if spec.vip:
        vip = write_file(MANIFEST_PATH, render_kube_vip(spec, kubeconfig=SUPER_ADMIN_CONF))
        vip_after = write_file(MANIFEST_PATH, render_kube_vip(spec, kubeconfig=ADMIN_CONF))
    return (
        HEADER
        + f"""if [ -f {INIT_MARKER} ]; then
  echo "homelab: {node.name} was initialised before; kubeadm init is not run again"
  exit 0
fi
if [ -f {JOIN_MARKER} ]; then
  echo "homelab: {node.name} joined an existing cluster; refusing to run kubeadm init on it" >&2
  exit 1
fi
if [ -e /etc/kubernetes/manifests/kube-apiserver.yaml ] || [ -d /var/lib/etcd/member ] || [ -f /etc/kubernetes/kubelet.conf ]; then
  echo "homelab: leftovers of an unfinished kubeadm init on {node.name}; resetting first"
  kubeadm reset -f
  clear_dir /var/lib/etcd /etc/cni/net.d
fi
"""
        + write_file(INIT_CONFIG, kubeadm_config)
        + _files(spec, extra_files)
        + vip
        + f"""# kubeadm prints a join command with a bootstrap token and the certificate key:
# keep its output in a root-only file, never in Pulumi's logs or state.
if ! (umask 077; kubeadm init --config {INIT_CONFIG} --upload-certs > {INIT_LOG} 2>&1); then
  echo "homelab: kubeadm init failed on {node.name}; the end of {INIT_LOG}:" >&2
  tail -n 40 {INIT_LOG} | grep -viE 'token|certificate-key' >&2 || true
  exit 1
fi
"""
        + vip_after
        + f"""touch {INIT_MARKER}
echo "homelab: {node.name} initialised"
"""
    )


def cluster_config_script(spec: ClusterSpec, kubeadm_config: str, extra_files: dict[str, str]) -> str:
    """Keep kube-system/kubeadm-config and the first control plane's API certificate current.

    Runs after init and whenever the ClusterConfiguration changes (e.g. a control plane
    is added, so certSANs grow); later joins read the uploaded configuration.
    """
    sans = " ".join(shlex.quote(s) for s in spec.cert_sans())
    return (
        HEADER
        + write_file(INIT_CONFIG, kubeadm_config)
        + _files(spec, extra_files)
        + f"""export KUBECONFIG={ADMIN_CONF}
kubeadm init phase upload-config kubeadm --config {INIT_CONFIG}
missing=""
for san in {sans}; do
  if ! openssl x509 -in /etc/kubernetes/pki/apiserver.crt -noout -ext subjectAltName | grep -Fqw -- "$san"; then
    missing="$missing $san"
  fi
done
if [ -n "$missing" ]; then
  echo "homelab: API server certificate lacks:$missing; reissuing it"
  mv /etc/kubernetes/pki/apiserver.crt /etc/kubernetes/pki/apiserver.crt.old
  mv /etc/kubernetes/pki/apiserver.key /etc/kubernetes/pki/apiserver.key.old
  kubeadm init phase certs apiserver --config {INIT_CONFIG}
  # The kubelet restarts the static pod's container; it then serves the new certificate.
  crictl --runtime-endpoint unix:///run/containerd/containerd.sock ps -q --name kube-apiserver \\
    | xargs -r crictl --runtime-endpoint unix:///run/containerd/containerd.sock stop >/dev/null
fi
echo "homelab: cluster configuration uploaded"
"""
    )


def apiserver_files_script(extra_files: dict[str, str]) -> str:
    """Structured authn/authz files on a control plane; the API server reloads them itself."""
    return HEADER + "".join(write_file(p, c) for p, c in sorted(extra_files.items())) + 'echo "homelab: done"\n'


def join_info_script(node: NodeSpec) -> str:
    """On the first control plane: a fresh token (and certificate key) for one join, as JSON.

    Its stdout is a secret: the command that runs it logs nothing.
    """
    cert_key = ""
    if node.is_control_plane:
        cert_key = 'KEY="$(kubeadm init phase upload-certs --upload-certs 2>/dev/null | tail -n 1)"\n'
    else:
        cert_key = 'KEY=""\n'
    return (
        HEADER
        + f"""export KUBECONFIG={ADMIN_CONF}
TOKEN="$(kubeadm token create --ttl 2h --description 'homelab join of {node.name}')"
HASH="$(openssl x509 -pubkey -noout -in /etc/kubernetes/pki/ca.crt | openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1)"
"""
        + cert_key
        + """printf '{"token":"%s","caCertHash":"sha256:%s","certificateKey":"%s"}\\n' "$TOKEN" "$HASH" "$KEY"
"""
    )


def join_script(spec: ClusterSpec, node: NodeSpec, join_config: str, extra_files: dict[str, str]) -> str:
    """`kubeadm join` on one node, never twice; the config (with its token) is removed after."""
    config = f"{STATE_DIR}/kubeadm-join.yaml"
    vip = write_file(MANIFEST_PATH, render_kube_vip(spec)) if (spec.vip and node.is_control_plane) else ""
    return (
        HEADER
        + f"""if [ -f {JOIN_MARKER} ] || [ -f {INIT_MARKER} ]; then
  echo "homelab: {node.name} is already part of the cluster"
  exit 0
fi
if [ -f /etc/kubernetes/kubelet.conf ] || [ -e /etc/kubernetes/manifests/kube-apiserver.yaml ]; then
  echo "homelab: leftovers of an unfinished kubeadm join on {node.name}; resetting first"
  kubeadm reset -f
  clear_dir /var/lib/etcd /etc/cni/net.d
fi
"""
        + write_file(config, join_config)
        + _files(spec, extra_files)
        + f"""trap 'rm -f {config}' EXIT
kubeadm join --config {config}
"""
        + vip
        + f"""touch {JOIN_MARKER}
echo "homelab: {node.name} joined as {node.role}"
"""
    )


def reset_script(node: NodeSpec) -> str:
    """Run on a node that leaves the cluster (after it was drained and deleted)."""
    return (
        HEADER
        + f"""if command -v kubeadm >/dev/null 2>&1; then
  kubeadm reset -f
fi
clear_dir /etc/cni/net.d /var/lib/etcd
rm -rf {STATE_DIR} {MANIFEST_PATH}
echo "homelab: {node.name} reset"
"""
    )


def drain_script(node: NodeSpec) -> str:
    """On the first control plane: drain a leaving node and delete its Node object."""
    return (
        HEADER
        + f"""export KUBECONFIG={ADMIN_CONF}
if kubectl get node {node.name} >/dev/null 2>&1; then
  kubectl drain {node.name} --ignore-daemonsets --delete-emptydir-data --force --timeout=300s || \\
    echo "homelab: drain of {node.name} did not finish; deleting it anyway" >&2
  kubectl delete node {node.name} --ignore-not-found
fi
"""
    )


def kubeconfig_script() -> str:
    return HEADER + f"cat {ADMIN_CONF}\n"

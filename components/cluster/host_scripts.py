"""Shell scripts run on the hosts over SSH. Pure: each returns the text of one script.

Every script is safe to run again: it checks what is already in place first. The
remote command is always `SUDO_BASH` with the script on stdin, so the script text
(and any secret inside it) never appears on a command line.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from components.cluster.containerd import CERTS_DIR, HOSTS_MARKER, PAUSE_VERSIONS, config_edits, registry_files
from components.cluster.kube_vip import ADMIN_CONF, MANIFEST_PATH, SUPER_ADMIN_CONF, render_kube_vip
from components.cluster.model import ClusterSpec, NodeSpec

SUDO_BASH = 'if [ "$(id -u)" -eq 0 ]; then bash -s; else sudo -n bash -s; fi'
STATE_DIR = "/etc/kubernetes/homelab"
INIT_CONFIG = f"{STATE_DIR}/kubeadm-init.yaml"
APISERVER_MANIFEST = "/etc/kubernetes/manifests/kube-apiserver.yaml"
RUNNING_VERSION = "@RUNNING_VERSION@"  # filled in on the host: what its API server runs
INIT_MARKER = f"{STATE_DIR}/initialised"
INIT_LOG = f"{STATE_DIR}/kubeadm-init.log"
JOIN_MARKER = f"{STATE_DIR}/joined"
HEADER = (
    "#!/usr/bin/env bash\n# Rendered by homelab; safe to run again.\nset -euo pipefail\n"
    # Empty a directory but keep it: it may be a mount point (an etcd disk, say).
    'clear_dir() { for d in "$@"; do [ -d "$d" ] && find "$d" -mindepth 1 -delete; done; return 0; }\n'
)
_EOF = "HOMELAB_EOF"


def sudo_bash_env(env: Mapping[str, str]) -> str:
    """SUDO_BASH with `env` set for the script on stdin (values that are no secret)."""
    assigns = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    return f'if [ "$(id -u)" -eq 0 ]; then env {assigns} bash -s; else sudo -n env {assigns} bash -s; fi'


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


KEYRING_DIR = "/etc/apt/keyrings"


def _package_source_vars(spec: ClusterSpec, minor: str) -> str:
    """Shell variables naming where the packages and images come from (shown in the render)."""
    pkgs = spec.packages
    inline = bool(pkgs.signing_key)
    keyring = f"{KEYRING_DIR}/kubernetes-apt-keyring.{'asc' if inline else 'gpg'}"
    values = {
        "K8S_REPO": pkgs.repository(minor),
        "K8S_KEY_URL": pkgs.key_url(minor),
        "K8S_KEYRING": keyring,
        "K8S_PKG_VERSION": pkgs.package_version,
        # curl and gpg only fetch and dearmor a key given by URL
        "KEY_TOOLS": "" if inline else "curl gpg",
    }
    return "".join(f"{k}={shlex.quote(v) if v else chr(34) * 2}\n" for k, v in values.items())


def _signing_key_lines(spec: ClusterSpec) -> str:
    """An inline key is written as is: apt reads ASCII-armored keys from a .asc file."""
    if not spec.packages.signing_key:
        return ""
    return "\n# The Kubernetes repository's signing key, from the stack.\n" + write_file(
        f"{KEYRING_DIR}/kubernetes-apt-keyring.asc", spec.packages.signing_key, mode="0644"
    )


def _registry_lines(spec: ClusterSpec) -> str:
    """hosts.toml (and CA) per configured registry; containerd reads them on every pull.

    Directories this script wrote for registries no longer in the stack are removed; any
    other file under certs.d is left alone.
    """
    files = registry_files(spec)
    hosts = " ".join(sorted({r.host for r in spec.registries}))
    return (
        "\n# Registry settings (containerd's config_path); a change needs no restart.\n"
        + "".join(write_file(path, content, mode="0644") for path, content in sorted(files.items()))
        + f"""homelab_registries={shlex.quote(f" {hosts} ")}
for dir in {CERTS_DIR}/*/; do
  dir="${{dir%/}}"
  if [ -f "$dir/hosts.toml" ] && grep -qxF {shlex.quote(HOSTS_MARKER)} "$dir/hosts.toml"; then
    case "$homelab_registries" in
      *" ${{dir##*/}} "*) ;;
      *) rm -rf "$dir" ;;
    esac
  fi
done
"""
    )


PAUSE_IMAGE_VAR = "@PAUSE_IMAGE@"


def _double_quoted(text: str) -> str:
    """`text` in double quotes for bash, with PAUSE_IMAGE_VAR left to expand as $PAUSE_IMAGE."""
    escaped = "".join("\\" + c if c in '\\"$`' else c for c in text)
    return '"' + escaped.replace(PAUSE_IMAGE_VAR, "${PAUSE_IMAGE}") + '"'


def containerd_section(spec: ClusterSpec) -> str:
    """The prepare script's containerd part: config (restart on change only) and registries."""
    # The sandbox image comes from $PAUSE_IMAGE (prepare_release_env): it follows the release.
    edits = "".join(f" \\\n  -e {_double_quoted(e)}" for e in config_edits(spec, image=PAUSE_IMAGE_VAR))
    return (
        r"""# containerd with the systemd cgroup driver (the kubelet uses systemd too), the sandbox
# image kubeadm expects (from the configured image repository), and registry settings
# read from /etc/containerd/certs.d. Restarted only when its config changes.
if [ -z "$(installed_version containerd)" ] && [ -z "$(installed_version containerd.io)" ]; then
  apt-get update -q
  apt-get install -y -q containerd
fi
mkdir -p /etc/containerd
containerd config default | sed -E@EDITS@ \
  > /etc/containerd/config.toml.homelab
for want in 'SystemdCgroup = true' @IMAGE@ 'config_path = "/etc/containerd/certs.d"'; do
  if ! grep -qF -- "$want" /etc/containerd/config.toml.homelab; then
    rm -f /etc/containerd/config.toml.homelab
    echo "homelab: this containerd's default config has no place for: $want" >&2
    exit 1
  fi
done
# Where root cannot lower OOM scores (LXC/nspawn nodes lack CAP_SYS_RESOURCE), runc fails to
# start any container ("can't get final child's PID") unless containerd keeps containers'
# scores at or above its own.
if ! (echo -1 > /proc/self/oom_score_adj) 2>/dev/null; then
  sed -i 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' /etc/containerd/config.toml.homelab
fi
if cmp -s /etc/containerd/config.toml.homelab /etc/containerd/config.toml; then
  rm -f /etc/containerd/config.toml.homelab
else
  mv -f /etc/containerd/config.toml.homelab /etc/containerd/config.toml
  systemctl restart containerd
fi
systemctl enable --now containerd >/dev/null
""".replace("@EDITS@", edits).replace("@IMAGE@", '"\\"$PAUSE_IMAGE\\""')
        + _registry_lines(spec)
    )


def prepare_release_env(spec: ClusterSpec) -> dict[str, str]:
    """The Kubernetes version, the one thing of the prepare script that is fixed per host.

    It travels on the command line, which the prepare command sets when it is created and
    then ignores: a version bump moves members through the upgrade steps, so it must not
    show (or run) a prepare on every host; a host added later is prepared at the new one.
    What follows from it (the minor's repository and key, the sandbox image) is derived on
    the host by release_lines, from settings that do re-run the prepare when they change.
    """
    return {"K8S_VERSION": spec.kubernetes_version}


def release_lines(spec: ClusterSpec) -> str:
    """Shell: from $K8S_VERSION and the stack's sources, K8S_REPO, K8S_KEY_URL, K8S_PKG_VERSION
    and PAUSE_IMAGE (the sandbox image kubeadm expects for that minor)."""
    pkgs = spec.packages
    key_template = (
        "" if pkgs.signing_key else (pkgs.signing_key_url or pkgs.apt_repository.rstrip("/") + "/Release.key")
    )
    tags: dict[str, list[str]] = {}
    for minor, tag in sorted(PAUSE_VERSIONS.items()):
        tags.setdefault(tag, []).append(f"1.{minor}")
    cases = "".join(f"  {'|'.join(minors)}) PAUSE_TAG={tag} ;;\n" for tag, minors in tags.items())
    latest = PAUSE_VERSIONS[max(PAUSE_VERSIONS)]
    return (
        'K8S_MINOR="${K8S_VERSION%.*}"\n'
        + f"K8S_REPO_TEMPLATE={shlex.quote(pkgs.apt_repository)}\n"
        + f"K8S_KEY_TEMPLATE={shlex.quote(key_template) if key_template else chr(34) * 2}\n"
        + 'K8S_REPO="$(printf %s "$K8S_REPO_TEMPLATE" | sed "s/{minor}/v$K8S_MINOR/g")"\n'
        + 'K8S_KEY_URL="$(printf %s "$K8S_KEY_TEMPLATE" | sed "s/{minor}/v$K8S_MINOR/g")"\n'
        + f"K8S_PKG_VERSION={shlex.quote(pkgs.package_version) if pkgs.package_version else chr(34) * 2}\n"
        + f'case "$K8S_MINOR" in\n{cases}  *) PAUSE_TAG={latest} ;;\nesac\n'
        + f'PAUSE_IMAGE={shlex.quote(spec.images_from)}"/pause:$PAUSE_TAG"\n'
    )


def prepare_script(spec: ClusterSpec) -> str:
    """The whole prepare script, the version included (the render, tests)."""
    env = "".join(f"{k}={shlex.quote(v)}\n" for k, v in prepare_release_env(spec).items())
    return HEADER + env + prepare_body(spec).removeprefix(HEADER)


def prepare_body(spec: ClusterSpec) -> str:
    """Kernel modules, sysctls, swap off, containerd (systemd cgroups, sandbox image, registries),
    kubelet/kubeadm/kubectl pinned from the configured apt repository.

    $K8S_VERSION comes from the environment (prepare_release_env).
    """
    inline = bool(spec.packages.signing_key)
    keyring = f"{KEYRING_DIR}/kubernetes-apt-keyring.{'asc' if inline else 'gpg'}"
    return (
        HEADER
        + ': "${K8S_VERSION?set on the command line}"\n'
        + release_lines(spec)
        + f"K8S_KEYRING={shlex.quote(keyring)}\n"
        + ('KEY_TOOLS=""\n' if inline else "KEY_TOOLS='curl gpg'\n")
        + r"""export DEBIAN_FRONTEND=noninteractive

if ! command -v apt-get >/dev/null 2>&1; then
  echo "homelab: host preparation supports Debian/Ubuntu (apt) only; set prepare: false for this node" >&2
  exit 1
fi

# Kernel modules the kubelet and the CNI need, now and at boot. One the kernel already has
# (built in, or loaded) needs no modprobe: LXC/nspawn nodes and custom kernels may have no
# /lib/modules to load from. Only real modules are listed for loading at boot.
modules_at_boot=""
need_module() {  # module, then a check that passes once the kernel has it
  local module="$1"
  shift
  if ! "$@"; then
    if ! command -v modprobe >/dev/null 2>&1; then
      echo "homelab: the kernel lacks $module and modprobe is missing (apt-get install kmod)" >&2
      exit 1
    fi
    if ! modprobe "$module" || ! "$@"; then
      echo "homelab: kernel module $module is neither built in nor loadable (modprobe $module); the kubelet and the CNI need it" >&2
      exit 1
    fi
  fi
  if grep -qs "^$module " /proc/modules; then
    modules_at_boot="$modules_at_boot$module"$'\n'
  fi
}
need_module overlay grep -qw overlay /proc/filesystems
need_module br_netfilter test -d /proc/sys/net/bridge
if [ -n "$modules_at_boot" ]; then
  printf '%s' "$modules_at_boot" > /etc/modules-load.d/homelab-k8s.conf
else
  rm -f /etc/modules-load.d/homelab-k8s.conf
fi
# Only the project's own sysctls: `sysctl --system` would also apply the distribution's
# files, whose global keys (kernel.pid_max, fs.protected_*) are read-only in a container.
cat > /etc/sysctl.d/99-homelab-k8s.conf <<'SYSCTL'
net.ipv4.ip_forward = 1
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
SYSCTL
sysctl -p /etc/sysctl.d/99-homelab-k8s.conf >/dev/null

# The kubelet refuses to run with swap on.
swapoff -a
sed -ri '/^[^#].*\sswap\s/s/^/# disabled by homelab: /' /etc/fstab
systemctl mask --now swap.target >/dev/null 2>&1 || true

installed_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true; }

"""
        + containerd_section(spec)
        + _signing_key_lines(spec)
        + r"""
# kubelet, kubeadm, kubectl from the Kubernetes apt repository, pinned and held.
if [ "$(installed_version kubeadm)" != "" ] && [ "$(installed_version kubeadm | cut -d- -f1)" = "$K8S_VERSION" ] \
  && [ "$(installed_version kubelet | cut -d- -f1)" = "$K8S_VERSION" ] \
  && [ "$(installed_version kubectl | cut -d- -f1)" = "$K8S_VERSION" ]; then
  echo "homelab: kubernetes packages $K8S_VERSION already installed"
elif [ -n "$(installed_version kubelet)" ] && { [ -f @INIT_MARKER@ ] || [ -f @JOIN_MARKER@ ]; }; then
  # A member of a running cluster: its packages move in the upgrade steps, node by node
  # after the control plane (components/cluster/upgrade_chain.py), never ahead of it here.
  echo "homelab: $(hostname) is in the cluster with kubelet $(installed_version kubelet);" \
    "the upgrade steps move it to $K8S_VERSION"
else
  needed=""
  for pkg in apt-transport-https ca-certificates conntrack socat $KEY_TOOLS; do
    [ -n "$(installed_version "$pkg")" ] || needed="$needed $pkg"
  done
  if [ -n "$needed" ]; then
    apt-get update -q
    # shellcheck disable=SC2086 # a list of package names
    apt-get install -y -q $needed
  fi
  install -m 0755 -d /etc/apt/keyrings
  if [ -n "$K8S_KEY_URL" ]; then
    curl -fsSL "$K8S_KEY_URL" | gpg --dearmor --yes -o "$K8S_KEYRING"
  fi
  echo "deb [signed-by=$K8S_KEYRING] $K8S_REPO /" > /etc/apt/sources.list.d/kubernetes.list
  apt-get update -q
  if [ -n "$K8S_PKG_VERSION" ]; then
    PKG_VERSION="$(apt-cache madison kubeadm | awk -v v="$K8S_PKG_VERSION" '$3 == v {print $3; exit}')"
  else
    PKG_VERSION="$(apt-cache madison kubeadm | awk -v v="$K8S_VERSION" '$3 ~ "^"v"-" {print $3; exit}')"
  fi
  if [ -z "$PKG_VERSION" ]; then
    echo "homelab: kubeadm ${K8S_PKG_VERSION:-$K8S_VERSION} is not in $K8S_REPO" >&2
    exit 1
  fi
  # Where the repository has them (pkgs.k8s.io does): kubernetes-cni (Cilium brings its own
  # plugin) and cri-tools (crictl, used when the API server certificate is reissued; kubeadm
  # >= 1.32 no longer pulls it in).
  extra=""
  for pkg in kubernetes-cni cri-tools; do
    if apt-cache show "$pkg" >/dev/null 2>&1; then extra="$extra $pkg"; fi
  done
  apt-mark unhold kubelet kubeadm kubectl >/dev/null 2>&1 || true
  # shellcheck disable=SC2086 # a list of package names
  apt-get install -y -q --allow-downgrades \
    "kubelet=$PKG_VERSION" "kubeadm=$PKG_VERSION" "kubectl=$PKG_VERSION" $extra
  apt-mark hold kubelet kubeadm kubectl >/dev/null
fi
systemctl enable kubelet >/dev/null
echo "homelab: host prepared for Kubernetes $K8S_VERSION"
""".replace("@INIT_MARKER@", INIT_MARKER).replace("@JOIN_MARKER@", JOIN_MARKER)
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
    # The version is what the control plane runs (kubeadm upgrade apply moves it and
    # uploads it itself), so this script, and its diff, stay the same across a version bump.
    pinned = f"kubernetesVersion: v{spec.kubernetes_version}"
    if pinned not in kubeadm_config:
        raise ValueError(f"the ClusterConfiguration does not name {spec.kubernetes_version} as expected")
    config = kubeadm_config.replace(pinned, f'kubernetesVersion: "{RUNNING_VERSION}"')  # valid YAML until filled in
    return (
        HEADER
        + write_file(INIT_CONFIG, config)
        + _files(spec, extra_files)
        + f"""running="$(sed -n 's/^[ -]*image: .*kube-apiserver:\\(v[0-9][0-9.]*\\).*/\\1/p' {APISERVER_MANIFEST} | head -n 1)"
if [ -z "$running" ]; then
  echo "homelab: no API server on $(hostname) ({APISERVER_MANIFEST}); the cluster configuration needs one" >&2
  exit 1
fi
sed -i "s/\\"{RUNNING_VERSION}\\"/$running/" {INIT_CONFIG}
export KUBECONFIG={ADMIN_CONF}
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

"""kubelet, kubeadm and kubectl as .deb packages shaped like pkgs.k8s.io's.

The texts (control files, systemd units) are pure functions; `build_debs` lays out each
package tree and runs `dpkg-deb --build`.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

REVISION = "1.1"  # pkgs.k8s.io's Debian revision: kubeadm 1.34.5-1.1
MAINTAINER = "homelab local mirror <root@localhost>"
# gzip: every dpkg reads it, and it is far cheaper than xz on a busy build box.
COMPRESSION = ("-Zgzip", "-z6")

# The kubelet unit and kubeadm's drop-in as pkgs.k8s.io ships them
# (kubernetes/release cmd/krel/templates/latest/{kubelet/kubelet.service,kubeadm/10-kubeadm.conf}).
KUBELET_SERVICE = """\
[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
"""

KUBEADM_DROPIN = """\
# Note: This dropin only works with kubeadm and kubelet v1.11+
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
# This is a file that "kubeadm init" and "kubeadm join" generates at runtime, populating the KUBELET_KUBEADM_ARGS variable dynamically
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
# This is a file that the user can use for overrides of the kubelet args as a last resort. Preferably, the user should use
# the .NodeRegistration.KubeletExtraArgs object in the configuration files instead. KUBELET_EXTRA_ARGS should be sourced from this file.
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
"""

KUBELET_DEFAULTS = "KUBELET_EXTRA_ARGS=\n"

# Reload units after install/remove when systemd runs; enabling is the prepare script's job.
SYSTEMD_RELOAD = """\
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
"""


@dataclass(frozen=True)
class DebSpec:
    """One package: its control fields and the files it installs (path in package → source)."""

    name: str
    version: str  # full Debian version, e.g. 1.34.5-1.1
    architecture: str
    summary: str
    section: str
    depends: tuple[str, ...] = ()
    recommends: tuple[str, ...] = ()
    binaries: tuple[tuple[str, Path], ...] = ()  # (/usr/bin/kubelet, source path), mode 0755
    texts: tuple[tuple[str, str, int], ...] = ()  # (path, content, mode)
    dirs: tuple[str, ...] = ()
    conffiles: tuple[str, ...] = ()
    maintainer_scripts: tuple[tuple[str, str], ...] = ()  # (postinst, text)

    @property
    def filename(self) -> str:
        return f"{self.name}_{self.version}_{self.architecture}.deb"


def installed_size_kib(spec: DebSpec) -> int:
    total = sum(src.stat().st_size for _, src in spec.binaries) + sum(len(t.encode()) for _, t, _ in spec.texts)
    return (total + 1023) // 1024


def control_text(spec: DebSpec, installed_size: int) -> str:
    """DEBIAN/control. Field order as dpkg-deb writes it; no blank lines inside."""
    fields = [
        ("Package", spec.name),
        ("Version", spec.version),
        ("Architecture", spec.architecture),
        ("Maintainer", MAINTAINER),
        ("Installed-Size", str(installed_size)),
        ("Depends", ", ".join(spec.depends)),
        ("Recommends", ", ".join(spec.recommends)),
        ("Section", spec.section),
        ("Priority", "optional"),
        ("Homepage", "https://kubernetes.io"),
        ("Description", f"{spec.summary}\n Built by homelab from the Kubernetes sources for an offline mirror."),
    ]
    return "".join(f"{k}: {v}\n" for k, v in fields if v)


def kubernetes_debs(binaries: dict[str, Path], kubernetes_version: str, architecture: str) -> list[DebSpec]:
    """kubelet, kubeadm, kubectl at `<version>-1.1`.

    The kubelet depends only on what a Debian 12 host ships in main; not on
    kubernetes-cni or cri-tools (Cilium installs its own CNI plugin; kubeadm ≥ 1.32
    needs neither), so the prepare script installs kubernetes-cni only where a repository has it.
    """
    version = f"{kubernetes_version}-{REVISION}"
    reload = (("postinst", SYSTEMD_RELOAD), ("postrm", SYSTEMD_RELOAD))
    return [
        DebSpec(
            name="kubelet",
            version=version,
            architecture=architecture,
            summary="Node agent for Kubernetes clusters",
            section="net",
            depends=("iptables (>= 1.4.21)", "iproute2", "mount", "util-linux"),
            recommends=("conntrack", "ethtool", "socat", "ebtables"),
            binaries=(("/usr/bin/kubelet", binaries["kubelet"]),),
            texts=(
                ("/usr/lib/systemd/system/kubelet.service", KUBELET_SERVICE, 0o644),
                ("/etc/default/kubelet", KUBELET_DEFAULTS, 0o644),
            ),
            dirs=("/etc/kubernetes/manifests", "/var/lib/kubelet"),
            conffiles=("/etc/default/kubelet",),
            maintainer_scripts=reload,
        ),
        DebSpec(
            name="kubeadm",
            version=version,
            architecture=architecture,
            summary="Command-line utility for administering a Kubernetes cluster",
            section="admin",
            binaries=(("/usr/bin/kubeadm", binaries["kubeadm"]),),
            texts=(("/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf", KUBEADM_DROPIN, 0o644),),
            maintainer_scripts=reload,
        ),
        DebSpec(
            name="kubectl",
            version=version,
            architecture=architecture,
            summary="Command-line utility for interacting with a Kubernetes cluster",
            section="admin",
            binaries=(("/usr/bin/kubectl", binaries["kubectl"]),),
        ),
    ]


def cri_tools_deb(crictl: Path, version: str, architecture: str) -> DebSpec:
    """crictl as pkgs.k8s.io's cri-tools package (its own version, e.g. 1.34.0-1.1)."""
    return DebSpec(
        name="cri-tools",
        version=f"{version}-{REVISION}",
        architecture=architecture,
        summary="Command-line utility for interacting with a container runtime",
        section="admin",
        binaries=(("/usr/bin/crictl", crictl),),
    )


def dpkg_architecture() -> str:
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()


def build_deb(spec: DebSpec, out_dir: Path) -> Path:
    """Lay the package tree out in a temp dir and `dpkg-deb --build` it (root-owned files)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / spec.filename
    with tempfile.TemporaryDirectory(prefix=f"deb-{spec.name}-") as tmp:
        tree = Path(tmp) / "root"
        debian = tree / "DEBIAN"
        debian.mkdir(parents=True, mode=0o755)
        for path, src in spec.binaries:
            dest = tree / path.lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
            dest.chmod(0o755)
        for path, text, mode in spec.texts:
            dest = tree / path.lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(text)
            dest.chmod(mode)
        for d in spec.dirs:
            (tree / d.lstrip("/")).mkdir(parents=True, exist_ok=True)
        for d in tree.rglob("*"):
            if d.is_dir():
                d.chmod(0o755)
        (debian / "control").write_text(control_text(spec, installed_size_kib(spec)))
        if spec.conffiles:
            (debian / "conffiles").write_text("".join(f"{c}\n" for c in spec.conffiles))
        for name, text in spec.maintainer_scripts:
            script = debian / name
            script.write_text(text)
            script.chmod(0o755)
        subprocess.run(
            ["dpkg-deb", "--root-owner-group", *COMPRESSION, "--build", str(tree), str(target)],
            check=True,
            capture_output=True,
        )
    return target

"""The prepare script's containerd part, run for real in bash in a private mount namespace.

/etc/containerd is bind-mounted from a temp dir; `containerd config default` is a stand-in
printing containerd 1.6's default lines, and `systemctl` records its calls. This tests the
script's own logic: the edits land, containerd restarts only when its config changes, and
only the registry directories this script wrote are removed.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from components.cluster import host_scripts as hs
from components.cluster.containerd import HOSTS_MARKER
from components.cluster.model import RegistryHost
from tests.support.cluster_fixtures import single_spec
from tests.unit.test_package_sources import CONTAINERD_16

STUBS = {
    "containerd": f"#!/bin/sh\n[ \"$1 $2\" = 'config default' ] || exit 2\ncat <<'EOF'\n{CONTAINERD_16}EOF\n",
    "systemctl": '#!/bin/sh\necho "$*" >> "$SANDBOX/systemctl.log"\n',
    "dpkg-query": "#!/bin/sh\necho 1.6.20~ds1-1\n",
}


def _usable() -> str | None:
    if os.geteuid() != 0:
        return "needs root for a private mount namespace"
    if shutil.which("unshare") is None:
        return "needs unshare (util-linux)"
    if subprocess.run(["unshare", "--mount", "true"], capture_output=True, check=False).returncode != 0:
        return "unshare --mount is not permitted here"
    return None


pytestmark = pytest.mark.skipif(_usable() is not None, reason=f"containerd sandbox: {_usable()}")


def section(spec: Any) -> str:
    """The containerd part, after the release variables the prepare script derives first."""
    version = f"K8S_VERSION={shlex.quote(spec.kubernetes_version)}\n"
    return version + hs.release_lines(spec) + hs.containerd_section(spec)


def run(tmp: Path, script: str) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, text in STUBS.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    etc = tmp / "etc-containerd"
    etc.mkdir(exist_ok=True)
    made_etc = not Path("/etc/containerd").exists()
    wrapper = (
        f"set -e\nmkdir -p /etc/containerd && mount --bind {etc} /etc/containerd\n"
        f"export PATH={bin_dir}:$PATH SANDBOX={tmp}\nexec bash -s\n"
    )
    body = hs.HEADER + "installed_version() { dpkg-query -W -f='${Version}' \"$1\" 2>/dev/null || true; }\n" + script
    try:
        return subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "bash", "-c", wrapper],
            input=body,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    finally:
        if made_etc and Path("/etc/containerd").is_dir() and not any(Path("/etc/containerd").iterdir()):
            Path("/etc/containerd").rmdir()


def restarts(tmp: Path) -> int:
    log = tmp / "systemctl.log"
    return log.read_text().count("restart containerd") if log.exists() else 0


def test_config_edits_land_and_restart_only_on_change(tmp_path: Path) -> None:
    spec = single_spec(image_repository="10.251.0.1:5000/k8s", registries=(RegistryHost("10.251.0.1:5000", True),))
    first = run(tmp_path, section(spec))
    assert first.returncode == 0, first.stderr
    config = tomllib.loads((tmp_path / "etc-containerd/config.toml").read_text())
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["sandbox_image"] == "10.251.0.1:5000/k8s/pause:3.10.1"
    assert cri["registry"]["config_path"] == "/etc/containerd/certs.d"
    assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is True
    hosts = tomllib.loads((tmp_path / "etc-containerd/certs.d/10.251.0.1:5000/hosts.toml").read_text())
    assert hosts["server"] == "http://10.251.0.1:5000"
    assert restarts(tmp_path) == 1

    again = run(tmp_path, section(spec))
    assert again.returncode == 0, again.stderr
    assert restarts(tmp_path) == 1  # nothing changed: no restart
    assert not (tmp_path / "etc-containerd/config.toml.homelab").exists()

    moved = run(tmp_path, section(replace(spec, image_repository="10.251.0.1:5001/k8s")))
    assert moved.returncode == 0, moved.stderr
    assert restarts(tmp_path) == 2


def test_removed_registry_goes_foreign_dirs_stay(tmp_path: Path) -> None:
    two = single_spec(registries=(RegistryHost("a.lan:5000", True), RegistryHost("b.lan", True)))
    assert run(tmp_path, section(two)).returncode == 0
    foreign = tmp_path / "etc-containerd/certs.d/docker.io"
    foreign.mkdir()
    (foreign / "hosts.toml").write_text('server = "https://mirror.example"\n')
    one = replace(two, registries=(RegistryHost("b.lan", True),))
    result = run(tmp_path, section(one))
    assert result.returncode == 0, result.stderr
    left = sorted(p.name for p in (tmp_path / "etc-containerd/certs.d").iterdir())
    assert left == ["b.lan", "docker.io"]
    assert HOSTS_MARKER in (tmp_path / "etc-containerd/certs.d/b.lan/hosts.toml").read_text()


def test_unknown_config_format_stops_with_a_message(tmp_path: Path) -> None:
    saved = dict(STUBS)
    try:
        STUBS["containerd"] = "#!/bin/sh\necho 'version = 9'\n"
        result = run(tmp_path, section(single_spec()))
    finally:
        STUBS.update(saved)
    assert result.returncode == 1
    assert "default config has no place for: SystemdCgroup = true" in result.stderr
    assert not (tmp_path / "etc-containerd/config.toml").exists() and restarts(tmp_path) == 0

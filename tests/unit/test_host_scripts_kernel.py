"""The prepare script's kernel-module and sysctl lines, run for real in bash.

The /proc and /etc paths are pointed at a temp dir and `modprobe`/`sysctl` are stand-ins
that record their calls, so each case (built in, loadable, missing, no kmod) runs here
without root and without touching the host.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from components.cluster import host_scripts as hs
from tests.support.cluster_fixtures import single_spec

START = 'modules_at_boot=""\n'
END = "sysctl -p /etc/sysctl.d/99-homelab-k8s.conf >/dev/null\n"


def kernel_section() -> str:
    script = hs.prepare_script(single_spec())
    assert START in script and END in script, "the prepare script lost its kernel section"
    return script[script.index(START) : script.index(END) + len(END)]


class Box:
    """A fake /proc and /etc plus stand-in tools; `run` executes the kernel section in bash."""

    def __init__(self, root: Path, *, builtin: set[str], loadable: set[str], kmod: bool = True) -> None:
        self.root = root
        self.proc = root / "proc"
        (self.proc / "sys/net").mkdir(parents=True)
        (root / "modules-load.d").mkdir()
        (root / "sysctl.d").mkdir()
        (self.proc / "filesystems").write_text("nodev\tsysfs\nnodev\ttmpfs\n")
        (self.proc / "modules").write_text("")
        for m in builtin:
            self.give(m)
        self.bin = root / "bin"
        self.bin.mkdir()
        for tool in ("grep", "rm", "cat", "mkdir"):
            (self.bin / tool).symlink_to(shutil.which(tool) or f"/bin/{tool}")
        gives = "\n".join(f"  {m}) {self._give_shell(m)} ;;" for m in loadable)
        if kmod:
            self._tool("modprobe", f'echo "modprobe $*" >> {root}/calls\ncase "$1" in\n{gives}\n  *) exit 1 ;;\nesac\n')
        self._tool("sysctl", f'echo "sysctl $*" >> {root}/calls\n')

    def _tool(self, name: str, body: str) -> None:
        (self.bin / name).write_text("#!/bin/bash\n" + body)
        (self.bin / name).chmod(0o755)

    def _give_shell(self, module: str) -> str:
        line = {
            "overlay": f"echo 'nodev\toverlay' >> {self.proc}/filesystems",
            "br_netfilter": f"mkdir -p {self.proc}/sys/net/bridge",
        }[module]
        return f"{line}; echo '{module} 1 0 - Live 0x0' >> {self.proc}/modules"

    def give(self, module: str) -> None:
        if module == "overlay":
            with (self.proc / "filesystems").open("a") as f:
                f.write("nodev\toverlay\n")
        else:
            (self.proc / "sys/net/bridge").mkdir()

    def run(self) -> subprocess.CompletedProcess[str]:
        text = (
            kernel_section()
            .replace("/proc/", f"{self.proc}/")
            .replace("/etc/modules-load.d/", f"{self.root}/modules-load.d/")
            .replace("/etc/sysctl.d/", f"{self.root}/sysctl.d/")
        )
        assert "/proc/" not in text.replace(str(self.proc), "") and "/etc/" not in text
        return subprocess.run(
            ["/bin/bash", "-c", "set -euo pipefail\n" + text],
            env={"PATH": str(self.bin)}, capture_output=True, text=True, check=False,
        )  # fmt: skip

    @property
    def calls(self) -> list[str]:
        f = self.root / "calls"
        return f.read_text().splitlines() if f.exists() else []

    @property
    def modules_load(self) -> str | None:
        f = self.root / "modules-load.d" / "homelab-k8s.conf"
        return f.read_text() if f.exists() else None


def test_built_in_modules_need_no_modprobe(tmp_path: Path) -> None:
    box = Box(tmp_path, builtin={"overlay", "br_netfilter"}, loadable=set())
    res = box.run()
    assert res.returncode == 0, res.stderr
    assert not [c for c in box.calls if c.startswith("modprobe")]
    assert box.modules_load is None  # nothing for systemd-modules-load to fail on at boot
    assert box.calls == [f"sysctl -p {tmp_path}/sysctl.d/99-homelab-k8s.conf"]
    assert "net.bridge.bridge-nf-call-iptables = 1" in (tmp_path / "sysctl.d/99-homelab-k8s.conf").read_text()


def test_loadable_modules_are_loaded_and_listed_for_boot(tmp_path: Path) -> None:
    box = Box(tmp_path, builtin=set(), loadable={"overlay", "br_netfilter"})
    res = box.run()
    assert res.returncode == 0, res.stderr
    assert [c for c in box.calls if c.startswith("modprobe")] == ["modprobe overlay", "modprobe br_netfilter"]
    assert box.modules_load == "overlay\nbr_netfilter\n"


def test_missing_module_is_a_clear_error(tmp_path: Path) -> None:
    box = Box(tmp_path, builtin={"overlay"}, loadable=set())
    res = box.run()
    assert res.returncode == 1
    assert "kernel module br_netfilter is neither built in nor loadable" in res.stderr
    assert not any(c.startswith("sysctl") for c in box.calls)


def test_no_kmod_and_no_module_says_how_to_get_it(tmp_path: Path) -> None:
    box = Box(tmp_path, builtin={"br_netfilter"}, loadable=set(), kmod=False)
    res = box.run()
    assert res.returncode == 1
    assert "the kernel lacks overlay and modprobe is missing (apt-get install kmod)" in res.stderr


def test_never_applies_every_sysctl_file() -> None:
    script = hs.prepare_script(single_spec())
    commands = [line.strip() for line in script.splitlines() if not line.strip().startswith("#")]
    assert not [c for c in commands if "sysctl --system" in c]
    assert "\nmodprobe " not in script  # no unconditional modprobe


@pytest.mark.parametrize("module", ["overlay", "br_netfilter"])
def test_already_loaded_module_is_kept_for_boot(tmp_path: Path, module: str) -> None:
    other = ({"overlay", "br_netfilter"} - {module}).pop()
    box = Box(tmp_path, builtin={other}, loadable={module})
    # loaded before the script runs (as a module, not built in)
    subprocess.run(["/bin/bash", "-c", box._give_shell(module)], check=True)
    res = box.run()
    assert res.returncode == 0, res.stderr
    assert not [c for c in box.calls if c.startswith("modprobe")]
    assert box.modules_load == f"{module}\n"

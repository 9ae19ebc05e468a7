"""A copy of the program in a temporary directory, with a broken stack `bad` of its own.

Tests that run the scripts or the `homelab` command on a stack that must fail do it in a
copy, so that the broken stack file never appears in the real config/.
"""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What the copy's stack `bad` is refused for: the dev stack's worker moved out of the LAN.
BAD_ADDRESS = "homelab:nodes[1].address: 192.168.3.21 is outside the LAN 192.168.2.0/24"


def copy_project(dst: Path, *, scripts: tuple[str, ...] = (), venv: bool = False) -> Path:
    """The program, its packages and stacks in `dst`, plus `bad`; `scripts` from scripts/ (kept
    executable), and with `venv` a link to the project's .venv (shared, not copied)."""
    dst.mkdir()
    for name in ("__main__.py", "Pulumi.yaml"):
        shutil.copy(ROOT / name, dst / name)
    for name in ("components", "lab", "tools", "config"):
        shutil.copytree(ROOT / name, dst / name, ignore=shutil.ignore_patterns("__pycache__", "Pulumi.local.yaml"))
    if scripts:
        (dst / "scripts").mkdir()
        for name in scripts:
            shutil.copy2(ROOT / "scripts" / name, dst / "scripts" / name)
    if venv:
        (dst / ".venv").symlink_to(ROOT / ".venv")
    dev = (dst / "config" / "Pulumi.dev.yaml").read_text()
    assert "192.168.2.21" in dev, "the dev stack no longer has the worker address `bad` moves out of the LAN"
    (dst / "config" / "Pulumi.bad.yaml").write_text(dev.replace("192.168.2.21", "192.168.3.21"))
    return dst

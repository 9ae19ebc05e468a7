"""The Pulumi providers an engine test needs, found where Pulumi looks for them, and sshd logins.

The command and tls providers are served by no registry here, and the project builds,
downloads and commits no provider code. A test needing them looks in the plugin
directory of the toolchain's PULUMI_HOME (`.pulumi-home/plugins`, the layout
`pulumi plugin install` makes) and skips loudly, saying how to install them, when they
are missing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

# Python package whose pulumi-plugin.json names the exact version the SDK asks the engine for.
PACKAGES = {"kubernetes": "pulumi_kubernetes", "command": "pulumi_command", "tls": "pulumi_tls"}
ACCEPTED = re.compile(r"Accepted publickey for ")
ROOT = Path(__file__).resolve().parents[2]


def engine_env(plugins: tuple[str, ...]) -> dict[str, str]:
    """scripts/pulumi-env's environment with the CLI, the language host and `plugins`, or a
    loud skip naming what is missing and how to get it."""
    script = ROOT / "scripts" / "pulumi-toolchain"
    proc = subprocess.run(
        ["bash", "-c", f'eval "$({sys.executable} {script} --print-env)" && env -0'],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(f"SKIPPED LOUDLY: `scripts/pulumi-toolchain --print-env` failed: {proc.stderr[-400:]}")
    env = dict(item.split("=", 1) for item in proc.stdout.split("\0") if "=" in item)
    home = Path(env["PULUMI_HOME"])
    tools = [home / "bin" / b for b in ("pulumi", "pulumi-language-python", "pulumi-language-python-exec")]
    if missing := [str(p) for p in tools if not p.exists()]:
        pytest.skip(
            f"SKIPPED LOUDLY: the Pulumi toolchain is missing {', '.join(missing)}; "
            "build it with `python3 scripts/pulumi-toolchain` (then `. scripts/pulumi-env`)"
        )
    require_plugins(home, plugins)
    return env


def requested_version(plugin: str) -> str:
    """The provider version the installed Python package requests (exact)."""
    module = __import__(PACKAGES[plugin])
    spec = json.loads((Path(module.__file__).parent / "pulumi-plugin.json").read_text())
    return str(spec["version"])


def plugin_dir(home: Path, plugin: str) -> Path:
    return home / "plugins" / f"resource-{plugin}-v{requested_version(plugin)}"


def install_hint(home: Path, plugin: str) -> str:
    version = requested_version(plugin)
    if plugin == "kubernetes":  # the one provider the module proxy serves: built here
        return (
            f"the pulumi-kubernetes provider {version} is not in {home / 'plugins'}: build it with "
            "`python3 scripts/pulumi-toolchain` (or `pulumi plugin install resource kubernetes "
            f"{version}` where there is internet)"
        )
    return (
        f"the pulumi-{plugin} provider {version} is not in {home / 'plugins'} (no registry here serves it, "
        f"and the project builds none): on a machine with internet run "
        f"`PULUMI_HOME={home} pulumi plugin install resource {plugin} {version}`, "
        f"or copy its resource-{plugin}-v{version}/ directory there"
    )


def require_plugins(home: Path, plugins: tuple[str, ...]) -> None:
    """Skip loudly, naming every missing provider and how to install it."""
    missing = [
        install_hint(home, p)
        for p in plugins
        if not (plugin_dir(home, p) / f"pulumi-resource-{p}").is_file()
        or (plugin_dir(home, p).parent / f"resource-{p}-v{requested_version(p)}.partial").exists()
    ]
    if missing:
        pytest.skip("SKIPPED LOUDLY: " + "; ".join(missing))


def private_pulumi_home(src: Path, dst: Path, plugins: tuple[str, ...]) -> Path:
    """A PULUMI_HOME holding only `plugins` (hard-linked from `src`), so a test sees nothing
    else and downloads nothing."""
    for plugin in plugins:
        source = plugin_dir(src, plugin)
        target = dst / "plugins" / source.name
        target.mkdir(parents=True)
        for f in source.iterdir():
            if not f.is_file():
                continue
            try:
                os.link(f, target / f.name)
            except OSError:  # another filesystem: the engine also follows a symlinked file
                (target / f.name).symlink_to(f)
        (dst / "plugins" / f"{source.name}.lock").touch()
    return dst


def accepted_logins(log: Path) -> int:
    """SSH sessions an sshd (LogLevel VERBOSE or INFO) accepted, from its log."""
    try:
        return len(ACCEPTED.findall(log.read_text(errors="replace")))
    except FileNotFoundError:
        return 0


def kill_plugins_under(home: Path) -> list[int]:
    """Kill provider processes started from `home` (a killed CLI leaves its plugins running)."""
    killed = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv0 = (proc / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if argv0.startswith(f"{home}/plugins/"):
            try:
                os.kill(int(proc.name), 9)
                killed.append(int(proc.name))
            except ProcessLookupError:
                pass
    return killed

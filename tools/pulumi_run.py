"""`homelab preview|up|destroy|refresh <stack>`: the pulumi CLI on a stack, set up the lab's way.

The CLI used is the one on PATH, else the one scripts/pulumi-toolchain built (sourced
from scripts/pulumi-env). When you are not logged in to a backend, state goes to a local
file backend in .pulumi-state/. A self-managed backend's secrets need a passphrase:
PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE, else asked once on a
terminal (never empty by default). `preview` falls back to the offline render, loudly,
when no usable CLI and plugins are at hand; `up local` to tools.hostrun when it can.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, MutableMapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ACTIONS = ("preview", "up", "destroy", "refresh")
PROVIDERS = ("pulumi_command", "pulumi_kubernetes", "pulumi_tls")


def say(message: str) -> None:
    print(f"homelab: {message}", file=sys.stderr)


def _offline_env(env: MutableMapping[str, str]) -> bool:
    """Take the offline toolchain's environment (scripts/pulumi-env) when it has a CLI."""
    script = ROOT / "scripts" / "pulumi-env"
    if not script.is_file():
        return False
    # pulumi-env is a bash file to source: bash itself says what it sets, NUL-separated.
    probe = subprocess.run(
        ["bash", "-c", '. "$1" >/dev/null 2>&1; env -0', "bash", str(script)],
        env=dict(env),
        capture_output=True,
        cwd=ROOT,
    )
    if probe.returncode != 0:
        return False
    sourced = dict(item.split("=", 1) for item in probe.stdout.decode().split("\0") if "=" in item)
    if not shutil.which("pulumi", path=sourced.get("PATH", "")):
        return False
    env.clear()
    env.update(sourced)
    return True


def _missing_plugins(pulumi: str, env: MutableMapping[str, str]) -> list[str]:
    """The providers the Python packages ask for that the offline CLI does not hold."""
    import importlib

    listed = subprocess.run([pulumi, "plugin", "ls"], env=dict(env), capture_output=True, text=True).stdout
    missing = []
    for module in PROVIDERS:
        meta = json.loads((Path(importlib.import_module(module).__file__).parent / "pulumi-plugin.json").read_text())
        name, version = meta["name"], meta["version"]
        if not re.search(rf"^{re.escape(name)} +resource +{re.escape(version)} ", listed, re.M):
            missing.append(
                f" pulumi-resource-{name} {version} (`pulumi plugin install resource {name} {version}`"
                f" where there is internet, into PULUMI_HOME={env.get('PULUMI_HOME', '')})"
            )
    return missing


def _what_is_missing(env: MutableMapping[str, str]) -> str:
    """Empty when a usable CLI is on env's PATH, else what is missing (one sentence)."""
    offline = False
    if not shutil.which("pulumi", path=env.get("PATH", "")):
        offline = _offline_env(env)
    pulumi = shutil.which("pulumi", path=env.get("PATH", ""))
    if not pulumi:
        return "no pulumi CLI (install it: https://www.pulumi.com/docs/install/)"
    if offline:
        # The exact versions the Python packages ask for (nothing is downloaded offline).
        missing = _missing_plugins(pulumi, env)
        if missing:
            return "the offline Pulumi toolchain lacks:" + "".join(missing)
    return ""


def _passphrase(stack: str, stack_text: str, env: MutableMapping[str, str]) -> int:
    """0 when the state's secrets are provided for, else 2 after saying why."""
    backend = env.get("PULUMI_BACKEND_URL", "")
    # A self-managed backend (file://, s3://, ...) encrypts the stack's secrets (kubeconfig,
    # SSH key, TLS keys) with a passphrase unless the stack file names another secrets
    # provider; a Pulumi Cloud (http[s]://) has its own.
    if backend == "" or backend.startswith(("http://", "https://")):
        return 0
    if re.search(r"^secretsprovider: *[a-z]+://", stack_text, re.M):
        return 0
    if env.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        path = env["PULUMI_CONFIG_PASSPHRASE_FILE"]
        if not (os.path.isfile(path) and os.access(path, os.R_OK)):
            say(f"PULUMI_CONFIG_PASSPHRASE_FILE={path} is not a readable file.")
            return 2
        return 0
    if "PULUMI_CONFIG_PASSPHRASE" in env:
        if not env["PULUMI_CONFIG_PASSPHRASE"]:
            say("warning: PULUMI_CONFIG_PASSPHRASE is empty: the secrets in the state are encrypted with nothing.")
        return 0
    if sys.stdin.isatty() and sys.stderr.isatty():
        try:
            typed = getpass.getpass(f"homelab: passphrase for the secrets of stack {stack}: ", stream=sys.stderr)
        except EOFError:
            typed = ""
        if not typed:
            say("an empty passphrase would leave the secrets unprotected; stopping.")
            return 2
        env["PULUMI_CONFIG_PASSPHRASE"] = typed
        return 0
    say(
        f"stack {stack}'s secrets need a passphrase: set PULUMI_CONFIG_PASSPHRASE or"
        " PULUMI_CONFIG_PASSPHRASE_FILE (no terminal to ask on)."
    )
    return 2


def run(action: str, stack: str, extra: Sequence[str], *, render: Callable[[Sequence[str]], int]) -> int:
    """Run `pulumi <action> --stack <stack> <extra>` in the project; `render(argv)` is the
    offline render (homelab render's arguments) for the fallbacks. Execs pulumi when all is set."""
    os.chdir(ROOT)
    if action == "up" and stack == "local":
        # `up local`, the lab on this box: the local machines first. `machines up` is
        # idempotent: it makes the missing ones, starts stopped ones, (re)writes the stack file.
        say("local machines first (homelab machines up: root, Linux, ~2 GB of disk, minutes the first time)")
        from tools import machines

        status = machines.main(["up"])
        if status:
            return status
    stack_file = ROOT / "config" / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        say(f"no stack file config/Pulumi.{stack}.yaml")
        return 2
    env = dict(os.environ)
    missing = _what_is_missing(env)
    if missing:
        say(f"{missing}.")
        if action == "preview":
            say(f"showing the offline render of stack {stack} instead (same program, mock runtime).")
            return render([stack, *extra])
        if action == "up" and stack == "local":
            if "homelab:packages" in stack_file.read_text():
                # The machines' packages and images are served on their bridge: the cluster
                # half can run for real without the engine, as CI does (tools/hostrun.py runs
                # the program's host scripts over SSH in the engine's order).
                say(
                    "running the cluster half without the engine: the program's host scripts on the machines"
                    " (tools/hostrun.py)."
                )
                from tools import hostrun

                status = hostrun.main(["up", stack, *extra])
                if status:
                    return status
                say(
                    f"the kubeconfig: homelab hostrun kubeconfig {stack} > lab.kubeconfig"
                    " (the services need the engine)."
                )
                return 0
            say("the machines have no packages and images either (build them: scripts/toolchain, then this again).")
            say(f"showing the offline render of stack {stack} instead; nothing is applied.")
            render([stack])
            return 1
        say(f"{missing}; cannot {action}.")
        return 1
    pulumi = shutil.which("pulumi", path=env["PATH"])
    assert pulumi  # _what_is_missing found it
    env["PULUMI_SKIP_UPDATE_CHECK"] = "1"
    if not env.get("PULUMI_BACKEND_URL"):
        logged_in = subprocess.run([pulumi, "whoami"], env=env, capture_output=True).returncode == 0
        if not logged_in:
            (ROOT / ".pulumi-state").mkdir(exist_ok=True)
            env["PULUMI_BACKEND_URL"] = f"file://{ROOT}/.pulumi-state"
    status = _passphrase(stack, stack_file.read_text(), env)
    if status:
        return status
    selected = subprocess.run([pulumi, "stack", "select", "--create", stack], env=env, stdout=subprocess.DEVNULL)
    if selected.returncode:
        return selected.returncode
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(pulumi, [pulumi, action, "--stack", stack, *extra], env)

"""A lab of local machines for tests: made and removed with the real `tools.machines` CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The base image is shared with `scripts/lab machines` (a warm cache makes `up` take seconds).
DEFAULT_IMAGES = Path(os.environ.get("HOMELAB_MACHINES_IMAGES", "/var/lib/homelab/machines/images"))


def missing() -> list[str]:
    """Why local machines cannot run here, with the command that fixes each; empty when they can."""
    out = []
    if sys.platform != "linux":
        out.append("needs Linux")
    if os.geteuid() != 0:
        out.append("needs root (bridges, namespaces, cgroups, mounts): run the tests as root")
    for tool, how in (("debootstrap", "apt-get install debootstrap"),
                      ("systemd-nspawn", "apt-get install systemd-container"),
                      ("ssh", "apt-get install openssh-client")):  # fmt: skip
        if shutil.which(tool) is None:
            out.append(f"`{tool}` not found: {how}")
    return out


def cannot_run_here() -> bool:
    """For a script (the benchmarks): True, after saying on stderr why, when local machines
    cannot run here."""
    if why := missing():
        print("cannot run: " + "; ".join(why), file=sys.stderr)
        return True
    return False


@dataclass(frozen=True)
class LocalMachine:
    name: str
    address: str
    role: str
    host_key: str  # "ssh-ed25519 AAAA..." as pinned in the stack
    private_key_path: Path
    known_hosts_path: Path
    user: str = "root"
    port: int = 22

    def ssh_argv(self, *command: str) -> list[str]:
        """argv for `ssh` to this machine that checks its host key against host_key."""
        return [
            "ssh", "-i", str(self.private_key_path), "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
            "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={self.known_hosts_path}",
            "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR", "-p", str(self.port),
            f"{self.user}@{self.address}", *command,
        ]  # fmt: skip

    def ssh(self, *command: str, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.ssh_argv(*command), input=input, capture_output=True, text=True, timeout=timeout, check=False
        )

    @property
    def private_key_pem(self) -> str:
        return self.private_key_path.read_text()

    def __repr__(self) -> str:  # no key material in assertion messages
        return f"LocalMachine(name={self.name!r}, address={self.address!r}, role={self.role!r})"


@dataclass
class LocalLab:
    """Machines in their own state dir, bridge and subnet; `up(n)` grows it, `down()` removes it."""

    state_dir: Path
    bridge: str
    subnet: str
    images: Path = DEFAULT_IMAGES
    machines: list[LocalMachine] = field(default_factory=list)

    @property
    def stack_file(self) -> Path:
        return self.state_dir / "Pulumi.local.yaml"

    @property
    def gateway(self) -> str:
        return json.loads((self.state_dir / "machines.json").read_text())["network"]["gateway"]

    def cli(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, HOMELAB_MACHINES_IMAGES=str(self.images))
        return subprocess.run(
            [sys.executable, "-m", "tools.machines", "--state-dir", str(self.state_dir), *args],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip

    def up(self, nodes: int, *extra: str) -> subprocess.CompletedProcess[str]:
        # Tests that need packages and images serve their own mirror (tests/machines/cluster.py).
        res = self.cli("up", "--nodes", str(nodes), "--bridge", self.bridge, "--subnet", self.subnet,
                       "--stack-file", str(self.stack_file), "--no-mirror", *extra)  # fmt: skip
        if res.returncode != 0:
            raise RuntimeError(f"machines up failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
        self.reload()
        return res

    def down(self, *extra: str) -> subprocess.CompletedProcess[str]:
        res = self.cli("down", "--bridge", self.bridge, "--stack-file", str(self.stack_file), *extra)
        self.machines = []
        return res

    def reload(self) -> None:
        data = json.loads((self.state_dir / "machines.json").read_text())
        self.machines = [
            LocalMachine(
                name=m["name"],
                address=m["address"],
                role=m["role"],
                host_key=m["host_key"],
                private_key_path=Path(data["client_key"]),
                known_hosts_path=Path(data["known_hosts"]),
            )  # fmt: skip
            for m in data["machines"]
        ]

    def state(self) -> dict[str, object]:
        return json.loads((self.state_dir / "machines.json").read_text())

    def by_name(self, name: str) -> LocalMachine:
        return next(m for m in self.machines if m.name == name)

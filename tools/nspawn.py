"""Boot, enter and stop one machine: systemd-nspawn on an overlay root, in its own netns and cgroup.

Everything a machine holds on the host is named after the lab bridge and the machine, so
`down` can find and remove it: the network namespace `hlm-<bridge>-<name>`, the veth
`<bridge>v<octet>`, and the cgroup `homelab-<bridge>/<name>` in every hierarchy. The overlay
root is mounted inside a private mount namespace that dies with the machine, so no mount
is ever left on the host.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
NETNS_DIR = Path("/run/netns")


@dataclass(frozen=True)
class MachineLayout:
    """Where one machine's things live: on disk (its dir in the state dir) and on the host."""

    name: str
    bridge: str
    address: str
    prefixlen: int
    gateway: str
    directory: Path  # <state>/machines/<name>

    @property
    def upper(self) -> Path:
        return self.directory / "upper"

    @property
    def work(self) -> Path:
        return self.directory / "work"

    @property
    def root(self) -> Path:
        return self.directory / "root"

    @property
    def containerd_dir(self) -> Path:
        # containerd's overlayfs snapshotter cannot use an overlay as its upper layer
        return self.directory / "var-lib-containerd"

    @property
    def log(self) -> Path:
        return self.directory / "console.log"

    @property
    def netns(self) -> str:
        return f"hlm-{self.bridge}-{self.name}"

    @property
    def veth(self) -> str:
        return f"{self.bridge}v{self.address.rsplit('.', 1)[1]}"

    @property
    def cgroup(self) -> str:
        return f"homelab-{self.bridge}/{self.name}"


def nspawn_argv(m: MachineLayout) -> list[str]:
    return [
        "systemd-nspawn", "--quiet", "--boot",
        # no systemd/D-Bus on the host: no machined registration, no scope unit
        "--register=no", "--keep-unit",
        # a lab node runs containerd, runc and a CNI: privileged, as kind's nodes are
        "--capability=all",
        f"--machine={m.name}", f"--hostname={m.name}", f"--directory={m.root}",
        f"--network-namespace-path={NETNS_DIR / m.netns}",
        "--resolv-conf=off", "--timezone=off", "--link-journal=no", "--console=read-only",
        f"--bind={m.containerd_dir}:/var/lib/containerd",
        *(["--bind-ro=/lib/modules"] if Path("/lib/modules").is_dir() else []),
    ]  # fmt: skip


def nspawn_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYSTEMD_")}
    # nspawn's seccomp filter refuses syscalls that runc and CNI plugins use (keyctl, bpf, ...);
    # a lab node is privileged anyway.
    env["SYSTEMD_SECCOMP"] = "0"
    return env


def launcher_script(m: MachineLayout, lower: Path, cgroup_dirs: Sequence[Path]) -> str:
    """Runs as the machine's first process: join its cgroups, mount its root, become nspawn."""
    join = "".join(f"echo $$ > {shlex.quote(str(d / 'cgroup.procs'))}\n" for d in cgroup_dirs)
    opts = f"lowerdir={lower},upperdir={m.upper},workdir={m.work}"
    return (
        "set -e\n"
        + join
        + f"mount -t overlay overlay -o {shlex.quote(opts)} {shlex.quote(str(m.root))}\n"
        + "exec "
        + shlex.join(nspawn_argv(m))
        + "\n"
    )


# --- cgroups ---------------------------------------------------------------------------


def cgroup_hierarchies() -> list[Path]:
    """Mount points of every cgroup hierarchy on the host (v1 controllers, named, and v2)."""
    out = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[2] in ("cgroup", "cgroup2") and parts[1].startswith(str(CGROUP_ROOT)):
            out.append(Path(parts[1]))
    return out


def make_cgroups(m: MachineLayout) -> list[Path]:
    dirs = []
    for h in cgroup_hierarchies():
        d = h / m.cgroup
        d.mkdir(parents=True, exist_ok=True)
        if (h / "cpuset.cpus").exists():  # v1 cpuset: a child starts empty and takes no task
            for f in ("cpuset.cpus", "cpuset.mems"):
                for level in (d.parent, d):
                    if not (level / f).read_text().strip():
                        (level / f).write_text((level.parent / f).read_text())
        dirs.append(d)
    return dirs


def cgroup_pids(m: MachineLayout) -> set[int]:
    pids: set[int] = set()
    for h in cgroup_hierarchies():
        top = h / m.cgroup
        if not top.is_dir():
            continue
        for dirpath, _dirs, files in os.walk(top):
            if "cgroup.procs" in files:
                with suppress(OSError):
                    pids.update(int(p) for p in (Path(dirpath) / "cgroup.procs").read_text().split())
    return pids


def remove_cgroups(m: MachineLayout) -> list[str]:
    """rmdir the machine's cgroups bottom-up (and the lab's parent when empty); what failed."""
    failed = []
    for h in cgroup_hierarchies():
        top = h / m.cgroup
        if top.is_dir():
            for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda t: -len(t[0])):
                try:
                    Path(dirpath).rmdir()
                except OSError as exc:
                    failed.append(f"{dirpath}: {exc.strerror}")
        with suppress(OSError):
            top.parent.rmdir()
    return failed


def memory_bytes(m: MachineLayout) -> int | None:
    """The machine cgroup's memory use (v1 memory controller, else v2), None if unknown."""
    for h in cgroup_hierarchies():
        for f in ("memory.usage_in_bytes", "memory.current"):
            p = h / m.cgroup / f
            if p.is_file():
                with suppress(OSError, ValueError):
                    return int(p.read_text())
    return None


# --- network ---------------------------------------------------------------------------


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and res.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {res.stderr.strip()}")
    return res


def link_exists(name: str) -> bool:
    return _ip("link", "show", "dev", name, check=False).returncode == 0


def ensure_bridge(bridge: str, gateway: str, prefixlen: int) -> None:
    if not link_exists(bridge):
        _ip("link", "add", bridge, "type", "bridge")
    if gateway not in _ip("-o", "-4", "addr", "show", "dev", bridge).stdout:
        _ip("addr", "add", f"{gateway}/{prefixlen}", "dev", bridge)
    _ip("link", "set", bridge, "up")


def remove_bridge(bridge: str) -> None:
    if link_exists(bridge):
        _ip("link", "del", bridge)


def setup_netns(m: MachineLayout) -> None:
    """The machine's network: a veth on the bridge, eth0 inside with a static address and a
    default route via the bridge (the kubelet finds its node IP through the default route)."""
    if not (NETNS_DIR / m.netns).exists():
        _ip("netns", "add", m.netns)
    if not link_exists(m.veth):
        _ip("link", "add", m.veth, "type", "veth", "peer", "name", "eth0", "netns", m.netns)
    _ip("link", "set", m.veth, "master", m.bridge, "up")
    nx = ("-n", m.netns)
    if m.address not in _ip(*nx, "-o", "-4", "addr", "show", "dev", "eth0").stdout:
        _ip(*nx, "addr", "add", f"{m.address}/{m.prefixlen}", "dev", "eth0")
    _ip(*nx, "link", "set", "lo", "up")
    _ip(*nx, "link", "set", "eth0", "up")
    _ip(*nx, "route", "replace", "default", "via", m.gateway, "dev", "eth0")


def remove_netns(m: MachineLayout) -> None:
    if (NETNS_DIR / m.netns).exists():
        _ip("netns", "del", m.netns)
    if link_exists(m.veth):  # normally gone with the namespace
        _ip("link", "del", m.veth, check=False)


# --- processes ---------------------------------------------------------------------------


def start(m: MachineLayout, lower: Path) -> int:
    """Boot the machine in the background; the pid of its systemd-nspawn."""
    for d in (m.upper, m.work, m.root, m.containerd_dir):
        d.mkdir(parents=True, exist_ok=True)
    setup_netns(m)
    dirs = make_cgroups(m)
    with m.log.open("ab") as log:
        proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", launcher_script(m, lower, dirs)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=nspawn_env(),
            start_new_session=True,
        )  # fmt: skip
    return proc.pid


def is_nspawn(pid: int | None, name: str) -> bool:
    if not pid:
        return False
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and bool(argv) and argv[0].endswith(b"systemd-nspawn") and f"--machine={name}".encode() in argv


def process_alive(pid: int) -> bool:
    """Running and not a zombie (the launcher is `unshare`/`sh` until it execs nspawn)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def leader_pid(nspawn_pid: int) -> int | None:
    """The machine's PID 1 (its systemd), seen from the host: nspawn's child in another pid ns."""
    try:
        own = os.readlink(f"/proc/{nspawn_pid}/ns/pid")
        children = Path(f"/proc/{nspawn_pid}/task/{nspawn_pid}/children").read_text().split()
    except OSError:
        return None
    for c in children:
        with suppress(OSError):
            if os.readlink(f"/proc/{c}/ns/pid") != own:
                return int(c)
    return None


def enter_argv(leader: int, *command: str) -> list[str]:
    return ["nsenter", "-t", str(leader), "-a", "--", *command]


def run_inside(leader: int, *command: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(enter_argv(leader, *command), capture_output=True, text=True, timeout=timeout, check=False)


def stop(m: MachineLayout, nspawn_pid: int | None, timeout: float = 30) -> None:
    """Orderly poweroff (SIGTERM to nspawn makes it ask systemd to halt), then kill whatever is left."""
    if is_nspawn(nspawn_pid, m.name):
        assert nspawn_pid is not None
        with suppress(ProcessLookupError):
            os.kill(nspawn_pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while is_nspawn(nspawn_pid, m.name) and time.monotonic() < deadline:
            time.sleep(0.2)
    for _ in range(50):
        pids = cgroup_pids(m)
        if not pids:
            break
        for pid in pids:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    if nspawn_pid:
        with suppress(ChildProcessError, OSError):
            os.waitpid(nspawn_pid, os.WNOHANG)

"""`scripts/lab machines up|status|down|ssh`: N local Debian 12 machines on this Linux box.

Each machine is a systemd-nspawn container booting its own systemd, on an overlay of a
cached debootstrap image, with its own network namespace on a bridge that exists only on
this machine. See docs/local-machines.md.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tools import machine_image, nspawn
from tools.artifacts import toolchain
from tools.local_stack import STACK, local_services_config, render_local_stack, toolchain_kubernetes_version
from tools.machine_files import ENABLE_LINKS, files_for, hosts_file
from tools.machine_plan import (
    DEFAULT_BRIDGE,
    DEFAULT_SUBNET,
    LabNetwork,
    MachineSpec,
    PlanError,
    overlapping_routes,
    parse_network,
    plan,
    reconcile,
)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_STATE_DIR = Path("/var/lib/homelab/machines")
DEFAULT_STACK_FILE = REPO / "config" / "Pulumi.local.yaml"
STATE_FILE = "machines.json"
INSTALL_HINT = "apt-get install debootstrap systemd-container"
REQUIRED_TOOLS: dict[str, str] = {
    "debootstrap": "apt-get install debootstrap",
    "systemd-nspawn": "apt-get install systemd-container",
    "ip": "apt-get install iproute2",
    "unshare": "apt-get install util-linux",
    "nsenter": "apt-get install util-linux",
    "ssh": "apt-get install openssh-client",
    "ssh-keygen": "apt-get install openssh-client",
}
BOOT_TIMEOUT = 180.0


class MachinesError(RuntimeError):
    """A problem the user can fix; the message says what and how."""


@dataclass
class MachineRecord:
    name: str
    role: str
    address: str
    host_key: str  # "ssh-ed25519 AAAA..." (public; pinned in the stack)
    machine_id: str
    nspawn_pid: int | None = None
    created_seconds: float | None = None

    @property
    def spec(self) -> MachineSpec:
        return MachineSpec(self.name, self.role, self.address)


@dataclass
class LabState:
    bridge: str
    subnet: str
    image_key: str = ""
    machines: list[MachineRecord] = field(default_factory=list)

    @property
    def network(self) -> LabNetwork:
        return parse_network(self.bridge, self.subnet)


# --- state dir ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Paths:
    state_dir: Path

    @property
    def state_file(self) -> Path:
        return self.state_dir / STATE_FILE

    @property
    def client_key(self) -> Path:
        return self.state_dir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.state_dir / "known_hosts"

    @property
    def machines_dir(self) -> Path:
        return self.state_dir / "machines"

    @property
    def images(self) -> Path:
        # shareable between state dirs (the tests reuse the CLI's cache)
        return Path(os.environ.get("HOMELAB_MACHINES_IMAGES", str(self.state_dir / "images")))

    @property
    def image_log(self) -> Path:
        return self.state_dir / "image-build.log"

    def machine_dir(self, name: str) -> Path:
        return self.machines_dir / name


def default_state_dir() -> Path:
    return Path(os.environ.get("HOMELAB_MACHINES_DIR", str(DEFAULT_STATE_DIR)))


def load_state(paths: Paths) -> LabState | None:
    try:
        raw = json.loads(paths.state_file.read_text())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise MachinesError(f"{paths.state_file} is not valid JSON ({exc}); remove it after `down`") from exc
    fields = set(MachineRecord.__dataclass_fields__)
    machines = [MachineRecord(**{k: v for k, v in m.items() if k in fields}) for m in raw.get("machines", [])]
    return LabState(raw["bridge"], raw["subnet"], raw.get("image_key", ""), machines)


def save_state(paths: Paths, state: LabState) -> None:
    data: dict[str, Any] = asdict(state)
    data["network"] = {"gateway": str(state.network.gateway)}
    data["client_key"] = str(paths.client_key)
    data["known_hosts"] = str(paths.known_hosts)
    for m in data["machines"]:
        d = paths.machine_dir(m["name"])
        m["paths"] = {"dir": str(d), "root": str(d / "root"), "console_log": str(d / "console.log")}
    tmp = paths.state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(paths.state_file)


@contextmanager
def locked(paths: Paths) -> Iterator[None]:
    paths.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with (paths.state_dir / ".lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise MachinesError(f"another `machines` command is running on {paths.state_dir}") from exc
        yield


# --- checks before anything is touched -------------------------------------------------


def preflight() -> list[str]:
    problems = []
    if platform.system() != "Linux":
        problems.append("local machines need Linux (network namespaces, overlayfs, systemd-nspawn)")
    if os.geteuid() != 0:
        problems.append("not root: bridges, namespaces, cgroups and mounts need root (run with sudo)")
    missing = [t for t in REQUIRED_TOOLS if shutil.which(t) is None]
    for tool in missing:
        problems.append(f"`{tool}` not found: {REQUIRED_TOOLS[tool]}")
    if {"debootstrap", "systemd-nspawn"} & set(missing):
        problems.append(f"(both at once: {INSTALL_HINT})")
    return problems


def host_routes() -> list[tuple[str, str]]:
    res = subprocess.run(["ip", "-j", "-4", "route", "show", "table", "all"], capture_output=True, text=True)
    if res.returncode != 0:
        return []
    return [(r.get("dst", ""), r.get("dev", "")) for r in json.loads(res.stdout or "[]")]


# --- machine contents --------------------------------------------------------------------


def _keygen(path: Path, comment: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True)
    return " ".join(path.with_suffix(".pub").read_text().split()[:2])


def ensure_client_key(paths: Paths) -> str:
    if not paths.client_key.is_file():
        _keygen(paths.client_key, "homelab-local-machines")
    paths.client_key.chmod(0o600)
    return " ".join(paths.client_key.with_suffix(".pub").read_text().split()[:2])


def _mkdirs_like(upper: Path, lower: Path, rel: Path) -> None:
    """Create rel's parents in the machine's layer with the base image's owner and mode:
    a directory in the upper layer replaces the lower one's metadata (e.g. /root is 0700)."""
    for part in reversed(rel.parents):
        if str(part) in (".", "/"):
            continue
        u, lo = upper / part, lower / part
        if not u.exists():
            u.mkdir()
            if lo.is_dir():
                st = lo.stat()
                os.chown(u, st.st_uid, st.st_gid)
                u.chmod(st.st_mode & 0o7777)


def write_machine_files(layout: nspawn.MachineLayout, lower: Path, files: dict[str, tuple[str, int]]) -> None:
    for path, (content, mode) in files.items():
        rel = Path(path.lstrip("/"))
        _mkdirs_like(layout.upper, lower, rel)
        target = layout.upper / rel
        if target.is_symlink():
            target.unlink()
        target.write_text(content)
        target.chmod(mode)
    for link, dest in ENABLE_LINKS.items():
        rel = Path(link.lstrip("/"))
        _mkdirs_like(layout.upper, lower, rel)
        target = layout.upper / rel
        if not target.is_symlink():
            target.symlink_to(dest)


def layout_for(paths: Paths, network: LabNetwork, m: MachineSpec) -> nspawn.MachineLayout:
    return nspawn.MachineLayout(
        name=m.name, bridge=network.bridge, address=m.address, prefixlen=network.subnet.prefixlen,
        gateway=str(network.gateway), directory=paths.machine_dir(m.name),
    )  # fmt: skip


def ssh_argv(paths: Paths, address: str, *command: str) -> list[str]:
    """ssh as root to a machine, checking its pinned host key (known_hosts in the state dir)."""
    return [
        "ssh", "-i", str(paths.client_key), "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
        "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={paths.known_hosts}",
        "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR", f"root@{address}", *command,
    ]  # fmt: skip


def write_known_hosts(paths: Paths, state: LabState) -> None:
    paths.known_hosts.write_text("".join(f"{m.address} {m.host_key}\n" for m in state.machines))


def _sshd_answers(address: str) -> bool:
    try:
        with socket.create_connection((address, 22), timeout=2) as s:
            return s.recv(8).startswith(b"SSH-")
    except OSError:
        return False


def wait_booted(layout: nspawn.MachineLayout, pid: int, deadline: float) -> str:
    """Wait until the machine's systemd has finished booting and sshd answers; its state."""
    leader = None
    while time.monotonic() < deadline:
        if not nspawn.process_alive(pid):
            tail = layout.log.read_text(errors="replace")[-3000:] if layout.log.exists() else ""
            raise MachinesError(f"{layout.name}: systemd-nspawn exited during boot; {layout.log}:\n{tail}")
        leader = leader or (nspawn.leader_pid(pid) if nspawn.is_nspawn(pid, layout.name) else None)
        if leader:
            left = max(1.0, deadline - time.monotonic())
            with suppress(subprocess.TimeoutExpired):
                res = nspawn.run_inside(leader, "systemctl", "is-system-running", "--wait", timeout=left)
                state = res.stdout.strip()
                if state in ("running", "degraded") and _sshd_answers(layout.address):
                    return state
        time.sleep(0.5)
    raise MachinesError(f"{layout.name} did not finish booting within {BOOT_TIMEOUT:.0f}s; see {layout.log}")


def refresh_hosts(state: LabState, text: str) -> None:
    for rec in state.machines:
        if nspawn.is_nspawn(rec.nspawn_pid, rec.name) and (leader := nspawn.leader_pid(rec.nspawn_pid or 0)):
            subprocess.run(nspawn.enter_argv(leader, "sh", "-c", "cat > /etc/hosts"), input=text, text=True,
                           capture_output=True, timeout=30, check=False)  # fmt: skip


def systemd_state(pid: int | None, name: str) -> str:
    if not nspawn.is_nspawn(pid, name):
        return "-"
    assert pid is not None
    leader = nspawn.leader_pid(pid)
    if leader is None:
        return "?"
    with suppress(subprocess.TimeoutExpired):
        return nspawn.run_inside(leader, "systemctl", "is-system-running", timeout=10).stdout.strip() or "?"
    return "?"


# --- commands ----------------------------------------------------------------------------


def _resolve_network(args: argparse.Namespace, state: LabState | None) -> LabNetwork:
    bridge = args.bridge or os.environ.get("HOMELAB_MACHINES_BRIDGE") or (state.bridge if state else DEFAULT_BRIDGE)
    subnet = args.subnet or os.environ.get("HOMELAB_MACHINES_SUBNET") or (state.subnet if state else DEFAULT_SUBNET)
    network = parse_network(bridge, subnet)
    if state and state.machines and (state.bridge, state.subnet) != (bridge, str(network.subnet)):
        raise PlanError([
            f"the machines in this state dir are on {state.bridge} {state.subnet}, not {bridge} {subnet}; "
            "run `machines down` first to move them"
        ])  # fmt: skip
    return network


def plan_up(
    args: argparse.Namespace, state: LabState | None
) -> tuple[LabNetwork, list[MachineSpec], list[MachineSpec]]:
    """The network, the whole plan and the machines to add; every argument problem at once."""
    problems: list[str] = []
    network = None
    try:
        network = _resolve_network(args, state)
    except PlanError as exc:
        problems += exc.problems
    existing = [m.spec for m in state.machines] if state else []
    nodes = args.nodes if args.nodes is not None else max(len(existing), 3)
    wanted: list[MachineSpec] = []
    try:
        # growing keeps the control planes there are, unless told otherwise
        cps = args.control_planes
        if cps is None and existing:
            cps = sum(m.role == "control-plane" for m in existing)
        wanted = plan(network or parse_network(DEFAULT_BRIDGE, DEFAULT_SUBNET), nodes, cps)
    except PlanError as exc:
        problems += exc.problems
    if problems:
        raise PlanError(problems)
    assert network is not None
    return network, wanted, reconcile(existing, wanted)


def _artifacts(paths: Paths, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.artifacts", "--state-dir", str(paths.state_dir / "artifacts"), *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def ensure_mirror(paths: Paths, network: LabNetwork) -> dict[str, Any]:
    """The machines have no internet: serve the lab's apt repository and registry on the bridge.

    Returns the stack keys that point at them, or {} (said loudly) when the toolchain's
    binaries are missing: the stack then names pkgs.k8s.io, which the machines cannot reach.
    """
    served = paths.state_dir / "artifacts" / "serve.json"
    if served.is_file() and _artifacts(paths, "status").returncode == 0:
        return dict(json.loads(served.read_text())["stackConfig"])
    built = _artifacts(paths, "build", timeout=1800)
    if built.returncode != 0:
        print(
            "machines: WARNING no local Kubernetes packages and images for the machines (they have no internet):\n"
            f"  {(built.stderr or built.stdout).strip()}\n  build them with scripts/toolchain, then run `up` again",
            file=sys.stderr,
        )
        return {}
    res = _artifacts(paths, "serve", "--detach", "--address", str(network.gateway))
    if res.returncode != 0:
        raise MachinesError(f"the lab's package mirror and registry did not start:\n{res.stdout}{res.stderr}")
    print(f"machines: packages and images served on {network.gateway} (python -m tools.artifacts status)")
    return dict(json.loads(served.read_text())["stackConfig"])


INOTIFY_INSTANCES = Path("/proc/sys/fs/inotify/max_user_instances")
WANTED_INOTIFY_INSTANCES = 1024


def raise_inotify_limit() -> None:
    """Every machine's systemd, containerd and kubelet take inotify instances from the host's
    per-user limit (often 128): past it, systemd in a new machine dies with "Too many open
    files". Raised as kind's docs advise, said aloud, never lowered."""
    try:
        current = int(INOTIFY_INSTANCES.read_text())
        if current < WANTED_INOTIFY_INSTANCES:
            INOTIFY_INSTANCES.write_text(f"{WANTED_INOTIFY_INSTANCES}\n")
            print(f"machines: raised fs.inotify.max_user_instances from {current} to {WANTED_INOTIFY_INSTANCES} "
                  "(machines share the host's limit; not persisted across reboots)", file=sys.stderr)  # fmt: skip
    except (OSError, ValueError) as exc:
        print(f"machines: warning: could not check fs.inotify.max_user_instances ({exc})", file=sys.stderr)


def cmd_up(args: argparse.Namespace, paths: Paths) -> int:
    problems = preflight()
    try:  # arguments first, so that nothing is touched when any of them is wrong
        network, _, _ = plan_up(args, load_state(paths) if paths.state_file.is_file() else None)
        if clashes := overlapping_routes(network.subnet, host_routes(), network.bridge):
            problems.append(
                f"--subnet {network.subnet} overlaps routes this host already has ({'; '.join(clashes)}); pick another"
            )
    except PlanError as exc:
        problems += exc.problems
    if problems:
        raise MachinesError("cannot make local machines:\n  - " + "\n  - ".join(problems))
    with locked(paths):
        state = load_state(paths)
        network, wanted, to_add = plan_up(args, state)
        if Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == "1":
            print("machines: note: this host forwards IPv4; the lab adds no NAT, so nothing leaves the bridge "
                  "with a reply path, but consider `sysctl net.ipv4.ip_forward=0`", file=sys.stderr)  # fmt: skip
        raise_inotify_limit()
        paths.state_dir.chmod(0o700)
        paths.machines_dir.mkdir(exist_ok=True)
        client_pub = ensure_client_key(paths)
        t0 = time.monotonic()
        image = machine_image.ensure_base_image(paths.images, paths.image_log)
        how = "cached" if image.built_seconds is None else f"built in {image.built_seconds:.0f}s"
        print(f"machines: base image {image.key} {how} ({time.monotonic() - t0:.1f}s)", flush=True)
        state = state or LabState(network.bridge, str(network.subnet))
        state.image_key = image.key
        nspawn.ensure_bridge(network.bridge, str(network.gateway), network.subnet.prefixlen)

        records = {m.name: m for m in state.machines}
        for spec in to_add:
            layout = layout_for(paths, network, spec)
            if layout.directory.exists():  # leftovers of a failed `up`
                shutil.rmtree(layout.directory)
            layout.upper.mkdir(parents=True)
            host_key = _keygen(layout.upper / "etc/ssh/ssh_host_ed25519_key", spec.name)
            records[spec.name] = MachineRecord(spec.name, spec.role, spec.address, host_key, uuid.uuid4().hex)
        state.machines = [records[m.name] for m in wanted]
        save_state(paths, state)
        write_known_hosts(paths, state)

        started: list[tuple[MachineRecord, nspawn.MachineLayout, int, float]] = []
        for rec in state.machines:
            layout = layout_for(paths, network, rec.spec)
            if nspawn.is_nspawn(rec.nspawn_pid, rec.name):
                print(f"machines: {rec.name} is running (left alone)")
                continue
            nspawn.stop(layout, rec.nspawn_pid)  # anything left of an earlier run
            files = files_for(rec.spec, wanted, str(network.gateway), rec.machine_id, client_pub)
            write_machine_files(layout, image.root, files)
            began = time.monotonic()
            rec.nspawn_pid = nspawn.start(layout, image.root)
            started.append((rec, layout, rec.nspawn_pid, began))
            save_state(paths, state)
        for rec, layout, pid, began in started:
            status = wait_booted(layout, pid, time.monotonic() + BOOT_TIMEOUT)
            rec.created_seconds = round(time.monotonic() - began, 1)
            print(f"machines: {rec.name} {rec.address} {rec.role}: systemd {status}, sshd up "
                  f"({rec.created_seconds}s after start)", flush=True)  # fmt: skip
        save_state(paths, state)
        if to_add:  # machines that were already running learn the new names too
            refresh_hosts(state, hosts_file(wanted))
        mirror = ensure_mirror(paths, network) if args.mirror else {}
        if args.stack_file != "none":
            stack = Path(args.stack_file)
            stack.write_text(
                render_local_stack(
                    network, [m.spec for m in state.machines], {m.name: m.host_key for m in state.machines},
                    str(paths.client_key), toolchain_kubernetes_version(),
                    extra_config={**local_services_config(toolchain.find("cilium-chart")), **mirror},
                )
            )  # fmt: skip
            print(f"machines: wrote {stack} (scripts/lab render local | preview local | up local)")
        print(f"machines: {len(state.machines)} machine(s) up on {network.bridge} {network.subnet}; "
              f"ssh: scripts/lab machines ssh <name>")  # fmt: skip
    return 0


def status_rows(paths: Paths, state: LabState) -> list[dict[str, str]]:
    network = state.network
    rows = []
    for rec in state.machines:
        running = nspawn.is_nspawn(rec.nspawn_pid, rec.name)
        ssh_ok = False
        if running:
            res = subprocess.run(ssh_argv(paths, rec.address, "true"), capture_output=True, timeout=20)
            ssh_ok = res.returncode == 0
        mem = nspawn.memory_bytes(layout_for(paths, network, rec.spec)) if running else None
        rows.append({
            "name": rec.name, "address": rec.address, "role": rec.role,
            "running": "yes" if running else "no", "sshd": "yes" if ssh_ok else "no",
            "systemd": systemd_state(rec.nspawn_pid, rec.name),
            "memory": f"{mem / 2**20:.0f} MiB" if mem else "-",
        })  # fmt: skip
    return rows


def cmd_status(args: argparse.Namespace, paths: Paths) -> int:
    state = load_state(paths)
    if state is None or not state.machines:
        print(f"machines: none ({paths.state_dir})")
        return 0
    rows = status_rows(paths, state)
    cols = ["name", "address", "role", "running", "sshd", "systemd", "memory"]
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols}
    print("  ".join(c.upper().ljust(widths[c]) for c in cols))
    for r in rows:
        print("  ".join(r[c].ljust(widths[c]) for c in cols))
    print(f"bridge {state.bridge} {state.subnet}; state {paths.state_dir}")
    return 0 if all(r["running"] == "yes" and r["sshd"] == "yes" for r in rows) else 1


def leftovers(bridge: str, state_dir: Path) -> list[str]:
    """Anything of the lab on `bridge` still on the host (what `down` must have removed)."""
    out = []
    if nspawn.link_exists(bridge):
        out.append(f"bridge {bridge}")
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    for line in links.splitlines():
        dev = line.split(":")[1].strip().split("@")[0]
        if dev.startswith(f"{bridge}v"):
            out.append(f"veth {dev}")
    if nspawn.NETNS_DIR.is_dir():
        out += [f"netns {p.name}" for p in nspawn.NETNS_DIR.iterdir() if p.name.startswith(f"hlm-{bridge}-")]
    for h in nspawn.cgroup_hierarchies():
        if (h / f"homelab-{bridge}").exists():
            out.append(f"cgroup {h / f'homelab-{bridge}'}")
    mounts = Path("/proc/mounts").read_text()
    out += [f"mount {line.split()[1]}" for line in mounts.splitlines() if str(state_dir) in line.split()[1]]
    return out


def _stack_is_ours(path: Path) -> bool:
    with suppress(OSError):
        return path.read_text().startswith("# Written by `scripts/lab machines up`")
    return False


def cmd_down(args: argparse.Namespace, paths: Paths) -> int:
    if os.geteuid() != 0:
        raise MachinesError("not root: removing bridges, namespaces and cgroups needs root (run with sudo)")
    with locked(paths):
        state = load_state(paths)
        bridge = (
            args.bridge
            or (state.bridge if state else None)
            or os.environ.get("HOMELAB_MACHINES_BRIDGE", DEFAULT_BRIDGE)
        )
        subnet = state.subnet if state else DEFAULT_SUBNET
        network = parse_network(bridge, subnet)
        records = list(state.machines) if state else []
        # Also whatever a lost state file no longer lists: everything is named after the bridge.
        known = {r.name for r in records}
        if nspawn.NETNS_DIR.is_dir():
            for p in nspawn.NETNS_DIR.iterdir():
                name = p.name.removeprefix(f"hlm-{bridge}-")
                if p.name.startswith(f"hlm-{bridge}-") and name not in known:
                    records.append(MachineRecord(name, "worker", "0.0.0.0", "", ""))
        if (paths.state_dir / "artifacts" / "serve.json").is_file():
            _artifacts(paths, "stop")
        for rec in records:
            layout = layout_for(paths, network, rec.spec)
            nspawn.stop(layout, rec.nspawn_pid)
            nspawn.remove_netns(layout)
            if failed := nspawn.remove_cgroups(layout):
                print(f"machines: could not remove cgroups: {'; '.join(failed)}", file=sys.stderr)
            print(f"machines: {rec.name} removed")
        nspawn.remove_bridge(bridge)
        shutil.rmtree(paths.machines_dir, ignore_errors=True)
        for f in (paths.state_file, paths.known_hosts):
            f.unlink(missing_ok=True)
        if args.stack_file != "none" and _stack_is_ours(Path(args.stack_file)):
            Path(args.stack_file).unlink()
        if args.stack_file != "none" and Path(args.stack_file).resolve() == DEFAULT_STACK_FILE.resolve():
            # The `local` stack's machines: what hostrun ran on them is gone with them, so a
            # later `up local` on new machines creates rather than updates. (Pulumi's own
            # state is the user's: said below.)
            from tools.hostrun import state_file

            if state_file(STACK).exists():
                state_file(STACK).unlink()
                print(f"machines: removed hostrun's record of stack {STACK} ({state_file(STACK)})")
            print(f"machines: if the Pulumi stack {STACK} still lists resources, `scripts/lab destroy {STACK}` "
                  f"first next time, or `pulumi stack rm --force {STACK}` now")  # fmt: skip
        if args.purge:
            machine_image.remove_images(paths.images)
            for f in (paths.client_key, paths.client_key.with_suffix(".pub"), paths.image_log):
                f.unlink(missing_ok=True)
    if args.purge:
        shutil.rmtree(paths.state_dir, ignore_errors=True)
    if left := leftovers(bridge, paths.state_dir):
        raise MachinesError("down left these behind: " + ", ".join(left))
    print(f"machines: down; nothing of bridge {bridge} is left" + (" (base image purged)" if args.purge else ""))
    return 0


def cmd_ssh(args: argparse.Namespace, paths: Paths) -> int:
    state = load_state(paths)
    rec = next((m for m in (state.machines if state else []) if m.name == args.name), None)
    if rec is None:
        raise MachinesError(f"no machine named {args.name!r} (see `scripts/lab machines status`)")
    argv = ssh_argv(paths, rec.address, *args.command)
    os.execvp(argv[0], argv)
    return 1  # not reached


def cmd_image(args: argparse.Namespace, paths: Paths) -> int:
    """The base image alone: what `.ci/run` builds in its budgeted phase, so tests never do."""
    if problems := [p for p in preflight() if "debootstrap" in p or "root" in p]:
        raise MachinesError("; ".join(problems))
    image = machine_image.ensure_base_image(paths.images, paths.image_log)
    how = "cached" if image.built_seconds is None else f"built in {image.built_seconds:.0f} s"
    print(f"machines: base image {image.root} ({how})")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scripts/lab machines", description=__doc__.splitlines()[0])
    p.add_argument("--state-dir", type=Path, default=None,
                   help=f"state directory (env HOMELAB_MACHINES_DIR; default {DEFAULT_STATE_DIR})")  # fmt: skip
    sub = p.add_subparsers(dest="action", required=True)
    up = sub.add_parser("up", help="make the machines (idempotent; a larger --nodes adds machines)")
    up.add_argument("--nodes", type=int, default=None, help="how many machines (default 3, or as many as exist)")
    up.add_argument("--control-planes", type=int, default=None, help="the first N are control planes "
                    "(default: as many as exist, else 2 with 3+ nodes, else 1)")  # fmt: skip
    for s in (up, sub.add_parser("down", help="remove every machine, the bridge and all they hold on the host")):
        s.add_argument("--bridge", default=None,
                       help=f"bridge name (env HOMELAB_MACHINES_BRIDGE; default {DEFAULT_BRIDGE})")  # fmt: skip
        s.add_argument("--stack-file", default=str(DEFAULT_STACK_FILE),
                       help="the stack written by up and removed by down ('none': no stack file)")  # fmt: skip
    up.add_argument("--no-mirror", dest="mirror", action="store_false",
                    help="serve no packages and images on the bridge (the stack then names pkgs.k8s.io)")  # fmt: skip
    up.add_argument("--subnet", default=None,
                    help=f"the lab LAN (env HOMELAB_MACHINES_SUBNET; default {DEFAULT_SUBNET})")  # fmt: skip
    sub.choices["down"].add_argument("--purge", action="store_true", help="also remove the cached base image")
    sub.add_parser("status", help="name, address, role, running, sshd reachable, systemd state, memory")
    sub.add_parser("image", help="build (or find cached) the base image only: debootstrap, about 3 minutes")
    ssh = sub.add_parser("ssh", help="ssh to a machine as root (pinned host key)")
    ssh.add_argument("name")
    ssh.add_argument("command", nargs=argparse.REMAINDER)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    paths = Paths(args.state_dir or default_state_dir())
    commands = {"up": cmd_up, "status": cmd_status, "down": cmd_down, "ssh": cmd_ssh, "image": cmd_image}
    try:
        return commands[args.action](args, paths)
    except (MachinesError, PlanError) as exc:
        print(f"machines: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

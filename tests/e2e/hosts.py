"""Throwaway "machines" for end-to-end tests: one network namespace per node, each
running a real OpenSSH sshd on port 22, all on a test bridge in the root namespace.

Design (see report in issue 5):
- Addresses come from a test subnet (default 10.250.0.0/24; HOMELAB_E2E_SUBNET to change)
  that exists only on this machine: the bridge gets .1, node i gets .(10+i).  No forwarding
  or NAT is set up, so nodes reach each other and the root namespace, nothing else.
- sshd is started as `ip netns exec NS unshare --mount --uts --propagation private`, so each
  node has its own hostname and its own mount table.  Per-node directories under the tmp
  dir are bind-mounted over PRIVATE_DIRS (/etc/kubernetes, /var/lib/etcd, /var/lib/kubelet,
  ...) and a per-node /etc/hosts, /etc/hostname, /etc/resolv.conf; the rest is the shared root fs.
- Keys (ed25519 host key per node, one client key) are generated at test time in the tmp dir.
  Login is root with `PermitRootLogin prohibit-password`.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

DEFAULT_SUBNET = "10.250.0.0/24"
PRIVATE_DIRS: tuple[str, ...] = (
    "/etc/kubernetes",
    "/var/lib/etcd",
    "/var/lib/kubelet",
    "/etc/cni/net.d",
)
REQUIRED_TOOLS: dict[str, str] = {
    "ip": "apt-get install -y --no-install-recommends iproute2",
    "unshare": "apt-get install -y util-linux",
    "sshd": "apt-get install -y --no-install-recommends openssh-server",
    "ssh": "apt-get install -y --no-install-recommends openssh-client",
    "ssh-keygen": "apt-get install -y --no-install-recommends openssh-client",
}
SSHD = "/usr/sbin/sshd"
RUNS_DIR = Path("/run/homelab-e2e")  # <run id> -> pid of the owning test process


class HostsUnavailable(RuntimeError):
    """The sandbox cannot provide test hosts; the message says what is missing and how to get it."""


@dataclasses.dataclass(frozen=True)
class E2EHost:
    name: str
    address: str
    user: str
    private_key_pem: str
    host_key_pub: str  # "ssh-ed25519 AAAA..." (no comment)
    netns: str
    root: Path  # per-node directory holding the bind-mounted private dirs
    private_key_path: Path
    known_hosts_path: Path
    port: int = 22

    def ssh_argv(self, *command: str) -> list[str]:
        """argv for `ssh` to this host that checks the host key against host_key_pub."""
        return [
            "ssh", "-i", str(self.private_key_path),
            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
            "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={self.known_hosts_path}",
            "-o", "ConnectTimeout=5", "-p", str(self.port),
            f"{self.user}@{self.address}", *command,
        ]  # fmt: skip

    def ssh(self, *command: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.ssh_argv(*command), capture_output=True, text=True, timeout=timeout, check=False)

    def put_on_path(self, binaries: dict[str, Path]) -> None:
        """`binaries` (name on the node: file here) in the node's /usr/local/bin, in its own
        mount namespace only: the shared root file system is not touched."""
        bindir = self.root / "bin"
        bindir.mkdir()
        for name, path in binaries.items():
            shutil.copy(path, bindir / name)
        mounted = self.ssh(f"mount --bind {bindir} /usr/local/bin")
        assert mounted.returncode == 0, f"{self.name}: {mounted.stderr}"

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "address": self.address,
            "user": self.user,
            "port": self.port,
            "private_key_pem": self.private_key_pem,
            "host_key_pub": self.host_key_pub,
        }

    def __repr__(self) -> str:  # keep the private key out of assertion messages and logs
        return f"E2EHost(name={self.name!r}, address={self.address!r}, user={self.user!r}, netns={self.netns!r})"


def missing_tools() -> list[str]:
    """Reasons, one per missing prerequisite (empty when everything is there)."""
    out = []
    if os.geteuid() != 0:
        out.append("not root: network namespaces, bridges and bind mounts need root (CI runs as root)")
    for tool, how in REQUIRED_TOOLS.items():
        found = shutil.which(tool) or (tool == "sshd" and Path(SSHD).exists())
        if not found:
            out.append(f"`{tool}` not found: {how}")
    return out


def _sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} -> {res.returncode}: {res.stderr.strip()}")
    return res


def probe_netns() -> str:
    """'' when `ip netns add` + a bridge + unshare work here, else why not."""
    name = f"hlprobe{os.getpid() % 100000}"
    try:
        r = _sh("ip", "netns", "add", name, check=False)
        if r.returncode != 0:
            return f"`ip netns add` failed: {r.stderr.strip()}"
        unshare = ("unshare", "--mount", "--uts", "--propagation", "private", "true")
        r = _sh("ip", "netns", "exec", name, *unshare, check=False)
        if r.returncode != 0:
            return f"`unshare --mount --uts` inside a netns failed: {r.stderr.strip()}"
        r = _sh("ip", "link", "add", f"{name}b", "type", "bridge", check=False)
        if r.returncode != 0:
            return f"`ip link add type bridge` failed: {r.stderr.strip()}"
        return ""
    finally:
        _sh("ip", "link", "del", f"{name}b", check=False)
        _sh("ip", "netns", "del", name, check=False)


def _keygen(path: Path, comment: str) -> str:
    _sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path))
    return " ".join(path.with_suffix(".pub").read_text().split()[:2])


def _wait_port(addr: str, port: int, deadline: float) -> None:
    while True:
        try:
            with socket.create_connection((addr, port), timeout=1) as s:
                if s.recv(8).startswith(b"SSH-"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"sshd on {addr}:{port} did not come up")
        time.sleep(0.1)


_SSHD_CONFIG = """\
ListenAddress {address}
Port 22
HostKey {host_key}
PidFile {pid_file}
AuthorizedKeysFile {authorized_keys}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
UsePAM no
StrictModes no
AcceptEnv *
MaxStartups 100:30:200
MaxSessions 50
Subsystem sftp internal-sftp
LogLevel VERBOSE
"""

# No resolver is reachable from a node: fail fast on localhost instead of timing out.
_RESOLV_CONF = "# homelab e2e test host: no DNS server\nnameserver 127.0.0.1\noptions timeout:1 attempts:1\n"

# Runs inside the new mount+UTS namespace, then becomes sshd.
_START = """\
set -e
hostname "$HL_NAME"
for d in $HL_DIRS; do
  mkdir -p "$HL_ROOT$d" "$d"
  mount --bind "$HL_ROOT$d" "$d"
done
mount --bind "$HL_ROOT/etc-hosts" /etc/hosts
mount --bind "$HL_ROOT/etc-hostname" /etc/hostname
mount --bind "$HL_ROOT/etc-resolv.conf" /etc/resolv.conf || true
mkdir -p /run/sshd
exec {sshd} -D -e -f "$HL_ROOT/sshd_config"
"""


@contextmanager
def start_hosts(
    count: int,
    tmp: Path,
    subnet: str | None = None,
    private_dirs: tuple[str, ...] = PRIVATE_DIRS,
    names: list[str] | None = None,
) -> Iterator[list[E2EHost]]:
    """Start `count` hosts; tear everything down on exit (sshd + session processes, netns, bridge)."""
    if problems := missing_tools():
        raise HostsUnavailable("; ".join(problems))
    if why := probe_netns():
        raise HostsUnavailable(why)
    net = ipaddress.ip_network(subnet or os.environ.get("HOMELAB_E2E_SUBNET", DEFAULT_SUBNET))
    if not net.is_private or net.prefixlen > 28 or count > 200:
        raise ValueError(f"{net}: need a private test subnet /28 or larger and at most 200 hosts")
    if used := _sh("ip", "-o", "addr", "show", "to", str(net), check=False).stdout.strip():
        raise RuntimeError(f"test subnet {net} already in use (another run? HOMELAB_E2E_SUBNET): {used[:200]}")
    run_id = uuid.uuid4().hex[:5]
    bridge = f"hl{run_id}br"
    gw = f"{net[1]}/{net.prefixlen}"
    names = names or [f"node{i + 1}" for i in range(count)]
    client_key = tmp / "id_ed25519"
    client_pub = _keygen(client_key, "homelab-e2e")
    (tmp / "authorized_keys").write_text(client_pub + "\n")
    private_pem = client_key.read_text()
    created_dirs = [_top_missing(Path(d)) for d in private_dirs if not Path(d).exists()]
    hosts: list[E2EHost] = []
    procs: list[subprocess.Popen[bytes]] = []
    hosts_file = "127.0.0.1 localhost\n" + "".join(f"{net[10 + i]} {n}\n" for i, n in enumerate(names))
    try:
        RUNS_DIR.mkdir(parents=True, exist_ok=True)
        (RUNS_DIR / run_id).write_text(str(os.getpid()))
        (RUNS_DIR / f"{run_id}.dirs").write_text("".join(f"{d}\n" for d in created_dirs))
        _sh("ip", "link", "add", bridge, "type", "bridge")
        _sh("ip", "addr", "add", gw, "dev", bridge)
        _sh("ip", "link", "set", bridge, "up")
        for i, name in enumerate(names):
            ns = f"hl{run_id}-{name}"
            addr = str(net[10 + i])
            root = tmp / name
            root.mkdir()
            (root / "etc-hosts").write_text(hosts_file)
            (root / "etc-hostname").write_text(name + "\n")
            (root / "etc-resolv.conf").write_text(_RESOLV_CONF)
            host_pub = _keygen(root / "ssh_host_ed25519_key", name)
            (root / "known_hosts").write_text(f"{addr} {host_pub}\n")
            (root / "sshd_config").write_text(_SSHD_CONFIG.format(
                address=addr, host_key=root / "ssh_host_ed25519_key", pid_file=root / "sshd.pid",
                authorized_keys=tmp / "authorized_keys"))  # fmt: skip
            veth = f"hl{run_id}v{i}"
            _sh("ip", "netns", "add", ns)
            _sh("ip", "link", "add", veth, "type", "veth", "peer", "name", f"{veth}p")
            _sh("ip", "link", "set", veth, "master", bridge, "up")
            _sh("ip", "link", "set", f"{veth}p", "netns", ns)
            nx = ("ip", "netns", "exec", ns)
            _sh(*nx, "ip", "link", "set", f"{veth}p", "name", "eth0")
            _sh(*nx, "ip", "addr", "add", f"{addr}/{net.prefixlen}", "dev", "eth0")
            _sh(*nx, "ip", "link", "set", "eth0", "up")
            _sh(*nx, "ip", "link", "set", "lo", "up")
            _sh(*nx, "ip", "route", "add", "default", "via", str(net[1]))
            env = dict(os.environ, HL_NAME=name, HL_ROOT=str(root), HL_DIRS=" ".join(private_dirs))
            with (root / "sshd.log").open("wb") as log:
                procs.append(subprocess.Popen(
                    [*nx, "unshare", "--mount", "--uts", "--propagation", "private", "--",
                     "sh", "-c", _START.format(sshd=SSHD)],
                    env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))  # fmt: skip
            hosts.append(E2EHost(
                name=name, address=addr, user="root", private_key_pem=private_pem, host_key_pub=host_pub,
                netns=ns, root=root, private_key_path=client_key, known_hosts_path=root / "known_hosts"))  # fmt: skip
        deadline = time.monotonic() + 20
        for h, p in zip(hosts, procs, strict=True):
            if p.poll() is not None:
                raise RuntimeError(f"sshd for {h.name} exited: {(h.root / 'sshd.log').read_text()[-2000:]}")
            _wait_port(h.address, 22, deadline)
        yield hosts
    finally:
        for p in procs:
            with suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
        for h in hosts:  # anything a test left running inside a node
            for pid in _sh("ip", "netns", "pids", h.netns, check=False).stdout.split():
                with suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
        for p in procs:
            with suppress(subprocess.TimeoutExpired):
                p.wait(timeout=5)
        for h in hosts:
            _sh("ip", "netns", "del", h.netns, check=False)
        _sh("ip", "link", "del", bridge, check=False)
        (RUNS_DIR / run_id).unlink(missing_ok=True)
        _remove_mount_points(run_id)


@contextmanager
def hosts_or_skip(tmp: Path, count: int, **options: Any) -> Iterator[list[E2EHost]]:
    """`start_hosts` for a test fixture: in `tmp` (made private, removed afterwards with its
    throwaway keys), after removing what dead runs left behind; a loud skip saying what is
    missing when this machine cannot make hosts."""
    tmp.chmod(0o700)
    try:
        cleanup_stale()
        with start_hosts(count, tmp, **options) as hosts:
            yield hosts
    except HostsUnavailable as exc:
        pytest.skip(f"E2E HOSTS UNAVAILABLE -- {exc}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _top_missing(path: Path) -> Path:
    while not path.parent.exists():
        path = path.parent
    return path


def _remove_mount_points(run_id: str) -> None:
    """Remove the empty mount points a run created on the shared fs, unless another run is live
    (removing a directory detaches its bind mounts in every other mount namespace)."""
    record = RUNS_DIR / f"{run_id}.dirs"
    live = [f.name for f in RUNS_DIR.glob("?????") if f.name != run_id and _owner_alive(f.name)]
    if not live and record.is_file():
        for top in record.read_text().split():
            _remove_empty_tree(Path(top))
    if not live:
        record.unlink(missing_ok=True)


def _remove_empty_tree(top: Path) -> None:
    """rmdir `top` and its subdirectories bottom-up; stops at anything non-empty."""
    if not top.is_dir():
        return
    for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda t: -len(t[0])):
        with suppress(OSError):
            Path(dirpath).rmdir()


def _owner_alive(run_id: str) -> bool:
    try:
        pid = int((RUNS_DIR / run_id).read_text())
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        return False
    return state != "Z"  # a killed owner may linger as a zombie


def cleanup_stale() -> None:
    """Remove namespaces/bridges of runs whose process is gone (names are `hl<run id>...`)."""
    for line in _sh("ip", "-o", "netns", "list", check=False).stdout.splitlines():
        ns = line.split()[0]
        run_id = ns[2:7]
        if ns.startswith("hl") and ns[7:8] == "-" and not _owner_alive(run_id):
            for pid in _sh("ip", "netns", "pids", ns, check=False).stdout.split():
                with suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            _sh("ip", "netns", "del", ns, check=False)
    for line in _sh("ip", "-o", "link", "show", "type", "bridge", check=False).stdout.splitlines():
        dev = line.split(":")[1].strip()
        if dev.startswith("hl") and dev.endswith("br") and len(dev) == 9 and not _owner_alive(dev[2:7]):
            _sh("ip", "link", "del", dev, check=False)
            (RUNS_DIR / dev[2:7]).unlink(missing_ok=True)
    for record in RUNS_DIR.glob("?????.dirs"):
        if not _owner_alive(record.name[:5]):
            _remove_mount_points(record.name[:5])

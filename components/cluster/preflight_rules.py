"""The preflight rules: every node's facts (components/cluster/preflight_probe.py) → findings, and the report. Pure."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from components.cluster.preflight_probe import Facts

Severity = Literal["fatal", "warn", "ok"]
SUPPORTED_OS: dict[str, tuple[str, ...]] = {"debian": ("12", "13"), "ubuntu": ("22.04", "24.04")}
CONTROL_PLANE_PORTS = (6443, 2379, 2380, 10250)
WORKER_PORTS = (10250,)
SKEW_WARN_S = 1.0
SKEW_FATAL_S = 30.0
DISK_FATAL_KIB = 2 * 1024 * 1024
DISK_WARN_KIB = 10 * 1024 * 1024


@dataclass(frozen=True)
class Finding:
    severity: Severity
    check: str
    message: str


@dataclass
class NodeProbe:
    """One node as the check saw it: from the stack, plus what SSH and the probe returned."""

    name: str
    address: str
    role: str
    prepare: bool = True
    error: str = ""  # SSH failed: why (the node is unreachable)
    facts: Facts | None = None
    sent_at: float = 0.0  # this machine's clock before and after the probe ran
    done_at: float = 0.0
    host_key_seen: str = ""  # `ssh-keyscan`'s ed25519 key, "type base64"
    host_key_pinned: str = ""  # the stack's hostKey, if any
    findings: list[Finding] = field(default_factory=list)

    def add(self, severity: Severity, check: str, message: str) -> None:
        self.findings.append(Finding(severity, check, message))


def clock_skew(facts: Facts, sent_at: float, done_at: float) -> float | None:
    """Seconds the host's clock lies outside [sent, done] of ours (0 when inside), signed."""
    if facts.time is None:
        return None
    if facts.time < sent_at:
        return facts.time - sent_at
    if facts.time > done_at:
        return facts.time - done_at
    return 0.0


def _node_rules(n: NodeProbe, lan_interface: str | None) -> None:
    f = n.facts
    assert f is not None
    n.add("ok", "reachable", f"SSH as {f.user or '?'}")
    if not f.complete:
        n.add("fatal", "probe", "the probe stopped early (see the node's shell: bash is required)")
    if f.sudo == "no":
        n.add(
            "fatal",
            "sudo",
            f"{f.user} has no passwordless sudo (`sudo -n true` failed); add `{f.user} ALL=(ALL) NOPASSWD: ALL`",
        )
    elif f.sudo in ("yes", "root"):
        n.add("ok", "sudo", "root" if f.sudo == "root" else "passwordless sudo")
    os_ok = f.os_version in SUPPORTED_OS.get(f.os_id, ())
    os_text = f.os_name or f"{f.os_id} {f.os_version}".strip() or "unknown OS"
    if os_ok:
        n.add("ok", "os", os_text)
    elif n.prepare:
        n.add("fatal", "os", f"{os_text} is not supported (Debian 12/13, Ubuntu 22.04/24.04); or set prepare: false")
    else:
        n.add("warn", "os", f"{os_text} is not supported; prepare: false, so you prepare this host yourself")
    if n.address in f.addresses:
        n.add("ok", "address", f"{n.address} on {f.addresses[n.address]}")
    else:
        have = (
            ", ".join(f"{ip} ({dev})" for ip, dev in sorted(f.addresses.items()) if not ip.startswith("127.")) or "none"
        )
        n.add("fatal", "address", f"{n.address} (the stack's address) is on no interface of this host; it has {have}")
    if lan_interface is not None:
        if lan_interface in f.interfaces:
            n.add("ok", "lan-interface", lan_interface)
        else:
            have = ", ".join(sorted(f.interfaces)) or "none"
            n.add(
                "fatal",
                "lan-interface",
                f"homelab:network.lanAttachment.interface {lan_interface!r} does not exist here (interfaces: {have})",
            )
    if f.swaps:
        where = ", ".join(f.swaps)
        if f.member:
            # Its prepare step ran already and runs no more: nothing turns this swap off.
            n.add("fatal", "swap", f"swap is on ({where}) on a member: its kubelet (failSwapOn) will not start again "
                  "after a restart; `swapoff -a` and take it out of /etc/fstab")  # fmt: skip
        elif n.prepare:
            n.add("warn", "swap", f"swap is on ({where}); the prepare step turns it off and comments it out of fstab")
        else:
            n.add("fatal", "swap", f"swap is on ({where}) and prepare: false: the kubelet will not start; swapoff it")
    else:
        n.add("ok", "swap", "off")
    if f.cgroup_fs == "cgroup2fs":
        n.add("ok", "cgroup", "v2")
    elif f.cgroup_fs == "tmpfs":
        n.add("warn", "cgroup", "cgroup v1: deprecated, and Kubernetes 1.35's kubelet refuses it; boot with cgroup v2")
    else:
        n.add("warn", "cgroup", f"no cgroup filesystem at /sys/fs/cgroup ({f.cgroup_fs or 'nothing'} there)")
    skew = clock_skew(f, n.sent_at, n.done_at)
    if not n.sent_at:
        pass  # no clock of ours to compare with (the check run by `up`, on the host)
    elif skew is None:
        n.add("warn", "clock", "the host's time could not be read")
    elif abs(skew) > SKEW_FATAL_S:
        n.add("fatal", "clock", f"clock is {skew:+.1f} s off this machine's: certificates and etcd break; run NTP")
    elif abs(skew) > SKEW_WARN_S:
        n.add("warn", "clock", f"clock is {skew:+.1f} s off this machine's; run NTP (chrony/systemd-timesyncd)")
    else:
        n.add("ok", "clock", "in sync with this machine (within the SSH round trip)")
    ports = CONTROL_PLANE_PORTS if n.role == "control-plane" else WORKER_PORTS
    busy = sorted(p for p in ports if p in f.listening)
    if f.member:
        n.add("ok", "ports", "already a member of a cluster (/etc/kubernetes/homelab): ports not checked")
    elif busy:
        n.add(
            "fatal", "ports", f"new node, but port(s) {', '.join(map(str, busy))} are in use; kubeadm needs them free"
        )
    else:
        n.add("ok", "ports", f"{', '.join(map(str, ports))} free")
    if f.var_lib_free_kib is None:
        n.add("warn", "disk", "free space under /var/lib could not be read")
    else:
        gib = f.var_lib_free_kib / 1024 / 1024
        if f.var_lib_free_kib < DISK_FATAL_KIB:
            n.add("fatal", "disk", f"{gib:.1f} GiB free under /var/lib; images and etcd need several GiB")
        elif f.var_lib_free_kib < DISK_WARN_KIB:
            n.add("warn", "disk", f"only {gib:.1f} GiB free under /var/lib (10 GiB or more recommended)")
        else:
            n.add("ok", "disk", f"{gib:.0f} GiB free under /var/lib")
    if not f.product_uuid:
        n.add("warn", "product_uuid", "/sys/class/dmi/id/product_uuid is unreadable; uniqueness not checked")


def _duplicates(nodes: Sequence[NodeProbe], value: Mapping[str, list[str]]) -> dict[str, list[str]]:
    return {v: names for v, names in value.items() if len(names) > 1}


def _cross_node_rules(nodes: Sequence[NodeProbe]) -> None:
    probed = [n for n in nodes if n.facts is not None]
    uuids: dict[str, list[str]] = defaultdict(list)
    machine_ids: dict[str, list[str]] = defaultdict(list)
    macs: dict[str, list[str]] = defaultdict(list)
    for n in probed:
        f = n.facts
        assert f is not None
        if f.product_uuid:
            uuids[f.product_uuid].append(n.name)
        if f.machine_id:
            machine_ids[f.machine_id].append(n.name)
        node_iface = f.addresses.get(n.address)
        for iface, (mac, physical) in f.interfaces.items():
            # Physical NICs and the one carrying the node's address: kubeadm and the LAN
            # care about these; virtual ones (bridges, veths, CNI) may repeat harmlessly.
            if (physical or iface == node_iface) and mac and mac != "00:00:00:00:00:00":
                macs[mac].append(f"{n.name}/{iface}")
    by_name = {n.name: n for n in probed}
    for uuid, names in _duplicates(probed, uuids).items():
        for name in names:
            others = ", ".join(x for x in names if x != name)
            by_name[name].add(
                "fatal", "product_uuid", f"{uuid} is also {others}'s: a cloned machine (kubeadm needs unique ones)"
            )
    for mid, names in _duplicates(probed, machine_ids).items():
        for name in names:
            others = ", ".join(x for x in names if x != name)
            by_name[name].add(
                "warn", "machine-id", f"/etc/machine-id {mid[:8]}… is also {others}'s: a clone; regenerate it"
            )
    for mac, owners in _duplicates(probed, macs).items():
        for owner in owners:
            name = owner.split("/")[0]
            others = ", ".join(x for x in owners if x != owner)
            by_name[name].add("fatal", "mac", f"{owner} has MAC {mac}, as {others} does: a cloned machine")
    for n in probed:
        f = n.facts
        assert f is not None
        if f.product_uuid and not any(fd.check == "product_uuid" for fd in n.findings):
            n.add("ok", "product_uuid", "unique")


def _host_key_rules(n: NodeProbe) -> None:
    if not n.host_key_seen:
        if n.facts is not None:
            n.add("warn", "host-key", "ssh-keyscan returned no ed25519 host key")
        return
    if not n.host_key_pinned:
        n.add("warn", "host-key", "not pinned in the stack (`scripts/lab check <stack> --pin-host-keys` pins it)")
    elif n.host_key_pinned.split()[:2] == n.host_key_seen.split()[:2]:
        n.add("ok", "host-key", "matches the stack's pin")
    else:
        n.add("fatal", "host-key", "DIFFERS from the stack's hostKey: a reinstalled host, or someone in between")


def evaluate(nodes: Sequence[NodeProbe], lan_interface: str | None = None) -> None:
    """Fill each node's findings: its own rules, then the ones across nodes."""
    for n in nodes:
        n.findings.clear()
        if n.facts is None:
            n.add("fatal", "reachable", n.error or "no answer")
        else:
            _node_rules(n, lan_interface)
        _host_key_rules(n)
    _cross_node_rules(nodes)


def fatal_count(nodes: Sequence[NodeProbe]) -> int:
    return sum(1 for n in nodes for f in n.findings if f.severity == "fatal")


def format_report(stack: str, nodes: Sequence[NodeProbe], seconds: float) -> str:
    lines = [f"homelab check: stack {stack}, {len(nodes)} node(s), {seconds:.1f} s"]
    for n in nodes:
        state = "" if n.facts is None else (", member" if n.facts.member else ", new")
        lines.append(f"{n.name} {n.address} ({n.role}{state})")
        for sev in ("fatal", "warn"):
            for f in n.findings:
                if f.severity == sev:
                    lines.append(f"  {'FATAL' if sev == 'fatal' else 'warn '} {f.check}: {f.message}")
        ok = [f.check for f in n.findings if f.severity == "ok"]
        if ok:
            lines.append(f"  ok    {', '.join(dict.fromkeys(ok))}")
        if n.host_key_seen:
            lines.append(f"  host key: {n.host_key_seen}")
    fatal = fatal_count(nodes)
    warns = sum(1 for n in nodes for f in n.findings if f.severity == "warn")
    verdict = "NOT READY" if fatal else "ready"
    lines.append(f"{verdict}: {fatal} fatal, {warns} warning(s)")
    return "\n".join(lines) + "\n"


def new_node_blockers(nodes: Sequence[NodeProbe]) -> list[str]:
    """Fatal findings on nodes that are not in a cluster yet: what stops `up` before it
    changes anything on them. Members (already prepared and joined) never block."""
    return [
        f"{n.name}: {f.check}: {f.message}"
        for n in nodes
        if n.facts is not None and not n.facts.member
        for f in n.findings
        if f.severity == "fatal"
    ]

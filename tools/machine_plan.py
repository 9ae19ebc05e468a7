"""Which machines to make: names, roles and addresses on the lab bridge. Pure functions."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

DEFAULT_BRIDGE = "hlbr0"
DEFAULT_SUBNET = "10.251.0.0/24"
# Offsets from the subnet's network address: the bridge (the LAN's "router"), the
# machines, the DHCP range a real router would have, and the LoadBalancer pool.
GATEWAY_OFFSET = 1
FIRST_MACHINE_OFFSET = 11
LAST_MACHINE_OFFSET = 99
DHCP_OFFSETS = (100, 199)
LB_POOL_OFFSETS = (240, 250)
MAX_MACHINES = LAST_MACHINE_OFFSET - FIRST_MACHINE_OFFSET + 1
BRIDGE_NAME = re.compile(r"^[a-z][a-z0-9]{1,9}$")  # + "v<octet>" for veths stays within 15 chars


class PlanError(ValueError):
    """Bad arguments: every problem found, each naming its argument."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class LabNetwork:
    bridge: str
    subnet: ipaddress.IPv4Network

    @property
    def gateway(self) -> ipaddress.IPv4Address:
        return self.subnet.network_address + GATEWAY_OFFSET

    def at(self, offset: int) -> ipaddress.IPv4Address:
        return self.subnet.network_address + offset

    @property
    def dhcp_range(self) -> str:
        return f"{self.at(DHCP_OFFSETS[0])}-{self.at(DHCP_OFFSETS[1])}"

    @property
    def lb_pool(self) -> str:
        return f"{self.at(LB_POOL_OFFSETS[0])}-{self.at(LB_POOL_OFFSETS[1])}"


@dataclass(frozen=True)
class MachineSpec:
    name: str
    role: str  # "control-plane" | "worker"
    address: str

    @property
    def octet(self) -> int:
        return int(self.address.rsplit(".", 1)[1])


def default_control_planes(nodes: int) -> int:
    """Two control planes from three machines on: a control-plane join is then exercised too."""
    return 2 if nodes >= 3 else 1


def parse_network(bridge: str, subnet: str) -> LabNetwork:
    problems = []
    if not BRIDGE_NAME.match(bridge):
        problems.append(f"--bridge {bridge!r}: 2-10 lowercase letters/digits, starting with a letter")
    net = None
    try:
        net = ipaddress.IPv4Network(subnet, strict=True)
    except ValueError as exc:
        problems.append(f"--subnet {subnet!r}: {exc}")
    if net is not None:
        if not net.is_private:
            problems.append(f"--subnet {net}: must be a private range (it exists only on this machine)")
        if net.prefixlen > 24:
            problems.append(f"--subnet {net}: must be a /24 or larger (machines .11-.99, DHCP .100-.199, pool .240-)")
    if problems:
        raise PlanError(problems)
    assert net is not None
    return LabNetwork(bridge, net)


def plan(network: LabNetwork, nodes: int, control_planes: int | None = None) -> list[MachineSpec]:
    """cp01.. then worker01..; addresses .11, .12, ... in that order."""
    cps = default_control_planes(nodes) if control_planes is None else control_planes
    problems = []
    if nodes < 1 or nodes > MAX_MACHINES:
        problems.append(f"--nodes {nodes}: must be 1-{MAX_MACHINES}")
    if cps < 1 or cps > max(nodes, 1):
        problems.append(f"--control-planes {cps}: must be 1-{max(nodes, 1)} (at most --nodes)")
    if problems:
        raise PlanError(problems)
    out = []
    for i in range(nodes):
        role = "control-plane" if i < cps else "worker"
        name = f"cp{i + 1:02d}" if i < cps else f"worker{i - cps + 1:02d}"
        out.append(MachineSpec(name, role, str(network.at(FIRST_MACHINE_OFFSET + i))))
    return out


def reconcile(existing: Sequence[MachineSpec], wanted: Sequence[MachineSpec]) -> list[MachineSpec]:
    """The machines to add. `up` only grows the lab: an existing machine keeps its name, role and
    address, so a plan that changes one of them (or drops one) is refused."""
    by_name = {m.name: m for m in wanted}
    problems = []
    for m in existing:
        w = by_name.get(m.name)
        if w is None:
            problems.append(f"{m.name} exists but is not in the plan (up never removes machines; use down)")
        elif w != m:
            problems.append(f"{m.name} exists as {m.role} {m.address}, the plan has {w.role} {w.address}")
    if problems:
        raise PlanError([*problems, "run `scripts/lab machines down` first to change the layout"])
    have = {m.name for m in existing}
    return [m for m in wanted if m.name not in have]


def overlapping_routes(subnet: ipaddress.IPv4Network, routes: Iterable[tuple[str, str]], own_bridge: str) -> list[str]:
    """Routes of the host (dst, dev) that overlap the subnet; the lab bridge's own route is fine."""
    clashes = []
    for dst, dev in routes:
        if dst == "default" or dev == own_bridge:
            continue
        try:
            net = ipaddress.IPv4Network(dst if "/" in dst else f"{dst}/32", strict=False)
        except ValueError:
            continue
        if net.overlaps(subnet):
            clashes.append(f"{dst} dev {dev}")
    return clashes

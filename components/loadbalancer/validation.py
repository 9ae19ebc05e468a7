"""Rules for LAN address ranges handed to MetalLB (and to the macvlan LAN attachment).

Each function reports into `problems` under the config key it is given and never raises,
so a caller can collect every problem in one pass.
"""

from __future__ import annotations

from collections.abc import Sequence

from components.loadbalancer.model import metallb_address
from components.validation import IPRange, Net, Problems

# (pool name, its address ranges) in config order; None stands for an entry that did not
# parse (already reported), so the other entries keep their config indexes.
__all__ = [
    "check_pool_conflicts",
    "check_pools_in_lan",
    "check_range_conflicts",
    "check_range_in_lan",
    "metallb_address",
]

Pools = Sequence[tuple[str, Sequence[IPRange | None]]]


def check_range_in_lan(rng: IPRange, lan: Net | None, problems: Problems, key: str) -> bool:
    """Inside the LAN and clear of its network and broadcast addresses."""
    if lan is None:
        return True
    if not rng.within(lan):
        problems.error(key, f"{rng} is outside the LAN {lan}")
        return False
    edges = [ip for ip in (lan.network_address, lan.broadcast_address) if ip in rng]
    if edges:
        problems.error(
            key,
            f"{rng} includes the LAN's {'network' if edges[0] == lan.network_address else 'broadcast'} "
            f"address {edges[0]}",
        )
        return False
    return True


def check_range_conflicts(rng: IPRange, reserved: Sequence[tuple[str, IPRange]], problems: Problems, key: str) -> bool:
    """One error naming everything `rng` overlaps, or none."""
    hits = [f"{what}: {other}" for what, other in reserved if rng.overlaps(other)]
    if hits:
        problems.error(key, f"{rng} overlaps " + "; ".join(hits))
        return False
    return True


def check_pool_conflicts(pools: Pools, reserved: list[tuple[str, IPRange]], problems: Problems, key: str) -> None:
    """Each range against the reserved addresses and every range listed before it.

    `key` is the pools list's key (`homelab:loadBalancer.pools`); a problem is reported
    under `<key>[i].addresses[j]`, once per range, naming everything that range overlaps.
    """
    earlier: list[tuple[str, IPRange]] = []
    for i, (name, ranges) in enumerate(pools):
        for j, rng in enumerate(ranges):
            if rng is None:
                continue
            range_key = f"{key}[{i}].addresses[{j}]"
            check_range_conflicts(rng, [*reserved, *earlier], problems, range_key)
            earlier.append((f"{range_key} (pool {name})", rng))


def check_pools_in_lan(pools: Pools, lan: Net | None, problems: Problems, key: str) -> None:
    for i, (_, ranges) in enumerate(pools):
        for j, rng in enumerate(ranges):
            if rng is not None:
                check_range_in_lan(rng, lan, problems, f"{key}[{i}].addresses[{j}]")

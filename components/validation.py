"""Collecting every problem with its config key, and the IP helpers the rules share."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

IPv4 = ipaddress.IPv4Address
Net = ipaddress.IPv4Network

MAX_ASN = 4294967295
IFNAME = re.compile(r"^[A-Za-z0-9_.:-]{1,15}$")  # Linux IFNAMSIZ
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class Problem:
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


class ConfigError(ValueError):
    """Every problem found in one pass; raised before any resource is registered."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid configuration ({len(self.problems)} problem(s)):\n{lines}")


@dataclass
class Problems:
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def error(self, key: str, message: str) -> None:
        # Once is enough: a model rule and a lenient lab rule may both see the same problem.
        if Problem(key, message) not in self.errors:
            self.errors.append(Problem(key, message))

    def warn(self, key: str, message: str) -> None:
        self.warnings.append(Problem(key, message))

    def raise_if_any(self) -> None:
        if self.errors:
            raise ConfigError(self.errors)

    def __bool__(self) -> bool:
        return bool(self.errors)


def parse_ip(value: object, key: str, problems: Problems) -> IPv4 | None:
    try:
        return ipaddress.IPv4Address(str(value))
    except ValueError:
        problems.error(key, f"{value!r} is not an IPv4 address")
        return None


def parse_cidr(value: object, key: str, problems: Problems) -> Net | None:
    try:
        return ipaddress.IPv4Network(str(value), strict=True)
    except ValueError as exc:
        problems.error(key, f"{value!r} is not an IPv4 network in CIDR form ({exc})")
        return None


@dataclass(frozen=True)
class IPRange:
    """An inclusive range of IPv4 addresses, written `a-b`, `a` or `a.b.c.d/n`."""

    first: IPv4
    last: IPv4

    @classmethod
    def parse(cls, text: str) -> IPRange:
        text = text.strip()
        if "/" in text:
            net = ipaddress.IPv4Network(text, strict=True)
            return cls(net.network_address, net.broadcast_address)
        if "-" in text:
            a, b = (part.strip() for part in text.split("-", 1))
            first, last = ipaddress.IPv4Address(a), ipaddress.IPv4Address(b)
            if last < first:
                raise ValueError(f"range {text!r} ends before it starts")
            return cls(first, last)
        ip = ipaddress.IPv4Address(text)
        return cls(ip, ip)

    def __contains__(self, ip: object) -> bool:
        return isinstance(ip, ipaddress.IPv4Address) and self.first <= ip <= self.last

    def overlaps(self, other: IPRange) -> bool:
        return self.first <= other.last and other.first <= self.last

    def within(self, net: Net) -> bool:
        return self.first in net and self.last in net

    @property
    def size(self) -> int:
        return int(self.last) - int(self.first) + 1

    def addresses(self) -> Iterator[IPv4]:
        for n in range(int(self.first), int(self.last) + 1):
            yield ipaddress.IPv4Address(n)

    def cidrs(self) -> list[str]:
        return [str(n) for n in ipaddress.summarize_address_range(self.first, self.last)]

    def __str__(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}-{self.last}"


def parse_range(value: object, key: str, problems: Problems) -> IPRange | None:
    try:
        return IPRange.parse(str(value))
    except ValueError as exc:
        problems.error(key, f"{value!r} is not an address range `a-b`, an address or a CIDR ({exc})")
        return None


def net_range(net: Net) -> IPRange:
    return IPRange(net.network_address, net.broadcast_address)

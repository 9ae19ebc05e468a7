"""toFQDNs names and patterns as Cilium reads them (pkg/policy/api/fqdn.go, pkg/fqdn/matchpattern).

Cilium 1.18 rules, checked here so a bad entry fails at `pulumi preview` with its config
key instead of at admission (CRD pattern) or, worse, silently matching something else:
  - characters: a-z 0-9 - _ . and, in patterns, *  (CRD: ^([-a-zA-Z0-9_*]+[.]?)+$)
  - `*` matches zero or more characters *within one label*: `*.k8s.intra` matches
    `echo.k8s.intra` but neither `k8s.intra` nor `a.b.k8s.intra`
  - a bare `*` selects every IP the pod has resolved: refused unless allowed explicitly
  - `**.` (any number of labels) exists only from Cilium 1.19; in 1.18 `**` quietly acts
    like `*`, so it is refused there
  - a trailing dot is optional (Cilium adds it); we drop it
"""

from __future__ import annotations

import re

MAX_LEN = 253  # a DNS name without its trailing dot (the CRD allows 255 with it)
_CHARS = re.compile(r"^[-a-z0-9_.*]+$")
_LITERAL_LABEL = re.compile(r"^[-a-z0-9_]{1,63}$")
_DNS_CHARS = "[-a-z0-9_]"


def cilium_minor(version: str) -> tuple[int, int]:
    major, minor = version.lstrip("v").split(".")[:2]
    return int(major), int(minor)


def normalise(entry: str) -> str:
    """Strip surrounding blanks and one trailing dot (Cilium appends it anyway)."""
    entry = entry.strip()
    return entry[:-1] if entry.endswith(".") and entry != "." else entry


def is_pattern(entry: str) -> bool:
    return "*" in entry


def fqdn_problem(entry: object, *, allow_all: bool = False, cilium_version: str = "1.18") -> str | None:
    """Why Cilium would refuse (or misread) `entry` as a toFQDNs name or pattern, or None."""
    if not isinstance(entry, str) or not normalise(entry):
        return f"must be a DNS name or pattern, got {entry!r}"
    name = normalise(entry)
    if name != name.lower():
        return f"{name!r} must be written in lowercase"
    bad = sorted({c for c in name if not _CHARS.match(c)})
    if bad:
        return f"{name!r} holds {', '.join(repr(c) for c in bad)}: Cilium allows only a-z, 0-9, '-', '_', '.' and '*'"
    if name == "*":
        if allow_all:
            return None
        return "a bare '*' allows every name the pod resolves; set allowAll: true if that is really meant"
    if len(name) > MAX_LEN:
        return f"{name!r} is longer than {MAX_LEN} characters"
    labels = name.split(".")
    if any(not label for label in labels):
        return f"{name!r} has an empty label (a leading dot or two dots in a row)"
    if "**" in name:
        if cilium_minor(cilium_version) < (1, 19):
            return (
                f"{name!r}: Cilium {cilium_version} has no multi-level wildcard ('**.' arrived in 1.19; "
                "before that '**' matches within one label like '*'); list each depth instead, "
                "e.g. '*.example.com' and '*.*.example.com'"
            )
        if not name.startswith("**.") or "**" in name[3:]:
            return f"{name!r}: '**' is only allowed as the leading '**.' of a pattern"
    for label in labels:
        if "*" not in label and not _LITERAL_LABEL.match(label):
            return f"{name!r}: label {label!r} is longer than 63 characters"
    return None


def selector(entry: str) -> dict[str, str]:
    """The toFQDNs / rules.dns selector for an entry: matchPattern when it has a wildcard."""
    name = normalise(entry)
    return {"matchPattern": name} if is_pattern(name) else {"matchName": name}


def to_regex(pattern: str) -> str:
    """Cilium's anchored regexp for a pattern (matchpattern.ToAnchoredRegexp, names without the dot)."""
    name = normalise(pattern).lower()
    if name == "*":
        return rf"^({_DNS_CHARS}+\.)*{_DNS_CHARS}+$"
    out = []
    if name.startswith("**."):  # Cilium >= 1.19: one or more labels
        out.append(rf"({_DNS_CHARS}+\.)+")
        name = name[3:]
    out.append(name.replace(".", r"\.").replace("*", f"{_DNS_CHARS}*"))
    return "^" + "".join(out) + "$"


def matches(pattern: str, name: str) -> bool:
    """Whether Cilium would let `name` through `pattern` (names compare case-insensitively)."""
    return re.match(to_regex(pattern), normalise(name).lower()) is not None

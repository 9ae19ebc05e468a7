"""A rendered Corefile, changed only where it must be to run on loopback in a test.

What changes, and why:
- server block keys lose their `:53`, so `coredns -dns.port` picks the port, and every
  block gets `bind 127.0.0.1` (a test server is not reachable from the network);
- `kubernetes` gets `kubeconfig <file> <context>` (the test API server, not in-cluster);
- `forward` targets: `/etc/resolv.conf` (the host's resolver) goes to one test upstream,
  IP targets (the router, ...) to another, so a forward zone shows it reached *its* upstream;
- `file` paths point at the zone files written next to the Corefile;
- `health`, `ready`, `prometheus` listen on free loopback ports (kubeadm's :8080, :8181 and
  :9153 are fixed ports on every interface);
- `reload` gets a short interval, so a changed Corefile is picked up within seconds.
Everything else (plugins, their order and options) is left as rendered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .binaries import free_port

INDENT = "    "
RESOLV_CONF = "/etc/resolv.conf"


@dataclass(frozen=True)
class LocalSetup:
    kubeconfig: Path
    context: str
    resolver: str  # host:port standing in for /etc/resolv.conf's nameservers
    upstream: str  # host:port standing in for every IP forward target
    zone_dir: Path  # where the ConfigMap's zone files (db.<zone>) are written
    reload: str = "2s"
    # Fixed for the setup's life, so a reloaded Corefile keeps its listeners.
    aux_ports: Mapping[str, int] = field(
        default_factory=lambda: {plugin: free_port() for plugin in ("health", "ready", "prometheus")}
    )


def _key_without_port(key: str) -> str:
    # `zone:53`, `.:53`, `dns://zone:53` -> without the port
    return re.sub(r":\d+$", "", key)


def _local_forward_targets(args: list[str], local: LocalSetup) -> list[str]:
    targets = [local.resolver if t == RESOLV_CONF else local.upstream for t in args[1:]]
    return [args[0], *dict.fromkeys(targets)]  # one upstream listed once


def localize_corefile(text: str, local: LocalSetup, zone_files: Mapping[str, str] | None = None) -> str:
    """The Corefile with the test's endpoints; writes `zone_files` (name -> text) to zone_dir."""
    for name, body in (zone_files or {}).items():
        local.zone_dir.mkdir(parents=True, exist_ok=True)
        (local.zone_dir / name).write_text(body)
    out: list[str] = []
    depth = 0
    kubernetes_depth: int | None = None
    for raw in text.splitlines():
        line = raw.strip()
        indent = raw[: len(raw) - len(raw.lstrip())]
        if not line or line.startswith("#"):
            out.append(raw)
            continue
        if line == "}":
            depth -= 1
            if kubernetes_depth is not None and depth == kubernetes_depth:
                kubernetes_depth = None
            out.append(raw)
            continue
        opens = line.endswith("{")
        words = line.removesuffix("{").split()
        if depth == 0:  # a server block's keys
            out.append(" ".join(_key_without_port(k) for k in words) + " {")
            out.append(INDENT + "bind 127.0.0.1")
        elif depth == 1:
            name, args = words[0], words[1:]
            if name == "bind":
                continue  # replaced by ours
            if name == "forward":
                args = _local_forward_targets(args, local)
            elif name == "reload":
                args = [local.reload]
            elif name in ("health", "ready", "prometheus"):
                args = [f"127.0.0.1:{local.aux_ports[name]}"]
            elif name == "file" and args:
                args = [str(local.zone_dir / Path(args[0]).name), *args[1:]]
            if name == "kubernetes":
                out.append(f"{indent}{' '.join([name, *args])} {{")
                out.append(f"{indent}{INDENT}kubeconfig {local.kubeconfig} {local.context}")
                if not opens:
                    out.append(f"{indent}}}")
                else:
                    kubernetes_depth = depth
            else:
                out.append(f"{indent}{' '.join([name, *args])}" + (" {" if opens else ""))
        elif kubernetes_depth is not None and depth == kubernetes_depth + 1 and words[0] in ("kubeconfig", "endpoint"):
            continue  # ours wins
        else:
            out.append(raw)
        if opens:
            depth += 1
    assert depth == 0, "unbalanced braces in the Corefile"
    return "\n".join(out) + "\n"

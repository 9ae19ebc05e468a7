"""The Corefile and zone files CoreDNS serves, rendered from plain values.

The `.:53` block is kubeadm's own default (cmd/kubeadm/app/phases/addons/dns/manifests.go,
Kubernetes 1.34), so patching the ConfigMap changes nothing for the cluster's names; each
custom zone adds one server block after it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from components.dns.model import APEX, ForwardZone, Zone

INDENT = "    "
# A directive: name, arguments, and the directives of its `{ ... }` block (may be empty).
Directive = tuple[str, tuple[str, ...], tuple["Directive", ...]]

# Negative-answer and refresh timings of the generated SOA (seconds). Nothing transfers
# these zones, so refresh/retry/expire only need to be sane; the minimum is set per zone.
SOA_REFRESH, SOA_RETRY, SOA_EXPIRE = 7200, 1800, 1209600


def d(name: str, *args: str, body: Sequence[Directive] = ()) -> Directive:
    return (name, tuple(args), tuple(body))


def render_block(keys: str, directives: Sequence[Directive]) -> str:
    lines = [f"{keys} {{"]

    def emit(items: Sequence[Directive], depth: int) -> None:
        for name, args, body in items:
            head = " ".join((name, *args))
            if body:
                lines.append(f"{INDENT * depth}{head} {{")
                emit(body, depth + 1)
                lines.append(f"{INDENT * depth}}}")
            else:
                lines.append(f"{INDENT * depth}{head}")

    emit(directives, 1)
    lines.append("}")
    return "\n".join(lines) + "\n"


def default_block(cluster_domain: str) -> str:
    """kubeadm's `.:53` server block, unchanged."""
    return render_block(
        ".:53",
        [
            d("errors"),
            d("health", body=[d("lameduck", "5s")]),
            d("ready"),
            d(
                "kubernetes",
                cluster_domain,
                "in-addr.arpa",
                "ip6.arpa",
                body=[d("pods", "insecure"), d("fallthrough", "in-addr.arpa", "ip6.arpa"), d("ttl", "30")],
            ),
            d("prometheus", ":9153"),
            d("forward", ".", "/etc/resolv.conf", body=[d("max_concurrent", "1000")]),
            d(
                "cache",
                "30",
                body=[d("disable", "success", cluster_domain), d("disable", "denial", cluster_domain)],
            ),
            d("loop"),
            d("reload"),
            d("loadbalance"),
        ],
    )


def _sorted_records(records: Mapping[str, str]) -> list[tuple[str, str]]:
    # The apex first, then by name: stable text, so an unchanged zone hashes the same.
    return sorted(records.items(), key=lambda kv: (kv[0] != APEX, kv[0]))


def hosts_block(zone: Zone, records: Mapping[str, str]) -> str:
    """One server block answering from an inline hosts table (CoreDNS allows one per block)."""
    entries = [d(ip, zone.fqdn(rel)) for rel, ip in _sorted_records(records)]
    return render_block(
        f"{zone.name}:53",
        [d("errors"), d("hosts", body=[*entries, d("ttl", str(zone.ttl))]), d("reload")],
    )


def file_block(zone: Zone, config_dir: str) -> str:
    return render_block(
        f"{zone.name}:53",
        [d("errors"), d("file", f"{config_dir}/{zone.file_key}", zone.name), d("reload")],
    )


def forward_block(fwd: ForwardZone) -> str:
    return render_block(
        f"{fwd.name}:53",
        [d("errors"), d("cache", "30"), d("forward", ".", *fwd.upstreams), d("reload")],
    )


def nameserver(cluster_domain: str) -> str:
    """The NS/SOA name of generated zones: the cluster DNS Service itself."""
    return f"kube-dns.kube-system.svc.{cluster_domain}."


def _zone_lines(zone: Zone, records: Mapping[str, str], cluster_domain: str) -> list[str]:
    ns = nameserver(cluster_domain)
    width = max([len(rel) for rel in records] + [1])
    return [f"@ IN NS {ns}"] + [f"{rel:<{width}} IN A {ip}" for rel, ip in _sorted_records(records)]


def zone_digest(zone: Zone, records: Mapping[str, str], cluster_domain: str) -> str:
    """sha256 of everything in the zone file but the serial: what a new serial answers to."""
    body = "\n".join([zone.name, str(zone.ttl), *_zone_lines(zone, records, cluster_domain)])
    return hashlib.sha256(body.encode()).hexdigest()


def zone_file(zone: Zone, records: Mapping[str, str], cluster_domain: str, *, serial: int | str) -> str:
    """An RFC 1035 zone file: SOA, NS, and one A record per name.

    `serial` comes from the state (components/dns/serial.py), or is a marker in the
    offline render, where no state exists.
    """
    ns = nameserver(cluster_domain)
    soa = f"@ IN SOA {ns} hostmaster.{zone.name}. {serial} {SOA_REFRESH} {SOA_RETRY} {SOA_EXPIRE} {zone.ttl}"
    return (
        "\n".join([f"$ORIGIN {zone.name}.", f"$TTL {zone.ttl}", soa, *_zone_lines(zone, records, cluster_domain)])
        + "\n"
    )


def configmap_data(
    zones: Sequence[tuple[Zone, Mapping[str, str]]],
    forwards: Sequence[ForwardZone],
    *,
    cluster_domain: str,
    config_dir: str,
    serials: Mapping[str, int | str] | None = None,
) -> dict[str, str]:
    """The coredns ConfigMap's data: the Corefile, and one `db.<zone>` file per file zone.

    `zones` pairs each zone with its records resolved to plain IPs; `serials` gives each
    file zone's SOA serial by zone name.
    """
    serials = serials or {}
    missing = sorted(z.name for z, _ in zones if z.type == "file" and z.name not in serials)
    if missing:
        raise ValueError(f"no SOA serial for file zone(s) {', '.join(missing)}")
    blocks = [default_block(cluster_domain)]
    files: dict[str, str] = {}
    for zone, records in sorted(zones, key=lambda zr: zr[0].name):
        if zone.type == "file":
            blocks.append(file_block(zone, config_dir))
            files[zone.file_key] = zone_file(zone, records, cluster_domain, serial=serials[zone.name])
        else:
            blocks.append(hosts_block(zone, records))
    blocks.extend(forward_block(f) for f in sorted(forwards, key=lambda f: f.name))
    return {"Corefile": "\n".join(blocks), **files}


def config_hash(data: Mapping[str, str]) -> str:
    """sha256 over everything CoreDNS reads from the ConfigMap (Corefile and zone files)."""
    return hashlib.sha256(json.dumps(dict(data), sort_keys=True).encode()).hexdigest()


def volume_items(data: Mapping[str, str]) -> list[dict[str, str]]:
    """kubeadm mounts only the `Corefile` key; zone files need their own items."""
    keys = ["Corefile"] + sorted(k for k in data if k != "Corefile")
    return [{"key": k, "path": k} for k in keys]


def configmap_manifest(data: Mapping[str, str], *, name: str, namespace: str) -> dict[str, Any]:
    """The ConfigMap as the API sees it after the patch (used to validate the shape)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": dict(data),
    }


def deployment_patch_spec(data: Mapping[str, str], *, volume: str, configmap: str, annotation: str) -> dict[str, Any]:
    """The part of the CoreDNS Deployment we own: a pod-template hash (rolls the pods on
    any change) and the config volume's items (mounts the zone files)."""
    return {
        "template": {
            "metadata": {"annotations": {annotation: config_hash(data)}},
            "spec": {"volumes": [{"name": volume, "configMap": {"name": configmap, "items": volume_items(data)}}]},
        }
    }

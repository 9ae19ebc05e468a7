"""The rendered Corefile, parsed back: kubeadm's default block kept, one block per zone."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import pytest

from components.dns.corefile import (
    config_hash,
    configmap_data,
    configmap_manifest,
    default_block,
    deployment_patch_spec,
    file_block,
    forward_block,
    hosts_block,
    volume_items,
    zone_digest,
    zone_file,
)
from components.dns.model import ForwardZone, Zone
from tests.support.schema import validate_builtin

# kubeadm 1.34's default, verbatim (cmd/kubeadm/app/phases/addons/dns/manifests.go, with
# DNSDomain=cluster.local): the reference the rendered `.:53` block must equal.
KUBEADM_COREFILE = """\
.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
    loop
    reload
    loadbalance
}
"""


# --- a small Corefile parser -----------------------------------------------------------------


@dataclass
class Directive:
    name: str
    args: list[str]
    body: list[Directive] = field(default_factory=list)

    def find(self, name: str) -> list[Directive]:
        return [d for d in self.body if d.name == name]


@dataclass
class ServerBlock:
    keys: list[str]
    directives: list[Directive]

    def find(self, name: str) -> list[Directive]:
        return [d for d in self.directives if d.name == name]

    def one(self, name: str) -> Directive:
        found = self.find(name)
        assert len(found) == 1, f"{self.keys}: expected one {name!r}, found {len(found)}"
        return found[0]

    def names(self) -> list[str]:
        return [d.name for d in self.directives]


def parse_corefile(text: str) -> list[ServerBlock]:
    """Server blocks → directives → args / sub-blocks (comments and blank lines ignored)."""
    blocks: list[ServerBlock] = []
    stack: list[list[Directive]] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line == "}":
            assert stack, f"line {lineno}: '}}' without an open block"
            stack.pop()
            continue
        opens = line.endswith("{")
        tokens = line.removesuffix("{").split()
        if not stack:
            assert opens, f"line {lineno}: a server block must open with '{{': {raw!r}"
            block = ServerBlock(tokens, [])
            blocks.append(block)
            stack.append(block.directives)
            continue
        assert tokens, f"line {lineno}: a bare '{{'"
        directive = Directive(tokens[0], tokens[1:])
        stack[-1].append(directive)
        if opens:
            stack.append(directive.body)
    assert not stack, "unclosed block at end of Corefile"
    return blocks


def as_tree(blocks: list[ServerBlock]) -> list[tuple[object, ...]]:
    def conv(ds: list[Directive]) -> list[tuple[object, ...]]:
        return [(d.name, tuple(d.args), tuple(conv(d.body))) for d in ds]

    return [(tuple(b.keys), tuple(conv(b.directives))) for b in blocks]


def by_key(blocks: list[ServerBlock]) -> dict[str, ServerBlock]:
    return {b.keys[0]: b for b in blocks}


# --- fixtures --------------------------------------------------------------------------------

K8S = Zone("k8s.intra", {"echo": "172.17.0.2", "@": "192.168.2.240", "grafana": "192.168.2.241"})
LAB = Zone("lab.intra", {"nas": "192.168.2.5", "*.apps": "192.168.2.242"}, type="file", ttl=60)
HOME = ForwardZone("home.lan", ("192.168.2.1",))
SERIAL = 1764600000  # from the state in the component (components/dns/serial.py)


def render(zones: list[Zone] = [K8S, LAB], forwards: list[ForwardZone] = [HOME], domain: str = "cluster.local"):  # noqa: B006
    return configmap_data(
        [(z, dict(z.records)) for z in zones],
        forwards,
        cluster_domain=domain,
        config_dir="/etc/coredns",
        serials={z.name: SERIAL for z in zones if z.type == "file"},
    )


# --- the parser itself -------------------------------------------------------------------------


def test_parser_reads_nested_blocks() -> None:
    blocks = parse_corefile(KUBEADM_COREFILE)
    assert len(blocks) == 1 and blocks[0].keys == [".:53"]
    kube = blocks[0].one("kubernetes")
    assert kube.args == ["cluster.local", "in-addr.arpa", "ip6.arpa"]
    assert [d.name for d in kube.body] == ["pods", "fallthrough", "ttl"]


def test_parser_refuses_unbalanced_braces() -> None:
    with pytest.raises(AssertionError):
        parse_corefile(".:53 {\n errors\n")


# --- the default block -------------------------------------------------------------------------


def test_default_block_is_kubeadms() -> None:
    assert as_tree(parse_corefile(default_block("cluster.local"))) == as_tree(parse_corefile(KUBEADM_COREFILE))


def test_default_block_follows_the_cluster_domain() -> None:
    block = parse_corefile(default_block("lab.local"))[0]
    assert block.one("kubernetes").args[0] == "lab.local"
    assert [d.args for d in block.one("cache").body] == [["success", "lab.local"], ["denial", "lab.local"]]


def test_corefile_starts_with_the_unchanged_default_block() -> None:
    blocks = parse_corefile(render()["Corefile"])
    assert as_tree(blocks[:1]) == as_tree(parse_corefile(KUBEADM_COREFILE))


# --- one block per zone --------------------------------------------------------------------------


def test_one_server_block_per_zone_in_a_stable_order() -> None:
    blocks = parse_corefile(render()["Corefile"])
    assert [b.keys for b in blocks] == [[".:53"], ["k8s.intra:53"], ["lab.intra:53"], ["home.lan:53"]]
    # Same blocks whatever order the zones came in.
    assert render([LAB, K8S])["Corefile"] == render([K8S, LAB])["Corefile"]


def test_every_block_keeps_reload_and_errors() -> None:
    for block in parse_corefile(render()["Corefile"]):
        assert block.one("reload").args == []
        assert block.one("errors").args == []


def test_hosts_zone_has_exactly_one_hosts_table() -> None:
    block = by_key(parse_corefile(render()["Corefile"]))["k8s.intra:53"]
    assert block.names() == ["errors", "hosts", "reload"]
    hosts = block.one("hosts")
    assert hosts.args == []
    entries = {d.args[0]: d.name for d in hosts.body if d.name != "ttl"}
    assert entries == {
        "k8s.intra": "192.168.2.240",
        "echo.k8s.intra": "172.17.0.2",
        "grafana.k8s.intra": "192.168.2.241",
    }
    assert hosts.find("ttl")[0].args == ["30"]


def test_file_zone_points_at_its_mounted_file() -> None:
    block = by_key(parse_corefile(render()["Corefile"]))["lab.intra:53"]
    assert block.names() == ["errors", "file", "reload"]
    assert block.one("file").args == ["/etc/coredns/db.lab.intra", "lab.intra"]


def test_forward_zone_sends_everything_to_its_upstreams() -> None:
    two = ForwardZone("home.lan", ("192.168.2.1", "192.168.2.2"))
    block = by_key(parse_corefile(render(forwards=[two])["Corefile"]))["home.lan:53"]
    assert block.one("forward").args == [".", "192.168.2.1", "192.168.2.2"]
    assert block.one("cache").args == ["30"]


def test_single_block_renderers_agree_with_the_corefile() -> None:
    text = render()["Corefile"]
    for part in (hosts_block(K8S, dict(K8S.records)), file_block(LAB, "/etc/coredns"), forward_block(HOME)):
        assert part in text


def test_no_zones_leaves_only_the_default_block() -> None:
    data = render([], [])
    assert data == {"Corefile": default_block("cluster.local")}


# --- zone files --------------------------------------------------------------------------------


def parse_zone(text: str) -> dict[str, list[list[str]]]:
    out: dict[str, list[list[str]]] = {}
    for line in text.splitlines():
        parts = line.split()
        if parts and not parts[0].startswith("$"):
            out.setdefault(parts[2], []).append(parts)
    return out


def test_zone_file_has_soa_ns_and_one_a_record_per_name() -> None:
    text = render()["db.lab.intra"]
    assert text.splitlines()[:2] == ["$ORIGIN lab.intra.", "$TTL 60"]
    rrs = parse_zone(text)
    (soa,) = rrs["SOA"]
    assert soa[:5] == ["@", "IN", "SOA", "kube-dns.kube-system.svc.cluster.local.", "hostmaster.lab.intra."]
    serial, refresh, retry, expire, minimum = map(int, soa[5:])
    assert 1 <= serial < 2**32 and minimum == 60 and refresh > retry and expire > refresh
    assert rrs["NS"] == [["@", "IN", "NS", "kube-dns.kube-system.svc.cluster.local."]]
    assert sorted((a[0], a[3]) for a in rrs["A"]) == [("*.apps", "192.168.2.242"), ("nas", "192.168.2.5")]


def test_the_serial_is_the_one_given_and_the_digest_follows_the_rest_of_the_zone() -> None:
    def serial(text: str) -> int:
        return int(parse_zone(text)["SOA"][0][5])

    assert serial(zone_file(LAB, dict(LAB.records), "cluster.local", serial=42)) == 42
    assert serial(render()["db.lab.intra"]) == SERIAL
    same = Zone("lab.intra", {"*.apps": "192.168.2.242", "nas": "192.168.2.5"}, type="file", ttl=60)
    moved = Zone("lab.intra", {"nas": "192.168.2.6", "*.apps": "192.168.2.242"}, type="file", ttl=60)
    longer = Zone("lab.intra", dict(LAB.records), type="file", ttl=61)

    def digest(zone: Zone, domain: str = "cluster.local") -> str:
        return zone_digest(zone, dict(zone.records), domain)

    assert digest(LAB) == digest(same)
    assert len({digest(LAB), digest(moved), digest(longer), digest(LAB, "lab.local")}) == 4


def test_a_file_zone_without_a_serial_is_refused() -> None:
    with pytest.raises(ValueError, match="no SOA serial for file zone.s. lab.intra"):
        configmap_data([(LAB, dict(LAB.records))], [], cluster_domain="cluster.local", config_dir="/etc/coredns")


# --- the ConfigMap and the Deployment patch ----------------------------------------------------


def test_configmap_holds_the_corefile_and_the_zone_files() -> None:
    data = render()
    assert sorted(data) == ["Corefile", "db.lab.intra"]
    validate_builtin(configmap_manifest(data, name="coredns", namespace="kube-system"))


def test_volume_items_mount_the_corefile_and_every_zone_file() -> None:
    assert volume_items(render()) == [
        {"key": "Corefile", "path": "Corefile"},
        {"key": "db.lab.intra", "path": "db.lab.intra"},
    ]
    assert volume_items(render([K8S])) == [{"key": "Corefile", "path": "Corefile"}]


def test_hash_changes_with_a_record_and_only_then() -> None:
    base = config_hash(render())
    assert config_hash(render([LAB, K8S])) == base
    changed = Zone("k8s.intra", {**K8S.records, "echo": "172.17.0.3"})
    assert config_hash(render([changed, LAB])) != base
    file_changed = Zone("lab.intra", {**LAB.records, "nas": "192.168.2.6"}, type="file", ttl=60)
    assert config_hash(render([K8S, file_changed])) != base


KUBEADM_DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "coredns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
    "spec": {
        "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
        "template": {
            "metadata": {"labels": {"k8s-app": "kube-dns"}},
            "spec": {
                "containers": [
                    {
                        "name": "coredns",
                        "image": "registry.k8s.io/coredns/coredns:v1.12.1",
                        "args": ["-conf", "/etc/coredns/Corefile"],
                        "volumeMounts": [{"name": "config-volume", "mountPath": "/etc/coredns", "readOnly": True}],
                    }
                ],
                "volumes": [
                    {
                        "name": "config-volume",
                        "configMap": {"name": "coredns", "items": [{"key": "Corefile", "path": "Corefile"}]},
                    }
                ],
            },
        },
    },
}


def merged(base: dict, patch: dict) -> dict:
    """Apply-style merge for the test: maps merge, the volumes list merges by name."""
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if key == "volumes":
            byname = {v["name"]: v for v in out.get("volumes", [])}
            for vol in value:
                byname[vol["name"]] = merged(byname.get(vol["name"], {}), vol) if vol["name"] in byname else vol
            out["volumes"] = list(byname.values())
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def test_deployment_patch_fits_kubeadms_deployment() -> None:
    data = render()
    patch = deployment_patch_spec(
        data, volume="config-volume", configmap="coredns", annotation="homelab/corefile-sha256"
    )
    assert patch["template"]["metadata"]["annotations"] == {"homelab/corefile-sha256": config_hash(data)}
    full = merged(KUBEADM_DEPLOYMENT, {"spec": patch})
    validate_builtin(full)
    (vol,) = full["spec"]["template"]["spec"]["volumes"]
    assert vol["configMap"]["items"] == volume_items(data)
    # The patch carries nothing the schema doesn't know, even standing alone in a Deployment.
    validate_builtin(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "coredns", "namespace": "kube-system"},
            "spec": {
                "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
                **merged({"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}, patch),
            },
        }
    )

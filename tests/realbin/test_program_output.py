"""The program's own output, checked by the real binaries.

Each example stack (config/Pulumi.<stack>.yaml) is rendered once (tools.render: the real
__main__.py under mocks), and what it would hand to the cluster and the hosts goes to the
real thing (tests/realbin/program.py says what is adjusted on the way, and why):

- every Kubernetes object (kubernetes/**.yaml): server-side dry run on kube-apiserver, the
  program's own CRDs installed first; *Patch objects applied (forced, dry run) over the
  objects kubeadm creates, as pulumi-kubernetes' patchForce does;
- the Cilium and MetalLB charts, rendered by the real helm with the program's values;
- every kubeadm config the host scripts write: `kubeadm config validate`;
- the API server certificate `kubeadm init phase certs` makes from the init config,
  against the SANs the stack file asks for;
- static Pod manifests (kube-vip): a Pod the API server accepts;
- the patched Corefile, served by the real CoreDNS against the test API server.
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from .binaries import free_port, wait_for
from .controlplane import (
    APIError,
    ApplyError,
    ControlPlane,
    CoreDNS,
    helm_template,
    kubeadm_apiserver_sans,
    kubeadm_config_validate,
    server_side_dry_run,
    start_coredns,
)
from .controlplane import object_ref as _object_ref
from .corefile_local import LocalSetup, localize_corefile
from .kubeadm_coredns import ensure_kubeadm_coredns
from .program import (
    STACKS,
    Emitted,
    Rendered,
    as_on_host,
    charts,
    emitted_objects,
    expected_apiserver_sans,
    host_files,
    render_stack,
)

pytestmark = [
    pytest.mark.realbin,
    # pulumi_command warns about its own CopyFile when the render first imports it.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pulumi_command.remote.copy_file"),
]

# pulumi-kubernetes applies with its own field manager; a Patch forces it with this annotation.
PULUMI_FIELD_MANAGER = "pulumi-kubernetes"
PATCH_FORCE = "pulumi.com/patchForce"
# Groups whose CRDs scripts/toolchain doesn't provide: their objects can't be checked here.
KUBERNETES_SVC = "/api/v1/namespaces/default/services/kubernetes"
UNCHECKABLE_GROUPS = {"cert-manager.io": "cert-manager's CRDs are not part of scripts/toolchain"}


@pytest.fixture(scope="module", params=STACKS)
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    stack = str(request.param)
    return render_stack(stack, tmp_path_factory.mktemp(f"render-{stack}"))


@pytest.fixture(scope="module")
def emitted(rendered: Rendered) -> list[Emitted]:
    objs = emitted_objects(rendered)
    assert objs, f"{rendered.stack}: the render holds no Kubernetes objects"
    return objs


@pytest.fixture(scope="module")
def cluster(rendered: Rendered, emitted: list[Emitted], control_plane: ControlPlane) -> ControlPlane:
    """The session API server, made ready for this stack's objects, as a cluster would be.

    - CRDs the program emits itself (Multus' NetworkAttachmentDefinition) are applied for
      real and Established: the CRs that need them are dry-run after;
    - namespaces the objects live in but the program doesn't create (the apps' own) exist;
    - kubeadm's CoreDNS ConfigMap and Deployment exist, for the patches.
    """
    crds = [e.body()[0] for e in emitted if e.kind == "CustomResourceDefinition"]
    if crds:
        control_plane.install_crds(crds)
    created = {e.obj["metadata"]["name"] for e in emitted if e.kind == "Namespace"}
    needed = {ns for e in emitted if (ns := e.namespace)} - created
    control_plane.ensure_namespaces(needed)
    ensure_kubeadm_coredns(control_plane, cluster_domain(rendered))
    return control_plane


def cluster_domain(r: Rendered) -> str:
    return str((r.setting("cluster") or {}).get("dnsDomain") or "cluster.local")


def refusals(errors: list[ApplyError], emitted: Mapping[str, Emitted] | None = None) -> str:
    """Each refusal with the object, the resource and component that emitted it."""
    lines = []
    for e in errors:
        where = emitted[e.ref].describe() if emitted and e.ref in emitted else e.ref
        causes = "".join(f"\n      - {c}" for c in e.causes)
        lines.append(f"  {where}\n    {e.code} {e.reason}: {e.message}{causes}")
    return "\n".join(lines)


# --- the stack file's sections all reach the output ------------------------------------------


def test_every_configured_section_is_emitted(rendered: Rendered, emitted: list[Emitted]) -> None:
    """Guards the checks below against passing on an empty render."""
    kinds = {e.kind for e in emitted}
    want = {"Namespace"} if rendered.setting("loadBalancer") else set()
    network = rendered.setting("network") or {}
    if (network.get("bgp") or {}).get("enabled"):
        want |= {"CiliumBGPClusterConfig", "CiliumBGPPeerConfig", "CiliumBGPAdvertisement"}
    if (network.get("lanAttachment") or {}).get("enabled"):
        want |= {"CustomResourceDefinition", "NetworkAttachmentDefinition", "DaemonSet"}
    if rendered.setting("loadBalancer"):
        want |= {"IPAddressPool"}
    if rendered.setting("dns"):
        want |= {"ConfigMap", "Deployment"}
    for policy in rendered.setting("egress") or []:
        want.add("CiliumClusterwideNetworkPolicy" if policy.get("clusterwide") else "CiliumNetworkPolicy")
    if rendered.setting("tls"):
        want |= {"Secret"}
    assert want <= kinds, f"{rendered.stack}: configured but not emitted: {sorted(want - kinds)}"
    want_charts = {"cilium", "metallb"} if rendered.setting("loadBalancer") else {"cilium"}
    assert want_charts <= {c.chart for c in charts(rendered)}


# --- 1. every Kubernetes object: server-side dry run --------------------------------------


def test_kubernetes_objects_pass_server_side_dry_run(emitted: list[Emitted], cluster: ControlPlane) -> None:
    plain = [e for e in emitted if not e.is_patch and e.kind != "CustomResourceDefinition"]
    checkable = [e for e in plain if str(e.obj["apiVersion"]).split("/")[0] not in UNCHECKABLE_GROUPS]
    for e in plain:
        if e not in checkable:
            group = str(e.obj["apiVersion"]).split("/")[0]
            warnings.warn(f"not checked: {e.describe()}: {UNCHECKABLE_GROUPS[group]}", stacklevel=1)
    bodies = [(e, e.body()[0]) for e in checkable]
    by_ref = {_object_ref(body): e for e, body in bodies}
    # Namespaces first, as fresh creates: the dry run of the objects in them creates them for real.
    namespaces = [b for e, b in bodies if e.kind == "Namespace"]
    others = [b for e, b in bodies if e.kind != "Namespace"]
    errors = server_side_dry_run(namespaces, cluster) + server_side_dry_run(others, cluster)
    assert not errors, "the API server refused objects the program emits:\n" + refusals(errors, by_ref)


def test_emitted_crds_are_established(emitted: list[Emitted], cluster: ControlPlane) -> None:
    crds = [e for e in emitted if e.kind == "CustomResourceDefinition"]
    if not crds:
        pytest.skip("this stack emits no CRDs")
    # Installed for real by the `cluster` fixture; a second (dry-run) apply must be a no-op.
    errors = server_side_dry_run([e.body()[0] for e in crds], cluster)
    assert not errors, refusals(errors)
    assert not cluster.unestablished([e.obj["metadata"]["name"] for e in crds])


def _subset_problems(want: Any, got: Any, path: str = "") -> list[str]:
    """Where `got` (the merged object) lacks what `want` (the patch) sets."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return [f"{path}: expected a mapping, got {got!r}"]
        return [p for k, v in want.items() for p in _subset_problems(v, got.get(k), f"{path}.{k}")]
    if isinstance(want, list):
        if not isinstance(got, list):
            return [f"{path}: expected a list, got {got!r}"]
        # Lists merge by key (volumes by name): each wanted item must be in some merged item.
        return [
            f"{path}[{i}]: {w!r} not in the result"
            for i, w in enumerate(want)
            if not any(not _subset_problems(w, g) for g in got)
        ]
    return [] if want == got else [f"{path}: {got!r} != {want!r}"]


def _kept_problems(before: Any, patch: Any, after: Any, path: str = "") -> list[str]:
    """Fields of kubeadm's object the patch doesn't mention must survive unchanged."""
    if not isinstance(before, dict) or not isinstance(patch, dict) or not isinstance(after, dict):
        return []
    out = []
    for k, v in before.items():
        if path == "" and k in ("metadata", "status"):
            continue  # resourceVersion, managedFields, generation: the server's
        if k not in patch:
            if after.get(k) != v:
                out.append(f"{path}.{k}: kubeadm's value was changed or dropped")
        else:
            out += _kept_problems(v, patch[k], after.get(k), f"{path}.{k}")
    return out


def test_patches_apply_over_kubeadm_objects(rendered: Rendered, emitted: list[Emitted], cluster: ControlPlane) -> None:
    patches = [e for e in emitted if e.is_patch]
    if not patches:
        pytest.skip(
            f"{rendered.stack}: the program emits no *Patch resources (homelab:dns absent, or DnsZones not "
            "wired into __main__.py yet): the CoreDNS patches were NOT checked"
        )
    problems: list[str] = []
    for e in patches:
        body, _ = e.body()
        item = f"{cluster.object_path(body)}/{body['metadata']['name']}"
        try:
            before = cluster.get(item)
        except APIError as err:
            if e.kind != "Namespace":
                problems.append(f"{e.describe()}: the object to patch doesn't exist ({err}); kubeadm doesn't make it")
                continue
            before = {}  # a NamespacePatch makes a missing namespace (server-side apply creates it)
        # pulumi-kubernetes forces the apply only when the patch asks for it; without it, taking
        # a field kubeadm owns (data.Corefile) is a conflict, and that should show here too.
        force = (body["metadata"].get("annotations") or {}).get(PATCH_FORCE) == "true"
        params = {"fieldManager": PULUMI_FIELD_MANAGER, "dryRun": "All", **({"force": "true"} if force else {})}
        try:
            after = cluster.request("PATCH", item, body, content_type="application/apply-patch+yaml", params=params)
        except APIError as err:
            problems.append(f"{e.describe()}: refused: {err}")
            continue
        problems += [f"{e.describe()}: {p}" for p in _subset_problems(body, after)]
        problems += [f"{e.describe()}: {p}" for p in _kept_problems(before, body, after)]
    assert not problems, "\n".join(problems)


# --- 2. charts: the real helm, then a dry run --------------------------------------------------


def test_charts_render_with_real_helm_and_pass_dry_run(
    rendered: Rendered, cluster: ControlPlane, cilium_chart: Path, metallb_chart: Path
) -> None:
    local = {"cilium": cilium_chart, "metallb": metallb_chart}
    api_versions = cluster.api_versions()
    failures: list[str] = []
    for c in charts(rendered):
        assert c.chart in local, f"helm/{c.resource}: no local copy of chart {c.chart!r} in scripts/toolchain"
        built = str(yaml.safe_load((local[c.chart] / "Chart.yaml").read_text())["version"])
        if c.version and built != c.version.lstrip("v"):
            warnings.warn(f"helm/{c.resource}: program pins {c.chart} {c.version}, toolchain has {built}", stacklevel=1)
        objs = helm_template(
            local[c.chart], c.values, release=c.release, namespace=c.namespace, api_versions=api_versions
        )
        assert objs, f"helm/{c.resource}: the chart rendered nothing"
        # helm.v4.Chart puts namespaced objects without a namespace into the chart's namespace.
        errors = server_side_dry_run(objs, cluster, default_namespace=c.namespace)
        if errors:
            failures.append(f"helm/{c.resource} ({c.chart} {built}, release {c.release}):\n{refusals(errors)}")
    assert not failures, "\n".join(failures)


# --- 3. kubeadm config validate ----------------------------------------------------------------


def test_kubeadm_configs_pass_kubeadm_config_validate(rendered: Rendered) -> None:
    inits = host_files(rendered, "kubeadm-init.yaml")
    joins = host_files(rendered, "kubeadm-join.yaml")
    nodes = rendered.setting("nodes") or []
    assert inits, "no kubeadm-init.yaml in the render"
    assert len(joins) == len(nodes) - 1, f"{len(joins)} join configs for {len(nodes)} nodes"
    failures: list[str] = []
    for f in inits + joins:
        # Join configs carry markers for what the first control plane prints at `up`
        # (token, CA hash, certificate key); well-formed fakes stand in for them.
        text = as_on_host(f.read_text(), rendered)
        assert "<join-token>" not in text and "<ca-cert-hash>" not in text
        res = kubeadm_config_validate(text)
        rel = f.relative_to(rendered.root)
        if not res.ok:
            failures.append(f"{rel}:\n{res.output}")
        elif res.output.strip() != "ok":
            warnings.warn(f"{rel}: kubeadm config validate: {res.output}", stacklevel=1)
    assert not failures, "kubeadm refused rendered configs:\n" + "\n".join(failures)


# --- 4. the API server certificate ---------------------------------------------------------


def test_apiserver_certificate_holds_the_stack_file_sans(rendered: Rendered, tmp_path: Path) -> None:
    want_ips, want_names = expected_apiserver_sans(rendered)
    distinct = {as_on_host(f.read_text(), rendered): f for f in host_files(rendered, "kubeadm-init.yaml")}
    assert distinct
    for i, (text, f) in enumerate(distinct.items()):
        sans = kubeadm_apiserver_sans(text, tmp_path / f"pki-{i}")
        missing_ips = sorted(want_ips - set(sans.ip_addresses))
        missing_names = sorted(want_names - set(sans.dns_names))
        assert not missing_ips and not missing_names, (
            f"{f.relative_to(rendered.root)}: apiserver.crt lacks IPs {missing_ips} and names {missing_names} "
            f"from config/Pulumi.{rendered.stack}.yaml (it has {sans.ip_addresses} {sans.dns_names})"
        )


# --- static Pods the scripts write ------------------------------------------------------------


def test_static_pod_manifests_are_valid_pods(rendered: Rendered, control_plane: ControlPlane) -> None:
    manifests = sorted((rendered.root / "hosts").glob("*/files/etc/kubernetes/manifests/*.yaml"))
    if not manifests:
        pytest.skip(f"{rendered.stack}: no static Pods (no VIP, so no kube-vip)")
    pods = [yaml.safe_load(m.read_text()) for m in manifests]
    # The kubelet mirrors a static Pod through the API server, which validates it as any Pod.
    errors = server_side_dry_run(pods, control_plane, default_namespace="kube-system")
    assert not errors, refusals(errors)


# --- 5. CoreDNS: the rendered Corefile in the real coredns --------------------------------


def _hosts_block(names: Mapping[str, str]) -> str:
    return "".join(f"        {ip} {name}\n" for name, ip in names.items())


def expected_records(dns: Mapping[str, Any]) -> dict[str, str]:
    """fqdn -> IP of every literal record in homelab:dns (wildcards probed with a label)."""
    out: dict[str, str] = {}

    def add(fqdn: str, value: Any) -> None:
        if isinstance(value, str):  # {service: ns/name} follows a live Service: not rendered offline
            out[fqdn.replace("*", "wildcard-probe")] = value

    for zone in dns.get("zones") or []:
        for rel, value in (zone.get("records") or {}).items():
            add(zone["name"] if rel == "@" else f"{rel}.{zone['name']}", value)
    for fqdn, value in (dns.get("records") or {}).items():
        add(str(fqdn), value)
    return out


def with_record(dns: Mapping[str, Any], fqdn: str, ip: str) -> dict[str, Any]:
    """homelab:dns with one literal record moved (wherever the stack file defines it)."""
    moved = copy.deepcopy(dict(dns))
    for zone in moved.get("zones") or []:
        for rel in zone.get("records") or {}:
            if (zone["name"] if rel == "@" else f"{rel}.{zone['name']}") == fqdn:
                zone["records"][rel] = ip
                return moved
    if fqdn in (moved.get("records") or {}):
        moved["records"][fqdn] = ip
        return moved
    raise AssertionError(f"{fqdn} is not a literal record of homelab:dns")


def zone_files_for(r: Rendered, corefile: str) -> dict[str, str]:
    """The other keys of the ConfigMap that carries this Corefile (file-plugin zones)."""
    for e in emitted_objects(r):
        data = e.obj.get("data") or {}
        if e.kind == "ConfigMap" and data.get("Corefile", "").strip() == corefile.strip():
            return {k: v for k, v in data.items() if k != "Corefile"}
    raise AssertionError("no ConfigMap in the render carries the dns/ Corefile")


@contextlib.contextmanager
def coredns_server(corefile: str, workdir: Path) -> Iterator[CoreDNS]:
    server = start_coredns(corefile, workdir)
    try:
        yield server
    finally:
        # kubeadm's `health { lameduck 5s }` holds a SIGTERM'd server for 5 s; nothing here
        # needs a graceful stop, so it is killed after a moment instead.
        server.process.stop(grace=0.5)


def rendered_corefile(r: Rendered) -> str:
    found = sorted((r.root / "dns").glob("*.Corefile")) if (r.root / "dns").is_dir() else []
    if not found:
        pytest.skip(
            f"!!! {r.stack}: the render has no dns/*.Corefile (homelab:dns absent, or DnsZones not wired into "
            "__main__.py yet): the Corefile was NOT run in the real CoreDNS !!!"
        )
    assert len(found) == 1, f"one CoreDNS, one Corefile; got {[p.name for p in found]}"
    return found[0].read_text()


def test_rendered_corefile_serves_in_real_coredns(
    rendered: Rendered, cluster: ControlPlane, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    corefile = rendered_corefile(rendered)
    dns_config = rendered.setting("dns") or {}
    records = expected_records(dns_config)
    assert records.get("echo.k8s.intra") == "172.17.0.2", f"the example stacks serve echo.k8s.intra: {records}"
    forwards = sorted(dns_config.get("forward") or {})
    assert forwards, "the example stacks forward a zone (home.lan) to the router"
    router_names = {f"nas.{zone}": f"192.0.2.{10 + i}" for i, zone in enumerate(forwards)}
    resolver_names = {"www.example.test": "198.51.100.7"}

    router_port = free_port()
    upstream_corefile = (
        ".:{port} {\n    bind 127.0.0.1\n    hosts {\n" + _hosts_block(resolver_names) + "    }\n}\n"
        f".:{router_port} {{\n    bind 127.0.0.1\n    hosts {{\n" + _hosts_block(router_names) + "    }\n}\n"
    )
    with coredns_server(upstream_corefile, tmp_path / "upstream") as upstream:
        local = LocalSetup(
            kubeconfig=cluster.kubeconfig,
            context=cluster.context,
            resolver=f"127.0.0.1:{upstream.port}",
            upstream=f"127.0.0.1:{router_port}",
            zone_dir=tmp_path / "coredns" / "zones",
        )
        text = localize_corefile(corefile, local, zone_files_for(rendered, corefile))
        with coredns_server(text, tmp_path / "coredns") as dns:
            # kubeadm's block, on the test API server: the `kubernetes` Service.
            domain = cluster_domain(rendered)
            # kube-apiserver makes default/kubernetes itself, shortly after it is ready.
            svc = wait_for("the kubernetes Service", lambda: cluster.get(KUBERNETES_SVC), 30, 0.3, cluster.processes)
            svc_ip = svc["spec"]["clusterIP"]
            ans = dns.wait_for_answer(f"kubernetes.default.svc.{domain}", "A", lambda a: a.rcode == "NOERROR", 15)
            assert ans.records == [svc_ip]

            # The custom zones answer every record of the stack file.
            wrong = {n: (a.rcode, a.records) for n, ip in records.items() if (a := dns.query(n)).records != [ip]}
            assert not wrong, f"records from config/Pulumi.{rendered.stack}.yaml answered wrongly: {wrong}"

            # Forward zones reach their upstream (the router stand-in), the rest the resolver.
            for name, ip in router_names.items():
                assert dns.query(name).records == [ip], f"{name} didn't reach the forward zone's upstream"
            for name, ip in resolver_names.items():
                assert dns.query(name).records == [ip], f"{name} didn't reach the default block's forward"

            # The next render (a record moved) is picked up by the running server (`reload`).
            moved = render_stack(
                rendered.stack,
                tmp_path_factory.mktemp(f"render-{rendered.stack}-moved"),
                config_overrides={"homelab:dns": with_record(dns_config, "echo.k8s.intra", "172.17.0.99")},
            )
            new_corefile = rendered_corefile(moved)
            assert new_corefile != corefile
            dns.write_corefile(localize_corefile(new_corefile, local, zone_files_for(moved, new_corefile)))
            dns.wait_for_answer("echo.k8s.intra", "A", lambda a: a.records == ["172.17.0.99"], timeout=20)
            assert dns.query(f"kubernetes.default.svc.{domain}").records == [svc_ip]

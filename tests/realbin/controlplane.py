"""A throwaway etcd + kube-apiserver, and server-side dry runs against it.

The control plane is started the way controller-runtime's envtest does it
(pkg/internal/testing/controlplane): etcd on loopback without TLS, kube-apiserver on a free
loopback port with a throwaway CA, a serving cert, an admin client cert in
``system:masters``, service-account signing keys, ``--authorization-mode=RBAC`` and the
ServiceAccount admission plugin disabled (no controller-manager creates default SAs).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("cryptography", reason="tests/realbin needs `pip install cryptography==50.0.2`")

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

from .binaries import (  # noqa: E402
    CommandResult,
    ManagedProcess,
    built_version,
    find_tool,
    free_port,
    require_tool,
    run,
    spawn,
    toolchain_manifest,
    wait_for,
)
from .coredns import CoreDNS, DNSAnswer, dns_query, running_coredns, start_coredns  # noqa: E402
from .helm import helm_template  # noqa: E402
from .kubeadm import CertSANs, kubeadm_apiserver_sans, kubeadm_config_validate, read_cert_sans  # noqa: E402
from .manifests import cilium_crds, load_manifest_dir, load_manifests, metallb_crds  # noqa: E402

# This module is the one import point for tests; the names below live in the sibling modules.
coredns = running_coredns
__all__ = [
    "APIError",
    "ApplyError",
    "CertSANs",
    "CommandResult",
    "ControlPlane",
    "CoreDNS",
    "DNSAnswer",
    "ManagedProcess",
    "PKI",
    "active_control_plane",
    "built_version",
    "cilium_crds",
    "coredns",
    "dns_query",
    "find_tool",
    "helm_template",
    "kubeadm_apiserver_sans",
    "kubeadm_config_validate",
    "load_manifest_dir",
    "load_manifests",
    "make_pki",
    "metallb_crds",
    "read_cert_sans",
    "require_tool",
    "run",
    "running_coredns",
    "server_side_dry_run",
    "start_control_plane",
    "start_coredns",
    "toolchain_manifest",
]

FIELD_MANAGER = "homelab"


# --- PKI -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PKI:
    """Files of a throwaway PKI for one control plane (all under `dir`)."""

    dir: Path
    ca_cert: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    sa_key: Path
    sa_pub: Path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _issue(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    usages: Sequence[x509.ObjectIdentifier] = (),
    sans: Sequence[x509.GeneralName] = (),
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer_name = issuer[0].subject if issuer else subject
    signing_key = issuer[1] if issuer else key
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=not ca,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if usages:
        b = b.add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return b.sign(signing_key, hashes.SHA256())


def make_pki(directory: Path, hosts: Sequence[str] = ("127.0.0.1", "localhost")) -> PKI:
    """A CA, a serving cert for `hosts`, an admin client cert (system:masters), SA keys."""
    directory.mkdir(parents=True, exist_ok=True)

    def name(cn: str, org: str | None = None) -> x509.Name:
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        if org:
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
        return x509.Name(attrs)

    def write_cert(path: Path, cert: x509.Certificate) -> None:
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _issue(name("homelab-test-ca"), ca_key, None, ca=True)

    sans: list[x509.GeneralName] = []
    for h in [*hosts, "kubernetes", "kubernetes.default", "kubernetes.default.svc"]:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    srv_key = ec.generate_private_key(ec.SECP256R1())
    srv = _issue(name("kube-apiserver"), srv_key, (ca, ca_key), usages=[ExtendedKeyUsageOID.SERVER_AUTH], sans=sans)

    adm_key = ec.generate_private_key(ec.SECP256R1())
    adm = _issue(
        name("homelab-admin", "system:masters"), adm_key, (ca, ca_key), usages=[ExtendedKeyUsageOID.CLIENT_AUTH]
    )

    sa_key = ec.generate_private_key(ec.SECP256R1())

    pki = PKI(
        dir=directory,
        ca_cert=directory / "ca.crt",
        ca_key=directory / "ca.key",
        serving_cert=directory / "apiserver.crt",
        serving_key=directory / "apiserver.key",
        admin_cert=directory / "admin.crt",
        admin_key=directory / "admin.key",
        sa_key=directory / "sa.key",
        sa_pub=directory / "sa.pub",
    )
    write_cert(pki.ca_cert, ca)
    _write_key(pki.ca_key, ca_key)
    write_cert(pki.serving_cert, srv)
    _write_key(pki.serving_key, srv_key)
    write_cert(pki.admin_cert, adm)
    _write_key(pki.admin_key, adm_key)
    _write_key(pki.sa_key, sa_key)
    pki.sa_pub.write_bytes(
        sa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return pki


# --- the control plane ---------------------------------------------------------------------


class APIError(RuntimeError):
    def __init__(self, code: int, body: dict[str, Any] | str, what: str) -> None:
        self.code = code
        self.body = body
        msg = body.get("message", body) if isinstance(body, dict) else body
        super().__init__(f"{what}: HTTP {code}: {msg}")


@dataclass(frozen=True)
class ApplyError:
    """One object the API server refused."""

    ref: str
    code: int
    reason: str
    message: str
    causes: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.ref}: {self.code} {self.reason}: {self.message}"


def object_ref(obj: Mapping[str, Any]) -> str:
    md = obj.get("metadata") or {}
    ns = f"{md['namespace']}/" if md.get("namespace") else ""
    name = md.get("name") or md.get("generateName", "<unnamed>")
    return f"{obj.get('apiVersion')} {obj.get('kind')} {ns}{name}"


@dataclass(frozen=True)
class Resource:
    plural: str
    namespaced: bool


@dataclass
class ControlPlane:
    """A running etcd + kube-apiserver. Use start_control_plane() to make one."""

    workdir: Path
    pki: PKI
    url: str
    kubeconfig: Path
    context: str
    processes: list[ManagedProcess]
    _ssl: ssl.SSLContext = field(repr=False)
    _discovery: dict[str, dict[str, Resource]] = field(default_factory=dict, repr=False)

    # -- raw HTTP ---------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        params: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> Any:
        """One API call as the admin; returns parsed JSON (or text), raises APIError."""
        url = self.url + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        data = None
        if body is not None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, context=self._ssl, timeout=timeout) as resp:
                raw = resp.read().decode()
        except urllib.error.HTTPError as e:
            raw = e.read().decode(errors="replace")
            try:
                parsed: dict[str, Any] | str = json.loads(raw)
            except ValueError:
                parsed = raw
            raise APIError(e.code, parsed, f"{method} {path}") from None
        try:
            return json.loads(raw)
        except ValueError:
            return raw

    def version(self) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", "/version")
        return result

    def ready(self) -> bool:
        try:
            return self.request("GET", "/readyz", timeout=5) == "ok"
        except (OSError, APIError):
            return False

    # -- discovery ----------------------------------------------------------------------------

    def api_versions(self) -> list[str]:
        """`group/version` and `group/version/Kind` strings, as helm's --api-versions takes."""
        out: list[str] = ["v1"]
        groups = self.request("GET", "/apis")
        gvs = ["v1"] + [v["groupVersion"] for g in groups["groups"] for v in g["versions"]]
        for gv in gvs:
            if gv != "v1":
                out.append(gv)
            out += [f"{gv}/{kind}" for kind in self._resources(gv, refresh=False)]
        return sorted(set(out))

    def _resources(self, group_version: str, refresh: bool) -> dict[str, Resource]:
        if refresh or group_version not in self._discovery:
            path = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
            try:
                doc = self.request("GET", path)
            except APIError as e:
                if e.code != 404:
                    raise
                doc = {"resources": []}
            self._discovery[group_version] = {
                r["kind"]: Resource(r["name"], bool(r["namespaced"]))
                for r in doc.get("resources", [])
                if "/" not in r["name"]  # skip subresources
            }
        return self._discovery[group_version]

    def resource_for(self, api_version: str, kind: str) -> Resource | None:
        res = self._resources(api_version, refresh=False).get(kind)
        if res is None:  # CRDs may have appeared since we last looked
            res = self._resources(api_version, refresh=True).get(kind)
        return res

    def object_path(self, obj: Mapping[str, Any], default_namespace: str = "default") -> str:
        """The collection URL path an object belongs to (LookupError: unknown kind)."""
        api_version, kind = str(obj.get("apiVersion")), str(obj.get("kind"))
        res = self.resource_for(api_version, kind)
        if res is None:
            raise LookupError(f'no matches for kind "{kind}" in version "{api_version}"')
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        if res.namespaced:
            ns = (obj.get("metadata") or {}).get("namespace") or default_namespace
            base += f"/namespaces/{ns}"
        return f"{base}/{res.plural}"

    # -- apply ----------------------------------------------------------------------------------

    def ensure_namespaces(self, names: Iterable[str]) -> None:
        for ns in sorted(set(names)):
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
            self.request(
                "PATCH",
                f"/api/v1/namespaces/{ns}",
                body,
                content_type="application/apply-patch+yaml",
                params={"fieldManager": f"{FIELD_MANAGER}-test-setup"},
            )

    def apply(
        self,
        objs: Sequence[Mapping[str, Any]],
        *,
        dry_run: bool = False,
        force: bool = False,
        default_namespace: str = "default",
        field_manager: str = FIELD_MANAGER,
    ) -> list[ApplyError]:
        """Server-side apply each object; returns the refusals (empty list: all accepted).

        Namespaces that namespaced objects live in are created for real first, since a
        dry run cannot create them. Cluster-scoped objects lose a stray metadata.namespace,
        as kubectl does.
        """
        errors: list[tuple[int, ApplyError]] = []  # (input position, error)
        plans: list[tuple[int, Mapping[str, Any], str, dict[str, Any]]] = []
        namespaces: set[str] = set()
        for i, obj in enumerate(objs):
            ref = object_ref(obj)
            try:
                path = self.object_path(obj, default_namespace)
            except LookupError as e:
                errors.append((i, ApplyError(ref, 404, "NoKindMatch", str(e))))
                continue
            body = json.loads(json.dumps(obj))  # a deep copy that is also JSON-clean
            md = body.setdefault("metadata", {})
            res = self.resource_for(str(obj["apiVersion"]), str(obj["kind"]))  # cached by object_path
            if res is not None and res.namespaced:
                namespaces.add(md.get("namespace") or default_namespace)
            else:
                md.pop("namespace", None)
            plans.append((i, obj, path, body))
        if namespaces:
            self.ensure_namespaces(namespaces)
        params = {"fieldManager": field_manager}
        if dry_run:
            params["dryRun"] = "All"
        for i, obj, path, body in plans:
            md = body["metadata"]
            try:
                if md.get("name"):
                    self.request(
                        "PATCH",
                        f"{path}/{md['name']}",
                        body,
                        content_type="application/apply-patch+yaml",
                        params={**params, "force": "true"} if force else params,
                    )
                else:  # generateName: apply needs a name, so create instead
                    self.request("POST", path, body, params=params)
            except APIError as e:
                b = e.body if isinstance(e.body, dict) else {"message": str(e.body)}
                causes = tuple(
                    f"{c.get('field', '')}: {c.get('message', '')}" for c in (b.get("details") or {}).get("causes", [])
                )
                err = ApplyError(object_ref(obj), e.code, str(b.get("reason", "")), str(b.get("message", "")), causes)
                errors.append((i, err))
        return [e for _, e in sorted(errors, key=lambda pair: pair[0])]

    def server_side_dry_run(self, objs: Sequence[Mapping[str, Any]], **kw: Any) -> list[ApplyError]:
        """apply(objs, dry_run=True): what would the API server say, without changing it."""
        return self.apply(objs, dry_run=True, **kw)

    def get(self, obj_path: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", obj_path)
        return result

    # -- CRDs ---------------------------------------------------------------------------------

    def install_crds(self, crds: Sequence[Mapping[str, Any]], timeout: float = 90.0) -> list[str]:
        """Apply CRDs for real and wait until each is Established; returns their names."""
        errors = self.apply(crds, field_manager=f"{FIELD_MANAGER}-test-setup", force=True)
        if errors:
            raise RuntimeError("installing CRDs failed:\n" + "\n".join(map(str, errors)))
        names = [str(c["metadata"]["name"]) for c in crds]
        wait_for(f"CRDs {names} Established", lambda: not self.unestablished(names), timeout, 0.3, self.processes)
        return names

    def unestablished(self, names: Iterable[str]) -> list[str]:
        pending = []
        for n in names:
            try:
                crd = self.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{n}")
            except APIError:
                pending.append(n)
                continue
            conds = {c["type"]: c["status"] for c in crd.get("status", {}).get("conditions", [])}
            if conds.get("Established") != "True":
                pending.append(n)
        return pending

    def established_kinds(self) -> dict[str, str]:
        """kind -> CRD name for every Established CRD."""
        lst = self.request("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
        out = {}
        for crd in lst["items"]:
            conds = {c["type"]: c["status"] for c in crd.get("status", {}).get("conditions", [])}
            if conds.get("Established") == "True":
                out[crd["spec"]["names"]["kind"]] = crd["metadata"]["name"]
        return out

    def stop(self) -> None:
        for p in reversed(self.processes):
            p.stop()
        # A stopped plane must never be the default for server_side_dry_run().
        if self in _ACTIVE:
            _ACTIVE.remove(self)


_ACTIVE: list[ControlPlane] = []


def active_control_plane() -> ControlPlane:
    """The control plane started last in this process (the session fixture's)."""
    if not _ACTIVE:
        raise RuntimeError("no control plane is running; use the `control_plane` fixture")
    return _ACTIVE[-1]


def write_kubeconfig(path: Path, url: str, pki: PKI, context: str) -> None:
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": url, "certificate-authority": str(pki.ca_cert)}}],
        "users": [
            {"name": "admin", "user": {"client-certificate": str(pki.admin_cert), "client-key": str(pki.admin_key)}}
        ],
        "contexts": [{"name": context, "context": {"cluster": context, "user": "admin"}}],
        "current-context": context,
    }
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    path.chmod(0o600)


def start_control_plane(workdir: Path, timeout: float = 120.0) -> ControlPlane:
    """Start etcd and kube-apiserver under `workdir`; returns once /readyz is ok."""
    etcd = require_tool("etcd")
    apiserver = require_tool("kube-apiserver")
    workdir.mkdir(parents=True, exist_ok=True)
    pki = make_pki(workdir / "pki")
    procs: list[ManagedProcess] = []
    try:
        client_port, peer_port, api_port = free_port(), free_port(), free_port()
        etcd_url = f"http://127.0.0.1:{client_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        procs.append(
            spawn(
                "etcd",
                [
                    etcd,
                    "--name=homelab-test",
                    f"--data-dir={workdir / 'etcd'}",
                    f"--listen-client-urls={etcd_url}",
                    f"--advertise-client-urls={etcd_url}",
                    f"--listen-peer-urls={peer_url}",
                    f"--initial-advertise-peer-urls={peer_url}",
                    f"--initial-cluster=homelab-test={peer_url}",
                    "--unsafe-no-fsync",  # throwaway data; fsync only slows tests
                    "--log-level=warn",
                ],
                workdir / "etcd.log",
            )
        )
        url = f"https://127.0.0.1:{api_port}"
        procs.append(
            spawn(
                "kube-apiserver",
                [
                    apiserver,
                    f"--etcd-servers={etcd_url}",
                    f"--cert-dir={workdir / 'pki'}",
                    f"--tls-cert-file={pki.serving_cert}",
                    f"--tls-private-key-file={pki.serving_key}",
                    f"--client-ca-file={pki.ca_cert}",
                    "--bind-address=127.0.0.1",
                    "--advertise-address=127.0.0.1",
                    f"--secure-port={api_port}",
                    "--authorization-mode=RBAC",
                    "--allow-privileged=true",
                    # No controller-manager creates default ServiceAccounts (envtest does this too).
                    "--disable-admission-plugins=ServiceAccount",
                    "--service-cluster-ip-range=10.96.0.0/16",
                    f"--service-account-issuer={url}/",
                    f"--service-account-key-file={pki.sa_pub}",
                    f"--service-account-signing-key-file={pki.sa_key}",
                    "--v=1",
                ],
                workdir / "kube-apiserver.log",
            )
        )
        ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
        ctx.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
        kubeconfig = workdir / "kubeconfig"
        write_kubeconfig(kubeconfig, url, pki, "homelab-test")
        cp = ControlPlane(workdir, pki, url, kubeconfig, "homelab-test", procs, ctx)
        wait_for("kube-apiserver /readyz", cp.ready, timeout, 0.5, procs)
        wait_for("namespace default", lambda: cp.get("/api/v1/namespaces/default"), 30, 0.3, procs)
    except BaseException:
        for p in reversed(procs):
            p.stop()
        raise
    _ACTIVE.append(cp)
    return cp


def server_side_dry_run(
    objs: Sequence[Mapping[str, Any]], cp: ControlPlane | None = None, **kw: Any
) -> list[ApplyError]:
    """Server-side apply with dryRun=All against `cp` (default: the session control plane)."""
    return (cp or active_control_plane()).server_side_dry_run(objs, **kw)

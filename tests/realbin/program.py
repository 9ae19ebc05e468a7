"""The program's own output (tools.render's offline tree of an example stack), made ready
for the real binaries.

The tree holds pulumi *inputs* recorded under mocks. Two things differ from what
pulumi-kubernetes would send at `pulumi up`, and are put right here, visibly:

- numbers: the Python SDK sends every number through a protobuf Struct (a double), so
  `6443` is recorded as `6443.0`; the Go provider marshals float64(6443) back as `6443`.
  Integral floats become ints (exactly what reaches the API server).
- unknowns: outputs of other resources (e.g. the PEMs pulumi-tls computes) are unknown
  under mocks and recorded as None. Only the ones listed in `_fill_unknowns` get a
  placeholder of the right type; any other None fails the test with its path, so a
  field is never dropped silently.
- what only a deploy knows: the render writes `<resolved at deploy: ns/name>` for a
  Service's LoadBalancer IP and a marker for a zone's SOA serial (from the state);
  `render_stack` puts a documentation address and a number in their place.

Pulumi-only fields: pulumi-kubernetes strips only its internal `pulumi.com/autonamed`
annotation; `pulumi.com/patchForce` / `skipAwait` are sent as ordinary annotations, so
they stay. An object without metadata.name gets a name the way the provider autonames.
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from components.cluster.host_scripts import RUNNING_VERSION
from components.versions import DEFAULT_KUBERNETES_VERSION
from tests.support.keys import ec_private_key_pem
from tools.mockrun import ROOT, ProgramRun, Registered
from tools.render import SERIAL_AT_DEPLOY, placeholder_service_ip, render

STACKS = ("dev", "prod")

# Fake but well-formed join credentials: the render leaves markers where the hosts'
# answers go (`kubeadm token create`, the CA hash, `upload-certs`), which kubeadm refuses.
FAKE_JOIN_VALUES = {
    "<join-token>": "abcdef.0123456789abcdef",
    "<ca-cert-hash>": "sha256:" + "0123456789abcdef" * 4,
    "<certificate-key>": "fedcba9876543210" * 4,
}

_PLACEHOLDER_PEM = "-----BEGIN {what}-----\nplaceholder: computed by pulumi-tls at `pulumi up`\n-----END {what}-----\n"


@dataclass(frozen=True)
class Rendered:
    """One example stack rendered to a tree, with the stack file it came from."""

    stack: str
    root: Path
    run: ProgramRun
    stack_file: dict[str, Any]  # config/Pulumi.<stack>.yaml's `config:`, as written

    def setting(self, key: str, default: Any = None) -> Any:
        return self.stack_file.get(f"homelab:{key}", default)


# The render's markers for what only a deploy knows, and values the real binaries accept.
_RESOLVED_AT_DEPLOY = re.compile(r"<resolved at deploy: ([^>]+)>")
FAKE_SERIAL = "1"


def with_deploy_values(text: str) -> str:
    """A Service's LoadBalancer IP → a documentation address; a zone's serial → a number."""
    text = _RESOLVED_AT_DEPLOY.sub(lambda m: placeholder_service_ip(m.group(1)), text)
    return text.replace(SERIAL_AT_DEPLOY, FAKE_SERIAL)


def render_stack(stack: str, out: Path, **kw: Any) -> Rendered:
    run = render(stack, out, **kw)
    for path in out.rglob("*"):
        if path.is_file() and (text := path.read_text()) != (filled := with_deploy_values(text)):
            path.write_text(filled)
    doc = yaml.safe_load((ROOT / "config" / f"Pulumi.{stack}.yaml").read_text()) or {}
    return Rendered(stack, out, run, doc.get("config") or {})


# --- numbers and unknowns -------------------------------------------------------------------


def as_sent(value: Any) -> Any:
    """Integral floats back to ints, as the Go provider marshals them."""
    if isinstance(value, dict):
        return {k: as_sent(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_sent(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def unknown_paths(value: Any, path: str = "") -> list[str]:
    if value is None:
        return [path or "."]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in unknown_paths(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in unknown_paths(v, f"{path}[{i}]")]
    return []


def _fill_unknowns(obj: dict[str, Any]) -> list[str]:
    """Placeholders for the unknowns we know about; returns what was filled."""
    filled: list[str] = []
    if obj.get("apiVersion") == "v1" and obj.get("kind") == "Secret":
        # TLS Secrets: the PEMs come from pulumi-tls outputs, unknown under mocks. The API
        # server checks that tls.crt/tls.key exist and are strings, not what they hold.
        for key, value in (obj.get("stringData") or {}).items():
            if value is None:
                obj["stringData"][key] = (
                    ec_private_key_pem() if key.endswith(".key") else _PLACEHOLDER_PEM.format(what="CERTIFICATE")
                )
                filled.append(f".stringData.{key}")
        for key, value in (obj.get("data") or {}).items():
            if value is None:  # `data` values are base64 strings
                obj["data"][key] = base64.b64encode(b"placeholder: unknown under mocks").decode()
                filled.append(f".data.{key}")
    return filled


# --- Kubernetes objects ---------------------------------------------------------------------


def _component(r: Registered) -> str:
    """The homelab component a resource belongs to (from its URN's type chain)."""
    chain = r.urn.split("::")[2].split("$")
    return next((t for t in chain if t.startswith("homelab:")), "<stack>")


@dataclass(frozen=True)
class Emitted:
    """One kubernetes/**.yaml file of the tree and the resource that registered it."""

    path: Path  # relative to the tree
    obj: dict[str, Any]
    resource: Registered

    @property
    def is_patch(self) -> bool:
        return self.resource.type.endswith("Patch")

    @property
    def kind(self) -> str:
        kind = str(self.obj.get("kind") or self.resource.type.rsplit(":", 1)[-1])
        # A *Patch is applied as the kind it patches.
        return kind.removesuffix("Patch")

    @property
    def namespace(self) -> str | None:
        return (self.obj.get("metadata") or {}).get("namespace")

    def describe(self) -> str:
        return f"{self.path} ({self.resource.type} {self.resource.name!r}, emitted by {_component(self.resource)})"

    def body(self) -> tuple[dict[str, Any], list[str]]:
        """The object as pulumi-kubernetes would send it, and the placeholders filled in."""
        obj = as_sent(copy.deepcopy(self.obj))
        obj["kind"] = self.kind
        md = obj.setdefault("metadata", {})
        notes = [f"{p}: placeholder for a value unknown under mocks" for p in _fill_unknowns(obj)]
        if not md.get("name"):
            md["name"] = f"{self.resource.name}-0a1b2c3d"  # the provider's autoname: <name>-<random>
            notes.append(".metadata.name: autonamed")
        left = unknown_paths(obj)
        if left:
            raise AssertionError(
                f"{self.describe()}: unknown values under mocks at {left}; give the test a placeholder for them"
            )
        return obj, notes


def _resource_key(api_version: Any, kind: Any, namespace: Any, name: Any) -> tuple[str, str, str, str]:
    return (str(api_version), str(kind).removesuffix("Patch"), str(namespace or ""), str(name))


def emitted_objects(r: Rendered) -> list[Emitted]:
    """Every kubernetes/**.yaml of the tree, matched to the resource that registered it."""
    index: dict[tuple[str, str, str, str], Registered] = {}
    for res in r.run.resources:
        if not res.type.startswith("kubernetes:") or res.type.startswith("kubernetes:helm.sh/"):
            continue
        md = res.inputs.get("metadata") or {}
        kind = res.inputs.get("kind") or res.type.rsplit(":", 1)[-1]
        key = _resource_key(res.inputs.get("apiVersion"), kind, md.get("namespace"), md.get("name") or res.name)
        index[key] = res
    out: list[Emitted] = []
    for path in sorted((r.root / "kubernetes").rglob("*.yaml")):
        obj = yaml.safe_load(path.read_text())
        md = obj.get("metadata") or {}
        key = _resource_key(obj.get("apiVersion"), obj.get("kind"), md.get("namespace"), md.get("name"))
        res = index.get(key)
        if res is None and not md.get("name"):  # autonamed: the file is named after the resource
            res = next((x for k, x in index.items() if k[:3] == key[:3] and x.name == path.stem), None)
        assert res is not None, f"{path}: no registered resource matches {key}"
        out.append(Emitted(path.relative_to(r.root), obj, res))
    return out


# --- Helm charts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartRender:
    resource: str  # helm/<resource>/
    chart: str
    version: str
    namespace: str
    release: str
    values: dict[str, Any]


def charts(r: Rendered) -> list[ChartRender]:
    out: list[ChartRender] = []
    for d in sorted(p for p in (r.root / "helm").iterdir() if p.is_dir()):
        meta = yaml.safe_load((d / "chart.yaml").read_text()) or {}
        values = as_sent(yaml.safe_load((d / "values.yaml").read_text()) or {})
        # The release name (helm.v4.Chart `name`, default: the resource name) isn't in chart.yaml.
        inputs = next((x.inputs for x in r.run.resources if x.name == d.name and "helm.sh" in x.type), {})
        out.append(
            ChartRender(
                resource=d.name,
                chart=str(meta["chart"]),
                version=str(meta.get("version", "")),
                namespace=str(meta.get("namespace") or "default"),
                release=str(inputs.get("name") or d.name),
                values=values,
            )
        )
    return out


# --- kubeadm --------------------------------------------------------------------------------


def host_files(r: Rendered, name: str) -> list[Path]:
    """Files the host scripts write, by base name (e.g. kubeadm-init.yaml), across hosts."""
    return sorted((r.root / "hosts").glob(f"*/files/**/{name}"))


def with_fake_join_values(text: str) -> str:
    for marker, fake in FAKE_JOIN_VALUES.items():
        text = text.replace(marker, fake)
    return text


def as_on_host(text: str, r: Rendered) -> str:
    """A rendered kubeadm config as the host scripts leave it: join values faked, and the
    cluster-config's placeholder filled with what the API server runs (the stack's version)."""
    version = (r.setting("cluster") or {}).get("kubernetesVersion") or DEFAULT_KUBERNETES_VERSION
    return with_fake_join_values(text).replace(f'"{RUNNING_VERSION}"', f"v{version}")


def expected_apiserver_sans(r: Rendered) -> tuple[set[str], set[str]]:
    """(IP SANs, DNS SANs) the stack file asks for: every control plane's address and name,
    the endpoint (the VIP; without one, the first control plane) and `extraSans`."""
    cluster = r.setting("cluster") or {}
    cps = [n for n in r.setting("nodes") or [] if n.get("role") == "control-plane"]
    ips = {str(n["address"]) for n in cps}
    names = {str(n["name"]) for n in cps}
    ips.add(str(cluster.get("endpoint") or cps[0]["address"]))
    for san in cluster.get("extraSans") or []:
        try:
            ips.add(str(ipaddress.ip_address(san)))
        except ValueError:
            names.add(str(san))
    return ips, names

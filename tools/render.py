"""Offline render of a stack: the program under mocks, written as a deterministic tree.

No cluster, credentials or Pulumi service: the same `__main__.py` and stack file run
under the SDK's mock runtime; what the hosts would answer is a placeholder. Secrets
from the stack file are never read (`privateKeyPath`) or are replaced by a marker.

Tree (paths depend only on resource names, so two renders diff object by object):
  resources.txt                      every resource: type and name, sorted
  outputs.yaml                       stack outputs (secret ones redacted)
  hosts/<resource>.sh                script a remote command runs (its stdin)
  hosts/<resource>.delete.sh         script it runs when deleted
  hosts/<resource>/files/<path>      files the script writes (kubeadm documents, kube-vip, ...)
  kubernetes/<group_version>/<Kind>/<namespace>/<name>.yaml   objects as applied
  helm/<resource>/values.yaml        Helm values (+ chart.yaml: chart, version, namespace)
  dns/<resource>.Corefile            a patched CoreDNS Corefile
  other/<type>/<resource>.yaml       everything else (TLS keys/certs inputs, components...)
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

import yaml
from pulumi.dynamic.dynamic import PROVIDER_KEY as DYNAMIC_PROVIDER_KEY
from pulumi.runtime import mocks as pmocks

from tools.mockrun import ROOT, ProgramRun, Registered, run_main
from tools.stack_targets import has_secure

REDACTED = "<redacted>"
PLACEHOLDER_KEY = "<ssh-private-key from the stack>"
SERIAL_AT_DEPLOY = "<serial from the state at deploy>"
ZONE_SERIAL_TYPE = "pulumi-python:dynamic/dns:ZoneSerial"
PLACEHOLDER_CA = "-----BEGIN CERTIFICATE-----\n<cluster CA, known after kubeadm init>\n-----END CERTIFICATE-----\n"
_HEREDOC = re.compile(r"cat > (?P<path>\S+)\.tmp <<'HOMELAB_EOF'\n(?P<body>.*?)\nHOMELAB_EOF\n", re.S)


def _placeholder_kubeconfig() -> str:
    ca = base64.b64encode(PLACEHOLDER_CA.encode()).decode()
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": "lab", "cluster": {"server": "https://<endpoint>", "certificate-authority-data": ca}}
            ],
            "users": [{"name": "admin", "user": {"client-key-data": "<client key>"}}],
            "contexts": [{"name": "admin", "context": {"cluster": "lab", "user": "admin"}}],
            "current-context": "admin",
        }
    )


def resolved_at_deploy(ref: str) -> str:
    """What the tree shows for a Service's LoadBalancer IP: only the cluster knows it."""
    return f"<resolved at deploy: {ref}>"


def placeholder_service_ip(ref: str, taken: Collection[str] = ()) -> str:
    """A stable stand-in IP for the program run (records must parse as IPv4): from
    192.0.2.0/24, the documentation range (RFC 5737), skipping addresses in `taken`."""
    start = int(hashlib.sha256(ref.encode()).hexdigest(), 16) % 254
    for step in range(254):
        ip = f"192.0.2.{(start + step) % 254 + 1}"
        if ip not in taken:
            return ip
    raise ValueError("no free stand-in address left in 192.0.2.0/24")


class StandIns:
    """The mock runtime's answers for what real hosts and the cluster would say.

    Markers, never a real secret. A Service's IP must be an IPv4 address while the
    program runs; the tree then shows `<resolved at deploy: ns/name>` in its place
    (`mark`), so no stand-in address is mistaken for a real one. A file zone's SOA
    serial lives in the stack's state: the tree shows SERIAL_AT_DEPLOY.
    """

    def __init__(self, avoid: str = "") -> None:
        # Addresses the stack itself uses are never handed out as stand-ins.
        self.avoid = set(re.findall(r"192\.0\.2\.\d+", avoid))
        self.service_ips: dict[str, str] = {}  # stand-in IP -> Service ref

    def service_ip(self, ref: str) -> str:
        for ip, known in self.service_ips.items():
            if known == ref:
                return ip
        ip = placeholder_service_ip(ref, self.avoid | set(self.service_ips))
        self.service_ips[ip] = ref
        return ip

    def __call__(self, args: pmocks.MockResourceArgs) -> dict[str, Any] | None:
        if args.typ == ZONE_SERIAL_TYPE:
            # Held in the stack's state, which a render has none of.
            return {"serial": SERIAL_AT_DEPLOY}
        if args.typ == "kubernetes:core/v1:Service" and args.resource_id:
            return {"status": {"loadBalancer": {"ingress": [{"ip": self.service_ip(args.resource_id)}]}}}
        if args.typ != "command:remote:Command":
            return None
        if args.name.endswith("-kubeconfig"):
            return {"stdout": _placeholder_kubeconfig()}
        if args.name.endswith("-join-token"):
            info = {"token": "<join-token>", "caCertHash": "<ca-cert-hash>", "certificateKey": "<certificate-key>"}
            return {"stdout": json.dumps(info)}
        return {"stdout": ""}

    def mark(self, text: str) -> str:
        """Stand-in addresses → the marker naming what the cluster will answer."""
        for ip, ref in self.service_ips.items():
            text = re.sub(rf"(?<![\d.]){re.escape(ip)}(?![\d])", resolved_at_deploy(ref), text)
        return text


def _unsecure(value: Any, key: str) -> Any:
    """Replace `{secure: ...}` (ciphertext we can't and needn't decrypt) by a marker."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return f"<secret {key}>"
        return {k: _unsecure(v, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_unsecure(v, f"{key}[{i}]") for i, v in enumerate(value)]
    return value


def _without_key_files(value: Any) -> Any:
    """`privateKeyPath: ~/.ssh/...` → a placeholder key, so rendering never reads a key."""
    if isinstance(value, dict):
        out = {k: _without_key_files(v) for k, v in value.items() if k != "privateKeyPath"}
        if "privateKeyPath" in value:
            out["privateKey"] = PLACEHOLDER_KEY
        return out
    if isinstance(value, list):
        return [_without_key_files(v) for v in value]
    return value


def stack_config(stack_file: Path, project: str = "homelab") -> tuple[dict[str, Any], list[str]]:
    doc = yaml.safe_load(stack_file.read_text()) or {}
    config: dict[str, Any] = {}
    secret_keys: list[str] = []
    for key, value in (doc.get("config") or {}).items():
        if not key.startswith(f"{project}:"):
            continue
        cleaned = _without_key_files(_unsecure(value, key))
        config[key] = cleaned
        if cleaned != value or has_secure(value):
            secret_keys.append(key)  # held a secret or a key file: the program must see it as secret
    return config, secret_keys


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (scripts, Corefiles, embedded YAML) as literal blocks, so a diff
    of two renders shows the changed line rather than one long escaped string."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value and not any(line != line.rstrip() for line in value.splitlines()):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)


def _dump(value: Any) -> str:
    return yaml.dump(value, Dumper=_Dumper, sort_keys=True, default_flow_style=False, allow_unicode=True)


def _redact(value: Any, secrets: set[str]) -> Any:
    if isinstance(value, dict):
        return {k: _redact(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, secrets) for v in value]
    if isinstance(value, str):
        for s in secrets:
            if s and s in value:
                value = value.replace(s, REDACTED)
    return value


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "_"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text.endswith("\n") else text + "\n")


def _intify(value: Any) -> Any:
    """Whole numbers travel as floats in the mock runtime (protobuf Struct); the real
    providers send integers, so the tree shows `6443`, not `6443.0`."""
    if isinstance(value, dict):
        return {k: _intify(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_intify(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _inputs(r: Registered, secrets: set[str]) -> dict[str, Any]:
    # A dynamic resource's pickled provider says nothing to a reader.
    inputs = _intify({k: v for k, v in r.inputs.items() if k != DYNAMIC_PROVIDER_KEY})
    if isinstance(inputs.get("connection"), dict):
        conn = dict(inputs["connection"])
        if conn.get("privateKey") is not None:
            conn["privateKey"] = REDACTED
        inputs["connection"] = conn
    return _redact(inputs, secrets)


def _write_command(out: Path, r: Registered, inputs: dict[str, Any]) -> None:
    base = out / "hosts" / _safe(r.name)
    script = inputs.get("stdin") or inputs.get("create") or ""
    _write(base.with_suffix(".sh"), script)
    for m in _HEREDOC.finditer(script):
        _write(base / "files" / m.group("path").lstrip("/"), m.group("body"))
    if inputs.get("delete"):
        _write(base.with_suffix(".delete.sh"), inputs["delete"])
    # The command line stays in the metadata when the script came on stdin: it may carry
    # settings the script reads (the prepare script's release variables).
    shown = ("stdin", "delete") if inputs.get("stdin") else ("create", "delete")
    meta = {k: v for k, v in inputs.items() if k not in shown}
    _write(base.with_suffix(".yaml"), _dump(meta))


def _write_kubernetes(out: Path, r: Registered, inputs: dict[str, Any]) -> None:
    meta = inputs.get("metadata") or {}
    api = str(inputs.get("apiVersion") or r.type.split(":")[1]).replace("/", "_")
    kind = str(inputs.get("kind") or r.type.split(":")[-1])
    ns = meta.get("namespace") or "_cluster"
    name = meta.get("name") or r.name
    ns_dir = ns if ns == "_cluster" else _safe(ns)  # no namespace can start with "_"
    _write(out / "kubernetes" / _safe(api) / _safe(kind) / ns_dir / f"{_safe(name)}.yaml", _dump(inputs))
    corefile = (inputs.get("data") or {}).get("Corefile") if kind in ("ConfigMap", "ConfigMapPatch") else None
    if corefile:
        _write(out / "dns" / f"{_safe(r.name)}.Corefile", corefile)


def _write_helm(out: Path, r: Registered, inputs: dict[str, Any]) -> None:
    base = out / "helm" / _safe(r.name)
    _write(base / "values.yaml", _dump(inputs.get("values") or {}))
    chart = {k: inputs.get(k) for k in ("chart", "version", "namespace", "repositoryOpts") if inputs.get(k)}
    _write(base / "chart.yaml", _dump(chart))


def _strings(value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, dict):
        return {k: _strings(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_strings(v, fn) for v in value]
    return fn(value) if isinstance(value, str) else value


def write_tree(run: ProgramRun, out: Path, secrets: set[str], *, mark: Callable[[str], str] = str) -> None:
    """Write the tree into `out`, which must not exist (render() swaps it into place).

    `mark` rewrites every string written (stand-ins → markers saying what they stand for).
    """
    out.mkdir(parents=True)
    lines = sorted(f"{r.type} {r.name}" for r in run.resources)
    _write(out / "resources.txt", "\n".join(lines))
    outputs = {k: (REDACTED if k in run.secret_outputs else v) for k, v in run.outputs.items()}
    _write(out / "outputs.yaml", _dump(_strings(_redact(outputs, secrets), mark)))
    for r in run.resources:
        inputs = _strings(_inputs(r, secrets), mark)
        if r.type == "command:remote:Command":
            _write_command(out, r, inputs)
        elif r.type.startswith("kubernetes:helm.sh/"):
            _write_helm(out, r, inputs)
        elif r.type.startswith("kubernetes:"):
            _write_kubernetes(out, r, inputs)
        elif r.custom:
            _write(out / "other" / _safe(r.type) / f"{_safe(r.name)}.yaml", _dump(inputs))


class StackNotFound(FileNotFoundError):
    def __init__(self, stack: str, path: Path) -> None:
        super().__init__(f"no stack {stack!r}: {path} does not exist")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def render(
    stack: str, out: Path, *, project_dir: Path = ROOT, config_overrides: Mapping[str, Any] | None = None
) -> ProgramRun:
    """Render `stack` into `out`: all or nothing.

    The tree is written beside `out` and renamed into place once complete. A failed
    render also removes the previous tree, so a later `--diff` can't compare against
    an old render as if it were this one.
    """
    stack_file = project_dir / "config" / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        raise StackNotFound(stack, stack_file)
    staging = out.with_name(f".{out.name}.partial")
    try:
        config, secret_keys = stack_config(stack_file)
        config.update(config_overrides or {})
        # Secure values were replaced by markers and key files never read, so no secret
        # reaches the tree; the connection's key marker and secret outputs are redacted too.
        secrets = {PLACEHOLDER_KEY}
        stand_ins = StandIns(avoid=stack_file.read_text() + json.dumps(config_overrides or {}))
        run = run_main(config=config, secret_keys=secret_keys, stack=stack, hooks=[stand_ins])
        _remove(staging)
        write_tree(run, staging, secrets, mark=stand_ins.mark)
        _remove(out)
        staging.rename(out)
    except BaseException:
        _remove(staging)
        _remove(out)
        raise
    return run

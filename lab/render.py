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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pulumi.runtime import mocks as pmocks

from lab.mockrun import ROOT, ProgramRun, Registered, run_main

REDACTED = "<redacted>"
PLACEHOLDER_KEY = "<ssh-private-key from the stack>"
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


def placeholder_service_ip(ref: str) -> str:
    """A stable stand-in for a LoadBalancer IP that only the cluster knows: 192.0.2.0/24
    is the documentation range (RFC 5737), so it can't be mistaken for a LAN address."""
    return f"192.0.2.{int(hashlib.sha256(ref.encode()).hexdigest(), 16) % 254 + 1}"


def placeholder_answers(args: pmocks.MockResourceArgs) -> dict[str, Any] | None:
    """What real hosts and the cluster would answer, as markers: never a real secret."""
    if args.typ == "kubernetes:core/v1:Service" and args.resource_id:
        return {"status": {"loadBalancer": {"ingress": [{"ip": placeholder_service_ip(args.resource_id)}]}}}
    if args.typ != "command:remote:Command":
        return None
    if args.name.endswith("-kubeconfig"):
        return {"stdout": _placeholder_kubeconfig()}
    if args.name.endswith("-join-token"):
        info = {"token": "<join-token>", "caCertHash": "<ca-cert-hash>", "certificateKey": "<certificate-key>"}
        return {"stdout": json.dumps(info)}
    return {"stdout": ""}


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
        if cleaned != value or _has_secure(value):
            secret_keys.append(key)  # held a secret or a key file: the program must see it as secret
    return config, secret_keys


def _has_secure(value: Any) -> bool:
    if isinstance(value, dict):
        return set(value) == {"secure"} or any(_has_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secure(v) for v in value)
    return False


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
    inputs = _intify(dict(r.inputs))
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
    meta = {k: v for k, v in inputs.items() if k not in ("stdin", "create", "delete")}
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


def write_tree(run: ProgramRun, out: Path, secrets: set[str]) -> None:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    lines = sorted(f"{r.type} {r.name}" for r in run.resources)
    _write(out / "resources.txt", "\n".join(lines))
    outputs = {k: (REDACTED if k in run.secret_outputs else v) for k, v in run.outputs.items()}
    _write(out / "outputs.yaml", _dump(_redact(outputs, secrets)))
    for r in run.resources:
        inputs = _inputs(r, secrets)
        if r.type == "command:remote:Command":
            _write_command(out, r, inputs)
        elif r.type.startswith("kubernetes:helm.sh/"):
            _write_helm(out, r, inputs)
        elif r.type.startswith("kubernetes:"):
            _write_kubernetes(out, r, inputs)
        elif r.custom:
            _write(out / "other" / _safe(r.type) / f"{_safe(r.name)}.yaml", _dump(inputs))


def render(
    stack: str, out: Path, *, project_dir: Path = ROOT, config_overrides: Mapping[str, Any] | None = None
) -> ProgramRun:
    config, secret_keys = stack_config(project_dir / "config" / f"Pulumi.{stack}.yaml")
    config.update(config_overrides or {})
    # Secure values were replaced by markers and key files never read, so no secret
    # reaches the tree; the connection's key marker and secret outputs are redacted too.
    secrets = {PLACEHOLDER_KEY}
    run = run_main(config=config, secret_keys=secret_keys, stack=stack, hooks=[placeholder_answers])
    write_tree(run, out, secrets)
    return run

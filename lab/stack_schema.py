"""The stack file's JSON Schema for editors, and the README's key table: both from the models.

`config/homelab.schema.json`: the example stacks name it in a `yaml-language-server`
modeline, so an editor with a YAML language server (VS Code's YAML extension, Neovim,
Helix...) completes the `homelab:` keys, and what goes inside each section declared as a
model, and flags a misspelt one (`homelab:loadbalancer`) while you type.

README.md's block between `<!-- keys:begin -->` and `<!-- keys:end -->`: every key of
those sections with its type, default and description.

Generated, never edited: the keys are the ones the program reads (lab.settings.KEYS),
described as in Pulumi.yaml's project config schema; a section registered in SECTIONS
is described from its model (`model_json_schema(by_alias=True)`, field docstrings as
descriptions). Other namespaces' keys are left alone, and `{secure: ...}` is accepted
wherever a value goes.

    .venv/bin/python -m lab.stack_schema           # write both
    .venv/bin/python -m lab.stack_schema --check   # fail if either is stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

import yaml
from pydantic import BaseModel, RootModel
from pydantic_core import PydanticUndefined

from components.cluster.backup import EtcdBackup
from components.cluster.model import ClusterSection, LanSection, NodesSection, PackagesSection, SshSettingsSection
from components.dns.model import DnsSection
from components.egress.model import EgressSection
from components.loadbalancer.model import LoadBalancerArgs
from components.model import Shown, at_least, bare_type, between
from components.namespaces import NamespacesSection
from components.network.model import FlatNetworkSection
from components.tls.model import TlsSection
from lab.settings import KEYS, OPTIONAL_SECTIONS, PROJECT

ROOT = Path(__file__).resolve().parents[1]

SCHEMA_FILE = ROOT / "config" / f"{PROJECT}.schema.json"
README = ROOT / "README.md"
MODELINE = f"# yaml-language-server: $schema={SCHEMA_FILE.name}"
REGENERATE = ".venv/bin/python -m lab.stack_schema"
BEGIN, END = "<!-- keys:begin -->", "<!-- keys:end -->"

# `homelab:<key>` → the model its value is validated into. A section joins the editor
# schema and the README table by one line here.
SECTIONS: dict[str, type[BaseModel]] = {
    "lan": LanSection,
    "cluster": ClusterSection,
    "ssh": SshSettingsSection,
    "nodes": NodesSection,
    "packages": PackagesSection,
    "backup": EtcdBackup,
    "loadBalancer": LoadBalancerArgs,
    "dns": DnsSection,
    "egress": EgressSection,
    "network": FlatNetworkSection,
    "tls": TlsSection,
    "namespaces": NamespacesSection,
}

SECURE: dict[str, Any] = {
    "type": "object",
    "description": "An encrypted value (`pulumi config set --secret`)",
    "properties": {"secure": {"type": "string"}},
    "required": ["secure"],
    "additionalProperties": False,
}
SECURE_REF = {"$ref": "#/definitions/secure"}
SCALARS = ("string", "integer", "boolean", "number")


def _key_schema(decl: dict[str, Any] | None) -> dict[str, Any]:
    if not decl:
        return {}
    out: dict[str, Any] = {}
    if decl.get("description"):
        out["description"] = decl["description"]
    kind = decl.get("type")
    if kind == "object":  # a secure value is an object too
        out["type"] = "object"
    elif kind in ("array", "string", "integer", "boolean"):
        out["anyOf"] = [{"type": kind}, SECURE_REF]
    return out


def _tidy(node: Any) -> Any:
    """Titles dropped (pydantic's are the field names again); a scalar may be `{secure: ...}`."""
    if isinstance(node, list):
        return [_tidy(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _tidy(v) for k, v in node.items() if k != "title"}
    if out.get("type") in SCALARS and "enum" not in out:
        # A secret leaf (`pulumi config set --secret --path`) sits in the file encrypted.
        described = {k: out.pop(k) for k in ("description", "default") if k in out}
        return {**described, "anyOf": [out, SECURE_REF]}
    return out


def _model_schema(key: str, model: type[BaseModel], definitions: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, ref_template="#/definitions/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        sub = _tidy(sub)
        if definitions.get(name, sub) != sub:
            raise ValueError(f"two models are named {name} ({key} and another section): rename one")
        definitions[name] = sub
    # `{}` is how Pulumi.yaml's default reaches the program: an optional section left out.
    empty = [{"type": "object", "maxProperties": 0}] if key in OPTIONAL_SECTIONS else []
    return {"anyOf": [_tidy(schema), *empty, SECURE_REF]}


def stack_schema() -> dict[str, Any]:
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text()).get("config") or {}
    known = [f"{PROJECT}:{key}" for key in KEYS]
    definitions: dict[str, Any] = {"secure": SECURE}
    properties = {
        f"{PROJECT}:{key}": (
            _model_schema(key, SECTIONS[key], definitions) if key in SECTIONS else _key_schema(declared.get(key))
        )
        for key in KEYS
    }
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$comment": f"Generated by `{REGENERATE}` from the section models, lab.settings and Pulumi.yaml; do not edit.",
        "title": f"{PROJECT} stack file (config/Pulumi.<stack>.yaml)",
        "type": "object",
        "definitions": dict(sorted(definitions.items())),
        "properties": {
            "config": {
                "type": "object",
                "description": "The stack's settings; `homelab:` keys are this project's.",
                "properties": properties,
                # A `homelab:` key must be a known one; other namespaces are not ours to judge.
                "propertyNames": {
                    "anyOf": [{"enum": known}, {"not": {"pattern": f"^{PROJECT}:"}}],
                    "errorMessage": f"unknown {PROJECT}: key (known: {', '.join(KEYS)})",
                },
            },
            "secretsprovider": {"type": "string", "description": "e.g. awskms://alias/homelab?region=..."},
            "encryptionsalt": {"type": "string"},
            "encryptedkey": {"type": "string"},
            "environment": {},
        },
        "additionalProperties": False,
    }


def rendered() -> str:
    return json.dumps(stack_schema(), indent=2) + "\n"


# --- the README's key table ------------------------------------------------------------


def _type_name(tp: Any, metadata: Any = ()) -> tuple[str, type[BaseModel] | None, str]:
    """(what the README calls the type, the model to describe below it, the key suffix)."""
    if get_origin(tp) is Annotated:
        tp, *more = get_args(tp)
        metadata = (*metadata, *more)
    for meta in metadata:
        if isinstance(meta, Shown):
            return meta.text, None, ""
    tp = bare_type(tp, inner := [])
    metadata = (*metadata, *inner)
    bounds = next((f" ({m.lo}–{m.hi})" for m in metadata if isinstance(m, between)), "")
    bounds = bounds or next((f" (≥ {m.lo})" for m in metadata if isinstance(m, at_least)), "")
    origin = get_origin(tp)
    if origin in (tuple, list):
        inner, model, _ = _type_name(next(a for a in get_args(tp) if a is not Ellipsis))
        return f"list of {inner}", model, "[]"
    if origin is dict:
        inner, model, _ = _type_name(get_args(tp)[1])
        return f"mapping of {inner}", model, "[*]"
    if isinstance(tp, type) and issubclass(tp, Enum):
        return " \\| ".join(f"`{m.value}`" for m in tp), None, ""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return "object", tp, ""
    if tp in (str, int, bool, float):
        return {str: "string", int: "integer", bool: "true/false", float: "number"}[tp] + bounds, None, ""
    return "see description", None, ""


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.default if field.default is not PydanticUndefined else field.default_factory()
    if value is None or value in ((), [], {}):
        return ""
    if isinstance(value, BaseModel):
        return ""
    if isinstance(value, Enum):
        value = value.value
    return f"`{json.dumps(value) if not isinstance(value, str) else value}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _rows(prefix: str, model: type[BaseModel], seen: tuple[type[BaseModel], ...] = ()) -> list[str]:
    rows: list[str] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}.{field.alias or name}"
        kind, sub, suffix = _type_name(field.annotation, field.metadata)
        rows.append(f"| `{key}` | {kind} | {_default(field)} | {_cell(field.description or '')} |")
        if sub is not None and sub not in seen:
            rows += _rows(key + suffix, sub, (*seen, sub))
    return rows


def readme_table() -> str:
    lines = ["| key | type | default | description |", "| --- | --- | --- | --- |"]
    for key, model in SECTIONS.items():
        if issubclass(model, RootModel):  # a list section: its items' keys under `key[]`
            kind, sub, suffix = _type_name(model.model_fields["root"].annotation)
            lines.append(f"| `{PROJECT}:{key}` | {kind} | | {_cell(model.__doc__ or '')} |")
            lines += _rows(f"{PROJECT}:{key}{suffix}", sub) if sub is not None else []
            continue
        lines.append(f"| `{PROJECT}:{key}` | object | | {_cell(model.__doc__ or '')} |")
        lines += _rows(f"{PROJECT}:{key}", model)
    return "\n".join(lines)


def readme_with_table(text: str) -> str:
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise ValueError(f"README.md has no {BEGIN} … {END} block")
    block = f"{BEGIN}\n<!-- generated by `{REGENERATE}`; do not edit -->\n{readme_table()}\n{END}"
    return pattern.sub(lambda _: block, text, count=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if the schema or the README table is stale")
    args = parser.parse_args()
    outputs = {SCHEMA_FILE: rendered(), README: readme_with_table(README.read_text())}
    if args.check:
        stale = [p for p, text in outputs.items() if not p.is_file() or p.read_text() != text]
        for path in stale:
            print(f"homelab: {path.relative_to(ROOT)} is stale; run {REGENERATE}", file=sys.stderr)
        return 1 if stale else 0
    for path, text in outputs.items():
        if path.read_text() != text:
            path.write_text(text)
            print(f"homelab: wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

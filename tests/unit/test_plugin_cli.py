"""`pulumi package get-schema` on plugin/ with a real Pulumi CLI and Python language host.

Uses the toolchain scripts/pulumi-toolchain builds (skipped loudly when it is missing).
The CLI installs the plugin's dependencies and starts it before it asks for the schema,
so it runs on a copy of plugin/ and components/ in a temporary directory: the language
host may create a virtualenv inside the plugin directory it installs.

The CLI also installs the resource plugins the Python environment requests
(kubernetes, command, tls). Schema extraction never starts them, so this test's own
PULUMI_HOME holds empty placeholders for them: nothing is downloaded and the project's
.pulumi-home is left alone.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pulumi.provider.experimental.component import ComponentProvider

from plugin import COMPONENTS, PACKAGE
from plugin.version import package_version
from tests.support.harness import ROOT

pytestmark = pytest.mark.realbin


def toolchain_env(tmp: Path) -> dict[str, str]:
    """The environment scripts/pulumi-env sets, with a private PULUMI_HOME and state backend."""
    script = ROOT / "scripts" / "pulumi-toolchain"
    if not script.exists():
        pytest.skip("SKIPPED LOUDLY: scripts/pulumi-toolchain is missing; no Pulumi CLI to test with")
    proc = subprocess.run(
        ["bash", "-c", f'eval "$({sys.executable} {script} --print-env)" && env -0'],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0:
        pytest.skip(f"SKIPPED LOUDLY: scripts/pulumi-toolchain --print-env failed: {proc.stderr[-500:]}")
    env = dict(item.split("=", 1) for item in proc.stdout.split("\0") if "=" in item)
    home = tmp / "pulumi-home"
    env["PULUMI_HOME"] = str(home)
    env["PULUMI_BACKEND_URL"] = f"file://{tmp / 'state'}"
    (tmp / "state").mkdir()
    plugins = home / "plugins"
    plugins.mkdir(parents=True)
    for manifest in Path(sys.prefix).glob("lib/python3*/site-packages/pulumi_*/pulumi-plugin.json"):
        spec = json.loads(manifest.read_text())
        if spec.get("resource"):
            (plugins / f"resource-{spec['name']}-v{spec['version']}").mkdir(exist_ok=True)
    return env


def shape(schema: dict[str, Any]) -> dict[str, Any]:
    """What a generated SDK depends on: names, types, references, required lists, enum values.

    The CLI re-encodes the schema (it drops the descriptions of array items and map
    values, and empty lists), so those are left out of the comparison.
    """

    def prop(p: dict[str, Any]) -> Any:
        return (
            p.get("type"),
            p.get("$ref"),
            bool(p.get("plain")),
            prop(p["items"]) if "items" in p else None,
            prop(p["additionalProperties"]) if "additionalProperties" in p else None,
        )

    def props(ps: dict[str, Any] | None) -> dict[str, Any]:
        return {k: prop(v) for k, v in (ps or {}).items()}

    return {
        "name": schema["name"],
        "version": schema["version"],
        "resources": {
            token: {
                "inputs": props(r.get("inputProperties")),
                "requiredInputs": sorted(r.get("requiredInputs") or []),
                "outputs": props(r.get("properties")),
                "required": sorted(r.get("required") or []),
                "description": r.get("description"),
            }
            for token, r in schema["resources"].items()
        },
        "types": {
            token: {
                "type": t.get("type"),
                "properties": props(t.get("properties")),
                "required": sorted(t.get("required") or []),
                "enum": [e["value"] for e in t.get("enum") or []],
            }
            for token, t in schema["types"].items()
        },
    }


def test_pulumi_package_get_schema(tmp_path: Path) -> None:
    env = toolchain_env(tmp_path)
    pulumi = shutil.which("pulumi", path=env.get("PATH", ""))
    if pulumi is None:
        pytest.skip("SKIPPED LOUDLY: no pulumi CLI on the toolchain PATH; build it with scripts/pulumi-toolchain")
    copy = tmp_path / "homelab"
    for name in ("plugin", "components"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    plugin_dir = copy / "plugin"
    # Run from the plugin directory and name it `.`: the language host built here
    # (sdk v3.68) resolves the plugin path against the CLI's working directory.
    proc = subprocess.run(
        [pulumi, "package", "get-schema", "."],
        cwd=plugin_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        tail = proc.stderr[-3000:]
        # The language host's pip steps fail as "<step> via '<pip command>'" (e.g. no package index).
        if re.search(r"(installing dependencies|updating pip, setuptools, and wheel) via '", tail):
            pytest.skip(f"SKIPPED LOUDLY: the CLI could not install the plugin's Python dependencies:\n{tail}")
        pytest.fail(f"pulumi package get-schema failed:\n{tail}")
    served = json.loads(proc.stdout)
    expected = ComponentProvider(COMPONENTS, PACKAGE, None, package_version(ROOT)).schema
    assert expected is not None
    assert shape(served) == shape(json.loads(expected))
    assert set(served["resources"]) == {
        f"homelab:index:{name}"
        for name in ("KubeadmCluster", "FlatNetwork", "LoadBalancer", "DnsZones", "EgressPolicies", "TlsSecrets")
    }
    assert served["resources"]["homelab:index:KubeadmCluster"]["properties"]["kubeconfig"]["type"] == "string"

"""The example stacks as the program sees them, plus what real hosts would answer."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import yaml
from pulumi.runtime import mocks as pmocks

from tests.support.harness import ROOT
from tests.support.keys import TEST_SSH_KEY

STACKS = ("dev", "prod")
FAKE_CA = "-----BEGIN CERTIFICATE-----\nhomelab-test-ca\n-----END CERTIFICATE-----\n"
FAKE_TOKEN = "abcdef.0123456789abcdef"


def stack_file(stack: str) -> Path:
    return ROOT / "config" / f"Pulumi.{stack}.yaml"


def raw_stack(stack: str) -> dict[str, Any]:
    """`homelab:*` keys of a stack file, without the prefix."""
    doc = yaml.safe_load(stack_file(stack).read_text()) or {}
    return {k.split(":", 1)[1]: v for k, v in (doc.get("config") or {}).items() if k.startswith("homelab:")}


def stack_config(stack: str, **overrides: Any) -> tuple[dict[str, Any], list[str]]:
    """Config for the harness: the stack file, with the SSH key given as a secret value.

    The example stacks point at ~/.ssh/id_ed25519, which a test machine need not have.
    """
    raw = raw_stack(stack)
    ssh = dict(raw.get("ssh") or {})
    ssh.pop("privateKeyPath", None)
    ssh["privateKey"] = TEST_SSH_KEY
    raw["ssh"] = ssh
    raw.update(overrides)
    config = {f"homelab:{k}": v for k, v in raw.items() if v is not None}
    return config, ["homelab:ssh"]


def fake_kubeconfig(server: str = "https://192.168.2.10:6443") -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "homelab",
                    "cluster": {
                        "server": server,
                        "certificate-authority-data": base64.b64encode(FAKE_CA.encode()).decode(),
                    },
                }
            ],
            "users": [{"name": "admin", "user": {"client-key-data": "c2VjcmV0"}}],
            "contexts": [{"name": "admin@homelab", "context": {"cluster": "homelab", "user": "admin"}}],
            "current-context": "admin@homelab",
        }
    )


SERVICE_IPS = {"monitoring/grafana": "192.168.2.241"}


def host_answers(args: pmocks.MockResourceArgs) -> dict[str, Any] | None:
    """What the hosts would print for the commands whose stdout the program reads,
    and what the API says of a LoadBalancer Service that MetalLB has served."""
    if args.typ == "kubernetes:core/v1:Service" and args.resource_id in SERVICE_IPS:
        return {"status": {"loadBalancer": {"ingress": [{"ip": SERVICE_IPS[args.resource_id]}]}}}
    if args.typ != "command:remote:Command":
        return None
    if args.name.endswith("-kubeconfig"):
        return {"stdout": fake_kubeconfig()}
    if args.name.endswith("-join-token"):
        key = "f" * 64 if "-cp" in args.name else ""
        return {"stdout": json.dumps({"token": FAKE_TOKEN, "caCertHash": "sha256:" + "e" * 64, "certificateKey": key})}
    return {"stdout": ""}

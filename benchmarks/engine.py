"""Figures of the real Pulumi engine: time and SSH sessions. Prints them; asserts nothing.

  .venv/bin/python benchmarks/engine.py [--only ssh,cluster,services,chart] [--runs N]

- ssh: tests/e2e/test_engine_ssh.py (KubeadmCluster's commands over SSH to test hosts):
  `up` of 2 nodes and of an added worker, the no-op preview and `up` with the SSH
  sessions they open (counted in the hosts' sshd logs), against an empty program's
  preview (the floor). Needs the command provider in PULUMI_HOME.
- cluster: tests/e2e/test_engine_cluster.py (the `local` stack on three local machines):
  `up` from empty and of an added worker, the no-op `up`, the no-op preview against the
  floor taken in turn with it, and the SSH sessions each opens. Needs root, the machines'
  base image and the command and tls providers.
- services: tests/e2e/test_engine_services.py (Cilium, MetalLB, DNS zones, policies on a
  real kube-apiserver): the no-op preview against the floor.
- chart: where the services' no-op preview goes. On the same engine (one API server per
  variant), the no-op preview of (a) an empty program, (b) the kubernetes provider with
  one ConfigMap, (c) the Cilium chart as `helm.v4.Chart` (the provider runs `helm
  template` on every preview), (d) the same chart rendered once by the real `helm` into
  a manifest, applied as `yaml.v2.ConfigGroup`. Round robin, median of --runs.

Results: build/e2e/engine_figures.json (and the tests' own files in build/e2e/).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "build" / "e2e" / "engine_figures.json"
PASSPHRASE = "homelab-bench-only"


def run_tests(path: str, env: dict[str, str]) -> int:
    argv = [sys.executable, "-m", "pytest", "-q", "-s", path]
    return subprocess.run(argv, cwd=ROOT, env={**os.environ, **env}, check=False).returncode


def section_ssh() -> dict[str, Any]:
    # A subnet of its own, so that another e2e run on the default one does not collide.
    env = {"HOMELAB_E2E_SUBNET": os.environ.get("HOMELAB_E2E_SUBNET", "10.250.9.0/24")}
    rc = run_tests("tests/e2e/test_engine_ssh.py", env)
    f = ROOT / "build" / "e2e" / "engine_ssh_figures.json"
    return {"rc": rc, **(json.loads(f.read_text()) if rc == 0 and f.exists() else {})}


def section_cluster() -> dict[str, Any]:
    """The `local` stack on three local machines: `up` from empty, an added worker, the no-op
    preview against the floor, SSH sessions (tests/e2e/test_engine_cluster.py; needs root)."""
    # Modules compiled once, as on a user's machine (a sandbox may forbid .pyc files).
    rc = run_tests("tests/e2e/test_engine_cluster.py", {"PYTHONDONTWRITEBYTECODE": ""})
    f = ROOT / "build" / "e2e" / "engine_cluster_figures.json"
    return {"rc": rc, **(json.loads(f.read_text()) if rc == 0 and f.exists() else {})}


def section_services() -> dict[str, Any]:
    rc = run_tests("tests/e2e/test_engine_services.py", {})
    f = ROOT / "build" / "e2e" / "engine_services_timings.json"
    return {"rc": rc, **(json.loads(f.read_text()) if rc == 0 and f.exists() else {})}


# --- chart: helm.v4.Chart against a manifest rendered once ------------------------------------------------

PROGRAMS = {
    "floor": "",
    "provider": """
import pulumi, pulumi_kubernetes as k8s
cfg = pulumi.Config()
p = k8s.Provider("k8s", kubeconfig=pulumi.Output.secret(open(cfg.require("kubeconfig")).read()),
                 cluster_identifier="bench")
k8s.core.v1.ConfigMap("one", metadata={"namespace": "default"}, data={"a": "b"},
                      opts=pulumi.ResourceOptions(provider=p))
""",
    "chart": """
import json, pulumi, pulumi_kubernetes as k8s
cfg = pulumi.Config()
p = k8s.Provider("k8s", kubeconfig=pulumi.Output.secret(open(cfg.require("kubeconfig")).read()),
                 cluster_identifier="bench")
k8s.helm.v4.Chart("cilium", chart=cfg.require("chart"), name="cilium", namespace="kube-system",
                  values=json.load(open(cfg.require("valuesFile"))), skip_await=True,
                  opts=pulumi.ResourceOptions(provider=p))
""",
    "rendered": """
import pulumi, pulumi_kubernetes as k8s
cfg = pulumi.Config()
p = k8s.Provider("k8s", kubeconfig=pulumi.Output.secret(open(cfg.require("kubeconfig")).read()),
                 cluster_identifier="bench")
k8s.yaml.v2.ConfigGroup("cilium", files=[cfg.require("manifest")], skip_await=True,
                        opts=pulumi.ResourceOptions(provider=p))
""",
}


def cilium_values() -> dict[str, Any]:
    """The values the services stack renders (tests/e2e/services_stack)."""
    from components.network import CiliumChart, FlatNetworkArgs, NodeAddress
    from components.network.cilium_values import render_cilium_values

    args = FlatNetworkArgs(
        pod_cidr="10.244.0.0/16",
        lan_cidr="192.168.2.0/24",
        api_host="192.168.2.11",
        api_port=6443,
        nodes=(NodeAddress("cp01", "192.168.2.11"),),
        service_cidr="10.96.0.0/12",
        chart=CiliumChart(path="unused"),
        read_node_pod_cidrs=False,
        skip_await=True,
    )
    return render_cilium_values(args)


def pulumi(cwd: Path, env: dict[str, str], *args: str, timeout: float = 600) -> tuple[float, str]:
    t0 = time.monotonic()
    res = subprocess.run(
        ["pulumi", *args, "--non-interactive"], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    if res.returncode != 0:
        raise RuntimeError(f"pulumi {' '.join(args)} in {cwd}: {res.stdout[-2000:]}{res.stderr[-2000:]}")
    return time.monotonic() - t0, res.stdout


def section_chart(runs: int) -> dict[str, Any]:
    from tests.e2e.engine_plugins import engine_env
    from tests.realbin.binaries import find_tool
    from tests.realbin.controlplane import start_control_plane, write_kubeconfig

    try:
        engine = engine_env(("kubernetes",))
    except BaseException as exc:  # pytest.skip: say why and go on
        return {"skipped": str(exc)}
    chart, helm = find_tool("cilium-chart"), find_tool("helm")
    if chart is None or helm is None:
        return {"skipped": "the Cilium chart or helm is not built: scripts/toolchain"}
    out: dict[str, Any] = {"runs": runs}
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp_name:
        tmp = Path(tmp_name)
        planes = []  # one API server per variant: the same objects, no field-manager conflicts
        try:
            values = cilium_values()
            (tmp / "values.yaml").write_text(yaml.safe_dump(values))
            (tmp / "values.json").write_text(json.dumps(values))
            t0 = time.monotonic()
            argv = [str(helm), "template", "cilium", str(chart), "--namespace", "kube-system"]
            argv += ["-f", str(tmp / "values.yaml")]
            manifest = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
            out["helm_template_s"] = round(time.monotonic() - t0, 2)
            (tmp / "cilium.yaml").write_text(manifest)
            out["rendered_objects"] = sum(1 for d in yaml.safe_load_all(manifest) if d)
            env = {
                **engine,
                "PULUMI_BACKEND_URL": f"file://{tmp / 'state'}",
                "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
                "PULUMI_PYTHON_CMD": sys.executable,
            }
            (tmp / "state").mkdir()
            dirs = {}
            for name, program in PROGRAMS.items():
                d = dirs[name] = tmp / name
                d.mkdir()
                project = {
                    "name": f"bench-{name}",
                    "runtime": {"name": "python", "options": {"virtualenv": sys.prefix}},
                }
                (d / "Pulumi.yaml").write_text(yaml.safe_dump(project))
                (d / "__main__.py").write_text(program)
                pulumi(d, env, "stack", "init", name, "--secrets-provider", "passphrase")
                if program:
                    cp = start_control_plane(tmp / f"cp-{name}")
                    planes.append(cp)
                    write_kubeconfig(d / "kubeconfig", cp.url, cp.pki, "bench")
                    pulumi(d, env, "config", "set", "kubeconfig", str(d / "kubeconfig"))
                    pulumi(d, env, "config", "set", "chart", str(chart))
                    pulumi(d, env, "config", "set", "manifest", str(tmp / "cilium.yaml"))
                    pulumi(d, env, "config", "set", "valuesFile", str(tmp / "values.json"))
                up_s, _ = pulumi(d, env, "up", "--yes", "--skip-preview")  # the floor: its Stack resource
                out[f"{name}_up_s"] = round(up_s, 2)
            times: dict[str, list[float]] = {name: [] for name in PROGRAMS}
            for _ in range(runs):  # round robin: load drifts hit every variant alike
                for name, d in dirs.items():
                    times[name].append(round(pulumi(d, env, "preview", "--expect-no-changes")[0], 2))
            for name in PROGRAMS:
                out[f"{name}_noop_preview_s"] = times[name]
            floor = statistics.median(times["floor"])
            for name in ("provider", "chart", "rendered"):
                out[f"{name}_over_floor"] = round(statistics.median(times[name]) / floor, 2)
        finally:
            for cp in planes:
                cp.stop()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="ssh,cluster,services,chart", help="comma-separated sections")
    ap.add_argument("--runs", type=int, default=5, help="no-op previews per variant (chart section)")
    args = ap.parse_args()
    figures: dict[str, Any] = {"measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    sections = {
        "ssh": section_ssh,
        "cluster": section_cluster,
        "services": section_services,
        "chart": lambda: section_chart(args.runs),
    }
    for name in args.only.split(","):
        figures[name] = sections[name]()
        print(f"\n== {name}\n{json.dumps(figures[name], indent=2)}", flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"-> {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

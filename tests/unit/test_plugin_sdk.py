"""The plugin's schema through Pulumi's own schema binder and Python SDK generator.

`pulumi package add` binds the schema and generates an SDK in the consumer's language.
The Python language host this repository can build (sdk v3.68) has no GeneratePackage,
so a small Go tool does the same two steps with pulumi's `pkg/codegen` (the pkg/v3 the
Pulumi CLI toolchain is built from). Then a program written against the generated SDK
runs under mocks, and the inputs it sends are mapped by the host and converted by the
wrappers, exactly as a Construct would.

The tool is built outside the test run, once per source and version, into the toolchain
cache: `.venv/bin/python -m tests.unit.test_plugin_sdk` (CI does it in its budgeted build
phase). Without it the tests skip loudly with that command.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import pytest
from pulumi.provider.experimental.component import ComponentProvider

from components.dns.model import ServiceRef, Zone
from components.egress.model import EgressPolicy, Port
from components.network.model import LanAttachment
from plugin import COMPONENTS, PACKAGE
from plugin.cluster import cluster_spec
from plugin.dns import dns_zones_args
from plugin.egress import egress_policies_args
from plugin.loadbalancer import load_balancer_args
from plugin.network import flat_network_args
from plugin.tls import tls_secrets_args
from tests.support.harness import ROOT

pytestmark = pytest.mark.realbin

# The newest pkg/v3 the Go module proxy serves here; scripts/pulumi-toolchain builds the CLI from it.
PULUMI_PKG = "github.com/pulumi/pulumi/pkg/v3"
PULUMI_PKG_VERSION = "v3.259.0"

TOOL_SOURCE = textwrap.dedent(
    """\
    // schemacheck: bind a package schema the way `pulumi package add` does, and generate its Python SDK.
    package main

    import (
    \t"context"
    \t"encoding/json"
    \t"errors"
    \t"fmt"
    \t"os"
    \t"path/filepath"

    \t"github.com/blang/semver"
    \t"github.com/pulumi/pulumi/pkg/v3/codegen/python"
    \t"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
    )

    // noLoader refuses every other package: the schema must stand alone.
    type noLoader struct{}

    func (noLoader) LoadPackage(p string, _ *semver.Version) (*schema.Package, error) {
    \treturn nil, errors.New("no other packages: " + p)
    }
    func (noLoader) LoadPackageV2(_ context.Context, d *schema.PackageDescriptor) (*schema.Package, error) {
    \treturn nil, errors.New("no other packages: " + d.Name)
    }
    func (noLoader) LoadPackageReference(p string, _ *semver.Version) (schema.PackageReference, error) {
    \treturn nil, errors.New("no other packages: " + p)
    }
    func (noLoader) LoadPackageReferenceV2(
    \t_ context.Context, d *schema.PackageDescriptor,
    ) (schema.PackageReference, error) {
    \treturn nil, errors.New("no other packages: " + d.Name)
    }

    func main() {
    \tdata, err := os.ReadFile(os.Args[1])
    \tif err != nil {
    \t\tpanic(err)
    \t}
    \tvar spec schema.PackageSpec
    \tif err := json.Unmarshal(data, &spec); err != nil {
    \t\tpanic(err)
    \t}
    \tpkg, diags, err := schema.BindSpec(spec, noLoader{}, schema.ValidationOptions{})
    \tfor _, d := range diags {
    \t\tfmt.Printf("diagnostic: %v: %s %s\\n", d.Severity, d.Summary, d.Detail)
    \t}
    \tif err != nil || diags.HasErrors() {
    \t\tfmt.Println("bind failed:", err)
    \t\tos.Exit(1)
    \t}
    \tfiles, err := python.GeneratePackage("schemacheck", pkg, nil, noLoader{})
    \tif err != nil {
    \t\tfmt.Println("python codegen failed:", err)
    \t\tos.Exit(1)
    \t}
    \tfor name, body := range files {
    \t\tpath := filepath.Join(os.Args[2], name)
    \t\tif err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
    \t\t\tpanic(err)
    \t\t}
    \t\tif err := os.WriteFile(path, body, 0o644); err != nil {
    \t\t\tpanic(err)
    \t\t}
    \t}
    \tfmt.Printf("bound %s %s: %d resources, %d types; %d SDK files\\n", pkg.Name, pkg.Version,
    \t\tlen(pkg.Resources), len(pkg.Types), len(files))
    }
    """
)

# A program written against the generated SDK: what a Python consumer of the plugin writes.
SDK_PROGRAM = textwrap.dedent(
    """\
    import json, runpy, sys
    import pulumi
    import pulumi_homelab as hl
    from tools.mockrun import run

    def program():
        hl.KubeadmCluster(
            "edge",
            nodes=[hl.ClusterNodeArgs(name="box", address="192.168.50.5", role=hl.NodeRole.CONTROL_PLANE,
                                      ssh=hl.NodeSshArgs(port=2222))],
            ssh=hl.SshSettingsArgs(user="admin"),
            ssh_private_key="not-a-real-key",
            api_port=6443,
        )
        hl.FlatNetwork("net", pod_cidr="10.244.0.0/16", lan_cidr="192.168.50.0/24", api_host="192.168.50.5",
                       nodes=[hl.NodeAddressSettingsArgs(name="box", address="192.168.50.5")],
                       lan_attachment=hl.LanAttachmentSettingsArgs(
                           interface="eth0", range="192.168.50.200-192.168.50.209", lan_cidr="192.168.50.0/24",
                           gateway="192.168.50.1", ipam=hl.LanIpamMode.HOST_LOCAL))
        hl.LoadBalancer("lb", pools=[hl.AddressPoolSettingsArgs(name="lan", addresses=["192.168.50.240"])],
                        mode=hl.LoadBalancerMode.L2)
        hl.DnsZones("dns", zones=[hl.DnsZoneSettingsArgs(
            name="edge.intra", type=hl.ZoneKind.FILE, ttl=60,
            records={"box": hl.DnsRecordArgs(ip="192.168.50.5"), "web": hl.DnsRecordArgs(service="a/web")})])
        hl.EgressPolicies("egress", policies=[hl.EgressPolicySettingsArgs(
            name="web-out", namespace="default", allow=["*.edge.intra"], dns=hl.DnsLookupMode.ALLOWED,
            ports=[hl.EgressPortSettingsArgs(port=443, protocol=hl.PortProtocol.UDP)])])
        hl.TlsSecrets("tls", secrets=[hl.TlsSecretSettingsArgs(
            name="web", namespaces=["default"], dns_names=["web.edge.intra"], usages=["server", "client"])])

    r = run(program)
    print(json.dumps({x.type: x.inputs for x in r.resources if x.type.startswith("homelab:index:")}))
    """
)


def go_env() -> dict[str, str]:
    env = dict(os.environ)
    env["GOPROXY"] = os.environ.get("HOMELAB_GOPROXY", env.get("GOPROXY", "https://proxy.golang.org"))
    env["GOFLAGS"] = "-mod=mod -buildvcs=false"
    return env


BUILD_COMMAND = ".venv/bin/python -m tests.unit.test_plugin_sdk"


def schemacheck_path() -> Path:
    """Where the tool lives: one build per source and pkg/v3 version, in the toolchain cache."""
    digest = hashlib.sha256(f"{PULUMI_PKG_VERSION}\n{TOOL_SOURCE}".encode()).hexdigest()[:12]
    cache = Path(os.environ.get("HOMELAB_TOOLCHAIN_DIR") or Path.home() / ".cache/homelab/toolchain")
    return cache / f"plugin-schemacheck-{digest}" / "schemacheck"


def schemacheck() -> Path:
    """The built tool, or a loud skip: a test run never starts this build (minutes of Go)."""
    tool = schemacheck_path()
    if not tool.exists():
        pytest.skip(
            f"SKIPPED LOUDLY: the schema binder check is not built ({tool}). Build it (a Go build of "
            f"pulumi's pkg/v3, several minutes; needs `go` and the Go module proxy) with: {BUILD_COMMAND}"
        )
    return tool


def build_schemacheck(timeout: int = 1500) -> Path:
    """Build the tool (CI's budgeted build phase, or BUILD_COMMAND by hand); errors raise."""
    tool = schemacheck_path()
    if tool.exists():
        return tool
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("no `go` on PATH to build the schema binder check")
    with tempfile.TemporaryDirectory(prefix="schemacheck-") as tmp:
        src = Path(tmp)
        (src / "main.go").write_text(TOOL_SOURCE)
        steps = [
            [go, "mod", "init", "schemacheck"],
            [go, "get", f"{PULUMI_PKG}@{PULUMI_PKG_VERSION}"],
            [go, "build", "-trimpath", "-o", str(src / "out" / "schemacheck"), "."],
        ]
        for step in steps:
            proc = subprocess.run(step, cwd=src, env=go_env(), capture_output=True, text=True, timeout=timeout)
            if proc.returncode != 0:
                raise RuntimeError(f"{' '.join(step)} failed:\n{proc.stderr[-1500:]}")
        tool.parent.mkdir(parents=True, exist_ok=True)
        staged = tool.parent / f".schemacheck-{os.getpid()}"
        shutil.copy(src / "out" / "schemacheck", staged)
        os.replace(staged, tool)
    return tool


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tool = schemacheck()
    work = tmp_path_factory.mktemp("sdk")
    schema = ComponentProvider(COMPONENTS, PACKAGE, None, "0.1.0").schema
    assert schema is not None
    (work / "schema.json").write_text(schema)
    out = work / "python"
    proc = subprocess.run([str(tool), str(work / "schema.json"), str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Not even warnings (e.g. deprecated reference forms).
    assert "diagnostic:" not in proc.stdout, proc.stdout
    # The generated package reads its own version from installed metadata.
    dist = out / "pulumi_homelab-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pulumi_homelab\nVersion: 0.1.0\n")
    return out


def test_generated_sdk_has_every_component_and_readable_enums(sdk: Path) -> None:
    package = sdk / "pulumi_homelab"
    for module in ("kubeadm_cluster", "flat_network", "load_balancer", "dns_zones", "egress_policies", "tls_secrets"):
        assert (package / f"{module}.py").is_file(), module
    enums = (package / "_enums.py").read_text()
    # Enum members are PascalCase in plugin/: multi-word UPPER_SNAKE names come out mangled.
    for member in ("CONTROL_PLANE = ", "HOST_LOCAL = ", "NX_DOMAIN = ", "NO_OPINION = ", "HOSTS = ", "TCP = "):
        assert member in enums, member


@pytest.fixture(scope="module")
def sent(sdk: Path) -> dict[str, dict[str, Any]]:
    """What a program on the generated SDK sends for each component (recorded by the mock engine)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(sdk), str(ROOT)])}
    proc = subprocess.run(
        [sys.executable, "-c", SDK_PROGRAM], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def mapped(sent: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    host = ComponentProvider(COMPONENTS, PACKAGE, None, "0.1.0")
    return dict(host.map_inputs(sent[f"homelab:index:{name}"], host._component_defs[name]))


def test_sdk_inputs_reach_the_components(sent: dict[str, dict[str, Any]]) -> None:
    (node,) = cluster_spec(mapped(sent, "KubeadmCluster"), default_name="edge").nodes
    assert (node.name, node.role, node.ssh.user, node.ssh.port, node.ssh.private_key) == (
        "box",
        "control-plane",
        "admin",
        2222,
        "not-a-real-key",
    )
    assert flat_network_args(mapped(sent, "FlatNetwork")).lan_attachment == LanAttachment(
        interface="eth0",
        range="192.168.50.200-192.168.50.209",
        lan_cidr="192.168.50.0/24",
        gateway="192.168.50.1",
        ipam="host-local",
    )
    lb = load_balancer_args(mapped(sent, "LoadBalancer"))
    assert (lb.mode, lb.pools[0].addresses) == ("l2", ("192.168.50.240/32",))
    (zone,) = dns_zones_args(mapped(sent, "DnsZones")).zones
    assert zone == Zone(
        name="edge.intra", type="file", ttl=60, records={"box": "192.168.50.5", "web": ServiceRef("a", "web")}
    )
    (policy,) = egress_policies_args(mapped(sent, "EgressPolicies")).policies
    assert policy == EgressPolicy(
        name="web-out", namespace="default", allow=("*.edge.intra",), dns="allowed", ports=(Port(443, "UDP"),)
    )
    (secret,) = tls_secrets_args(mapped(sent, "TlsSecrets")).secrets
    assert secret.usages == ("server", "client") and secret.dns_names == ("web.edge.intra",)


if __name__ == "__main__":
    print(build_schemacheck())

"""The real __main__.py under mocks: etcd snapshot timers and certificate expiry readings."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pulumi.runtime import mocks as pmocks

from components.cluster import backup as b
from components.cluster.host_scripts import sudo_bash_c
from tests.support.harness import ProgramRun, run_main
from tests.support.stacks import host_answers, stack_config

COMMAND = "command:remote:Command"
EXPIRY = {
    "kind": "CertificateExpirationInfo",
    "apiVersion": "output.kubeadm.k8s.io/v1alpha3",
    "certificates": [
        {"name": "apiserver", "expirationDate": "2027-11-30T09:03:00Z", "residualTime": 1, "caName": "ca"},
    ],
    "certificateAuthorities": [{"name": "ca", "expirationDate": "2035-11-28T09:03:00Z", "residualTime": 1}],
}


def answers(args: pmocks.MockResourceArgs) -> dict[str, Any] | None:
    if args.typ == COMMAND and args.name.endswith("-cert-expiry"):
        return {"stdout": json.dumps(EXPIRY)}
    if args.typ == "tls:index/locallySignedCert:LocallySignedCert":
        return {"validityEndTime": "2036-01-01T00:00:00Z"}
    return host_answers(args)


def run_stack(stack: str, **overrides: Any) -> ProgramRun:
    # DNS zones play no part here (dns=None keeps this file apart from that component).
    config, secrets = stack_config(stack, **{"dns": None, **overrides})
    return run_main(config=config, secret_keys=secrets, stack=stack, hooks=[answers])


def named(run: ProgramRun, suffix: str) -> dict[str, Any]:
    return {r.name: r for r in run.by_type(COMMAND) if r.name.endswith(suffix)}


def test_one_snapshot_timer_per_control_plane_after_its_init_or_join() -> None:
    run = run_stack("prod", backup={"schedule": "*-*-* 03:00", "directory": "/mnt/nas/etcd", "keep": 10})
    backups = named(run, "-etcd-backup")
    assert sorted(backups) == ["lab-prod-cp01-etcd-backup", "lab-prod-cp02-etcd-backup", "lab-prod-cp03-etcd-backup"]
    cmds = {r.name: r for r in run.by_type(COMMAND)}
    assert cmds["lab-prod-cp01-init"].urn in backups["lab-prod-cp01-etcd-backup"].dependencies
    assert cmds["lab-prod-cp02-join"].urn in backups["lab-prod-cp02-etcd-backup"].dependencies
    assert cmds["lab-prod-cp03-join"].urn in backups["lab-prod-cp03-etcd-backup"].dependencies
    spec = b.EtcdBackup(schedule="*-*-* 03:00", directory="/mnt/nas/etcd", keep=10)
    for name, r in backups.items():
        node = name.removeprefix("lab-prod-").removesuffix("-etcd-backup")
        assert r.inputs["stdin"] == b.install_script(spec, node)  # re-run when this text changes
        assert r.inputs["delete"] == sudo_bash_c(b.uninstall_script())
        assert r.inputs["connection"]["host"] == cmds[f"lab-prod-{node}-etcd-backup"].inputs["connection"]["host"]
    assert not any("worker" in n for n in backups)


def test_no_backup_section_no_timer_and_disabled_removes_it() -> None:
    assert named(run_stack("dev"), "-etcd-backup") == {}
    (off,) = named(run_stack("dev", backup={"enabled": False}), "-etcd-backup").values()
    assert "systemctl disable --now homelab-etcd-snapshot.timer" in off.inputs["stdin"]


def test_certificate_expiry_read_on_each_control_plane_and_exported() -> None:
    run = run_stack("prod")
    readers = named(run, "-cert-expiry")
    assert sorted(readers) == ["lab-prod-cp01-cert-expiry", "lab-prod-cp02-cert-expiry", "lab-prod-cp03-cert-expiry"]
    for r in readers.values():
        assert "kubeadm certs check-expiration -o json" in r.inputs["stdin"]
    out = run.outputs["certificateExpiry"]
    assert sorted(out["kubeadm"]) == ["cp01", "cp02", "cp03"]
    assert out["kubeadm"]["cp02"] == [
        {"name": "apiserver", "expires": "2027-11-30T09:03:00Z", "authority": False, "caName": "ca"},
        {"name": "ca", "expires": "2035-11-28T09:03:00Z", "authority": True},
    ]
    assert "certificateExpiry" not in run.secret_outputs


def test_lab_ca_leaves_in_the_expiry_output() -> None:
    run = run_stack("dev")
    leaves = run.outputs["certificateExpiry"]["labCa"]
    assert leaves == [{"name": "web", "expires": "2036-01-01T00:00:00Z", "authority": False, "caName": "lab CA"}]


def _probe_output(hostname: str, address: str, *, uuid: str, member: bool = False, ports: str = "") -> str:
    """What the preflight probe prints on a clean Debian 12 machine (see tests/unit/test_check.py)."""
    return (
        f"probe=1\ntime=1796134841.2\nuser=lab\nsudo=yes\nos_id=debian\nos_version=12\n"
        f"os_name=Debian GNU/Linux 12 (bookworm)\nhostname={hostname}\n"
        f"iface=eno1 54:b2:03:0a:{uuid[-4:-2]}:{uuid[-2:]} 1\naddr=eno1 {address}/24\n"
        f"product_uuid={uuid}\nmachine_id={uuid.replace('-', '')}\ncgroup_fs=cgroup2fs\n"
        f"member={1 if member else 0}\nlisten=0.0.0.0:22\n{ports}var_lib_free_kib=104857600\nend=1\n"
    )


def _with_probes(probes: dict[str, str]) -> Any:
    def hook(args: pmocks.MockResourceArgs) -> dict[str, Any] | None:
        for node, out in probes.items():
            if args.typ == COMMAND and args.name.endswith(f"-{node}-preflight"):
                return {"stdout": out}
        return answers(args)

    return hook


def _run_with(stack: str, hook: Any) -> ProgramRun:
    config, secrets = stack_config(stack, dns=None)
    return run_main(config=config, secret_keys=secrets, stack=stack, hooks=[hook])


def test_preflight_probes_every_node_before_its_prepare() -> None:
    clean = {
        "cp01": _probe_output("cp01", "192.168.2.11", uuid="11111111-0000-0000-0000-000000000001"),
        "worker01": _probe_output("worker01", "192.168.2.21", uuid="11111111-0000-0000-0000-000000000002"),
    }
    run = _run_with("dev", _with_probes(clean))
    cmds = {r.name: r for r in run.by_type(COMMAND)}
    for node in ("cp01", "worker01"):
        pre = cmds[f"lab-dev-{node}-preflight"]
        assert pre.inputs["stdin"].startswith("export LC_ALL=C")
        assert pre.urn in cmds[f"lab-dev-{node}-prepare"].dependencies
        assert "homelab: host prepared" in cmds[f"lab-dev-{node}-prepare"].inputs["stdin"]


def test_a_cloned_new_host_stops_up_before_its_prepare() -> None:
    uuid = "11111111-0000-0000-0000-000000000001"
    probes = {
        "cp01": _probe_output("cp01", "192.168.2.11", uuid=uuid, member=True),
        # worker01: a clone of cp01 (same product_uuid), kubelet port taken, and a wrong address.
        "worker01": _probe_output("worker01", "192.168.2.99", uuid=uuid, ports="listen=*:10250\n"),
    }
    with pytest.raises(Exception) as err:
        _run_with("dev", _with_probes(probes))
    text = str(err.value)
    assert "preflight: 4 problem(s) on worker01, which is new to the stack" in text
    for check in ("worker01: address:", "worker01: product_uuid:", "worker01: mac:", "worker01: ports:"):
        assert check in text
    assert "cp01:" not in text  # a member never blocks


def test_a_prepare_waits_only_for_the_probes_of_its_node_and_the_nodes_before_it() -> None:
    # Adding a node at the end of the list must leave the other nodes' prepare untouched,
    # even in a preview where the new node's probe has not answered yet.
    run = run_stack("prod")
    cmds = {r.name: r for r in run.by_type(COMMAND)}
    order = ["cp01", "cp02", "cp03", "worker01", "worker02"]
    for i, node in enumerate(order):
        stdin_deps = set(cmds[f"lab-prod-{node}-prepare"].property_dependencies.get("stdin", []))
        probes = {cmds[f"lab-prod-{n}-preflight"].urn for n in order}
        assert stdin_deps & probes == {cmds[f"lab-prod-{n}-preflight"].urn for n in order[: i + 1]}, node


def test_a_version_change_is_checked_on_the_first_control_plane_before_any_prepare() -> None:
    run = run_stack("prod")
    cmds = {r.name: r for r in run.by_type(COMMAND)}
    guard = cmds["lab-prod-running-version"]
    assert guard.inputs["connection"]["host"] == "192.168.2.11"
    assert "want=1.34.5\n" in guard.inputs["stdin"]
    for node in ("cp01", "cp02", "cp03", "worker01", "worker02"):
        assert guard.urn in cmds[f"lab-prod-{node}-prepare"].dependencies

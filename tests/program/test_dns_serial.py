"""A file zone's SOA serial across deployments, under mocks that keep the state between
runs as the engine does (tools.mockrun.DynamicProviders runs the serial's own provider):
edit → strictly greater; no edit → the same; an undo → greater again."""

from __future__ import annotations

import copy
from typing import Any

from tests.support.harness import ProgramRun, run_main
from tests.support.stacks import host_answers, raw_stack, stack_config
from tests.unit.test_dns_corefile import parse_zone
from tools.mockrun import DynamicProviders

SERIAL_TYPE = "pulumi-python:dynamic/dns:ZoneSerial"


def deploy(engine: DynamicProviders, nas: str = "192.168.2.5", *, preview: bool = False) -> ProgramRun:
    """`pulumi up` (or preview) of prod with lab.intra's `nas` record at `nas`."""
    dns: dict[str, Any] = copy.deepcopy(raw_stack("prod")["dns"])
    (lab,) = [z for z in dns["zones"] if z["name"] == "lab.intra"]
    lab["records"]["nas"] = nas
    config, secrets = stack_config("prod", dns=dns)
    return run_main(config=config, secret_keys=secrets, stack="prod", preview=preview, hooks=[host_answers, engine])


def serial(run: ProgramRun) -> int:
    (cm,) = run.by_type("kubernetes:core/v1:ConfigMapPatch")
    (soa,) = parse_zone(cm.inputs["data"]["db.lab.intra"])["SOA"]
    return int(soa[5])


def test_the_serial_only_moves_up_and_only_on_a_change() -> None:
    engine = DynamicProviders()
    first = serial(deploy(engine))
    assert serial(deploy(engine)) == first, "an unchanged zone got a new serial"
    edited = serial(deploy(engine, nas="192.168.2.6"))
    assert edited > first
    assert serial(deploy(engine, nas="192.168.2.6")) == edited
    undone = serial(deploy(engine))  # back to the first content: a hash would go back down
    assert undone > edited
    # A preview sees the serial the next `up` will write (check runs at preview too).
    assert serial(deploy(engine, preview=True)) == undone


def test_one_serial_per_file_zone_feeding_the_configmap() -> None:
    run = deploy(DynamicProviders())
    (resource,) = run.by_type(SERIAL_TYPE)  # prod: lab.intra is the one file zone
    assert resource.name == "dns-lab.intra-serial" and resource.inputs["zone"] == "lab.intra"
    assert run.ancestors(resource)[0].type == "homelab:dns:DnsZones"
    (cm,) = run.by_type("kubernetes:core/v1:ConfigMapPatch")
    assert cm.depends_on(resource.urn), "the zone file is written without waiting for its serial"

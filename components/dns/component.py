"""DnsZones: custom zones in kubeadm's CoreDNS, by patching its ConfigMap and Deployment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.dns.check import args_problems, ipv4_problem
from components.dns.corefile import config_hash, configmap_data, deployment_patch_spec, zone_digest
from components.dns.model import DnsZonesArgs, RecordValue, ServiceRef, Zone
from components.dns.serial import ZoneSerial
from components.kube import inherited_depends_on, refuse_invalid

PATCH_FORCE = "pulumi.com/patchForce"
SKIP_AWAIT = "pulumi.com/skipAwait"
# Pod-template annotation: its value changes with the ConfigMap, which rolls CoreDNS.
ROLLOUT_ANNOTATION = "homelab/corefile-sha256"


def _first_ingress_ip(ref: str, status: Any) -> str:
    ingress = getattr(getattr(status, "load_balancer", None), "ingress", None) or []
    ip = getattr(ingress[0], "ip", None) if ingress else None
    if not ip:
        raise ValueError(
            f"Service {ref} has no LoadBalancer IP (status.loadBalancer.ingress[0].ip is empty): "
            "is it of type LoadBalancer, and has the load balancer given it an address?"
        )
    return str(ip)


def service_ip(
    namespace: str, name: str, opts: pulumi.ResourceOptions | None = None, *, resource_name: str | None = None
) -> pulumi.Output[str]:
    """The first LoadBalancer ingress IP of an existing Service, read from the cluster.

    Pass the Kubernetes provider in `opts`, and `depends_on` the resource that creates
    the Service when the same stack creates it.
    """
    ref = f"{namespace}/{name}"
    svc = k8s.core.v1.Service.get(resource_name or f"svc-{namespace}-{name}", ref, opts=opts)
    return svc.status.apply(lambda status: _first_ingress_ip(ref, status))


def _serial(value: Any) -> int | str:
    """A whole number from the state (it travels as a double), or the render's marker."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int | str) and not isinstance(value, bool):
        return value
    raise ValueError(f"SOA serial {value!r} is neither a number nor a marker")


def _checked_ip(zone: Zone, relative: str, value: object) -> str:
    problem = ipv4_problem(value)
    if problem:
        raise ValueError(f"zone {zone.name!r}, record {relative!r}: {problem}")
    return str(value)


class DnsZones(pulumi.ComponentResource):
    """Custom zones and forward zones served by the cluster's CoreDNS.

    Children:
      <name>-corefile  ConfigMapPatch on kube-system/coredns: the Corefile (kubeadm's
                       default block + one block per zone) and the file zones' data
      <name>-rollout   DeploymentPatch on kube-system/coredns: mounts the zone files and
                       carries a hash of the ConfigMap so CoreDNS rolls on every change
      <name>-<ns>-<svc> reads of the Services that records follow
      <name>-<zone>-serial  a file zone's SOA serial, kept in the state (ZoneSerial)
    Deleting the component gives the patched fields up; it never deletes CoreDNS.
    """

    corefile: pulumi.Output[str]
    config_hash: pulumi.Output[str]
    records: pulumi.Output[dict[str, dict[str, str]]]

    def __init__(self, name: str, args: DnsZonesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("homelab:dns:DnsZones", name, None, opts)
        refuse_invalid("DnsZones", args_problems(args))

        # A component's depends_on doesn't hold back its children: pass it on.
        deps = inherited_depends_on(opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=deps)

        followed: dict[ServiceRef, pulumi.Output[str]] = {}

        def address(value: RecordValue) -> pulumi.Output[str]:
            if isinstance(value, ServiceRef):
                if value not in followed:
                    followed[value] = service_ip(
                        value.namespace, value.name, child, resource_name=f"{name}-{value.namespace}-{value.name}"
                    )
                return followed[value]
            return pulumi.Output.from_input(value)

        slots: list[tuple[int, str]] = []
        values: list[pulumi.Output[str]] = []
        for zi, zone in enumerate(args.zones):
            for rel, value in zone.records.items():
                slots.append((zi, rel))
                values.append(address(value))

        def resolve(ips: list[Any]) -> list[tuple[Zone, dict[str, str]]]:
            out: list[tuple[Zone, dict[str, str]]] = [(z, {}) for z in args.zones]
            for (zi, rel), ip in zip(slots, ips, strict=True):
                out[zi][1][rel] = _checked_ip(args.zones[zi], rel, ip)
            return out

        resolved = pulumi.Output.all(*values).apply(resolve)

        # Each file zone's SOA serial lives in the state: it moves, upwards, only when the
        # rest of the zone does (components/dns/serial.py).
        serials: dict[str, pulumi.Output[Any]] = {}
        for zi, zone in enumerate(args.zones):
            if zone.type == "file":
                digest = resolved.apply(lambda zr, zi=zi: zone_digest(zr[zi][0], zr[zi][1], args.cluster_domain))
                serial = ZoneSerial(
                    f"{name}-{zone.name}-serial", zone.name, digest, pulumi.ResourceOptions(parent=self)
                )
                serials[zone.name] = serial.serial

        def render(zr: list[tuple[Zone, dict[str, str]]], numbers: dict[str, Any]) -> dict[str, str]:
            return configmap_data(
                zr,
                args.forwards,
                cluster_domain=args.cluster_domain,
                config_dir=args.config_dir,
                serials={zone: _serial(value) for zone, value in numbers.items()},
            )

        # (Output.all() of no keywords is a list, not a mapping.)
        numbers = pulumi.Output.all(**serials) if serials else pulumi.Output.from_input({})
        data = pulumi.Output.all(resolved, numbers).apply(lambda both: render(*both))

        annotations = {PATCH_FORCE: "true"}
        if args.skip_await:
            annotations[SKIP_AWAIT] = "true"
        configmap = k8s.core.v1.ConfigMapPatch(
            f"{name}-corefile",
            metadata=k8s.meta.v1.ObjectMetaPatchArgs(
                name=args.configmap, namespace=args.namespace, annotations={PATCH_FORCE: "true"}
            ),
            data=data,
            # The forced apply took data.Corefile from kubeadm; giving the field up on
            # delete would remove the key and leave CoreDNS nothing to start with. So a
            # deleted DnsZones leaves the Corefile as it was (docs/dns-egress-tls.md).
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(retain_on_delete=True)),
        )
        k8s.apps.v1.DeploymentPatch(
            f"{name}-rollout",
            metadata=k8s.meta.v1.ObjectMetaPatchArgs(
                name=args.deployment, namespace=args.namespace, annotations=annotations
            ),
            spec=data.apply(
                lambda dd: deployment_patch_spec(
                    dd, volume=args.config_volume, configmap=args.configmap, annotation=ROLLOUT_ANNOTATION
                )
            ),
            # New pods must find the new ConfigMap.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[configmap]),
        )

        self.corefile = data.apply(lambda dd: dd["Corefile"])
        self.config_hash = data.apply(config_hash)
        self.records = resolved.apply(_records_by_zone)
        self.register_outputs({"corefile": self.corefile, "config_hash": self.config_hash, "records": self.records})


def _records_by_zone(resolved: list[tuple[Zone, Mapping[str, str]]]) -> dict[str, dict[str, str]]:
    return {zone.name: {zone.fqdn(rel): ip for rel, ip in sorted(recs.items())} for zone, recs in resolved}

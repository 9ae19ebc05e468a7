"""The fixture API server itself, and server-side dry runs against it."""

from __future__ import annotations

import warnings

import pytest

from components import versions

from .binaries import built_version
from .controlplane import APIError, ControlPlane, server_side_dry_run

pytestmark = pytest.mark.realbin

EXPECTED_KINDS = [
    "CiliumNetworkPolicy",
    "CiliumClusterwideNetworkPolicy",
    "CiliumBGPClusterConfig",
    "CiliumBGPPeerConfig",
    "CiliumBGPAdvertisement",
    "IPAddressPool",
    "L2Advertisement",
    "BGPPeer",
    "BGPAdvertisement",
]


def test_version_is_the_pinned_kubernetes(control_plane: ControlPlane) -> None:
    got = control_plane.version()
    built = built_version("kubernetes") or versions.DEFAULT_KUBERNETES_VERSION
    if built != versions.DEFAULT_KUBERNETES_VERSION:
        # scripts/toolchain substitutes the nearest patch the module proxy can serve.
        warnings.warn(f"toolchain built kubernetes {built}, not {versions.DEFAULT_KUBERNETES_VERSION}", stacklevel=1)
    assert got["gitVersion"] == f"v{built}"
    major, minor, _ = versions.DEFAULT_KUBERNETES_VERSION.split(".")
    assert (got["major"], got["minor"]) == (major, minor)


def test_crds_are_established(control_plane: ControlPlane) -> None:
    kinds = control_plane.established_kinds()
    missing = [k for k in EXPECTED_KINDS if k not in kinds]
    assert not missing, f"not Established: {missing}"


def test_dry_run_accepts_valid_objects_and_persists_nothing(control_plane: ControlPlane) -> None:
    objs = [
        {
            "apiVersion": "cilium.io/v2",
            "kind": "CiliumNetworkPolicy",
            "metadata": {"name": "allow-dns", "namespace": "dryrun-valid"},
            "spec": {
                "endpointSelector": {},
                "egress": [
                    {
                        "toEndpoints": [{"matchLabels": {"k8s:io.kubernetes.pod.namespace": "kube-system"}}],
                        "toPorts": [
                            {"ports": [{"port": "53", "protocol": "ANY"}], "rules": {"dns": [{"matchPattern": "*"}]}}
                        ],
                    }
                ],
            },
        },
        {
            "apiVersion": "metallb.io/v1beta1",
            "kind": "IPAddressPool",
            "metadata": {"name": "lan", "namespace": "metallb-system"},
            "spec": {"addresses": ["192.168.2.200-192.168.2.220"]},
        },
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"k": "v"}},
    ]
    assert server_side_dry_run(objs) == []
    with pytest.raises(APIError) as info:
        control_plane.get("/apis/cilium.io/v2/namespaces/dryrun-valid/ciliumnetworkpolicies/allow-dns")
    assert info.value.code == 404


def test_dry_run_rejects_invalid_objects(control_plane: ControlPlane) -> None:
    objs = [
        {  # addresses must be a list (structural type error: SSA answers 500)
            "apiVersion": "metallb.io/v1beta1",
            "kind": "IPAddressPool",
            "metadata": {"name": "bad", "namespace": "metallb-system"},
            "spec": {"addresses": "192.168.2.200-192.168.2.220"},
        },
        {  # protocol outside the CRD's enum (schema validation: 422)
            "apiVersion": "cilium.io/v2",
            "kind": "CiliumNetworkPolicy",
            "metadata": {"name": "bad", "namespace": "dryrun-invalid"},
            "spec": {
                "endpointSelector": {},
                "egress": [{"toPorts": [{"ports": [{"port": "53", "protocol": "BOGUS"}]}]}],
            },
        },
        {  # a Deployment needs a selector (built-in validation: 422)
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "bad", "namespace": "dryrun-invalid"},
            "spec": {
                "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
            },
        },
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fine", "namespace": "dryrun-invalid"}},
        {"apiVersion": "example.invalid/v1", "kind": "Nope", "metadata": {"name": "x"}},
    ]
    errors = server_side_dry_run(objs)
    assert [e.ref for e in errors] == [
        "metallb.io/v1beta1 IPAddressPool metallb-system/bad",
        "cilium.io/v2 CiliumNetworkPolicy dryrun-invalid/bad",
        "apps/v1 Deployment dryrun-invalid/bad",
        "example.invalid/v1 Nope x",
    ], "\n".join(map(str, errors))
    assert [e.code for e in errors] == [500, 422, 422, 404]
    assert ".spec.addresses: expected list" in errors[0].message
    assert "protocol" in errors[1].message and "BOGUS" in errors[1].message
    assert "selector" in errors[2].message
    assert errors[3].reason == "NoKindMatch"

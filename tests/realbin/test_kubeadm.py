"""kubeadm's own validation and certificate generation on hand-written v1beta4 configs."""

from __future__ import annotations

import pytest

from components import versions

from .kubeadm import kubeadm_apiserver_sans, kubeadm_config_validate

pytestmark = pytest.mark.realbin


def kubeadm_config(pod_subnet: str = "10.0.0.0/16", cert_sans: tuple[str, ...] = ()) -> str:
    sans = "".join(f"\n    - {s}" for s in cert_sans)
    return f"""\
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: 192.168.2.10
  bindPort: 6443
nodeRegistration:
  name: cp1
  criSocket: unix:///run/containerd/containerd.sock
  kubeletExtraArgs:
    - name: node-ip
      value: 192.168.2.10
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v{versions.DEFAULT_KUBERNETES_VERSION}
clusterName: homelab
controlPlaneEndpoint: 192.168.2.10:6443
networking:
  podSubnet: {pod_subnet}
  serviceSubnet: 10.96.0.0/12
  dnsDomain: cluster.local
proxy:
  disabled: true
apiServer:
  certSANs:{sans or " []"}
"""


def test_valid_config_passes() -> None:
    res = kubeadm_config_validate(kubeadm_config(cert_sans=("192.168.2.10", "k8s.home.intra")))
    assert res.ok, res.output


@pytest.mark.parametrize("pod_subnet", ["10.0.0.0/33", "not-a-cidr"])
def test_bad_pod_subnet_fails(pod_subnet: str) -> None:
    res = kubeadm_config_validate(kubeadm_config(pod_subnet=pod_subnet))
    assert not res.ok
    assert "podSubnet" in res.output, res.output


def test_unknown_field_fails() -> None:
    res = kubeadm_config_validate(kubeadm_config().replace("clusterName:", "clusterNmae:"))
    assert not res.ok
    assert "clusterNmae" in res.output, res.output


def test_apiserver_cert_has_the_cert_sans() -> None:
    sans = kubeadm_apiserver_sans(kubeadm_config(cert_sans=("10.20.30.40", "api.home.intra")))
    assert "10.20.30.40" in sans.ip_addresses
    assert "api.home.intra" in sans.dns_names
    # kubeadm's own: the advertise address, the first service IP, the in-cluster names.
    assert {"192.168.2.10", "10.96.0.1"} <= set(sans.ip_addresses)
    assert {"kubernetes.default.svc.cluster.local", "cp1"} <= set(sans.dns_names)

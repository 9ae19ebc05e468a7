"""Everything a local machine needs without the internet: a signed apt repository with
kubelet/kubeadm/kubectl .debs and a registry holding the control-plane images, all made
from the binaries scripts/toolchain built. `python -m tools.artifacts build|serve|status`.
"""

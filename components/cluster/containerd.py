"""containerd's side of an image mirror: the sandbox (pause) image and per-registry hosts.toml.

Pure: text in, text out. The prepare script writes these files on every node.
"""

from __future__ import annotations

from components.cluster.model import ClusterSpec, RegistryHost

CERTS_DIR = "/etc/containerd/certs.d"
HOSTS_MARKER = "# Rendered by homelab; removed when the registry leaves the stack."

# The pause tag each kubeadm minor expects (cmd/kubeadm/app/constants PauseVersion); a
# different sandbox image makes kubeadm warn and, offline, would be missing from the mirror.
PAUSE_VERSIONS: dict[int, str] = {31: "3.10", 32: "3.10", 33: "3.10", 34: "3.10.1", 35: "3.10.1"}


def pause_image(spec: ClusterSpec) -> str:
    """`<imageRepository>/pause:<tag kubeadm expects>`, e.g. registry.k8s.io/pause:3.10.1."""
    tag = PAUSE_VERSIONS.get(spec.minor, PAUSE_VERSIONS[max(PAUSE_VERSIONS)])
    return f"{spec.images_from}/pause:{tag}"


def registry_dir(host: str) -> str:
    # containerd looks a registry up by its reference host, port included ("10.0.0.1:5000").
    return f"{CERTS_DIR}/{host}"


def hosts_toml(registry: RegistryHost) -> str:
    """The hosts.toml for one registry: plain HTTP, or HTTPS trusting a private CA."""
    scheme = "http" if registry.insecure else "https"
    url = f"{scheme}://{registry.host}"
    lines = [
        HOSTS_MARKER,
        f'server = "{url}"',
        "",
        f'[host."{url}"]',
        '  capabilities = ["pull", "resolve"]',
    ]
    if registry.ca_cert and not registry.insecure:
        lines.append(f'  ca = "{registry_dir(registry.host)}/ca.crt"')
    return "\n".join(lines) + "\n"


def registry_files(spec: ClusterSpec) -> dict[str, str]:
    """Every file under /etc/containerd/certs.d the stack wants, by path."""
    files: dict[str, str] = {}
    for registry in spec.registries:
        files[f"{registry_dir(registry.host)}/hosts.toml"] = hosts_toml(registry)
        if registry.ca_cert and not registry.insecure:
            files[f"{registry_dir(registry.host)}/ca.crt"] = registry.ca_cert
    return files


def config_edits(spec: ClusterSpec, *, image: str | None = None) -> list[str]:
    """sed -E expressions turning `containerd config default` into the lab's config.

    They match config version 2 (containerd 1.6/1.7: `sandbox_image`) and version 3
    (containerd 2.x: `pinned_images.sandbox`); the script checks that each one applied.
    `image`: the sandbox image, or a placeholder the prepare script fills in.
    """
    image = image or pause_image(spec)
    return [
        r"s/SystemdCgroup = false/SystemdCgroup = true/",
        rf's#^([[:space:]]*)sandbox_image = .*#\1sandbox_image = "{image}"#',
        rf's#^([[:space:]]*)sandbox = .*#\1sandbox = "{image}"#',
        rf's#^([[:space:]]*)config_path = .*#\1config_path = "{CERTS_DIR}"#',
    ]

"""The machines' base image: a Debian 12 minbase debootstrap, cached by a content key.

The machines have no internet, so the image holds everything a Debian host of this lab
has installed beforehand (containerd, runc, sshd, iptables, conntrack, ...). Only the
lab's own Kubernetes apt mirror is added later, by the prepare script.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
# Bump when the recipe below changes what ends up in the image.
RECIPE_REVISION = 3
PACKAGES: tuple[str, ...] = (
    "systemd", "systemd-sysv", "dbus", "libpam-systemd", "openssh-server", "iproute2", "iputils-ping",
    "iptables", "kmod", "sudo", "procps", "ca-certificates", "curl", "gpg", "openssl", "conntrack",
    "socat", "ethtool", "ebtables", "ipset", "containerd", "runc", "apt-transport-https", "util-linux",
    "mount", "netbase", "less", "psmisc", "lsof", "tar", "gzip", "xz-utils",
)  # fmt: skip
MARKER = "homelab-image.json"

# Run inside the fresh tree (chroot) once: nothing per machine is baked in.
_FINISH = r"""set -eu
# Air-gapped machines: no Debian source at all; the prepare script adds the lab's mirror.
rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
# Per machine, made at creation: host keys, machine-id, hostname, resolv.conf.
rm -f /etc/ssh/ssh_host_*
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id /etc/hostname /etc/resolv.conf
# A container has no ttys to log in on; the console is for boot messages only.
systemctl mask console-getty.service getty@tty1.service serial-getty@.service >/dev/null 2>&1 || true
systemctl enable ssh.service containerd.service >/dev/null
"""


@dataclass(frozen=True)
class BaseImage:
    root: Path  # the unpacked tree, the lower layer of every machine
    key: str
    built_seconds: float | None  # None when it came from the cache


def content_key(packages: tuple[str, ...] = PACKAGES, suite: str = SUITE, mirror: str = MIRROR) -> str:
    """What the image is made of; a change gives a new image next to the old one."""
    text = json.dumps({"suite": suite, "mirror": mirror, "packages": sorted(packages), "recipe": RECIPE_REVISION})
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def image_dir(images: Path, key: str) -> Path:
    return images / f"debian-{SUITE}-{key}"


def cached(images: Path, key: str) -> Path | None:
    d = image_dir(images, key)
    return d / "rootfs" if (d / MARKER).is_file() and (d / "rootfs" / "usr/sbin/sshd").exists() else None


def debootstrap_argv(target: Path, packages: tuple[str, ...] = PACKAGES) -> list[str]:
    return [
        "debootstrap", "--variant=minbase", f"--include={','.join(packages)}",
        SUITE, str(target), MIRROR,
    ]  # fmt: skip


def ensure_base_image(images: Path, log: Path, echo: bool = True) -> BaseImage:
    """The cached image, or a fresh debootstrap (about 3 minutes) moved into place atomically.
    `images` may be shared by several state dirs (the tests share the CLI's): builds are locked."""
    key = content_key()
    images.mkdir(parents=True, exist_ok=True, mode=0o700)
    with (images / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (root := cached(images, key)) is not None:
            return BaseImage(root, key, None)
        return _build(images, key, log, echo)


def _build(images: Path, key: str, log: Path, echo: bool) -> BaseImage:
    final = image_dir(images, key)
    work = final.with_name(final.name + ".tmp")
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    if echo:
        print(f"machines: building the base image (debootstrap {SUITE}, {len(PACKAGES)} packages) ...", flush=True)
    start = time.monotonic()
    # A private mount namespace: the /proc and /sys that debootstrap mounts in the
    # target vanish with it, even if it fails halfway.
    script = " ".join(debootstrap_argv(work / "rootfs"))
    finish = f"chroot {work / 'rootfs'} /bin/sh -c {_shell_quote(_FINISH)}"
    with log.open("ab") as out:
        res = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", f"{script} && {finish}"],
            stdout=out, stderr=subprocess.STDOUT, check=False,
        )  # fmt: skip
    if res.returncode != 0:
        raise RuntimeError(f"debootstrap of the base image failed (exit {res.returncode}); see {log}")
    seconds = time.monotonic() - start
    meta = {"key": key, "suite": SUITE, "packages": list(PACKAGES), "recipe": RECIPE_REVISION, "seconds": seconds}
    (work / MARKER).write_text(json.dumps(meta, indent=2) + "\n")
    if final.exists():
        shutil.rmtree(final)
    work.rename(final)
    return BaseImage(final / "rootfs", key, seconds)


def remove_images(images: Path) -> None:
    shutil.rmtree(images, ignore_errors=True)


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"

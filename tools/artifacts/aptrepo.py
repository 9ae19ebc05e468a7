"""A flat, signed apt repository (the layout of pkgs.k8s.io): `deb [signed-by=KEY] URL /`.

Pure renderers for the `Packages` stanzas and the `Release` file; `SigningKey` wraps a
GnuPG home made at run time; `build_repository` writes everything into one directory.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

KEY_UID = "homelab local apt mirror <apt@homelab.invalid>"
INDEX_FILES = ("Packages", "Packages.gz")


def _digests(data: bytes) -> dict[str, str]:
    return {
        "MD5sum": hashlib.md5(data).hexdigest(),  # noqa: S324 - the apt index format, not security
        "SHA1": hashlib.sha1(data).hexdigest(),  # noqa: S324
        "SHA256": hashlib.sha256(data).hexdigest(),
    }


def deb_control(deb: Path) -> str:
    """The control paragraph of a .deb (dpkg-deb --field prints it)."""
    return subprocess.run(["dpkg-deb", "--field", str(deb)], capture_output=True, text=True, check=True).stdout


def packages_stanza(control: str, filename: str, data: bytes) -> str:
    """One paragraph of `Packages`: the control fields plus where the file is and its digests."""
    lines = [line for line in control.rstrip("\n").splitlines() if line]
    digests = _digests(data)
    extra = [
        f"Filename: {filename}",
        f"Size: {len(data)}",
        f"MD5sum: {digests['MD5sum']}",
        f"SHA1: {digests['SHA1']}",
        f"SHA256: {digests['SHA256']}",
    ]
    # Keep Description (and its continuation lines) last, as apt-ftparchive does.
    desc_at = next((i for i, line in enumerate(lines) if line.startswith("Description:")), len(lines))
    return "\n".join(lines[:desc_at] + extra + lines[desc_at:]) + "\n"


def packages_text(stanzas: list[str]) -> str:
    return "\n".join(stanzas)


def release_text(files: dict[str, bytes], *, label: str, date: str, architectures: str) -> str:
    """`Release` of a flat repository: metadata plus each index file's size and digests."""
    out = [
        f"Origin: {label}",
        f"Label: {label}",
        f"Architectures: {architectures}",
        f"Date: {date}",
    ]
    for algo in ("MD5Sum", "SHA1", "SHA256"):
        out.append(f"{algo}:")
        for name in sorted(files):
            data = files[name]
            digest = _digests(data)["MD5sum" if algo == "MD5Sum" else algo]
            out.append(f" {digest} {len(data):>16} {name}")
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class SigningKey:
    """An OpenPGP signing key in its own GnuPG home (made once, then reused)."""

    home: Path

    def _gpg(self, *args: str, input: bytes | None = None) -> bytes:
        env = {**os.environ, "GNUPGHOME": str(self.home)}
        result = subprocess.run(
            ["gpg", "--batch", "--yes", "--no-tty", "--pinentry-mode", "loopback", "--passphrase", "", *args],
            input=input,
            capture_output=True,
            env=env,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"gpg {' '.join(args)} failed: {result.stderr.decode(errors='replace').strip()}")
        return result.stdout

    def close(self) -> None:
        """Stop the gpg-agent this home started: nothing of ours outlives a build or a test."""
        env = {**os.environ, "GNUPGHOME": str(self.home)}
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, capture_output=True, check=False)
        for socket in self.home.glob("S.*"):
            socket.unlink(missing_ok=True)

    @classmethod
    def ensure(cls, home: Path) -> SigningKey:
        """The key in `home`, generated (ed25519, no expiry, no passphrase) when there is none."""
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        home.chmod(0o700)
        key = cls(home)
        key.close()  # a home that was copied or moved keeps dead agent sockets
        if not key._gpg("--list-secret-keys", "--with-colons").strip():
            key._gpg("--quick-gen-key", KEY_UID, "ed25519", "sign", "never")
        return key

    def fingerprint(self) -> str:
        for line in self._gpg("--list-secret-keys", "--with-colons").decode().splitlines():
            if line.startswith("fpr:"):
                return line.split(":")[9]
        raise RuntimeError(f"no secret key in {self.home}")

    def public_armored(self) -> str:
        return self._gpg("--armor", "--export", self.fingerprint()).decode()

    def clearsign(self, data: bytes) -> bytes:
        return self._gpg("--local-user", self.fingerprint(), "--digest-algo", "SHA256", "--clearsign", input=data)

    def detach_sign(self, data: bytes) -> bytes:
        return self._gpg(
            "--local-user", self.fingerprint(), "--digest-algo", "SHA256", "--armor", "--detach-sign", input=data
        )


def build_repository(repo_dir: Path, debs: list[Path], key: SigningKey, *, label: str, architecture: str) -> None:
    """Copy the debs into `repo_dir` and write Packages(.gz), Release, InRelease, Release.gpg, Release.key."""
    repo_dir.mkdir(parents=True, exist_ok=True)
    for stale in repo_dir.glob("*.deb"):
        if stale.name not in {d.name for d in debs}:
            stale.unlink()
    stanzas = []
    for deb in sorted(debs, key=lambda p: p.name):
        target = repo_dir / deb.name
        if deb.resolve() != target.resolve():
            shutil.copyfile(deb, target)
        stanzas.append(packages_stanza(deb_control(target), deb.name, target.read_bytes()))
    packages = packages_text(stanzas).encode()
    indexes = {"Packages": packages, "Packages.gz": gzip.compress(packages, mtime=0)}
    for name, data in indexes.items():
        (repo_dir / name).write_bytes(data)
    release = release_text(
        indexes, label=label, date=email.utils.formatdate(usegmt=True), architectures=architecture
    ).encode()
    (repo_dir / "Release").write_bytes(release)
    (repo_dir / "InRelease").write_bytes(key.clearsign(release))
    (repo_dir / "Release.gpg").write_bytes(key.detach_sign(release))
    # Where the prepare script's default signingKeyUrl (<repository>Release.key) looks.
    (repo_dir / "Release.key").write_text(key.public_armored())

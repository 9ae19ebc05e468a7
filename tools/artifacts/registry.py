"""A real registry (distribution's `registry`, built by scripts/toolchain) and a small
client for its HTTP API: push blobs (POST + monolithic PUT) and manifests, read them back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tools.artifacts.images import MANIFEST_TYPE, BuiltImage, digest

ACCEPT = ", ".join(
    [
        MANIFEST_TYPE,
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


def registry_config(storage: Path, address: str, port: int) -> str:
    """distribution v3's config.yml: filesystem storage, plain HTTP on address:port."""
    doc: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": False}},
        "http": {"addr": f"{address}:{port}", "headers": {"X-Content-Type-Options": ["nosniff"]}},
    }
    return yaml.safe_dump(doc, sort_keys=False)


@dataclass
class RegistryProcess:
    popen: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self, grace: float = 10.0) -> None:
        if self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()


def start_registry(binary: Path, state: Path, address: str, port: int, timeout: float = 30.0) -> RegistryProcess:
    """Start `registry serve config.yml` in its own process group; wait until /v2/ answers."""
    state.mkdir(parents=True, exist_ok=True)
    config = state / "config.yml"
    config.write_text(registry_config(state / "storage", address, port))
    log = state / "registry.log"
    env = {**os.environ, "OTEL_TRACES_EXPORTER": "none", "OTEL_SDK_DISABLED": "true"}
    with log.open("ab") as out:
        popen = subprocess.Popen(
            [str(binary), "serve", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    proc = RegistryProcess(popen, f"http://{address}:{port}", log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise RuntimeError(f"registry exited ({popen.returncode}): {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"{proc.url}/v2/", timeout=2) as resp:
                if resp.status == 200:
                    return proc
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    proc.stop()
    raise RuntimeError(f"registry did not answer on {proc.url}/v2/ within {timeout:.0f} s")


class RegistryClient:
    """The few Distribution API calls a push and a check need (no auth: a local registry)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _request(
        self, method: str, path: str, data: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        url = path if path.startswith("http") else self.url + path
        req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def has_blob(self, name: str, blob: str) -> bool:
        status, _, _ = self._request("HEAD", f"/v2/{name}/blobs/{blob}")
        return status == 200

    def push_blob(self, name: str, blob: str, path: Path) -> bool:
        """Upload one blob unless the registry has it; True when it was uploaded."""
        if self.has_blob(name, blob):
            return False
        status, headers, body = self._request("POST", f"/v2/{name}/blobs/uploads/")
        if status != 202:
            raise RuntimeError(f"POST blob upload for {name}: HTTP {status} {body[:300]!r}")
        location = headers.get("Location") or headers.get("location") or ""
        location = urllib.parse.urljoin(self.url + "/", location)
        sep = "&" if "?" in location else "?"
        data = path.read_bytes()
        if digest(data) != blob:
            raise RuntimeError(f"{path} does not hold {blob}")
        status, _, body = self._request(
            "PUT",
            f"{location}{sep}digest={urllib.parse.quote(blob)}",
            data=data,
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(data))},
        )
        if status != 201:
            raise RuntimeError(f"PUT blob {blob} to {name}: HTTP {status} {body[:300]!r}")
        return True

    def put_manifest(self, name: str, reference: str, manifest: bytes, media_type: str = MANIFEST_TYPE) -> str:
        status, headers, body = self._request(
            "PUT", f"/v2/{name}/manifests/{reference}", data=manifest, headers={"Content-Type": media_type}
        )
        if status != 201:
            raise RuntimeError(f"PUT manifest {name}:{reference}: HTTP {status} {body[:300]!r}")
        return headers.get("Docker-Content-Digest", digest(manifest))

    def get_manifest(self, name: str, reference: str) -> tuple[bytes, str]:
        status, headers, body = self._request("GET", f"/v2/{name}/manifests/{reference}", headers={"Accept": ACCEPT})
        if status != 200:
            raise RuntimeError(f"GET manifest {name}:{reference}: HTTP {status}")
        return body, headers.get("Content-Type", "")

    def get_blob(self, name: str, blob: str) -> bytes:
        status, _, body = self._request("GET", f"/v2/{name}/blobs/{blob}")
        if status != 200:
            raise RuntimeError(f"GET blob {name}@{blob}: HTTP {status}")
        return body

    def tags(self, name: str) -> list[str]:
        status, _, body = self._request("GET", f"/v2/{name}/tags/list")
        if status == 404:
            return []
        if status != 200:
            raise RuntimeError(f"GET tags of {name}: HTTP {status}")
        return sorted(json.loads(body).get("tags") or [])

    def catalog(self) -> list[str]:
        status, _, body = self._request("GET", "/v2/_catalog?n=1000")
        if status != 200:
            raise RuntimeError(f"GET catalog: HTTP {status}")
        return sorted(json.loads(body).get("repositories") or [])

    def push_image(self, image: BuiltImage) -> int:
        """Blobs first, then the manifest under its tag; returns the bytes uploaded."""
        name = image.plan.repository
        sent = 0
        for blob, path in image.blobs.items():
            if self.push_blob(name, blob, path):
                sent += path.stat().st_size
        self.put_manifest(name, image.plan.tag, image.manifest)
        return sent

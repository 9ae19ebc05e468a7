"""`python -m tools.artifacts build|serve|stop|status`: the local mirror for air-gapped machines."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from tools.artifacts import toolchain
from tools.artifacts.mirror import DEB_BINARIES, IMAGE_BINARIES, Layout, build, default_state_dir, serve

DEFAULT_ADDRESS = "10.251.0.1"  # the host side of the machines' bridge (hlbr0)
DEFAULT_APT_PORT = 8080
DEFAULT_REGISTRY_PORT = 5000


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cmd_build(args: argparse.Namespace) -> int:
    try:
        report = build(args.state_dir)
    except toolchain.MissingBinary as exc:
        print(f"artifacts: {exc}", file=sys.stderr)
        return 2
    print(f"artifacts: built for Kubernetes {report['kubernetesVersion']} in {args.state_dir}")
    if report["imagesNotBuilt"]:
        print(f"artifacts: no binary for {', '.join(report['imagesNotBuilt'])} (the lab's stacks do not use them)")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    lay = Layout(args.state_dir)
    if args.detach:
        # Run this same command in the foreground, in its own session, and wait until it is up.
        log = args.state_dir / "serve.log"
        argv = [sys.executable, "-m", "tools.artifacts", "--state-dir", str(args.state_dir), "serve"]
        argv += ["--address", args.address, "--apt-port", str(args.apt_port)]
        argv += ["--registry-port", str(args.registry_port)]
        lay.served.unlink(missing_ok=True)
        with log.open("ab") as out:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                print(f"artifacts: serve exited ({proc.returncode}); see {log}", file=sys.stderr)
                print(log.read_text(errors="replace")[-2000:], file=sys.stderr)
                return 1
            if lay.served.exists():
                print(lay.served.read_text(), end="")
                return 0
            time.sleep(0.3)
        print(f"artifacts: serve not ready after {args.timeout:.0f} s; see {log}", file=sys.stderr)
        return 1
    try:
        mirror = serve(args.state_dir, args.address, args.apt_port, args.registry_port)
    except toolchain.MissingBinary as exc:
        print(f"artifacts: {exc}", file=sys.stderr)
        return 2
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    try:
        while not done.wait(1.0):
            if mirror.registry.popen.poll() is not None:
                print("artifacts: the registry exited; stopping", file=sys.stderr)
                return 1
    finally:
        mirror.stop()
        lay.served.unlink(missing_ok=True)
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    lay = Layout(args.state_dir)
    if not lay.served.exists():
        print("artifacts: not serving")
        return 0
    pid = int(json.loads(lay.served.read_text())["pid"])
    if _pid_alive(pid):
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not _pid_alive(pid):
                break
            time.sleep(0.1)
    lay.served.unlink(missing_ok=True)
    print(f"artifacts: stopped (pid {pid})")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    lay = Layout(args.state_dir)
    missing = [b for b in DEB_BINARIES + IMAGE_BINARIES + ["registry"] if toolchain.find(b) is None]
    print(f"toolchain: {'complete' if not missing else 'missing ' + ', '.join(missing)}")
    if missing:
        print(f"  build with: {toolchain.BUILD_COMMAND.format(item='<item>')}")
    if toolchain.find("crictl") is None:
        print("  crictl: not built, so no cri-tools package (optional; set HOMELAB_CRICTL to a crictl binary)")
    if not lay.built.exists():
        print(f"built: nothing in {args.state_dir}")
        return 1
    report = json.loads(lay.built.read_text())
    print(f"built: Kubernetes {report['kubernetesVersion']} ({report['architecture']}) in {args.state_dir}")
    for d in report["debs"]:
        print(f"  deb   {d['file']:<40} {d['bytes'] / 1e6:7.1f} MB")
    for i in report["images"]:
        print(f"  image {i['repository'] + ':' + i['tag']:<40} {i['bytes'] / 1e6:7.1f} MB")
    if not lay.served.exists():
        print("serving: no")
        return 0
    info = json.loads(lay.served.read_text())
    up = _pid_alive(int(info["pid"]))
    if up:
        try:
            with urllib.request.urlopen(f"http://{info['registry']}/v2/", timeout=3):
                pass
        except OSError:
            up = False
    print(f"serving: {'yes' if up else 'NOT answering'} (pid {info['pid']})")
    print(f"  apt      {info['aptUrl']}")
    print(f"  registry {info['imageRepository']}")
    return 0 if up else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.artifacts", description=__doc__)
    parser.add_argument("--state-dir", type=Path, default=default_state_dir())
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="debs, signed apt repository and images from the toolchain's binaries")
    s = sub.add_parser("serve", help="serve the apt repository over HTTP and the images from a registry")
    s.add_argument("--address", default=DEFAULT_ADDRESS, help="address to bind (the bridge's host side)")
    s.add_argument("--apt-port", type=int, default=DEFAULT_APT_PORT)
    s.add_argument("--registry-port", type=int, default=DEFAULT_REGISTRY_PORT)
    s.add_argument("--detach", action="store_true", help="run in the background; `stop` ends it")
    s.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for --detach to be ready")
    sub.add_parser("stop", help="stop a detached serve")
    sub.add_parser("status", help="what is built and where it is served")
    args = parser.parse_args(argv)
    return {"build": cmd_build, "serve": cmd_serve, "stop": cmd_stop, "status": cmd_status}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())

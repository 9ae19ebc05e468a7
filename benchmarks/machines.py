#!/usr/bin/env python3
"""Local machines: creation time (base image cold/warm, per machine) and memory per machine.

Brings up N machines in a temporary state dir on their own bridge (hlbb0, 10.254.0.0/24),
measures, and removes them. Prints figures; asserts nothing. Needs root.

    .venv/bin/python benchmarks/machines.py [--nodes 3] [--cold] [--settle 20]

--cold debootstraps the base image into a temporary cache (about 3 minutes, from Debian's
mirror); without it the cold figure is the one recorded when the shared cache was built.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.machines.local import DEFAULT_IMAGES, LocalLab, cannot_run_here  # noqa: E402
from tools import machine_image, nspawn  # noqa: E402
from tools.machines import Paths, layout_for, load_state  # noqa: E402


def rss_bytes(pids: set[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def cold_image_seconds(images: Path, cold: bool, log: Path) -> tuple[float | None, str]:
    if cold:
        image = machine_image.ensure_base_image(images, log, echo=True)
        return image.built_seconds, "measured now"
    marker = machine_image.image_dir(DEFAULT_IMAGES, machine_image.content_key()) / machine_image.MARKER
    try:
        return float(json.loads(marker.read_text())["seconds"]), f"recorded in {marker}"
    except (OSError, ValueError, KeyError):
        return None, "no cached image yet (run with --cold)"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--cold", action="store_true", help="also debootstrap a fresh base image (slow)")
    p.add_argument("--settle", type=float, default=20, help="seconds to wait after boot before measuring memory")
    args = p.parse_args()
    if cannot_run_here():
        return 2
    with tempfile.TemporaryDirectory(prefix="homelab-bench-") as tmp:
        images = Path(tmp) / "images" if args.cold else DEFAULT_IMAGES
        cold, how = cold_image_seconds(images, args.cold, Path(tmp) / "image.log")
        t0 = time.perf_counter()
        image = machine_image.ensure_base_image(images, Path(tmp) / "image.log", echo=False)
        warm = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in image.root.rglob("*") if f.is_file() and not f.is_symlink())

        lab = LocalLab(state_dir=Path(tmp) / "state", bridge="hlbb0", subnet="10.254.0.0/24", images=images)
        lab.down()
        try:
            t0 = time.perf_counter()
            lab.up(args.nodes)
            up_all = time.perf_counter() - t0
            paths = Paths(lab.state_dir)
            state = load_state(paths)
            assert state is not None
            per_machine = [m.created_seconds or 0.0 for m in state.machines]
            time.sleep(args.settle)
            rows = []
            for m in state.machines:
                layout = layout_for(paths, state.network, m.spec)
                pids = nspawn.cgroup_pids(layout)
                upper = sum(f.stat().st_size for f in layout.directory.rglob("*") if f.is_file())
                rows.append((m.name, len(pids), rss_bytes(pids), nspawn.memory_bytes(layout) or 0, upper))
            t0 = time.perf_counter()
        finally:
            lab.down()
        down = time.perf_counter() - t0

    mib = 2**20
    print(f"base image: cold {cold:.0f} s ({how})" if cold else f"base image: cold ? ({how})")
    print(f"base image: warm (cache hit) {warm * 1000:.1f} ms; {size / mib:.0f} MiB unpacked")
    print(f"`up --nodes {args.nodes}` with a warm image: {up_all:.1f} s in all")
    med, lo, hi = statistics.median(per_machine), min(per_machine), max(per_machine)
    print(f"per machine, start to systemd running + sshd answering: median {med:.1f} s (min {lo:.1f}, max {hi:.1f})")
    print(f"`down`: {down:.1f} s")
    print(f"\nmemory after {args.settle:.0f} s idle (systemd, journald, dbus, logind, sshd, containerd):")
    print(f"{'machine':10} {'procs':>5} {'RSS sum MiB':>12} {'cgroup MiB':>11} {'own layer MiB':>14}")
    for name, procs, rss, cg, upper in rows:
        print(f"{name:10} {procs:5d} {rss / mib:12.1f} {cg / mib:11.1f} {upper / mib:14.1f}")
    print("(cgroup = memory.usage_in_bytes of the machine's cgroup: RSS plus its page cache)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

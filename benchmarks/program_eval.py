#!/usr/bin/env python3
"""Evaluation time of the real __main__.py under Pulumi mocks, per example stack.

Prints figures; asserts nothing. Usage: .venv/bin/python benchmarks/program_eval.py [--stack prod] [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.harness import run_main  # noqa: E402
from tests.support.stacks import STACKS, host_answers, stack_config  # noqa: E402


def measure(stack: str, repeat: int) -> list[float]:
    config, secrets = stack_config(stack)
    times: list[float] = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run = run_main(config=config, secret_keys=secrets, stack=stack, hooks=[host_answers])
        times.append(time.perf_counter() - t0)
    print(f"{stack}: {len(run.resources)} resources registered")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack", choices=STACKS, action="append")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    for stack in args.stack or list(STACKS):
        measure(stack, 1)  # warm imports
        times = measure(stack, args.repeat)
        print(
            f"{stack}: evaluation under mocks over {args.repeat} runs: "
            f"median {statistics.median(times):.3f}s, min {min(times):.3f}s, max {max(times):.3f}s"
        )


if __name__ == "__main__":
    main()

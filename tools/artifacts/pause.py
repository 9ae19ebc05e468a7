"""The pause (sandbox) program: a tiny static binary, as kubernetes' build/pause/linux/pause.c.

It holds a pod's namespaces: sleeps until SIGINT/SIGTERM and, as PID 1 of a shared PID
namespace, reaps orphaned children.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

SOURCE = r"""
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define VERSION "homelab-pause"

static void sigdown(int signo) {
  psignal(signo, "Shutting down, got signal");
  exit(0);
}

static void sigreap(int signo) {
  (void)signo;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; ++i) {
    if (!strcasecmp(argv[i], "-v")) {
      printf("pause.c %s\n", VERSION);
      return 0;
    }
  }
  if (getpid() != 1) {
    fprintf(stderr, "Warning: pause should be the first process\n");
  }
  if (sigaction(SIGINT, &(struct sigaction){.sa_handler = sigdown}, NULL) < 0) return 1;
  if (sigaction(SIGTERM, &(struct sigaction){.sa_handler = sigdown}, NULL) < 0) return 2;
  if (sigaction(SIGCHLD, &(struct sigaction){.sa_handler = sigreap, .sa_flags = SA_NOCLDSTOP}, NULL) < 0) return 3;
  for (;;) pause();
  fprintf(stderr, "Error: infinite loop terminated\n");
  return 42;
}
"""


def build_pause(out: Path) -> Path:
    """Compile with `gcc -static`; raises with gcc's message when there is no static libc."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        raise RuntimeError("no C compiler: apt-get install gcc libc6-dev")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pause-") as tmp:
        src = Path(tmp) / "pause.c"
        src.write_text(SOURCE)
        result = subprocess.run(
            [cc, "-Os", "-static", "-Wall", "-Werror", "-o", str(out), str(src)], capture_output=True, text=True
        )
        if result.returncode != 0:
            raise RuntimeError(f"building pause failed: {result.stderr.strip()}")
    subprocess.run(["strip", str(out)], check=False, capture_output=True)
    return out

#!/usr/bin/env bash
# End-to-end prerequisites: Debian packages for the test hosts, the locally built Pulumi
# toolchain (within a time budget), then figures.  `--tests` also runs tests/e2e.
set -euo pipefail
cd "$(dirname "$0")/.."

# Test hosts need ip/unshare/sshd/ssh; install what is missing (CI runs as root on Debian).
pkgs=()
command -v ip >/dev/null || pkgs+=(iproute2)
[ -x /usr/sbin/sshd ] || pkgs+=(openssh-server)
command -v ssh >/dev/null || pkgs+=(openssh-client)
command -v unshare >/dev/null || pkgs+=(util-linux)
if [ ${#pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "e2e: installing ${pkgs[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
  else
    echo "e2e: WARNING missing ${pkgs[*]} and cannot apt-get install; e2e tests will skip"
  fi
fi

budget="${HOMELAB_PULUMI_BUDGET:-1800}"
t0=$(date +%s)
# A failed build is reported loudly by the script; the e2e tests then skip, CI goes on.
python3 scripts/pulumi-toolchain --budget "$budget" || echo "e2e: WARNING pulumi-toolchain reported a failed build"
t1=$(date +%s)

# shellcheck source=/dev/null
. scripts/pulumi-env
echo "e2e: figures"
echo "  pulumi-toolchain wall time: $((t1 - t0))s (budget ${budget}s)"
if command -v pulumi >/dev/null; then
  echo "  pulumi $(pulumi version 2>/dev/null) at $(command -v pulumi)"
  python3 scripts/pulumi-toolchain --status >"${TMPDIR:-/tmp}/pulumi-toolchain-status.json"
  python3 - "${TMPDIR:-/tmp}/pulumi-toolchain-status.json" <<'PY'
import json
import sys

for i in json.load(open(sys.argv[1])):
    state = "UNAVAILABLE" if i["unavailable"] else ("cached" if i["cached"] else "missing")
    print(f"  {i['name']:22} {state:12} exact={i['exact']}")
PY
  # What the engine will find (the command and tls providers only when installed by hand).
  pulumi plugin ls 2>&1 | sed 's/^/  /'
  # Floor: preview of an empty Python program (engine + language host + python start-up).
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/p" "$tmp/state"
  printf 'name: floor\nruntime:\n  name: python\n  options:\n    virtualenv: %s\n' "$PWD/.venv" >"$tmp/p/Pulumi.yaml"
  : >"$tmp/p/__main__.py"
  (
    cd "$tmp/p"
    export PULUMI_BACKEND_URL="file://$tmp/state"
    pulumi stack init floor --non-interactive >/dev/null 2>&1
    s=$(date +%s.%N)
    if pulumi preview --non-interactive >"$tmp/preview.log" 2>&1; then
      echo "  empty-program preview floor: $(python3 -c "print(f'{$(date +%s.%N) - $s:.2f}')")s"
    else
      echo "  empty-program preview FAILED:"; tail -20 "$tmp/preview.log"
    fi
  )
else
  echo "  pulumi CLI not built (budget or failure): Pulumi e2e tests will skip"
fi

if [ "${1:-}" = "--tests" ]; then
  .venv/bin/python -m pytest tests/e2e -q
fi

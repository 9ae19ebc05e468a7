#!/usr/bin/env bash
# Build (or find cached) the real binaries for tests/realbin, within a time budget.
# Called by .ci/run. Uses only package registries: PyPI and the Go module proxy.
# Exit status: that of scripts/toolchain (0 also when the budget left items unbuilt: their
# tests then skip, loudly); non-zero only when a build failed.
set -euo pipefail
cd "$(dirname "$0")/.."

budget="${HOMELAB_TOOLCHAIN_BUDGET:-2700}"
py=".venv/bin/python"
[ -x "$py" ] || py="$(command -v python3)"

# The machine image ships Go at /usr/local/go; Debian 12's golang-go (1.19) is too old for
# these modules (they need >= 1.24), so there is no apt fallback.
[ -x /usr/local/go/bin/go ] && export PATH="/usr/local/go/bin:$PATH"
if ! command -v go >/dev/null 2>&1; then
  echo "!!! realbin: no Go toolchain (need >= 1.24 at /usr/local/go or on PATH): real-binary tests will be SKIPPED" >&2
  exit 0
fi
echo "realbin: $(go version)"

# Test-side Python deps of tests/realbin (PKI and DNS queries).
if ! "$py" -c 'import cryptography, dns.message' 2>/dev/null; then
  "$py" -m pip install -q 'cryptography==50.0.2' 'dnspython==2.9.2'
fi

start=$(date +%s)
rc=0
"$py" scripts/toolchain --budget "$budget" || rc=$?
echo "realbin: toolchain finished in $(( $(date +%s) - start )) s (budget ${budget} s), exit ${rc}"
"$py" scripts/toolchain --print-env
exit "$rc"

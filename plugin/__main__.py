"""Entry point the Pulumi language host runs (`python <plugin dir> <engine address>`).

It serves the plugin components over gRPC; `pulumi package add` / `get-schema` start it.
The repository root goes first on sys.path so the components come from this checkout
(the commit a consumer pinned), not from whatever `homelab` is installed.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pulumi.provider.experimental import component_provider_host  # noqa: E402

from plugin import COMPONENTS, PACKAGE  # noqa: E402
from plugin.version import package_version  # noqa: E402

if __name__ == "__main__":
    component_provider_host(components=COMPONENTS, name=PACKAGE, version=package_version(ROOT))

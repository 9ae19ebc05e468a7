"""The plugin's version: the `homelab` package version from pyproject.toml (one source)."""

import re
import tomllib
from importlib import metadata
from pathlib import Path


def package_version(root: Path) -> str:
    """pyproject.toml's [project].version when the checkout has one, else the installed package's."""
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        version = tomllib.loads(pyproject.read_text())["project"]["version"]
        if re.fullmatch(r"\d+\.\d+\.\d+.*", version):
            return str(version)
    try:
        return metadata.version("homelab")
    except metadata.PackageNotFoundError:
        return "0.0.0"

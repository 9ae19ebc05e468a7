"""Built-in Kubernetes kinds checked against the real OpenAPI schemas (kubernetes-validate)."""

from __future__ import annotations

from typing import Any

import kubernetes_validate

SCHEMA_VERSION = "1.34"


def validate_builtin(obj: dict[str, Any], version: str = SCHEMA_VERSION) -> None:
    """Raise kubernetes_validate.ValidationError when `obj` breaks the kind's schema.

    strict=True also refuses fields the schema doesn't know (a typo'd field name).
    """
    kubernetes_validate.validate(obj, version, strict=True)

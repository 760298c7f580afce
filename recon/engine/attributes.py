"""Strivacity attribute paths: which path a field writes to, and dotted paths as nested JSON."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from recon.fields import Field

#: Paths read from the account itself, not attributes: they cannot go in ``local.metadata``
#: or an ``updatePersonalData`` value.
_NOT_ATTRIBUTES = ("identities.", "enabled")


def attribute_path(field: Field) -> str | None:
    """The first attribute path of ``field`` that is a writable attribute, or None."""
    for path in field.strivacity:
        if not path.startswith(_NOT_ATTRIBUTES):
            return path
    return None


def nest(items: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """``[("name.givenName", "Jo")]`` -> ``{"name": {"givenName": "Jo"}}``."""
    out: dict[str, Any] = {}
    for path, value in items:
        *parents, leaf = path.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out

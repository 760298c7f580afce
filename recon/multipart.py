"""multipart/mixed as OData ``$batch`` uses it: split a body into parts and read part headers.

Shared by the apply client (reading responses) and the emulator (reading requests).
"""

from __future__ import annotations

import re


def part_headers(block: str) -> dict[str, str]:
    """Header lines of one part as a dict with lower-cased names."""
    found: dict[str, str] = {}
    for line in block.split("\n"):
        name, sep, value = line.partition(":")
        if sep:
            found[name.strip().lower()] = value.strip()
    return found


def split_multipart(text: str, boundary: str) -> list[tuple[dict[str, str], str]]:
    """The (MIME headers, body) of each part between ``--boundary`` lines (LF or CRLF)."""
    delimiter = re.compile(rf"^--{re.escape(boundary)}(--)?[ \t]*$", re.MULTILINE)
    chunks, start = [], None
    for match in delimiter.finditer(text):
        if start is not None:
            chunks.append(text[start:match.start()].strip("\n"))
        if match.group(1):
            break
        start = match.end()
    parts = []
    for chunk in chunks:
        head, _, body = chunk.partition("\n\n")
        parts.append((part_headers(head), body))
    return parts

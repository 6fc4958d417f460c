"""A dead letter's raw bytes as text that is safe to show: what decodes as UTF-8 is kept, every
byte that does not is written ``\\xNN``, and control and format characters (newlines, escape
sequences, bidirectional overrides, zero-width characters) are escaped (``\\n``, ``\\x1b``,
``\\u202e``), as is the backslash itself, so the text shows exactly what was sent and nothing
can act on a terminal or a page. Header values that look like credentials are hidden."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

PREVIEW_BYTES = 256
"""A list shows each letter's first this many bytes (``size`` tells the whole)."""
HIDDEN = "[redacted]"
_NAMED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNSHOWN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_SECRET_HEADER_PARTS = ("authorization", "cookie", "token", "secret", "password", "api-key",
                        "api_key", "apikey")  # fmt: skip


def escaped_text(data: bytes) -> str:
    text = data.decode("utf-8", errors="surrogateescape")
    out: list[str] = []
    for char in text:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8
            out.append(f"\\x{code - 0xDC00:02x}")
        elif char in _NAMED:
            out.append(_NAMED[char])
        elif unicodedata.category(char) in _UNSHOWN:
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def shown_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` with credential-like values hidden (replays use the stored ones)."""
    return {
        name: HIDDEN if any(part in name.lower() for part in _SECRET_HEADER_PARTS) else value
        for name, value in headers.items()
    }

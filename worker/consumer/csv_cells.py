"""CSV cells safe to open in a spreadsheet.

A text cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to
Excel, LibreOffice and Google Sheets (`=HYPERLINK(...)` in a model version, say). Such a
cell gets a leading `'`, which spreadsheets show as text; numbers are written as they are.
"""

from __future__ import annotations

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """`value`, with a `'` before a text that a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_LEADS):
        return "'" + value
    return value


def printable(text: str) -> str:
    """`text` with control characters (terminal escape sequences) shown as `\\xNN`."""
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)

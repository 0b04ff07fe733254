"""Values as Redis returns them: bytes or text (by client setting), stream entry ids."""

from __future__ import annotations


def as_text(value: str | bytes) -> str:
    """A reply value as text, whatever `decode_responses` the client was made with."""
    return value.decode() if isinstance(value, bytes) else value


def parse_stream_id(entry_id: str | bytes) -> tuple[int, int]:
    """'1700000000000-3' -> (1700000000000, 3), comparable in stream order."""
    ms, _, seq = as_text(entry_id).partition("-")
    return int(ms), int(seq or 0)

"""The training CSV's header: feature names and `label` (mlmon puts it last), each once.

Checked by the feedback group before it appends and by the retraining job before it
reads, so that a header that lost its shape stops both with the same clear reason.
"""

from __future__ import annotations

LABEL_COLUMN = "label"


def training_header_problem(header: list[str]) -> str | None:
    """What is wrong with `header`, or None when it is usable."""
    labels = header.count(LABEL_COLUMN)
    if labels != 1:
        return f"{labels} {LABEL_COLUMN!r} columns, expected one"
    names = [name for name in header if name != LABEL_COLUMN]
    if not names:
        return "no feature columns"
    if any(not name for name in names):
        return "an empty column name"
    if len(set(names)) != len(names):
        duplicate = next(n for n in names if names.count(n) > 1)
        return f"column {duplicate!r} appears more than once"
    return None

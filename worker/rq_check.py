"""The check that rq, as imported, keeps its keys where the deployment's are."""

from __future__ import annotations

from worker.rq_keys import RQ_KEY_PREFIX_VAR
from worker.settings import Settings


class RqPrefixError(RuntimeError):
    """rq was imported with another key prefix than the deployment's."""


def check_rq_prefix(settings: Settings) -> None:
    """Raise `RqPrefixError` when rq's keys would not be the deployment's."""
    from rq.defaults import RQ_KEY_PREFIX  # noqa: PLC0415  (importing rq costs 70 ms: not at start-up)

    if settings.rq_prefix != RQ_KEY_PREFIX:
        raise RqPrefixError(
            f"rq uses the key prefix {RQ_KEY_PREFIX!r} but this deployment's RQ keys are under "
            f"{settings.rq_prefix!r}: set {RQ_KEY_PREFIX_VAR}={settings.rq_prefix} in the "
            "environment before rq is imported (the mlmon command does)"
        )

"""RQ's keys scoped to the deployment.

RQ takes the prefix of all its keys from the environment variable `RQ_KEY_PREFIX` when it
is imported. The `mlmon` command sets it to `<MLMON_PREFIX>:rq` unless it is set already,
so a deployment's queues, jobs, workers and registries sit under its own prefix (and its
worker ACL user needs no `~rq:*`). Another process that enqueues or runs mlmon's jobs must
have the same `RQ_KEY_PREFIX` before it imports rq; `worker.rq_check` says so clearly.
"""

from __future__ import annotations

from collections.abc import MutableMapping

from producer_sdk.streams import DEFAULT_PREFIX
from worker.settings import rq_prefix_for

RQ_KEY_PREFIX_VAR = "RQ_KEY_PREFIX"


def scope_rq_keys(environ: MutableMapping[str, str]) -> None:
    """Before rq is imported: its keys under `<MLMON_PREFIX>:rq`, unless set explicitly."""
    if RQ_KEY_PREFIX_VAR not in environ:
        environ[RQ_KEY_PREFIX_VAR] = rq_prefix_for(environ.get("MLMON_PREFIX") or DEFAULT_PREFIX)

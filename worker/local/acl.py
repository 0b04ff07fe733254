"""Least-privilege Redis ACL users for the producers and the workers (`mlmon acl`).

The producer may only XADD to the event streams: it can neither read events nor delete
anything. The workers may use every command family they need on the project's keys and
the deployment's RQ keys (`<prefix>:rq:*` unless `RQ_KEY_PREFIX` says otherwise), never
another deployment's or another application's, and nothing dangerous (no FLUSHALL, CONFIG,
KEYS, DEBUG ...).
"""

from __future__ import annotations

from producer_sdk.streams import STREAM_OF_TYPE, control_prefix, partition_prefix
from worker.keys import Keys
from worker.settings import rq_prefix_for

WORKER_CATEGORIES = (
    "+@read",
    "+@write",
    "+@stream",
    "+@hash",
    "+@list",
    "+@string",
    "+@set",
    "+@sortedset",
    "+@keyspace",
    "+@scripting",
    "+@transaction",
    "+@connection",
    "+@pubsub",
)
# commands the workers and RQ use that the categories above leave out, or that
# -@dangerous takes away again
WORKER_EXTRA = (
    "+info",
    "+client|setname",
    "+client|id",
    "+client|list",
    "+time",
)


# what redis-py's cluster client asks a node for when it starts (the slot map, commands)
CLUSTER_CLIENT_COMMANDS = ("+cluster|slots", "+cluster|shards", "+cluster|nodes", "+command")


def producer_acl_rules(prefix: str, partitions: int = 1) -> list[str]:
    every = [Keys(control_prefix(prefix, partitions))]
    if partitions > 1:
        every += [Keys.partition(prefix, i) for i in range(partitions)]
    streams = sorted({keys.stream(name) for keys in every for name in STREAM_OF_TYPE.values()})
    return [
        "on",
        "resetkeys",
        *(f"~{stream}" for stream in streams),
        "resetchannels",
        "-@all",
        "+xadd",
        "+wait",  # `Publisher(replicas_to_ack=...)` waits for replicas
        "+role",  # ... as many as are connected
        "+ping",
        "+hello",
        *(CLUSTER_CLIENT_COMMANDS if partitions > 1 else ()),
    ]


def worker_acl_rules(prefix: str, rq_prefix: str | None = None, partitions: int = 1) -> list[str]:
    rq_prefix = rq_prefix or rq_prefix_for(prefix)
    rq_keys = [] if rq_prefix.startswith(f"{prefix}:") else [f"~{rq_prefix}:*"]
    # partitioned: the control tag and each partition's tag, one by one (`{` and `}` are
    # literal; a `{<prefix>-p*}` glob would reach another deployment named `<prefix>-p...`)
    own_keys = (
        [f"~{prefix}:*"]
        if partitions == 1
        else [
            f"~{control_prefix(prefix, partitions)}:*",
            *(f"~{partition_prefix(prefix, i)}:*" for i in range(partitions)),
        ]
    )
    return [
        "on",
        "resetkeys",
        *own_keys,
        *rq_keys,
        "resetchannels",
        f"&{rq_prefix}:*",
        "-@all",
        *WORKER_CATEGORIES,
        "-@dangerous",
        *WORKER_EXTRA,
        *(CLUSTER_CLIENT_COMMANDS if partitions > 1 else ()),
    ]


def acl_setuser_line(user: str, password: str, rules: list[str]) -> str:
    return " ".join(["ACL SETUSER", user, "reset", f">{password}", *rules])

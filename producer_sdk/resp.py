"""A batch of commands on the wire: packed as RESP bytes, written in one go on a connection
of the client's pool, and the replies read back with hiredis.

This is what a redis-py pipeline does, without its Python object per command and its
several Python frames per reply, which cost more than the rest of a publish. Only the
commands given are sent (a producer's ACL user may run XADD, WAIT and ROLE, no scripts).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import hiredis
import redis
from redis._parsers.base import BaseParser
from redis.connection import AbstractConnection

EVENT_FIELD = b"event"
READ_BUFFER_BYTES = 64 * 1024
CHUNK_BYTES = 64 * 1024  # written while the rest is packed
MAX_CACHED_STREAMS = 4096  # stream keys whose command head is kept (a cache, not a limit)

_MORE = object()  # hiredis: a reply is not complete yet


def _xadd_head(stream: str) -> bytes:
    """`XADD <stream> * event` and the `$` of the payload's length, in RESP.

    Never MAXLEN or MINID: trimming is the workers' (by age, past what every group
    acknowledged), so a producer's credentials never need to delete anything."""
    key = stream.encode()
    return b"*5\r\n$4\r\nXADD\r\n$%d\r\n%b\r\n$1\r\n*\r\n$5\r\nevent\r\n$" % (len(key), key)


class XaddPacker:
    """Packs `XADD <stream> * event <payload>` commands into buffers of about
    `CHUNK_BYTES`, so that Redis works on the first while the next is packed; the bytes
    up to the payload's length are built once per stream key."""

    def __init__(self) -> None:
        self._heads: dict[str, bytes] = {}

    def pack(
        self, entries: Iterable[tuple[str, bytes]], then: Iterable[tuple[str | int, ...]] = ()
    ) -> Iterator[bytes]:
        """The XADD of each (stream, payload), in order, then the commands `then`."""
        heads = self._heads
        parts: list[bytes] = []
        append = parts.append
        size = 0
        for stream, payload in entries:
            head = heads.get(stream)
            if head is None:
                if len(heads) >= MAX_CACHED_STREAMS:
                    heads.clear()
                head = heads[stream] = _xadd_head(stream)
            append(head)
            append(b"%d\r\n" % len(payload))
            append(payload)
            append(b"\r\n")
            size += len(payload)
            if size >= CHUNK_BYTES:
                yield b"".join(parts)
                parts.clear()
                size = 0
        parts.extend(pack_command(*command) for command in then)
        if parts:
            yield b"".join(parts)


def pack_command(*words: str | int) -> bytes:
    """One command in RESP (for the few sent after a batch's XADDs)."""
    encoded = [str(word).encode() for word in words]
    return b"*%d\r\n" % len(encoded) + b"".join(
        b"$%d\r\n%b\r\n" % (len(word), word) for word in encoded
    )


@dataclass(slots=True)
class Replies:
    """What came back for a batch.

    :param values: the replies read, in command order; an error reply is the
        `redis.ResponseError` (subclass) redis-py would have raised for it.
    :param errors: those error replies, in order (empty when every command succeeded).
    :param failure: why fewer replies than commands were read: the connection failed
        (refused, timed out, closed), so the commands after `values` may or may not have
        run. None when every reply was read.
    """

    values: list[Any] = field(default_factory=list)
    errors: list[redis.RedisError] = field(default_factory=list)
    failure: redis.RedisError | None = None

    def error_reply(self, message: str) -> redis.RedisError:
        """hiredis's hook for an error reply: redis-py's exception for it, noted."""
        error: redis.RedisError = BaseParser.parse_error(message)  # type: ignore[no-untyped-call]
        self.errors.append(error)
        return error


def round_trip(client: redis.Redis, chunks: Iterable[bytes], count: Callable[[], int]) -> Replies:
    """Write `chunks` on a connection of `client`'s pool and read as many replies as
    `count()` says, once they are written: the number of commands is known only then,
    when `chunks` stops early (`producer_sdk.outgoing`).

    A connection that failed, or whose server answered READONLY (a demoted primary), is
    closed before it goes back to the pool: the next one is opened afresh (through
    Sentinel, to the current primary)."""
    replies = Replies()
    pool = client.connection_pool
    try:
        connection = pool.get_connection()
    except redis.RedisError as e:
        replies.failure = e
        return replies
    try:
        connection.send_packed_command(chunks)  # type: ignore[no-untyped-call]
        _read_replies(connection, replies, count())
    except redis.RedisError as e:
        replies.failure = e
    except BaseException:
        connection.disconnect()  # type: ignore[no-untyped-call]
        raise
    finally:
        demoted = any(isinstance(e, redis.exceptions.ReadOnlyError) for e in replies.errors)
        if replies.failure is not None or demoted:
            connection.disconnect()  # type: ignore[no-untyped-call]
        pool.release(connection)
    return replies


def _read_replies(connection: AbstractConnection, replies: Replies, count: int) -> None:
    """Read `count` replies into `replies`; raises redis-py's ConnectionError or
    TimeoutError (leaving the replies read so far)."""
    # the connection's own socket: its parser is bypassed, and is left with nothing to read
    sock: socket.socket | None = getattr(connection, "_sock", None)
    if sock is None:  # not a plain socket connection (a client-side cache's proxy)
        _read_through_redis_py(connection, replies, count)
        return
    reader = hiredis.Reader(
        protocolError=redis.exceptions.InvalidResponse,
        replyError=replies.error_reply,
        encoding="utf-8",
        notEnoughData=_MORE,
    )
    values = replies.values
    append = values.append
    while len(values) < count:
        try:
            data = sock.recv(READ_BUFFER_BYTES)
        except TimeoutError as e:  # socket.timeout
            raise redis.TimeoutError(f"timeout reading replies: {e}") from e
        except OSError as e:
            raise redis.ConnectionError(f"error reading replies: {e}") from e
        if not data:
            raise redis.ConnectionError("connection closed by the server")
        reader.feed(data)
        reply = reader.gets()
        while reply is not _MORE:
            append(reply)
            reply = reader.gets()
    if len(values) > count:
        raise redis.exceptions.InvalidResponse(f"{len(values)} replies to {count} commands")


def _read_through_redis_py(connection: AbstractConnection, replies: Replies, count: int) -> None:
    """The slow way, for a connection whose socket is not its own: redis-py reads."""
    while len(replies.values) < count:
        try:
            reply = connection.read_response()
        except redis.ResponseError as e:
            replies.errors.append(e)
            reply = e
        replies.values.append(reply.decode() if isinstance(reply, bytes) else reply)

"""The packed publish path: the bytes on the wire, the replies, and a batch that fails
part way (error replies in the middle, a connection cut after some replies)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import hiredis
import pytest
import redis
from helpers import (
    assert_exactly_once,
    make_prediction,
    random_predictions,
    run_mlmon,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic_core import PydanticSerializationError
from redis.connection import Connection

from producer_sdk import (
    AnalysisCompleted,
    BacktestCompleted,
    Prediction,
    Publisher,
    PublishError,
    TradeOutcome,
)
from producer_sdk.encoding import event_json
from producer_sdk.resp import XaddPacker
from producer_sdk.spool import PartlySent, Spool
from worker.local.redis_server import RedisServer, free_port

ENTRY_ID = re.compile(rb"[0-9]+-[0-9]+")

# hostile text: quotes, backslashes, newlines, RESP-looking bytes, control characters,
# non-ASCII and astral characters (lone surrogates are refused by the models)
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"]) | st.sampled_from('\r\n"\\$*:\x00\x7f'),
    min_size=1,
    max_size=64,
)
FEATURE_NAME = TEXT.filter(lambda name: name[0] not in "=+-@\t\r" and name != "label")
ANY_FLOAT = st.floats(allow_nan=False, allow_infinity=False)
OFFSETS = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
) | st.integers(-86_399, 86_399).map(lambda s: timezone(timedelta(seconds=s)))


@st.composite
def predictions(draw: st.DrawFn) -> Prediction:
    offset = draw(OFFSETS)
    ts = datetime.now(UTC) - timedelta(seconds=draw(st.integers(0, 10**8)))
    ml = draw(st.sampled_from(["buy", "watch", None]))
    return Prediction(
        ticker=draw(st.sampled_from(["RELIANCE.NS", "M&M.NS", "AAPL", "BAJAJ-AUTO.BO"])),
        ml_verdict=ml,
        ml_confidence=None if ml is None else draw(st.floats(0.0, 1.0)),
        rule_verdict="buy",
        final_verdict="buy",
        verdict_source="rule",
        features=draw(st.none() | st.dictionaries(FEATURE_NAME, ANY_FLOAT, max_size=12)),
        model_version=draw(st.none() | TEXT),
        ts=ts.astimezone(offset).replace(microsecond=draw(st.integers(0, 999_999))),
    )


@st.composite
def backtests(draw: st.DrawFn) -> BacktestCompleted:
    extra = st.one_of(ANY_FLOAT, st.integers(-(2**80), 2**80), st.booleans(), st.none(), TEXT)
    return BacktestCompleted(
        backtest_id=draw(TEXT),
        n_trades=draw(st.integers(0, 2**70)),
        win_rate=draw(st.floats(0.0, 1.0)),
        total_return_pct=draw(ANY_FLOAT),
        extras=draw(st.none() | st.dictionaries(TEXT, extra, max_size=8)),
    )


EVENTS = st.lists(predictions() | backtests(), min_size=1, max_size=20)


@given(events=EVENTS)
def test_event_json_is_what_pydantic_writes(events: list[Prediction | BacktestCompleted]) -> None:
    for event in events:
        assert event_json(event) == event.model_dump_json().encode()


@given(entries=st.lists(st.tuples(TEXT, st.binary(max_size=300)), min_size=1, max_size=20))
def test_packed_commands_are_the_bytes_redis_py_packs(entries: list[tuple[str, bytes]]) -> None:
    ours = b"".join(XaddPacker().pack(entries, [("WAIT", 1, 25), ("ROLE",)]))
    packer = Connection()
    theirs = (
        b"".join(
            b"".join(packer.pack_command("XADD", stream, "*", "event", payload))
            for stream, payload in entries
        )
        + b"".join(packer.pack_command("WAIT", 1, 25))
        + b"".join(packer.pack_command("ROLE"))
    )
    assert ours == theirs


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=EVENTS)
def test_packed_entries_are_the_entries_a_plain_xadd_makes(
    publisher: Publisher, client: redis.Redis, prefix: str, events: list[Prediction]
) -> None:
    """Published by the SDK and by a plain redis-py XADD of model_dump_json(): the stream
    entries read back are the same bytes, in the same order."""
    for stream in client.scan_iter(match=f"{prefix}:stream:*"):
        client.unlink(stream)
    ids = publisher.publish_many(events)
    sdk = {key: client.xrange(key) for key in client.scan_iter(match=f"{prefix}:stream:*")}
    id_of = {fields[b"event"]: entry_id.decode() for e in sdk.values() for entry_id, fields in e}
    assert ids == [id_of[event.model_dump_json().encode()] for event in events]
    plain_prefix = f"{prefix}-plain"
    try:
        for event in events:
            stream = publisher._stream_key(event).replace(prefix, plain_prefix, 1)
            client.xadd(stream, {"event": event.model_dump_json()})
        for key, entries in sdk.items():
            plain = client.xrange(key.replace(prefix.encode(), plain_prefix.encode(), 1))
            assert [fields for _, fields in entries] == [fields for _, fields in plain]
    finally:
        for key in client.scan_iter(match=f"{plain_prefix}:*"):
            client.unlink(key)


def test_huge_and_hostile_values_arrive_intact(
    publisher: Publisher, client: redis.Redis, prefix: str
) -> None:
    tickers = [f"T{i}.NS" for i in range(10_000)]  # about 100 KB of JSON in one field
    huge = AnalysisCompleted(
        batch_id="b\r\n$5\r\nXADD\r\n", n_stocks=10_000, duration_s=1e300, tickers=tickers
    )
    hostile = make_prediction(model_version='ünï\n"cödé" 😀 \\ *3\r\n', features={"é\n": 1e16})
    ids = publisher.publish_many([huge, hostile, make_prediction()])
    assert ids is not None and len(ids) == 3
    [(_, analysis)] = client.xrange(f"{prefix}:stream:analysis")
    assert analysis == {b"event": huge.model_dump_json().encode()}
    predictions = [fields for _, fields in client.xrange(f"{prefix}:stream:predictions")]
    assert predictions[0] == {b"event": hostile.model_dump_json().encode()}
    assert len(predictions) == 2


def test_error_replies_in_the_middle_raise_with_the_ids_of_what_was_taken(
    redis_url: str, client: redis.Redis, prefix: str, tmp_path: Path
) -> None:
    """A wrong key type is a configuration error: the XADDs before and after it still
    run, nothing is spooled, and PublishError.entry_ids says which events are in."""
    client.set(f"{prefix}:stream:outcomes", "not a stream")
    publisher = Publisher.from_url(redis_url, prefix=prefix, spool_dir=tmp_path / "spool")
    outcome = TradeOutcome(
        ticker="TCS.NS",
        prediction_date="2026-01-02",
        actual_outcome="loss",
        pnl_pct=-1.5,
        holding_days=3,
    )
    events = [make_prediction(), make_prediction(), outcome, make_prediction()]
    with pytest.raises(PublishError, match=r"WRONGTYPE.*a configuration error") as caught:
        publisher.publish_many(events)
    stream = [entry_id.decode() for entry_id, _ in client.xrange(f"{prefix}:stream:predictions")]
    assert caught.value.entry_ids == [stream[0], stream[1], None, stream[2]]
    assert "Redis took 3 of them" in str(caught.value)
    assert not publisher.spool.has_entries()
    assert publisher.publish(make_prediction()) is not None  # the connection is still good


class CuttingProxy:
    """A TCP proxy to Redis that passes every command on, and the replies back until the
    `replies`-th stream entry id, then closes the client's side: a link that drops
    mid-batch (the connection's handshake replies pass too)."""

    def __init__(self, target_port: int, *, replies: int) -> None:
        self.target_port = target_port
        self.replies = replies
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        client, _ = self.listener.accept()
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
        reader = hiredis.Reader()
        entry_ids = 0
        while entry_ids < self.replies:
            data = upstream.recv(1)
            if not data:
                break
            client.sendall(data)
            reader.feed(data)
            reply = reader.gets()
            if isinstance(reply, bytes) and ENTRY_ID.fullmatch(reply):
                entry_ids += 1
        client.shutdown(socket.SHUT_RDWR)
        client.close()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            target.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def cut_after_ten(redis_url: str) -> Iterator[CuttingProxy]:
    port = urlsplit(redis_url).port
    assert port is not None
    proxy = CuttingProxy(port, replies=10)
    yield proxy
    proxy.close()


def test_a_connection_cut_mid_batch_spools_only_the_unconfirmed_rest(
    cut_after_ten: CuttingProxy,
    redis_url: str,
    client: redis.Redis,
    prefix: str,
    env: dict[str, str],
    home: Path,
    tmp_path: Path,
) -> None:
    """Ten replies come back, then the link drops: those ten are published, the other
    forty go to the spool (they did reach Redis: the replay sends them again, and the
    workers count each event once)."""
    events = random_predictions(50, seed=7)
    spool_dir = tmp_path / "spool"
    cut = Publisher.from_url(
        f"redis://127.0.0.1:{cut_after_ten.port}/0", prefix=prefix, spool_dir=spool_dir
    )
    assert cut.publish_many(events) is None
    assert _spooled(cut.spool) == [event.model_dump_json() for event in events[10:]]

    direct = Publisher.from_url(redis_url, prefix=prefix, spool_dir=spool_dir)
    assert direct.flush_spool() == 40
    stream = [
        json.loads(f[b"event"])["event_id"]
        for _, f in client.xrange(f"{prefix}:stream:predictions")
    ]
    assert stream[:10] == [event.event_id for event in events[:10]]
    assert set(stream) == {event.event_id for event in events}  # none lost
    assert Counter(stream[10:]).keys().isdisjoint(stream[:10])  # the confirmed, once
    burst = run_mlmon("worker", "--burst", "--groups", "logs,metrics", env=env)
    assert burst.returncode == 0, burst.stderr[-2000:]
    assert_exactly_once(home, env, events)


def test_a_connection_cut_mid_batch_raises_with_the_ids_taken(
    cut_after_ten: CuttingProxy, prefix: str, tmp_path: Path
) -> None:
    cut = Publisher.from_url(
        f"redis://127.0.0.1:{cut_after_ten.port}/0", prefix=prefix, on_failure="raise"
    )
    with pytest.raises(PublishError, match="Redis took 10 of them") as caught:
        cut.publish_many(random_predictions(50, seed=8))
    assert isinstance(caught.value.__cause__, redis.ConnectionError)
    taken = caught.value.entry_ids
    assert all(taken[:10]) and taken[10:] == [None] * 40


def _spooled(spool: Spool) -> list[str]:
    """The event JSON of each spooled entry, in order."""
    lines = spool.path.read_text(encoding="utf-8").splitlines() if spool.has_entries() else []
    return [json.loads(line)["event"] for line in lines]


def test_a_replay_that_gets_part_of_a_chunk_through_keeps_only_the_rest(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path, name="p", max_bytes=10**6)
    spool.append([("s", f'{{"n":{i}}}'.encode()) for i in range(5)])

    def three_of_them(entries: list[tuple[str, bytes]]) -> None:
        raise PartlySent(3, redis.ConnectionError("dropped"))

    with pytest.raises(redis.ConnectionError, match="dropped"):
        spool.replay(three_of_them)
    assert _spooled(spool) == ['{"n":3}', '{"n":4}']


def test_a_demoted_primary_is_an_outage_and_its_connection_is_dropped(
    tmp_path: Path, prefix: str
) -> None:
    """READONLY (the server is a replica now): spooled, and the pooled connection closed so
    that the next one is opened afresh (through Sentinel, to the new primary)."""
    primary = RedisServer(tmp_path / "primary").start()
    replica_args = ("--replicaof", "127.0.0.1", str(primary.port))
    replica = RedisServer(tmp_path / "replica", args=replica_args).start()
    try:
        publisher = Publisher.from_url(replica.url, prefix=prefix, spool_dir=tmp_path / "spool")
        assert publisher.publish_many(random_predictions(5, seed=3)) is None
        assert len(_spooled(publisher.spool)) == 5
        pool = publisher.redis.connection_pool
        assert all(connection._sock is None for connection in pool._available_connections)
    finally:
        replica.stop(save=False)
        primary.stop(save=False)


def _unserialisable() -> Prediction:
    """What only an event no validation saw (model_construct) can hold: a value JSON
    cannot carry."""
    good = make_prediction()
    return Prediction.model_construct(**{**good.__dict__, "model_version": object()})


@pytest.mark.parametrize("on_failure", ["raise", "spool"])
def test_an_unserialisable_event_stops_the_batch_where_it_stands(
    client: redis.Redis, prefix: str, tmp_path: Path, on_failure: Literal["raise", "spool"]
) -> None:
    """JSON is made as the XADDs are packed (Redis stores the first chunks meanwhile), so
    the events before the bad one are published, it and those after it are not; the error
    says which were taken, carries pydantic's error, and nothing is spooled."""
    publisher = Publisher(client, prefix=prefix, on_failure=on_failure, spool_dir=tmp_path)
    events = [*random_predictions(600, seed=11), _unserialisable(), make_prediction()]
    with pytest.raises(PublishError, match="event 600 of 602 cannot be written as JSON") as e:
        publisher.publish_many(events)
    assert isinstance(e.value.__cause__, PydanticSerializationError)
    stream = client.xrange(f"{prefix}:stream:predictions")
    published = [json.loads(fields[b"event"])["event_id"] for _, fields in stream]
    assert published == [event.event_id for event in events[:600]]
    assert e.value.entry_ids == [entry_id.decode() for entry_id, _ in stream] + [None, None]
    assert not publisher.spool.has_entries()


def test_an_unserialisable_first_event_sends_nothing(
    publisher: Publisher, client: redis.Redis, prefix: str
) -> None:
    with pytest.raises(PublishError, match="Redis took 0 events before it") as caught:
        publisher.publish_many([_unserialisable(), *random_predictions(3, seed=12)])
    assert caught.value.entry_ids == [None] * 4
    assert client.exists(f"{prefix}:stream:predictions") == 0


def test_an_unserialisable_event_while_redis_is_down_is_not_spooled(
    tmp_path: Path, prefix: str
) -> None:
    """During an outage events go straight to the spool, which holds only what can be
    replayed: a batch with an unserialisable event raises, and none of it is spooled."""
    down = Publisher.from_url(
        f"redis://127.0.0.1:{free_port()}/0", prefix=prefix, spool_dir=tmp_path
    )
    assert down.publish(make_prediction()) is None  # refused: spooled, Redis marked down
    with pytest.raises(PublishError, match="event 1 of 2 cannot be written as JSON"):
        down.publish_many([make_prediction(), _unserialisable()])
    assert len(_spooled(down.spool)) == 1


def test_an_unserialisable_event_after_a_lost_wait_reply_reports_nothing_as_safe(
    prefix: str, tmp_path: Path, redis_url: str
) -> None:
    """The ten XADDs before the bad event are answered, then the link drops before WAIT's
    reply: no replica confirmed them, so entry_ids must not call them taken (a failover
    would lose them); re-sending them is harmless, trusting them is not."""
    port = urlsplit(redis_url).port
    assert port is not None
    proxy = CuttingProxy(port, replies=10)
    try:
        cut = Publisher.from_url(
            f"redis://127.0.0.1:{proxy.port}/0",
            prefix=prefix,
            spool_dir=tmp_path / "spool",
            replicas_to_ack=1,
        )
        with pytest.raises(PublishError, match="event 10 of 11") as caught:
            cut.publish_many([*random_predictions(10, seed=13), _unserialisable()])
    finally:
        proxy.close()
    assert caught.value.entry_ids == [None] * 11
    assert "connection closed" in str(caught.value)  # the outage is not hidden either


def test_an_unserialisable_event_after_a_replication_lag_reports_nothing_as_safe(
    prefix: str, tmp_path: Path
) -> None:
    """The replica is connected but stalled: WAIT times out, so the events before the bad
    one are on the primary only, and entry_ids must not call them taken."""
    primary = RedisServer(tmp_path / "primary").start()
    replica_args = ("--replicaof", "127.0.0.1", str(primary.port))
    replica = RedisServer(tmp_path / "replica", args=replica_args).start()
    try:
        with redis.Redis.from_url(primary.url) as direct:
            deadline = time.monotonic() + 10
            while direct.info("replication").get("slave0", {}).get("state") != "online":
                assert time.monotonic() < deadline, "the replica did not come online"
                time.sleep(0.05)
        publisher = Publisher.from_url(
            primary.url, prefix=prefix, spool_dir=tmp_path / "spool", replicas_to_ack=1
        )
        assert publisher.publish(make_prediction()) is not None  # the replica acknowledges
        assert replica.pid is not None
        os.kill(replica.pid, signal.SIGSTOP)  # still connected, acknowledging nothing
        try:
            with pytest.raises(PublishError, match="event 2 of 3") as caught:
                publisher.publish_many([make_prediction(), make_prediction(), _unserialisable()])
        finally:
            os.kill(replica.pid, signal.SIGCONT)
        assert caught.value.entry_ids == [None, None, None]
        assert "replicas acknowledged" in str(caught.value)
    finally:
        replica.stop(save=False)
        primary.stop(save=False)


def test_a_single_constructed_event_is_described_in_the_error(tmp_path: Path, prefix: str) -> None:
    """An event built by model_construct with its type as plain text serialises, and an
    outage in raise mode says what could not be published (not an AttributeError)."""
    event = Prediction.model_construct(**{**make_prediction().__dict__, "type": "prediction"})
    down = Publisher.from_url(
        f"redis://127.0.0.1:{free_port()}/0", prefix=prefix, on_failure="raise", spool_dir=tmp_path
    )
    with pytest.raises(PublishError, match=f"could not publish prediction to {prefix}:stream"):
        down.publish(event)


def test_a_configuration_error_on_replay_says_the_events_wait_in_the_spool(
    redis_url: str, client: redis.Redis, prefix: str, tmp_path: Path
) -> None:
    """Events spooled in an outage are replayed before a new publish; when the replay meets
    a configuration error, the new events are in the spool too, and the error says so."""
    down = Publisher.from_url(
        f"redis://127.0.0.1:{free_port()}/0", prefix=prefix, spool_dir=tmp_path
    )
    first, second = make_prediction(), make_prediction()
    assert down.publish(first) is None
    client.set(f"{prefix}:stream:predictions", "not a stream")
    up = Publisher.from_url(redis_url, prefix=prefix, spool_dir=tmp_path)
    with pytest.raises(PublishError, match=r"WRONGTYPE.*they wait in the spool") as caught:
        up.publish(second)
    assert caught.value.entry_ids == [None]
    assert _spooled(up.spool) == [first.model_dump_json(), second.model_dump_json()]
    client.delete(f"{prefix}:stream:predictions")
    assert up.flush_spool() == 2
    assert client.xlen(f"{prefix}:stream:predictions") == 2

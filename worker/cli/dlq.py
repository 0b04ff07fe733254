"""`mlmon dlq ...` (the dead-letter stream) and `mlmon spool flush` (the SDK's spool)."""

from __future__ import annotations

import json

import click

from producer_sdk import Publisher
from worker.cli.common import EXIT_CONFIG, EXIT_UNAVAILABLE, fail, redis_or_exit, settings_or_exit
from worker.consumer.csv_cells import printable
from worker.consumer.deadletters import DeadLetter, DeadLetters, parse_age
from worker.redis_values import parse_stream_id
from worker.settings import Settings


@click.group()
def dlq() -> None:
    """The dead-letter stream: list, show, replay after a fix, purge."""


@dlq.command("list")
@click.option("--stream", help="Only letters from this stream (name or key).")
@click.option("--limit", default=20, show_default=True, help="How many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
def dlq_list(stream: str | None, limit: int, as_json: bool) -> None:
    """The newest dead letters with their reasons."""
    settings = settings_or_exit()
    every = [
        letter for store in _stores(settings) for letter in store.newest(stream=stream, limit=limit)
    ]
    letters = sorted(every, key=lambda x: parse_stream_id(x.letter_id), reverse=True)[:limit]
    for letter in letters:
        if as_json:
            click.echo(json.dumps(letter.as_dict()))
            continue
        replayed = f"  [replayed as {letter.replayed_as}]" if letter.replayed_as else ""
        line = (
            f"{letter.letter_id}  {letter.stream}  {letter.fields.get('group', '')}  "
            f"x{letter.fields.get('deliveries', '?')}  {letter.fields.get('reason', '')}{replayed}"
        )
        click.echo(printable(line))  # an entry's text may carry terminal escape sequences
    if not letters and not as_json:
        click.echo("no dead letters")


@dlq.command("show")
@click.argument("letter_id")
def dlq_show(letter_id: str) -> None:
    """One dead letter, with its original entry (JSON)."""
    settings = settings_or_exit()
    letter = next((x for s in _stores(settings) if (x := s.show(letter_id))), None)
    if letter is None:
        fail(f"no dead letter {letter_id}; see `mlmon dlq list`", EXIT_CONFIG)
    click.echo(json.dumps(letter.as_dict(), indent=2))


@dlq.command("replay")
@click.argument("letter_id", required=False)
@click.option("--all", "replay_all", is_flag=True, help="Every letter not replayed yet.")
def dlq_replay(letter_id: str | None, replay_all: bool) -> None:
    """Put letters back on their original stream, once each, after the cause is fixed."""
    if bool(letter_id) == replay_all:
        fail("give a dead letter id or --all", EXIT_CONFIG)
    settings = settings_or_exit()
    chosen: list[tuple[DeadLetters, DeadLetter]] = []
    for store in _stores(settings):
        if replay_all:
            unreplayed = [x for x in store.newest(limit=1_000_000) if not x.replayed_as]
            chosen += [(store, letter) for letter in reversed(unreplayed)]
        elif (found := store.show(str(letter_id))) is not None:
            chosen.append((store, found))
    if letter_id and not chosen:
        fail(f"no dead letter {letter_id}; see `mlmon dlq list`", EXIT_CONFIG)
    for store, letter in chosen:
        fresh, new_id = store.replay(letter)
        state = "replayed" if fresh else "already replayed"
        click.echo(f"{letter.letter_id}: {state} as {new_id} on {letter.stream}")


@dlq.command("purge")
@click.option("--older-than", "older_than", required=True, help="An age: 7d, 12h, 30m.")
def dlq_purge(older_than: str) -> None:
    """Delete dead letters older than the given age."""
    try:
        age_s = parse_age(older_than)
    except ValueError as e:
        fail(str(e), EXIT_CONFIG)
    settings = settings_or_exit()
    removed = sum(store.purge(older_than_s=age_s) for store in _stores(settings))
    click.echo(f"purged {removed} dead letters older than {older_than}")


def _stores(settings: Settings) -> list[DeadLetters]:
    """The dead-letter streams: one, or with partitions the shared one and each partition's."""
    client = redis_or_exit(settings)
    every = dict.fromkeys([settings, *settings.partition_settings()])
    return [DeadLetters(client, part) for part in every]


@click.group()
def spool() -> None:
    """The producer SDK's local spool of events published while Redis was down."""


@spool.command("flush")
def spool_flush() -> None:
    """Replay the spool of MLMON_PREFIX to Redis, in order."""
    settings = settings_or_exit()
    publisher = Publisher(
        redis_or_exit(settings),
        prefix=settings.prefix,
        on_failure="raise",
        spool_dir=settings.spool_dir,
    )
    try:
        sent = publisher.flush_spool()
    except Exception as e:  # noqa: BLE001  (say what failed in one line, keep the spool)
        fail(f"spool not flushed ({e}); it is kept at {publisher.spool.path}", EXIT_UNAVAILABLE)
    click.echo(f"sent {sent} spooled events from {publisher.spool.path}")
    if publisher.spool_dropped:
        click.echo(f"{publisher.spool_dropped} events were dropped earlier: the spool was full")

"""Redis URLs: Sentinel URLs parsed, checked, and masked wherever they are shown."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producer_sdk.connection import RedisUrlError, SentinelUrl, parse_sentinel_url
from worker.settings import SettingsError, load_settings, mask_url


def test_sentinel_url_parts() -> None:
    parsed = parse_sentinel_url(
        "rediss+sentinel://app:s%40cret@h1:26380,[::1]:26381,h3,[::2]/mymaster/2"
        "?sentinel_password=sp&sentinel_ssl=false&ssl_cert_reqs=required"
        "&health_check_interval=10&socket_keepalive=false"
    )
    assert parsed == SentinelUrl(
        sentinels=[("h1", 26380), ("::1", 26381), ("h3", 26379), ("::2", 26379)],
        service="mymaster",
        db=2,
        username="app",
        password="s@cret",
        ssl=True,
        sentinel_username=None,
        sentinel_password="sp",
        sentinel_ssl=False,
        options={
            "ssl_cert_reqs": "required",
            "health_check_interval": 10,
            "socket_keepalive": False,
        },
    )
    plain = parse_sentinel_url("redis+sentinel://h1/svc")
    assert (plain.db, plain.ssl, plain.sentinel_ssl, plain.password) == (0, False, False, None)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("redis+sentinel:///svc", "no Sentinel host"),
        ("redis+sentinel://h1:26379", "the path must be"),
        ("redis+sentinel://h1:26379/svc/0/extra", "the path must be"),
        ("redis+sentinel://h1:26379/svc/zero", "the database must be a number"),
        ("redis+sentinel://h1:port/svc", "must be a number"),
        ("redis+sentinel://h1:70000/svc", "from 1 to 65535"),
        ("redis+sentinel://h1/svc?foo=bar", "unknown option 'foo'"),
        ("redis+sentinel://h1/svc?health_check_interval=soon", "invalid value"),
        ("redis+sentinel://h1/svc?sentinel_ssl=maybe", "must be true or false"),
        ("redis+sentinel://:se/cret@h:26379/m", "needs a host"),
    ],
)
def test_bad_sentinel_urls_say_what_is_wrong(url: str, why: str) -> None:
    with pytest.raises(RedisUrlError, match=why):
        parse_sentinel_url(url)
    with pytest.raises(SettingsError) as caught:
        load_settings(REDIS_URL=url)
    assert str(caught.value).startswith("REDIS_URL=") and why in str(caught.value)
    assert "cret" not in str(caught.value), "no part of a password in the message"


def test_settings_take_sentinel_urls_and_mask_their_passwords() -> None:
    url = "redis+sentinel://app:hunter2@h1:26379,h2:26379/svc/0?sentinel_password=sp"
    assert load_settings(REDIS_URL=url).redis_url == url
    masked = mask_url(url)
    assert "hunter2" not in masked and "sp" not in masked.split("?")[1]
    assert masked == "redis+sentinel://app:***@h1:26379,h2:26379/svc/0?sentinel_password=***"


@given(st.text(max_size=200))
def test_any_text_after_the_scheme_parses_or_fails_with_redis_url_error(rest: str) -> None:
    try:
        parsed = parse_sentinel_url("redis+sentinel://" + rest)
    except (RedisUrlError, ValueError):
        return  # ValueError: what urllib itself refuses (e.g. an invalid IPv6 address)
    assert parsed.sentinels and parsed.service
    assert all(0 < port < 65_536 for _, port in parsed.sentinels)


def test_settings_read_numbers_and_booleans_as_python_writes_them() -> None:
    settings = load_settings(
        MLMON_BATCH_SIZE=" +7 ",
        MLMON_HEALTH_MAX_LAG="1_000",
        ML_AUTO_BACKUP="n",
        ML_RETRAIN_ON_DRIFT="Y",
        MLMON_LOG_LEVEL=" debug",
    )
    assert (settings.batch_size, settings.health_max_lag) == (7, 1_000)
    assert (settings.auto_backup, settings.retrain_on_drift) == (False, True)
    assert settings.log_level == "DEBUG"


def test_secret_settings_are_taken_exactly_as_given() -> None:
    """A webhook secret's spaces are part of the HMAC key: nothing is stripped."""
    settings = load_settings(ML_ALERT_WEBHOOK_SECRET=" s3cr3t ")
    assert settings.alert_webhook_secret is not None
    assert settings.alert_webhook_secret.get_secret_value() == " s3cr3t "
    assert "s3cr3t" not in repr(settings)

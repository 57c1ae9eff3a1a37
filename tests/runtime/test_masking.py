"""One masking function for everything that may hold a secret (issue 16, finding 4).

URL userinfo and query values, configured secrets of any length and with
characters JSON escapes, secret-named fields and headers: in ``config`` output,
configuration errors, log lines, and the job errors and dead-letter arguments
the admin API shows.
"""

from __future__ import annotations

import logging
import sys

import dramatiq
import orjson
import pytest
from tests.helpers.broker import make_broker, running, spec, wait_for_state

from theset_daemon.cli import main as cli

from theset_daemon.runtime import config
from theset_daemon.broker import Permanent
from theset_daemon.broker.admin import QueueAdmin
from theset_daemon.runtime.logs import JsonFormatter
from theset_daemon.runtime.masking import MASK, Masker, mask_url, masker

HOOK = "https://partner:hunter2pass@hooks.partner.test/in?key=qk-123456&v=2"


def test_urls_lose_their_password_bare_http_userinfo_and_secret_query_values() -> None:
    assert mask_url(HOOK) == f"https://partner:{MASK}@hooks.partner.test/in?key={MASK}&v=2"
    assert mask_url("https://ghp_tok@h.test/x") == f"https://{MASK}@h.test/x"
    assert mask_url("postgresql://root@127.0.0.1:5432/theset") == "postgresql://root@127.0.0.1:5432/theset"
    assert mask_url("redis://:s3cret@127.0.0.1:6379/0") == f"redis://:{MASK}@127.0.0.1:6379/0"
    text = Masker().text(f"POST {HOOK} failed: 503")
    assert "hunter2pass" not in text and "qk-123456" not in text and text.endswith("failed: 503")


def test_only_secret_query_values_are_masked_the_options_are_shown() -> None:
    tls = "rediss://app:pw9@127.0.0.1:6380/0?ssl_cert_reqs=required&ssl_ca_certs=/etc/ca.pem&socket_timeout=3"
    assert mask_url(tls) == f"rediss://app:{MASK}@127.0.0.1:6380/0?ssl_cert_reqs=required&ssl_ca_certs=/etc/ca.pem&socket_timeout=3"
    assert mask_url("postgresql://u@db/x?sslmode=require&password=pgpw1&application_name=d") == \
        f"postgresql://u@db/x?sslmode=require&password={MASK}&application_name=d"
    secret_names = ("token", "access_token", "apikey", "api-key", "X-Amz-Signature", "X-Amz-Credential", "sig",
                    "client_secret", "pwd", "passwd", "subscription-key", "auth", "code", "Password")
    for name in secret_names:
        assert mask_url(f"https://h.test/p?{name}=s3cr3tv&page=2") == f"https://h.test/p?{name}={MASK}&page=2", name
    assert mask_url("https://h.test/cb#access_token=tk77&state=s1") == f"https://h.test/cb#access_token={MASK}&state=s1"
    assert mask_url("https://h.test/p?token=&v=1") == "https://h.test/p?token=&v=1"  # "not set" stays visible
    assert mask_url("https://h.test/p?%74oken=enc9") == f"https://h.test/p?%74oken={MASK}"  # the name as decoded
    assert Masker(["opaque-configured-9"]).text("https://h.test/p?hook=opaque-configured-9") == \
        f"https://h.test/p?hook={MASK}"  # a configured secret is masked under any name


def test_configured_secrets_of_any_length_and_secret_named_fields_are_masked() -> None:
    mask = Masker(["ab", 'q"u\\o' + "x" * 30])
    assert mask.text("tab ab") == f"t{MASK} {MASK}"
    shown = mask.value({"Authorization": "Bearer t", "Cookie": "theset_session=x", "X-Api-Key": "k",
                        "kwargs": {"password": "pw", "url": HOOK, "n": 3}, "list": ("ab",), "empty_token": ""})
    assert shown["Authorization"] == shown["Cookie"] == shown["X-Api-Key"] == MASK
    assert shown["kwargs"]["password"] == MASK and "hunter2pass" not in shown["kwargs"]["url"]
    assert shown["kwargs"]["n"] == 3 and shown["list"] == [MASK] and shown["empty_token"] == ""
    headers = mask.headers({"authorization": "Bearer x", "Set-Cookie": "s=1", "Accept": "text/plain",
                            "Referer": HOOK})
    assert headers["authorization"] == headers["Set-Cookie"] == MASK and headers["Accept"] == "text/plain"
    assert "hunter2pass" not in headers["Referer"]


def _line(formatter: JsonFormatter, message: str, **extra: object) -> str:
    record = logging.LogRecord("t", logging.ERROR, __file__, 1, message, None, None)
    record.__dict__.update(extra)
    return formatter.format(record)


def test_log_lines_are_scrubbed_before_json_escapes_can_hide_a_secret() -> None:
    quoted = 'se"cr\\et-' + "z" * 30  # JSON writes it as se\"cr\\et-..., which a scrub of the line misses
    formatter = JsonFormatter([quoted, "abc"])
    line = _line(formatter, f"token {quoted} and abc", url=HOOK)
    entry = orjson.loads(line)
    assert quoted not in entry["message"] and "abc" not in entry["message"], line
    assert entry["message"] == f"token {MASK} and {MASK}"
    assert "hunter2pass" not in line and "qk-123456" not in line
    try:
        raise RuntimeError(f"webhook to {HOOK} failed")
    except RuntimeError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "boom", None, sys.exc_info())
    assert "hunter2pass" not in formatter.format(record)


def test_config_output_masks_url_credentials_and_secret_query_values_only(monkeypatch, capsys) -> None:
    for name in [n for n in list(__import__("os").environ) if n.startswith("THESET_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("THESET_WEBHOOK_URLS", HOOK)
    monkeypatch.setenv("THESET_REDIS_URL", "rediss://:redispass99@127.0.0.1:6379/0?ssl_cert_reqs=required")
    monkeypatch.setenv("THESET_DATABASE_URL", "postgresql://u@127.0.0.1/t?sslmode=verify-full&password=pgpass42")
    monkeypatch.setenv("THESET_SETLISTFM_API_URL", "https://api.setlist.test/rest?apikey=plainkey77")
    for flag in ([], ["--json"]):
        assert cli.main(["config", *flag]) == 0
        out = capsys.readouterr().out
        for secret in ("hunter2pass", "qk-123456", "redispass99", "plainkey77", "pgpass42"):
            assert secret not in out, (flag, out)
        assert "hooks.partner.test" in out and "v=2" in out
        assert "ssl_cert_reqs=required" in out and "sslmode=verify-full" in out, out


def test_configuration_errors_do_not_echo_url_passwords() -> None:
    with pytest.raises(config.ConfigError) as err:
        config.load({"THESET_DATABASE_URL": "mysql://app:dbpass123@db.internal/theset"})
    assert "dbpass123" not in str(err.value) and "THESET_DATABASE_URL" in str(err.value)
    with pytest.raises(config.ConfigError) as err:
        config.load({"THESET_WEBHOOK_URLS": "ftp://u:ftppass5@x.test/?token=tk9"})
    assert "ftppass5" not in str(err.value) and "tk9" not in str(err.value)


async def test_job_errors_and_dead_letter_arguments_are_masked_for_the_admin(redis_url, namespace) -> None:
    queue = spec("hooks")
    broker = make_broker(redis_url, namespace, [queue])
    secret = "configured-webhook-secret-" + "w" * 20

    @dramatiq.actor(queue_name="hooks", broker=broker)
    async def deliver(url: str, signing: str) -> None:
        raise Permanent(f"webhook to {url} refused (signed with {signing})")

    admin = QueueAdmin(broker, mask=masker((secret,)).value)
    message = await broker.enqueue_async(deliver.message(HOOK, secret))
    async with running(broker, [queue]):
        await wait_for_state(broker, message.message_id, "dead")
    shown = [await admin.job(message.message_id), *(await admin.dead_letters("hooks"))]
    page, _ = await admin.jobs("hooks", "dead")
    for view in [*shown, *page]:
        text = orjson.dumps(view).decode()
        assert "hunter2pass" not in text and "qk-123456" not in text and secret not in text, text
        assert "hooks.partner.test" in text
    await broker.close()

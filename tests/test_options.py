"""options.resolve: the app author's init arguments against the user's config (the user wins)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crashreport.config import Settings
from crashreport.options import Options, resolve

DSN = "https://public0key@sentry.example/42"
USERS_DSN = "https://own0key@sentry.internal/7"
NOT_A_DSN = ("the app's DSN is not a Sentry DSN (https://<key>@<host>/<project>); "
             "reports stay on this machine")  # fmt: skip


def test_nothing_given_is_the_documented_defaults() -> None:
    options, problems = resolve("mytool", Settings())
    assert problems == []
    assert options == Options(
        app="mytool", dsn=None, config=None, subcommand=None, version=None,
        environment="production", before_send=None, scrub_patterns=(), scrub_keys=(),
        safe_words=(), exit_timeout=0.25, max_queued=200, max_queued_bytes=20 * 1024 * 1024,
        spotlight=None, max_errors=50, ca_certs=None,
    )  # fmt: skip
    assert type(options.exit_timeout) is float


def test_the_apps_arguments_are_used_as_given() -> None:
    def hook(event: dict, hint: dict) -> dict:  # type: ignore[type-arg]
        return event

    options, problems = resolve(
        "mytool", Settings(path=Path("/c.yaml")), dsn=DSN, subcommand="sync", version="1.2",
        environment="staging", before_send=hook, scrub_patterns=["ab+"], scrub_keys=("k",),
        safe_words=iter(["w"]), exit_timeout=2, max_queued=7, max_queued_bytes=4096,
        spotlight="http://localhost:1/stream", max_errors=3, ca_certs="/ca.pem",
    )  # fmt: skip
    assert problems == []
    assert options == Options(
        app="mytool", dsn=DSN, config=Path("/c.yaml"), subcommand="sync", version="1.2",
        environment="staging", before_send=hook, scrub_patterns=("ab+",), scrub_keys=("k",),
        safe_words=("w",), exit_timeout=2.0, max_queued=7, max_queued_bytes=4096,
        spotlight="http://localhost:1/stream", max_errors=3, ca_certs="/ca.pem",
    )  # fmt: skip


def test_the_users_config_wins() -> None:
    settings = Settings(dsn=USERS_DSN, environment="lab", exit_timeout=0.0, spotlight=False)
    options, problems = resolve("mytool", settings, dsn=DSN, environment="staging",
                                exit_timeout=3, spotlight=True)  # fmt: skip
    assert problems == []
    assert (options.dsn, options.environment, options.spotlight) == (USERS_DSN, "lab", None)
    assert options.exit_timeout == 0.0  # `exit_timeout: 0` is a choice, not "unset"


def test_a_users_spotlight_switch_turns_it_on_at_the_default_address() -> None:
    options, _ = resolve("mytool", Settings(spotlight=True))
    assert options.spotlight == "http://localhost:8969/stream"
    options, _ = resolve("mytool", Settings(spotlight=" https://h:1/s "))
    assert options.spotlight == "https://h:1/s"


@pytest.mark.parametrize("value", [False, None, "ftp://h/s", "localhost:8969", 1])
def test_anything_else_leaves_spotlight_off(value: object) -> None:
    assert resolve("mytool", Settings(), spotlight=value)[0].spotlight is None  # type: ignore[arg-type]


@pytest.mark.parametrize("dsn", ["https://sentry.example/42", "nope", "", 42])
def test_a_dsn_that_is_not_one_keeps_reports_here_and_says_so(dsn: object) -> None:
    options, problems = resolve("mytool", Settings(), dsn=dsn)  # type: ignore[arg-type]
    assert options.dsn is None
    assert problems == [NOT_A_DSN]


def test_a_bad_app_dsn_is_no_problem_when_the_user_chose_their_own() -> None:
    options, problems = resolve("mytool", Settings(dsn=USERS_DSN), dsn="nope")
    assert (options.dsn, problems) == (USERS_DSN, [])


@pytest.mark.parametrize("value", ["", 3, b"sync"])
def test_text_arguments_that_are_not_text_are_dropped(value: object) -> None:
    options, _ = resolve("mytool", Settings(), subcommand=value, version=value,  # type: ignore[arg-type]
                         environment=value, ca_certs=value)  # type: ignore[arg-type]  # fmt: skip
    assert (options.subcommand, options.version, options.ca_certs) == (None, None, None)
    assert options.environment == "production"


def test_bounds_are_at_least_one_and_the_error_cap_at_least_zero() -> None:
    options, _ = resolve("mytool", Settings(), max_queued=0, max_queued_bytes=-5, max_errors=-1)
    assert (options.max_queued, options.max_queued_bytes, options.max_errors) == (1, 1, 0)
    options, _ = resolve("mytool", Settings(), max_queued=2.9, max_queued_bytes=10.5, max_errors=None)  # type: ignore[arg-type]
    assert (options.max_queued, options.max_queued_bytes, options.max_errors) == (2, 10, None)

"""Release and environment names: Relay's rules, mended at init with one warning line."""

from __future__ import annotations

from pathlib import Path

import pytest
import sentry_relay
from hypothesis import example, given, settings
from hypothesis import strategies as st

from crashreport.release import (
    ENVIRONMENT,
    RELEASE,
    check_environment,
    check_release,
    refusal,
    sanitise,
)

from . import strategies
from .conftest import run_python
from .sentry_server import SentryServer

PROPS = settings(max_examples=strategies.examples(300), deadline=None)
NORMALIZER = sentry_relay.StoreNormalizer(project_id=1)
#: Names with the characters that matter: separators, whitespace, controls, long UTF-8.
ALPHABET = "ab.@1-_ /\\\t\n\r\x00\x1f\x7f\x85é€😀 latestLATEST"
names = st.text(st.sampled_from(ALPHABET), max_size=120) | st.text()


def relay_accepts(release: str) -> bool:
    """Sentry's own verdict: Relay's release validation (trims first, as for events)."""
    try:
        sentry_relay.parse_release(release)
    except sentry_relay.InvalidReleaseError:
        return False
    return True


@PROPS
@given(names)
@example("a" * 200)
@example("é" * 100)
@example("é" * 101)
@example("latest")
@example("LaTeSt")
@example("..")
@example("a\\b")
def test_release_rules_are_relays(value: str) -> None:
    if value == value.strip():
        assert (refusal(value, RELEASE) is None) == relay_accepts(value)


@PROPS
@given(names)
@example("")
@example(" ")
@example("mytool@1.0/beta")
@example("/")
@example("latest")
@example("😀" * 60)
def test_what_is_sent_is_accepted(value: str) -> None:
    checked = check_release(value, fallback="app@0+unknown")
    assert relay_accepts(checked.value) and checked.value == checked.value.strip()
    assert NORMALIZER.normalize_event({"message": "x", "release": checked.value})["release"] \
        == checked.value  # an error event keeps it as it is
    assert checked.value
    assert (checked.warning is None) == (checked.value == value)
    env = check_environment(value)
    assert refusal(env.value, ENVIRONMENT) is None and env.value
    assert (env.warning is None) == (env.value == value)


@pytest.mark.parametrize(
    ("value", "sent", "reason"),
    [
        ("mytool@1.4.2", "mytool@1.4.2", None),
        ("mytool@1.0/beta", "mytool@1.0-beta", "bad characters in release name"),
        ("my\\tool@1.0\n", "my-tool@1.0", "bad characters in release name"),
        (" mytool@1.0 ", "mytool@1.0", "surrounding whitespace"),
        ("mytool@" + "9" * 300, "mytool@" + "9" * 193, "release name too long"),
        ("latest", "app@0+unknown", "restricted release name"),
        ("..", "app@0+unknown", "restricted release name"),
        ("\t", "app@0+unknown", "bad characters in release name"),
        ("", "app@0+unknown", "empty"),
    ],
)
def test_release_mending(value: str, sent: str, reason: str | None) -> None:
    checked = check_release(value, fallback="app@0+unknown")
    assert checked.value == sent
    if reason is None:
        assert checked.warning is None
    else:
        assert checked.warning is not None and f"({reason})" in checked.warning
        assert f"sending {sent[:40]!r}"[:-1] in checked.warning and "\n" not in checked.warning


@pytest.mark.parametrize(  # Relay's own cases (sentry-release-parser's tests)
    ("value", "reason"),
    [
        ("none", "restricted environment name"),
        ("NONE", "restricted environment name"),
        (".", "restricted environment name"),
        ("..", "restricted environment name"),
        ("f4f3db928593f258e1d850997be07b577f0779cc5549f9968bae625ea001175bX",
         "environment name too long"),
        ("foo\nbar", "bad characters in environment name"),
        ("a/b", "bad characters in environment name"),
        ("good", None),
        ("staging east", None),
    ],
)
def test_environment_rules(value: str, reason: str | None) -> None:
    assert refusal(value, ENVIRONMENT) == reason
    assert check_environment(value).value == (value if reason is None else
                                              sanitise(value, ENVIRONMENT) if "bad" in reason
                                              or "long" in reason else "production")  # fmt: skip


def test_a_bad_release_is_mended_at_init_with_one_warning(
    home: Path, sentry_server: SentryServer
) -> None:
    """Relay would drop every session of ``mytool@1.0/beta`` without a word; the app author
    sees one line at init, and Sentry gets a release it keeps, on the crash and the session."""
    code = (
        "import crashreport\n"
        f"crashreport.init('mytool', dsn={sentry_server.dsn!r}, version='1.0/beta',\n"
        "                 environment='none', config={'telemetry': {'collect': True}})\n"
        "raise RuntimeError('boom')\n"
    )
    run = run_python(home, "-c", code)
    assert run.returncode == 1
    lines = [line for line in run.stderr.splitlines() if line.startswith("crashreport:")]
    assert lines == [
        "crashreport: release 'mytool@1.0/beta' would be refused by Sentry (bad characters in "
        "release name); sending 'mytool@1.0-beta'",
        "crashreport: environment 'none' would be refused by Sentry (restricted environment "
        "name); sending 'production'",
    ]
    [event] = sentry_server.wait_for("event")
    session = sentry_server.wait_for("session")[-1]
    assert event["release"] == session["attrs"]["release"] == "mytool@1.0-beta"
    assert event["environment"] == session["attrs"]["environment"] == "production"
    assert relay_accepts(event["release"])

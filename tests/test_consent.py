"""consent.decide: the precedence table, blank and unknown values."""

from __future__ import annotations

from pathlib import Path

import pytest

from crashreport.config import Settings
from crashreport.consent import Level, Source, decide, env_var_name

ON = Settings(collect="all")
OFF = Settings(collect="off")
NONE = Settings()
BROKEN = Settings(problem="c.yaml: not valid YAML")

TABLE = [
    # environment, settings, level, source
    ({}, NONE, Level.OFF, Source.DEFAULT),
    ({}, ON, Level.ALL, Source.CONFIG),
    ({}, Settings(collect="errors"), Level.ERRORS, Source.CONFIG),
    ({}, OFF, Level.OFF, Source.CONFIG),
    ({}, BROKEN, Level.OFF, Source.CONFIG),
    ({"DO_NOT_TRACK": "1"}, ON, Level.OFF, Source.DO_NOT_TRACK),
    ({"DO_NOT_TRACK": "yes", "MY_APP_TELEMETRY": "1"}, ON, Level.OFF, Source.DO_NOT_TRACK),
    ({"DO_NOT_TRACK": ""}, ON, Level.ALL, Source.CONFIG),
    ({"DO_NOT_TRACK": "0"}, ON, Level.ALL, Source.CONFIG),
    ({"DO_NOT_TRACK": "false"}, ON, Level.ALL, Source.CONFIG),
    ({"DO_NOT_TRACK": "FALSE"}, ON, Level.ALL, Source.CONFIG),
    ({"DO_NOT_TRACK": " "}, ON, Level.ALL, Source.CONFIG),
    ({"DO_NOT_TRACK": "no"}, ON, Level.OFF, Source.DO_NOT_TRACK),  # anything but empty/0/false
    ({"DO_NOT_TRACK": "off"}, ON, Level.OFF, Source.DO_NOT_TRACK),
    ({"MY_APP_TELEMETRY": "off"}, ON, Level.OFF, Source.APP_ENV),
    ({"MY_APP_TELEMETRY": "no"}, ON, Level.OFF, Source.APP_ENV),
    ({"MY_APP_TELEMETRY": "1"}, OFF, Level.ALL, Source.APP_ENV),
    ({"MY_APP_TELEMETRY": "yes"}, NONE, Level.ALL, Source.APP_ENV),
    ({"MY_APP_TELEMETRY": "errors"}, NONE, Level.ERRORS, Source.APP_ENV),
    ({"MY_APP_TELEMETRY": "maybe"}, ON, Level.OFF, Source.APP_ENV),
    ({"MY_APP_TELEMETRY": "  "}, ON, Level.ALL, Source.CONFIG),
    ({"CI": "true"}, ON, Level.OFF, Source.CI),
    ({"CI": "1", "MY_APP_TELEMETRY": "on"}, NONE, Level.ALL, Source.APP_ENV),
    ({"CI": "false"}, ON, Level.ALL, Source.CONFIG),
    ({"CI": ""}, ON, Level.ALL, Source.CONFIG),
    ({"MY_APP_TELEMETRY": "on"}, BROKEN, Level.ALL, Source.APP_ENV),
]


@pytest.mark.parametrize(("environ", "settings", "level", "source"), TABLE)
def test_precedence(environ: dict[str, str], settings: Settings, level: Level,
                    source: Source) -> None:  # fmt: skip
    decision = decide("my-app", settings, environ)
    assert (decision.level, decision.source) == (level, source)
    assert decision.reason


def test_unknown_env_value_is_a_problem() -> None:
    decision = decide("my-app", ON, {"MY_APP_TELEMETRY": "maybe"})
    assert decision.problem and "MY_APP_TELEMETRY" in decision.problem


def test_env_var_name() -> None:
    assert env_var_name("myapp") == "MYAPP_TELEMETRY"
    assert env_var_name("my-app.cli") == "MY_APP_CLI_TELEMETRY"


def test_sources_are_ordered_by_precedence() -> None:
    assert sorted(Source) == [Source.DO_NOT_TRACK, Source.APP_ENV, Source.CI, Source.RUNTIME,
                              Source.CONFIG, Source.DEFAULT]  # fmt: skip


def test_app_names_with_digits_keep_them_in_the_variable() -> None:
    assert env_var_name("app2") == "APP2_TELEMETRY"
    assert env_var_name("2fa-tool") == "2FA_TOOL_TELEMETRY"
    decision = decide("app2", ON, {"APP2_TELEMETRY": "off"})
    assert (decision.level, decision.source) == (Level.OFF, Source.APP_ENV)
    assert decide("app2", ON, {"APP_TELEMETRY": "off"}).level is Level.ALL


@pytest.mark.parametrize("value", ["", " ", "0", "false", "FALSE", "no", " No ", "off", "n", "N"])
def test_ci_values_that_say_no(value: str) -> None:
    decision = decide("my-app", ON, {"CI": value})
    assert (decision.level, decision.source) == (Level.ALL, Source.CONFIG)


@pytest.mark.parametrize("value", ["true", "1", "yes", "y", "on", "gitlab", "nope"])
def test_ci_values_that_say_yes(value: str) -> None:
    decision = decide("my-app", ON, {"CI": value})
    assert (decision.level, decision.source) == (Level.OFF, Source.CI)


# What `status` prints after the level: each source says why in its own words.
REASONS = [
    ({"DO_NOT_TRACK": "1"}, ON, "DO_NOT_TRACK=1 is set"),
    ({"MY_APP_TELEMETRY": "maybe"}, ON, "MY_APP_TELEMETRY has an unknown value"),
    ({"MY_APP_TELEMETRY": " errors "}, ON, "MY_APP_TELEMETRY=errors"),
    ({"CI": "true"}, ON, "running in CI (CI is set)"),
    ({}, BROKEN, "the config file has a problem"),
    ({}, Settings(path=Path("/etc/c.yaml"), collect="all"), "telemetry.collect in /etc/c.yaml is all"),
    ({}, Settings(collect="errors"), "telemetry.collect is errors"),
    ({}, NONE, "nobody opted in (the default is off)"),
]


@pytest.mark.parametrize(("environ", "settings", "reason"), REASONS)
def test_each_decision_says_why(environ: dict[str, str], settings: Settings, reason: str) -> None:
    assert decide("my-app", settings, environ).reason == reason


def test_a_config_problem_is_carried_to_the_decision_and_none_otherwise() -> None:
    assert decide("my-app", BROKEN, {}).problem == BROKEN.problem
    assert decide("my-app", BROKEN, {"CI": "1"}).problem == BROKEN.problem  # off either way
    assert decide("my-app", ON, {}).problem is None
    assert decide("my-app", NONE, {"DO_NOT_TRACK": "1"}).problem is None


def test_enabled_is_any_level_but_off() -> None:
    assert decide("my-app", ON, {}).enabled is True
    assert decide("my-app", Settings(collect="errors"), {}).enabled is True
    assert decide("my-app", ON, {"DO_NOT_TRACK": "1"}).enabled is False
    assert decide("my-app", NONE, {}).enabled is False

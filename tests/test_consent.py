"""consent.decide: the precedence table, blank and unknown values."""

from __future__ import annotations

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

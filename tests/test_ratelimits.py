"""ratelimits: a server's limits read per data category, each report held only by its own."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from crashreport.delivery.ratelimits import held, parse, until

NOW = 1_800_000_000.0
DAY, WEEK = 86400.0, 7 * 86400.0


@pytest.mark.parametrize(("header", "limits"), [
    ("60:error;session:organization", {"error": NOW + 60, "session": NOW + 60}),
    ("60:error:org, 86400:transaction;span:organization",
     {"error": NOW + 60, "transaction": NOW + DAY, "span": NOW + DAY}),
    ("60::organization", {"": NOW + 60}),  # no categories: every category
    ("30", {"": NOW + 30}),
    (" 10 : error ; session : key ", {"error": NOW + 10, "session": NOW + 10}),
    ("60:error, 120:error", {"error": NOW + 120}),  # the longer one wins
    ("120:error, 60:error", {"error": NOW + 120}),
    ("2.5:error", {"error": NOW + 2.5}),
    ("-5:error", {"error": NOW}),  # never in the past
    ("9999999999:error", {"error": NOW + WEEK}),  # a wrong header never stops reports for weeks
    ("soon:error, 5:session", {"session": NOW + 5}),
    ("", {}),
    (",,", {}),
])  # fmt: skip
def test_the_header_gives_a_time_per_category(header: str, limits: dict[str, float]) -> None:
    assert parse(header, None, 200, NOW) == limits
    assert parse(header, "600", 429, NOW) == (limits or {"": NOW + 600})  # the header wins


@pytest.mark.parametrize(("retry_after", "seconds"), [
    ("30", 30.0), ("2.5", 2.5), (None, 60.0), ("", 60.0), ("soon", 60.0), ("0", 60.0),
    ("-3", 60.0), ("99999999", WEEK),
    (formatdate(NOW + 120, usegmt=True), 120.0),
    (formatdate(NOW - 120, usegmt=True), 60.0),  # a date already past
    (formatdate(NOW + 30 * DAY, usegmt=True), WEEK),
    ("Mon, 99 Foo 2026 00:00:00 GMT", 60.0),
])  # fmt: skip
def test_a_429_without_the_header_honours_retry_after(retry_after: str | None, seconds: float) -> None:
    assert parse(None, retry_after, 429, NOW) == {"": NOW + seconds}


@pytest.mark.parametrize("status", [200, 400, 413, 500, 503, None])
def test_only_a_429_limits_without_the_header(status: int | None) -> None:
    assert parse(None, "30", status, NOW) == {}


#: Item type → Sentry's data category (sentry_sdk.envelope.Item.data_category).
CATEGORIES = [("event", "error"), ("session", "session"), ("sessions", "session"),
              ("transaction", "transaction"), ("span", "span"), ("log", "log_item"),
              ("client_report", "internal"), ("trace_metric", "trace_metric"),
              ("attachment", "attachment"), ("check_in", "default"), ("other", "default")]  # fmt: skip


@pytest.mark.parametrize(("kind", "category"), CATEGORIES)
def test_a_report_waits_for_its_own_category_and_for_all(kind: str, category: str) -> None:
    limits = {category: NOW + 100, "unrelated": NOW + 500}
    assert until((kind,), limits, NOW) == NOW + 100
    assert until((kind,), {"": NOW + 50}, NOW) == NOW + 50
    assert until((kind,), {category: NOW + 100, "": NOW + 200}, NOW) == NOW + 200
    assert until((kind,), {"unrelated": NOW + 500}, NOW) == NOW


def test_a_report_of_several_kinds_waits_for_the_longest() -> None:
    limits = {"error": NOW + 10, "session": NOW + 20}
    assert until(("event", "session"), limits, NOW) == NOW + 20
    assert until(("event",), limits, NOW) == NOW + 10
    assert until((), limits, NOW) == NOW
    assert until(("event",), {"error": NOW - 10}, NOW) == NOW  # a limit that is over


def test_a_transaction_limit_never_holds_a_crash_report() -> None:
    bugsink = parse("86400:transaction;span:organization", None, 200, NOW)
    assert until(("event",), bugsink, NOW) == NOW
    assert until(("session",), bugsink, NOW) == NOW
    assert until(("transaction",), bugsink, NOW) == NOW + DAY


@pytest.mark.parametrize(("kinds", "waits"), [
    (("event",), True), (("session",), True), (("sessions",), True), (("check_in",), True),
    (("transaction",), False), (("span",), False), (("log",), False), (("client_report",), False),
    (("attachment",), False), (("transaction", "event"), True), ((), False),
])  # fmt: skip
def test_crash_reports_and_sessions_wait_out_a_limit_the_rest_is_dropped(
    kinds: tuple[str, ...], waits: bool
) -> None:
    assert held(kinds) is waits

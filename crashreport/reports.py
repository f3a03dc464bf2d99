"""What a run left in the journal, as Sentry reports: its session, its usage record, its fatal crash.

Pure: a run record (see :mod:`crashreport.run.journal`) in, JSON payloads out; the sender
scrubs and queues them. Every report has an id derived from the run's session id, so that a
run is turned into reports exactly once even if the sender is killed halfway (the outbox knows
the ids it holds).

How a run ended, and what Sentry is told:

=============================  ===========  ===================================================
the run                        session      usage record (transaction status / ``outcome``)
=============================  ===========  ===================================================
ended normally, exit 0         exited       ``ok`` / ok
``sys.exit(2)`` (usage error)  exited,      ``invalid_argument`` / failed
                               errored
``sys.exit(n)``, other n ≠ 0   exited,      ``aborted`` / failed (the exit code in its data)
                               errored
an unhandled exception         crashed      ``internal_error`` / crashed
Ctrl-C (KeyboardInterrupt)     exited       ``cancelled`` / interrupted
killed, ``os._exit``, power    abnormal     none (nothing is known of how it went)
a fatal signal (segfault,      crashed      none; a crash event with every thread's stack
``abort()``)
=============================  ===========  ===================================================
"""

from __future__ import annotations

import hashlib
import re
import time
from datetime import datetime, timezone
from typing import Any

from .runrecord import measurements, run_status

SDK = {"name": "crashreport", "version": "0.1.0"}
#: faulthandler's name for a fatal signal → the signal.
SIGNALS = {"Segmentation fault": ("SIGSEGV", 11), "Aborted": ("SIGABRT", 6),
           "Floating point exception": ("SIGFPE", 8), "Bus error": ("SIGBUS", 7),
           "Illegal instruction": ("SIGILL", 4)}  # fmt: skip
#: Lines of source shown around a frame of a fatal crash (as sentry-sdk's default).
CONTEXT_LINES = 5


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def report_id(record: dict[str, Any], kind: str) -> str:
    """The id of one report of a run: the session id itself for the session, else derived."""
    sid = str(record["sid"]).replace("-", "")
    if kind == "session":
        return sid
    return hashlib.blake2b(f"{kind}:{sid}".encode(), digest_size=16).hexdigest()


def sample_rand(trace_id: str) -> str:
    """The trace's random number for Sentry's dynamic sampling, fixed by its id (every report
    of one run carries the same): in [0, 1), six digits, cut rather than rounded up to 1."""
    return f"0.{int(trace_id[-6:], 16) * 10**6 // 16**6:06d}"


def trace_header(record: dict[str, Any], release: str, public_key: str | None) -> dict[str, str]:
    """The envelope's ``trace`` header (the dynamic sampling context), as sentry-sdk writes it for
    a run with a transaction (level ``all``) or without one."""
    header = {"trace_id": str(record["trace_id"]), "environment": record.get("environment")
              or "production", "release": release, "public_key": public_key, "sample_rate": "1"}
    if record.get("level") == "all":
        header.update(transaction=record.get("subcommand") or record.get("app"), sampled="true",
                      sample_rand=sample_rand(str(record["trace_id"])))  # fmt: skip
    return {k: str(v) for k, v in header.items() if v is not None}


def status_of(record: dict[str, Any], fault: str) -> str:
    if fault_signal(fault) is not None or record.get("crashed"):
        return "crashed"
    if "ended" not in record:
        return "abnormal"
    return "exited"


def session(record: dict[str, Any], release: str, fault: str = "", now: float | None = None
            ) -> dict[str, Any]:  # fmt: skip
    """The run's session: one update, ``init: true``, with its final status."""
    started = float(record["started"])
    status = status_of(record, fault)
    ended = record.get("ended")
    end = float(ended) if isinstance(ended, int | float) else max(started, _last_seen(record, now))
    errors = int(record.get("errors") or 0)
    if record.get("outcome") == "failed" or status == "crashed":
        errors = max(errors, 1)
    out: dict[str, Any] = {
        "sid": record["sid"], "did": record.get("did"), "init": True,
        "started": iso(started), "timestamp": iso(end), "status": status,
        "attrs": {"release": release, "environment": record.get("environment") or "production"},
    }  # fmt: skip
    if errors:
        out["errors"] = errors
    if isinstance(ended, int | float):
        out["duration"] = round(max(0.0, end - started), 6)
    return out


def _last_seen(record: dict[str, Any], now: float | None) -> float:
    seen = record.get("seen")
    return float(seen) if isinstance(seen, int | float) else float(record["started"])


def transaction(record: dict[str, Any], release: str, packages: dict[str, str]) -> dict[str, Any]:
    """The run's usage record: a transaction named after the subcommand, its actions as spans."""
    started, ended = float(record["started"]), float(record["ended"])
    outcome = str(record.get("outcome") or "ok")
    trace_id, span_id = str(record["trace_id"]), str(record["span_id"])
    data: dict[str, Any] = {"outcome": outcome, "exit_code": record.get("exit_code", 0)}
    counters = record.get("counters") or {}
    if counters:
        data["counters"] = counters
    spans = [_span(s, trace_id, span_id, i) for i, s in enumerate(record.get("spans") or [])
             if isinstance(s, dict)]  # fmt: skip
    tags = {"python": record.get("python")}
    if record.get("subcommand"):
        tags["subcommand"] = record["subcommand"]
    return {
        "type": "transaction", "event_id": report_id(record, "transaction"),
        "transaction": record.get("subcommand") or record.get("app"),
        "transaction_info": {"source": "custom"}, "platform": "python",
        "start_timestamp": iso(started), "timestamp": iso(max(started, ended)),
        "release": release, "environment": record.get("environment") or "production",
        "user": {"id": record.get("did")}, "tags": tags,
        "contexts": {
            "trace": {"trace_id": trace_id, "span_id": span_id, "op": "cli.run",
                      "status": run_status(outcome, record.get("exit_code")), "data": data},
            "runtime": _runtime(record), "packages": dict(packages),
        },
        "spans": spans, "measurements": measurements(counters), "sdk": SDK,
    }  # fmt: skip


def _span(span: dict[str, Any], trace_id: str, parent: str, index: int) -> dict[str, Any]:
    start = float(span.get("start") or 0.0)
    duration = max(0.0, float(span.get("duration") or 0.0))
    data = {"outcome": span.get("outcome", "ok"), **(span.get("data") or {})}
    error = span.get("error") or {}
    if error:
        data["error.type"] = error.get("type")
        data["error.message"] = error.get("message")
    status_code = data.get("status_code")
    if isinstance(status_code, int) and not isinstance(status_code, bool):
        status = http_status(status_code)
        data["http.response.status_code"] = status_code
    else:
        outcome = "ok" if data["outcome"] == "ok" else "crashed" if error.get("type") else "failed"
        status = run_status(outcome, data.get("exit_code"))
    return {
        "trace_id": trace_id, "span_id": hashlib.blake2b(f"{parent}:{index}".encode(),
                                                          digest_size=8).hexdigest(),
        "parent_span_id": parent, "op": "action", "description": span.get("name"),
        "start_timestamp": iso(start), "timestamp": iso(start + duration), "status": status,
        "data": data,
    }  # fmt: skip


def http_status(code: int) -> str:
    """Sentry's span status for an HTTP status code (as sentry-sdk's ``set_http_status``)."""
    if code < 400:
        return "ok"
    named = {400: "invalid_argument", 401: "unauthenticated", 403: "permission_denied",
             404: "not_found", 409: "already_exists", 413: "failed_precondition",
             429: "resource_exhausted", 499: "cancelled", 501: "unimplemented",
             503: "unavailable", 504: "deadline_exceeded"}  # fmt: skip
    return named.get(code, "invalid_argument" if code < 500 else "internal_error")


def _runtime(record: dict[str, Any]) -> dict[str, Any]:
    name = {"cpython": "CPython", "pypy": "PyPy"}.get(str(record.get("implementation")), "CPython")
    return {"name": name, "version": record.get("python")}


# -- a fatal signal, from faulthandler's dump -----------------------------------------------
_FATAL = re.compile(r"^Fatal Python error: (?P<what>.+?)\s*$", re.M)
_THREAD = re.compile(r"^(?P<current>Current thread|Thread) (?P<id>0x[0-9a-fA-F]+)")
_FRAME = re.compile(r'^\s+File "(?P<file>.*)", line (?P<line>\d+) in (?P<func>.+?)\s*$')


def fault_signal(fault: str) -> tuple[str, str, int] | None:
    """(faulthandler's text, signal name, number) if ``fault`` is a fatal-error dump."""
    m = _FATAL.search(fault or "")
    if m is None:
        return None
    what = m["what"]
    name, number = SIGNALS.get(what, ("SIGSEGV" if "fault" in what.lower() else "fatal", 0))
    return what, name, number


def parse_threads(fault: str) -> list[dict[str, Any]]:
    """Each thread of a dump: {"id", "current", "frames": [(file, line, function)] oldest first}."""
    threads: list[dict[str, Any]] = []
    for line in fault.splitlines():
        t = _THREAD.match(line)
        if t is not None:
            threads.append({"id": t["id"], "current": t["current"] == "Current thread",
                            "frames": []})  # fmt: skip
            continue
        f = _FRAME.match(line)
        if f is not None and threads:
            threads[-1]["frames"].insert(0, (f["file"], int(f["line"]), f["func"]))
    return threads


def fatal_event(record: dict[str, Any], fault: str, release: str, packages: dict[str, str],
                when: float | None = None) -> dict[str, Any] | None:  # fmt: skip
    """A crash event for a run that died of a fatal signal, with every thread's Python stack."""
    found = fault_signal(fault)
    if found is None:
        return None
    what, name, number = found
    threads = parse_threads(fault)
    values = []
    for thread in threads:
        frames = [_frame(*f) for f in thread["frames"]]
        values.append({"id": thread["id"], "current": thread["current"],
                       "crashed": thread["current"], "stacktrace": {"frames": frames}})  # fmt: skip
    current = next((v for v in values if v["current"]), values[0] if values else None)
    exception = {
        "type": name, "value": f"Fatal Python error: {what}",
        "mechanism": {"type": "signalhandler", "handled": False, "synthetic": True,
                      "meta": {"signal": {"name": name, "number": number}}},
    }  # fmt: skip
    if current is not None:
        exception["stacktrace"] = current["stacktrace"]
        exception["thread_id"] = current["id"]
    tags = {"python": record.get("python")}
    if record.get("subcommand"):
        tags["subcommand"] = record["subcommand"]
    trace = {"trace_id": record.get("trace_id"), "span_id": report_id(record, "fatal-span")[:16]}
    if record.get("level") == "all":  # the run's usage record, which the crash belongs to
        trace["parent_span_id"] = record.get("span_id")
    return {
        "event_id": report_id(record, "fatal"), "level": "fatal", "platform": "python",
        "timestamp": iso(when if when is not None else time.time()),
        "release": release, "environment": record.get("environment") or "production",
        "user": {"id": record.get("did")}, "tags": tags,
        "contexts": {"runtime": _runtime(record), "packages": dict(packages), "trace": trace},
        "exception": {"values": [exception]}, "threads": {"values": values},
        "modules": dict(packages), "sdk": SDK,
    }  # fmt: skip


def _frame(path: str, lineno: int, function: str) -> dict[str, Any]:
    frame: dict[str, Any] = {"filename": path.rsplit("/", 1)[-1], "abs_path": path,
                             "function": function, "lineno": lineno}  # fmt: skip
    lines = _source(path)
    if lines and 0 < lineno <= len(lines):
        i = lineno - 1
        frame["pre_context"] = lines[max(0, i - CONTEXT_LINES) : i]
        frame["context_line"] = lines[i]
        frame["post_context"] = lines[i + 1 : i + 1 + CONTEXT_LINES]
    return frame


def _source(path: str) -> list[str]:
    if not path or path.startswith("<"):
        return []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(1 << 20).splitlines()
    except OSError:
        return []

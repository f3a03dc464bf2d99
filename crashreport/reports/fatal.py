"""A run that died of a fatal signal (a segfault in a C extension, ``abort()``): faulthandler's dump
of every thread's Python stack, made into a crash event."""

from __future__ import annotations

import re
import time
from typing import Any

from . import SDK, iso, report_id, runtime

#: faulthandler's name for a fatal signal → the signal.
SIGNALS = {"Segmentation fault": ("SIGSEGV", 11), "Aborted": ("SIGABRT", 6),
           "Floating point exception": ("SIGFPE", 8), "Bus error": ("SIGBUS", 7),
           "Illegal instruction": ("SIGILL", 4)}  # fmt: skip
#: Lines of source shown around a frame of a fatal crash (as sentry-sdk's default).
CONTEXT_LINES = 5
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
        "contexts": {"runtime": runtime(record), "packages": dict(packages), "trace": trace},
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

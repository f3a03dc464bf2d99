"""What a run left in the journal, as Sentry reports: its session (:mod:`.session`), its usage
record (:mod:`.usage`), its fatal crash (:mod:`.fatal`); here, what they share.

Pure: a run record (see :mod:`crashreport.journal`) in, JSON payloads out; the sender
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
from datetime import datetime, timezone
from typing import Any

SDK = {"name": "crashreport", "version": "0.1.0"}


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


def runtime(record: dict[str, Any]) -> dict[str, Any]:
    name = {"cpython": "CPython", "pypy": "PyPy"}.get(str(record.get("implementation")), "CPython")
    return {"name": name, "version": record.get("python")}

"""The commands a user runs: status, enable, disable, show, send, reset-id and notice.

Each takes the :class:`~.target.Target` app, the parsed arguments and the two streams, and
returns an exit code; :func:`run` picks one and turns expected failures into one line.
"""

from __future__ import annotations

import contextlib
import os

from .errors import CliError, guarded

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from typing import Any, TextIO

    from ..consent import Decision
    from ..delivery.outbox import Outbox
    from ..paths import Paths
    from .target import Target

#: Above this many queued reports ``send`` shows its progress.
PROGRESS_ABOVE = 3


def run(target: Target, command: str, args: argparse.Namespace, out: TextIO,
        err: TextIO) -> int:  # fmt: skip
    """Run ``command`` for ``target``: its exit code (expected failures as one line on ``err``)."""
    commands: dict[str, Callable[[Target, argparse.Namespace, TextIO, TextIO], int]] = {
        "status": cmd_status,
        "enable": cmd_enable,
        "disable": cmd_disable,
        "show": cmd_show,
        "send": cmd_send,
        "reset-id": cmd_reset_id,
        "notice": cmd_notice,
    }

    def body() -> int:
        if not target.mounted:
            _check_known(target)
        return commands[command](target, args, out, err)

    return guarded(target.prog, body, err)


def _check_known(target: Target) -> None:
    """Refuse an app that is neither installed nor has crashreport files (a typo, usually)."""
    from importlib import metadata

    try:
        metadata.distribution(target.app)
        return
    except metadata.PackageNotFoundError:
        pass
    paths = target.paths
    if paths.data_dir.exists() or paths.state_dir.exists():
        return
    if target.config is not None and target.config.exists():
        return
    raise CliError(f"unknown app {target.app!r}: no installed distribution of that name and no "
                   "crashreport files for it (is the name right?)")  # fmt: skip


# -- the outbox (written by another module; tolerate its absence) -----------------------------
def _outbox(target: Target, *, create: bool = False) -> Outbox | None:
    """The app's outbox, or None when there is none on disk (nothing is created here)."""
    paths = target.paths
    if not create and not (paths.outbox_dir.exists() or paths.sent_dir.exists()):
        return None
    from ..delivery.outbox import Outbox

    return Outbox(paths.outbox_dir, paths.sent_dir)


def _when(ts: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _dsn_host(dsn: str | None) -> str | None:
    """The host (and port) of a DSN; never its key."""
    if not dsn:
        return None
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(dsn)
        host = parts.hostname or "?"
        if ":" in host:  # IPv6
            host = f"[{host}]"
        return f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return "(not a valid DSN)"


_SOURCE_NAMES = {
    "DO_NOT_TRACK": "DO_NOT_TRACK",
    "CI": "CI",
    "RUNTIME": "set_level()",
    "CONFIG": "the config file",
    "DEFAULT": "the default",
}


def _source_name(target: Target, decision: Decision) -> str:
    from ..consent import env_var_name

    if decision.source.name == "APP_ENV":
        return env_var_name(target.app)
    return _SOURCE_NAMES.get(decision.source.name, decision.source.name.lower())


# -- commands ----------------------------------------------------------------------------------
def cmd_status(target: Target, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The effective level and why; the files; the queue; where reports go."""
    import json

    from ..identity import read_id

    settings = target.settings()
    decision = target.decision(settings)
    paths = target.paths
    dsn = settings.dsn or target.dsn
    outbox = _outbox(target)
    pending = outbox.pending() if outbox else []
    sent = outbox.sent() if outbox else []
    stats = outbox.stats() if outbox else {}
    last_sent = max((_sent_time(e) for e in sent), default=None)
    has_id = read_id(paths.id_file) is not None
    runs = _runs_waiting(paths)
    config_note = ("not given" if target.config is None
                   else "exists" if target.config.exists() else "does not exist")  # fmt: skip
    info = {
        "app": target.app,
        "level": decision.level.value,
        "decided_by": _source_name(target, decision),
        "reason": decision.reason,
        "problem": decision.problem or settings.problem,
        "config": str(target.config) if target.config else None,
        "config_state": config_note,
        "id_file": str(paths.id_file),
        "has_id": has_id,
        "outbox": str(paths.outbox_dir),
        "queued": len(pending),
        "held_by_rate_limit": stats.get("rate_limited", 0),
        "runs_not_yet_reported": runs,
        "last_sent": last_sent,
        "dropped": {k[len("dropped_"):]: v for k, v in stats.items()
                    if k.startswith("dropped_") and v},
        "last_refusal": stats.get("last_refusal"),
        "dsn_host": _dsn_host(dsn),
    }
    if args.json:
        print(json.dumps(info, indent=2), file=out)
        return 0
    state = {"off": "OFF", "errors": "ON (errors only)", "all": "ON"}[decision.level.value]
    lines = [
        f"{target.app}: telemetry is {state}",
        f"  decided by   {info['decided_by']}: {decision.reason}",
    ]
    if info["problem"]:
        lines.append(f"  problem      {info['problem']}")
    lines += [
        f"  config       {target.config or '(none; pass --config PATH)'}"
        + (f" ({config_note})" if target.config else ""),
        f"  anonymous id {paths.id_file} ({'present' if has_id else 'none yet'})",
        f"  outbox       {paths.outbox_dir}",
        f"  queued       {len(pending)}" + (f" ({info['held_by_rate_limit']} held by the "
                                               "server's rate limit)"
                                               if info["held_by_rate_limit"] else ""),
        f"  last sent    {_when(last_sent) if last_sent else 'never'}",
        f"  sends to     {_dsn_host(dsn) or 'nowhere: no DSN, reports stay on this machine'}",
    ]
    if runs:
        lines.insert(-1, f"  runs         {runs} ended, not reported yet (the sender does it)")
    if info["dropped"]:
        reasons = ", ".join(f"{n} {_DROP_REASONS.get(k, k)}" for k, n in info["dropped"].items())
        lines.append(f"  dropped      {reasons}")
        refusal = info["last_refusal"]
        if refusal:
            lines.append(f"  last refusal HTTP {refusal['status']} at {_when(refusal['at'])}"
                         f"{_REFUSAL_HINTS.get(refusal['status'], '')}")  # fmt: skip
    if target.mounted:
        lines.append(f"  change it    {target.prog} enable | disable")
    else:
        cfg = f" --config {target.config}" if target.config else " --config PATH"
        lines.append(f"  change it    crashreport --app {target.app}{cfg} enable | disable")
    print("\n".join(lines), file=out)
    return 0


_DROP_REASONS = {"4xx": "refused by the server", "ratelimit": "rate-limited",
                 "old": "too old for Sentry", "full": "over the outbox bound",
                 "corrupt": "unreadable"}  # fmt: skip


def _runs_waiting(paths: Paths) -> int:
    """Runs whose journal record is still on disk (running now, or not yet reported)."""
    try:
        return sum(1 for name in os.listdir(paths.runs_dir) if name.endswith(".json"))
    except OSError:
        return 0


def _sent_time(entry: Any) -> float:
    """When a sent-log entry was sent: its name starts ``<ns>~`` (else its file's time)."""
    prefix = entry.path.name.split("~", 1)[0]
    if "~" in entry.path.name and prefix.isdigit():
        return int(prefix) / 1e9
    try:
        return max(float(entry.created), float(entry.path.stat().st_mtime))
    except OSError:
        return float(entry.created)


def _set(target: Target, level: str, out: TextIO) -> None:
    from ..yamledit import VALUE_TEXT, EditError, set_collect

    if target.config is None:
        raise CliError("which config file? pass --config PATH (the app's YAML config)", code=2)
    try:
        result = set_collect(target.config, level)
    except EditError as exc:
        raise CliError(f"{exc}; nothing was changed") from None
    value = VALUE_TEXT[level]
    if result.created:
        print(f"created {result.path} with telemetry.collect: {value}", file=out)
    elif result.changed:
        print(f"wrote telemetry.collect: {value} to {result.path}", file=out)
    else:
        print(f"{result.path} already says telemetry.collect: {value}; nothing to change",
              file=out)  # fmt: skip
    decision = target.decision()
    if decision.level.value != level:
        print(f"note: {decision.reason}, which wins over the config: telemetry is "
              f"{decision.level.value}", file=out)  # fmt: skip


def cmd_enable(target: Target, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Set ``telemetry.collect: true`` (or ``errors``) in the config file."""
    _set(target, "errors" if args.errors else "all", out)
    return 0


def cmd_disable(target: Target, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Set ``telemetry.collect: false``; with ``--purge`` also delete the queue and the log."""
    failure: CliError | None = None
    try:
        _set(target, "off", out)
    except CliError as exc:
        if not args.purge or exc.code == 2:
            raise
        failure = exc
    if args.purge:
        outbox = _outbox(target)
        count = (outbox.purge() if outbox else 0) + _purge_runs(target.paths)
        print(f"deleted {count} queued or sent report file(s) from {target.paths.state_dir}",
              file=out)  # fmt: skip
    if failure:
        raise failure
    return 0


def _purge_runs(paths: Paths) -> int:
    """Delete the runs not yet reported and the copies waiting for Spotlight."""
    from ..delivery.outbox import Outbox

    removed = Outbox(paths.spotlight_dir, paths.spotlight_dir / "sent").purge()
    for folder, suffixes in ((paths.runs_dir, (".json", ".fault")),):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            if name.endswith(suffixes):
                with contextlib.suppress(OSError):
                    os.unlink(folder / name)
                    removed += int(name.endswith(".json"))
    return removed


def cmd_reset_id(target: Target, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Forget the anonymous id; a new one is made on the next enabled run."""
    from ..identity import reset

    path = target.paths.id_file
    if reset(path):
        print(f"forgot the anonymous id (deleted {path}); a new one is made on the next "
              "enabled run", file=out)  # fmt: skip
    else:
        print(f"no anonymous id to forget ({path} does not exist)", file=out)
    return 0


def cmd_show(target: Target, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The queued and recently sent reports, for a person (or ``--json``, the raw envelopes)."""
    import json

    from ..delivery.envelopes import parse as parse_envelope
    from .text import describe_item, size_text

    outbox = _outbox(target)
    groups = [("queued", outbox.pending() if outbox else []),
              ("sent", outbox.sent() if outbox else [])]  # fmt: skip
    if args.json:
        records = []
        for state, entries in groups:
            for entry in entries:
                record: dict[str, Any] = {"state": state, "file": str(entry.path),
                                          "queued_at": entry.created, "size": entry.size}
                try:
                    headers, items = parse_envelope(outbox.read(entry))  # type: ignore[union-attr]
                    record["headers"] = headers
                    record["items"] = [{"headers": i.headers, "payload": i.payload} for i in items]
                except (OSError, ValueError) as exc:
                    record["error"] = f"cannot read: {exc}"
                records.append(record)
        print(json.dumps(records, indent=2, ensure_ascii=False), file=out)
        return 0
    if not any(entries for _, entries in groups):
        print(f"no reports queued or sent for {target.app} (outbox: {target.paths.outbox_dir})",
              file=out)  # fmt: skip
        _print_drops(outbox, out)
        return 0
    for state, entries in groups:
        title = "queued (oldest first)" if state == "queued" else "recently sent (newest first)"
        if not entries:
            print(f"none {title.split(' (')[0]}", file=out)
            continue
        print(f"{len(entries)} {title}:", file=out)
        for entry in entries:
            try:
                _, items = parse_envelope(outbox.read(entry))  # type: ignore[union-attr]
            except (OSError, ValueError) as exc:
                print(f"  {_when(entry.created)}  (unreadable: {exc})", file=out)
                continue
            for item in items:
                text = describe_item(item)
                when = entry.created if state == "queued" else _sent_time(entry)
                print(f"  {_when(when)}  {item.type:<11} {size_text(entry.size):>7}  "
                      f"{text}".rstrip(), file=out)  # fmt: skip
    _print_drops(outbox, out)
    print(f"the raw reports: {target.command('show --json')}", file=out)
    return 0


def _print_drops(outbox: Outbox | None, out: TextIO) -> None:
    """Reports that will never be sent, and why (a refusing server first: a wrong DSN key)."""
    stats = outbox.stats() if outbox else {}
    dropped = {k[len("dropped_"):]: v for k, v in stats.items() if k.startswith("dropped_") and v}
    if dropped:
        reasons = ", ".join(f"{n} {_DROP_REASONS.get(k, k)}" for k, n in dropped.items())
        print(f"dropped: {reasons}", file=out)
    if outbox is not None:
        _print_refusal(outbox, out)


def cmd_send(target: Target, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Deliver the queue now (progress on stderr when there are more than a few)."""
    settings = target.settings()
    decision = target.decision(settings)
    if not decision.enabled:
        raise CliError(f"telemetry is off ({decision.reason}); not sending. `disable --purge` "
                       "deletes the queue")  # fmt: skip
    dsn = settings.dsn or target.dsn
    if not dsn:
        hint = "" if target.mounted else "; pass --dsn or run the app's own `telemetry send`"
        raise CliError(f"no DSN to send to (telemetry.dsn is not set{hint})")
    outbox = _outbox(target)
    pending = outbox.pending() if outbox else []
    if outbox is None or not pending:
        print("nothing queued", file=out)
        return 0
    from ..sender import send_now

    progress = _progress(err) if len(pending) > PROGRESS_ABOVE else None
    result = send_now(target.app, config=None if target.config is None else str(target.config),
                      dsn=dsn, timeout=args.timeout, progress=progress)  # fmt: skip
    line = f"sent {result.sent} to {_dsn_host(dsn)}, kept {result.kept} for later"
    if result.held:
        line += f", held {result.held} (the server's rate limit)"
    print(f"{line}, dropped {result.dropped}", file=out)
    if result.dropped and outbox is not None:
        _print_refusal(outbox, out)
    if result.kept:
        raise CliError(f"{result.kept} report(s) could not be sent now; they stay queued")
    return 0


def _print_refusal(outbox: Outbox, out: TextIO) -> None:
    """Say why the server refused reports, when it did (a wrong DSN key answers 403)."""
    refusal = outbox.stats().get("last_refusal")
    if refusal:
        print(f"  the server refused reports: HTTP {refusal['status']} at {_when(refusal['at'])}"
              f"{_REFUSAL_HINTS.get(refusal['status'], '')}", file=out)  # fmt: skip


_REFUSAL_HINTS = {401: " (check the DSN's key)", 403: " (check the DSN's key)",
                  404: " (check the DSN's project)", 413: " (a report was too large)"}  # fmt: skip


def _progress(err: TextIO) -> Callable[[int, int], None]:
    tty = err.isatty()

    def report(done: int, total: int) -> None:
        if tty:
            err.write(f"\rsending {done}/{total}" + ("\n" if done >= total else ""))
        else:
            err.write(f"sending {done}/{total}\n")
        err.flush()

    return report


def cmd_notice(target: Target, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The telemetry page for the app's documentation, in markdown or plain text."""
    from .notice import render

    out.write(render(target.app, command=target.command, config=target.config_text,
                     fmt=args.format))  # fmt: skip
    return 0

"""What a report may contain: one table of fields per item type, read by people and enforced.

Each row of :data:`FIELDS` is a field's path, the lowest level that sends it and a one-line plain
description. ``crashreport notice`` renders the table as the app's telemetry page, and
:func:`allow` drops every field that is not in it from each item before the item is queued
(after scrubbing): the page and what leaves the machine cannot disagree. :data:`NEVER` names
fields that plain sentry-sdk sends and crashreport never does; :func:`allow` drops them even
where a wildcard row would match.

Paths: keys joined by dots; ``[]`` is every item of a list; ``*`` is any one key; ``["a.b"]`` is
a key that holds a dot. A row keeps everything below its path; where a key has its own row, that
row wins over a ``*`` beside it. Pure: no I/O, no sentry import.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from .consent import Level


class Field(NamedTuple):
    """One row of the table: ``path`` is sent from ``level`` up; ``text`` says what it is."""

    path: str
    level: Level
    text: str


class Kind(NamedTuple):
    """An item type: the lowest level that sends it, its plain name, and what it is."""

    level: Level
    name: str
    text: str


E, A = Level.ERRORS, Level.ALL

#: The parts of a report, in the order a reader meets them.
KINDS: dict[str, Kind] = {
    "event": Kind(E, "crash reports", "one per crash, and one per error the app logs"),
    "session": Kind(A, "sessions", "one per run: when it started and how it ended (how many "
                    "people run each release, and how many runs crash)"),
    "transaction": Kind(A, "usage records", "one per run: the subcommand, how long it took, "
                        "how it ended, and the actions and counters the app tracks"),
    "envelope": Kind(E, "envelope headers", "sent with every report"),
}

_FRAME = "exception.values[].stacktrace.frames[]"
_CRUMB = "breadcrumbs.values[]"

#: Fields of both events and usage records: who (an anonymous id), which release, which Python.
_COMMON = (
    Field("event_id", E, "a random id of this report"),
    Field("platform", E, "`python`"),
    Field("release", E, "the app's name and version, e.g. `mytool@1.4.2`"),
    Field("environment", E, "`production`, or the name set in `telemetry.environment`"),
    Field("user.id", E, "the anonymous id: a random number kept on this computer (see below)"),
    Field("tags.subcommand", E, "the subcommand that ran (never its arguments)"),
    Field("tags.python", E, "the Python version"),
    Field("contexts.runtime.name", E, "the Python implementation, e.g. `CPython`"),
    Field("contexts.runtime.version", E, "the Python version"),
    Field("contexts.packages", E, "the versions of the app and of the packages it requires "
          "(not the other packages installed)"),
    Field("sdk", E, "the name and version of the Sentry SDK and the integrations it uses"),
    Field("contexts.trace.trace_id", E, "a random id shared by this run's reports"),
    Field("contexts.trace.span_id", E, "a random id of this report"),
)
_THREAD = "threads.values[]"
_THREAD_FRAME = f"{_THREAD}.stacktrace.frames[]"

#: Every field a report may carry, per item type (see :data:`KINDS`).
FIELDS: dict[str, tuple[Field, ...]] = {
    "event": (
        *_COMMON,
        Field("contexts.trace.parent_span_id", E, "the run's usage record, which the error "
              "belongs to (empty at level `errors`: there is none)"),
        Field("transaction", A, "the subcommand (the name of the run's usage record)"),
        Field("transaction_info.source", A, "`custom`: the name above was set by the app"),
        Field("timestamp", E, "when it happened"),
        Field("level", E, "`error`, `fatal` (the program died of a signal: a segfault, "
              "`abort()`), or the level of the log line"),
        Field("exception.values[].type", E, "the exception's type, e.g. `FileNotFoundError`"),
        Field("exception.values[].value", E, "the exception's message (scrubbed)"),
        Field("exception.values[].module", E, "the module that defines the exception's type"),
        Field("exception.values[].mechanism", E,
              "how it surfaced: uncaught, logged or in a thread; its `errno`"),
        Field(f"{_FRAME}.filename", E, "the file, relative to where its package is installed; "
              "a script of the user's own: its name only"),
        Field(f"{_FRAME}.abs_path", E, "the same as `filename` (never the full path)"),
        Field(f"{_FRAME}.module", E, "the module, e.g. `pathlib`"),
        Field(f"{_FRAME}.function", E, "the function's name"),
        Field(f"{_FRAME}.lineno", E, "the line number"),
        Field(f"{_FRAME}.in_app", E, "whether the line is in the app's own code"),
        Field(f"{_FRAME}.context_line", E,
              "the line of installed code (blank in a script of the user's own)"),
        Field(f"{_FRAME}.pre_context", E, "the five lines before it (likewise)"),
        Field(f"{_FRAME}.post_context", E, "the five lines after it (likewise)"),
        Field("logger", E, "the logger's name, for a logged error"),
        Field("logentry.message", E, "the log message's template (scrubbed)"),
        Field("logentry.formatted", E, "the log message (scrubbed)"),
        Field("logentry.params", E, "the values filled into it (scrubbed)"),
        Field(f"{_CRUMB}.type", E, "`log`: the program's last log lines before the error "
              "(up to 30, level INFO and above)"),
        Field(f"{_CRUMB}.category", E, "the log line's logger"),
        Field(f"{_CRUMB}.level", E, "its level"),
        Field(f"{_CRUMB}.message", E, "its message (scrubbed)"),
        Field(f"{_CRUMB}.timestamp", E, "when it was logged"),
        Field("exception.values[].thread_id", E, "for a fatal signal: the thread it hit"),
        Field(f"{_THREAD}.id", E, "for a fatal signal: each thread's number"),
        Field(f"{_THREAD}.current", E, "whether it is the thread the signal hit"),
        Field(f"{_THREAD}.crashed", E, "the same"),
        Field(f"{_THREAD_FRAME}.filename", E, "each thread's stack, as the frames above"),
        Field(f"{_THREAD_FRAME}.abs_path", E, "likewise"),
        Field(f"{_THREAD_FRAME}.function", E, "likewise"),
        Field(f"{_THREAD_FRAME}.lineno", E, "likewise"),
        Field(f"{_THREAD_FRAME}.in_app", E, "likewise"),
        Field(f"{_THREAD_FRAME}.context_line", E, "likewise"),
        Field(f"{_THREAD_FRAME}.pre_context", E, "likewise"),
        Field(f"{_THREAD_FRAME}.post_context", E, "likewise"),
        Field("modules", E, "the same as `contexts.packages` (Sentry's usual place for it)"),
        Field("tags.*", E, "tags the app's authors add in their own code, if any (scrubbed)"),
        Field("extra.*", E, "values the app's authors add in their own code, if any (scrubbed)"),
    ),
    "transaction": (
        *(f._replace(level=A) for f in _COMMON),
        Field("transaction", A, "the subcommand (the name of the run's usage record)"),
        Field("transaction_info.source", A, "`custom`: the name above was set by the app"),
        Field("contexts.trace.op", A, "`cli.run`"),
        Field("type", A, "`transaction`"),
        Field("start_timestamp", A, "when the run started"),
        Field("timestamp", A, "when it ended"),
        Field("contexts.trace.status", A, "how it ended for Sentry: `ok`, `internal_error` "
              "(crashed), `aborted` or `invalid_argument` (failed, a usage error) or `cancelled` "
              "(interrupted)"),
        Field("contexts.trace.data.outcome", A, "`ok`, `failed`, `crashed` or `interrupted`"),
        Field("contexts.trace.data.exit_code", A, "the exit code"),
        Field("contexts.trace.data.counters", A,
              "the totals the app counted (`crashreport.count`), by name"),
        Field("measurements.*", A, "the same totals, where Sentry can chart them (at most 10)"),
        Field("spans[].op", A, "`action`: one per action the app tracked (`crashreport.track`)"),
        Field("spans[].description", A, "the action's name, chosen by the app's authors"),
        Field("spans[].start_timestamp", A, "when it started"),
        Field("spans[].timestamp", A, "when it ended"),
        Field("spans[].status", A, "`ok` or the kind of failure"),
        Field("spans[].data.*", A, "its outcome, exit or HTTP status code, the type and "
              "(scrubbed) message of its error, and values the app records for it"),
        Field("spans[].trace_id", A, "the run's random id"),
        Field("spans[].span_id", A, "a random id of the action"),
        Field("spans[].parent_span_id", A, "the run's record"),
    ),
    "session": (
        Field("sid", A, "a random id of this run's session"),
        Field("did", A, "the anonymous id (the same as `user.id`)"),
        Field("init", A, "`true`: a run's session is sent once, when the run is over"),
        Field("started", A, "when the run started"),
        Field("timestamp", A, "when it ended (when it started, for a run that vanished)"),
        Field("duration", A, "how long it ran, in seconds"),
        Field("status", A, "how the run ended: `exited`, `crashed`, or `abnormal` (it was "
              "killed or vanished: no one knows how it ended)"),
        Field("errors", A, "how many errors the run reported"),
        Field("attrs.release", A, "the app's name and version"),
        Field("attrs.environment", A, "the environment, as above"),
    ),
    "envelope": (
        Field("event_id", E, "the id of the report it carries"),
        Field("sent_at", E, "when it was sent"),
        Field("trace.trace_id", E, "the run's random id"),
        Field("trace.release", E, "the app's name and version"),
        Field("trace.environment", E, "the environment"),
        Field("trace.public_key", E, "the public part of the app's DSN (which project it is)"),
        Field("trace.sample_rate", E, "`1`: every run counts"),
        Field("trace.sampled", A, "`true`"),
        Field("trace.sample_rand", A, "a random number Sentry uses for sampling"),
        Field("trace.transaction", A, "the subcommand"),
    ),
}

#: What plain ``sentry_sdk.init(dsn=...)`` sends and crashreport never does: ``(item type,
#: path, what it is)``. :func:`allow` drops these even where a ``*`` row would match.
NEVER: tuple[tuple[str, str, str], ...] = (
    ("event", "server_name", "the computer's name"),
    ("event", 'extra["sys.argv"]', "the command line and its arguments"),
    ("event", f"{_FRAME}.vars", "the values of local variables"),
    ("event", "user.ip_address", "the IP address"),
    ("event", "user.username", "the user name"),
    ("event", "user.email", "an e-mail address"),
    ("event", "request", "web request data: headers, cookies, body"),
    ("session", "attrs.ip_address", "the IP address"),
    ("session", "attrs.user_agent", "the program's user agent"),
)

ANY, ITEM = "\0*", "\0[]"  # path tokens for `*` and `[]` (no JSON key starts with NUL)
_DENY = object()
_DROP = object()
_TOKEN = re.compile(r'\["([^"]+)"\]|(\[\])|([^.\[\]]+)')


def parse_path(path: str) -> tuple[str, ...]:
    """``'a.b[].c["d.e"].*'`` → ``('a', 'b', ITEM, 'c', 'd.e', ANY)``."""
    tokens = []
    for quoted, item, key in _TOKEN.findall(path):
        tokens.append(quoted or (ITEM if item else ANY if key == "*" else key))
    return tuple(tokens)


def _compile(kind: str) -> dict[str, Any]:
    root: dict[str, Any] = {}
    ends: list[tuple[tuple[str, ...], object]] = [(parse_path(f.path), f) for f in FIELDS[kind]]
    ends += [(parse_path(path), _DENY) for k, path, _ in NEVER if k == kind]
    for tokens, end in ends:
        node = root
        for token in tokens[:-1]:
            node = node.setdefault(token, {})
            if not isinstance(node, dict):
                raise ValueError(f"{kind}: a row ends where another goes on ({tokens})")
        if tokens[-1] in node:
            raise ValueError(f"{kind}: two rows for {tokens}")
        node[tokens[-1]] = end
    return root


_TREES = {kind: _compile(kind) for kind in FIELDS}


def _keep(value: Any, node: Any) -> Any:
    if isinstance(node, Field):
        return value
    if node is _DENY:
        return _DROP
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            child = node.get(key, node.get(ANY)) if isinstance(key, str) else None
            if child is not None and (kept := _keep(item, child)) is not _DROP:
                out[key] = kept
        return out
    if isinstance(value, list) and ITEM in node:
        return [kept for item in value if (kept := _keep(item, node[ITEM])) is not _DROP]
    return _DROP


def allow(kind: str, payload: Any) -> Any:
    """A copy of ``payload`` with only the fields the table lists for ``kind``; None when the
    table has no such item type (the whole item is not sent) or the payload is not a mapping.
    Containers on the way to a listed field are kept, even when nothing is left in them."""
    tree = _TREES.get(kind)
    if tree is None or not isinstance(payload, dict):
        return None
    return _keep(payload, tree)


def row_for(kind: str, tokens: tuple[str, ...]) -> Field | None:
    """The row that lets the field at ``tokens`` (concrete keys, ``ITEM`` for list items) be
    sent, or None: the same walk :func:`allow` makes."""
    node: Any = _TREES.get(kind)
    for token in tokens:
        if not isinstance(node, dict):
            break
        node = node.get(token, None if token == ITEM else node.get(ANY))
    return node if isinstance(node, Field) else None

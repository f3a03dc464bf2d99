"""The walk: every part of an item through the rule that fits it, one small step per part.

:meth:`Scrubber.scrub_event` (events, transactions) dispatches each top-level field to a step
(:data:`EVENT_STEPS`): exception, frames, breadcrumbs, logentry, contexts, tags, spans,
measurements, request, user, extra ... Free text goes through :mod:`.text` with the vocabulary
of the item (:meth:`Scrubber.vocabulary`); source lines of installed code are program text and
only lose secrets; the user's own code loses its source lines. :meth:`Scrubber.scrub` walks any
other JSON item (sessions, spans, logs, client reports) as data.

Nothing raises out of either: a step that fails drops its value (counted in
:attr:`Scrubber.errors`), and an item that cannot be walked at all becomes ``{"message":
"<scrub-error>"}``, never the raw item.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from . import rules
from .frames import Code
from .machine import MachineContext
from .rules import CYCLE, DEEP, ERROR, FILTERED, MAX_DEPTH
from .text import TextRules, text_rules
from .vocabulary import Vocabulary, app_files, base_words

#: A value a step returns to remove its key.
DROP: Any = object()
_SAFE_ID = re.compile(r"[0-9A-Fa-f-]{8,64}")
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?")
_VERSION = re.compile(r"\d[\w.+!-]{0,39}")
#: Keys whose value is kept when it has an id's shape (hex or UUID: random, no one's name).
_ID_KEYS = re.compile(r"(?:^|[_.])(?:id|sid|did)$|^public_key$")
#: The envelope's dynamic sampling context: numbers and booleans the SDK writes as strings.
_SAMPLING_KEYS = frozenset({"sample_rate", "sample_rand", "sampled"})
_SAMPLING = re.compile(r"true|false|\d(?:\.\d+)?(?:[eE]-?\d+)?")
_TIME_KEYS = frozenset({"timestamp", "start_timestamp", "started", "received", "sent_at"})
#: Top-level fields set by the SDK or the app author (never by the run's data), kept as they are.
VERBATIM_FIELDS = frozenset({"event_id", "timestamp", "start_timestamp", "received", "release",
                             "dist", "environment", "platform", "level", "type"})  # fmt: skip
_LEVELS = frozenset({"fatal", "error", "warning", "info", "debug", "log", "critical", "default",
                     "http", "navigation", "query", "transaction", "ui", "user"})  # fmt: skip
_PLAIN = (bool, int, float)


class Item:
    """One item being scrubbed: the scrubber and the vocabulary of this item."""

    def __init__(self, scrubber: Scrubber, vocab: Vocabulary, cache: dict[str, str],
                 shared: dict[str, tuple[str, tuple[tuple[str, bool], ...]]]) -> None:  # fmt: skip
        self.s = scrubber
        self.vocab = vocab
        self._cache = cache
        self._shared = shared

    def text(self, value: Any) -> Any:
        """Free text: program text kept, the rest placeholders. Non-strings as data.

        Results are cached for this vocabulary, and shared with items of other vocabularies
        (other frames) along with the answers they depended on: a result is reused when the
        new vocabulary answers the same."""
        if type(value) is not str:
            return self.data(value)
        cached = self._cache.get(value)
        if cached is not None:
            return cached
        shared = self._shared.get(value)
        vocab = self.vocab
        if shared is not None and vocab.agrees(shared[1]):
            cached = shared[0]
        else:
            vocab.asked = []
            try:
                cached = self.s.rules.scrub(value, vocab)
                asked = tuple(dict.fromkeys(vocab.asked))
            finally:
                vocab.asked = None
            if len(value) <= 4096:
                _remember(self._shared, value, (cached, asked))
        if len(value) <= 4096:
            _remember(self._cache, value, cached)
        return cached

    def data_text(self, value: str) -> str:
        """A data string: also filtered whole when it mentions a password-like word, as Relay's
        default rules do (so nothing is left for the server to strip)."""
        out = self.text(value)
        low = out.lower()
        if out is not rules.TOO_LONG and (
            rules.DATA_WORDS_RE.search(value.lower()) or rules.DATA_WORDS_RE.search(low)
            or ("[filtered]" in low and rules.DENY_KEY_WORDS_RE.search(low))  # a pair's key
        ):
            return FILTERED
        return str(out)

    def data(self, value: Any, depth: int = 1, seen: set[int] | None = None) -> Any:
        """Any JSON-like value: keys scrubbed (kept distinct), values under sensitive keys
        filtered, strings as data text, numbers kept."""
        kind = type(value)
        if kind is str:
            return self.data_text(value)
        if value is None or kind in _PLAIN:
            return value
        if depth >= MAX_DEPTH:
            return DEEP
        seen = set() if seen is None else seen
        if isinstance(value, Mapping | list | tuple | set | frozenset):
            if id(value) in seen:
                return CYCLE
            seen.add(id(value))
            try:
                if isinstance(value, Mapping):
                    return self.mapping(value, depth, seen)
                return [self.data(v, depth + 1, seen) for v in value]
            finally:
                seen.discard(id(value))
        try:
            if isinstance(value, bytes | bytearray | memoryview):
                return self.data_text(bytes(value).decode("utf-8", "replace"))
            if isinstance(value, str):
                return self.data_text(str.__str__(value))
            if isinstance(value, _PLAIN):
                return value
            return self.data_text(str(value))
        except Exception:
            self.s.errors += 1
            return ERROR

    def mapping(self, value: Mapping[Any, Any], depth: int = 1, seen: set[int] | None = None,
                steps: Mapping[str, Callable[[Item, Any], Any]] | None = None) -> dict[Any, Any]:  # fmt: skip
        """A dict: each key scrubbed; a value by its step (``steps``), else by :meth:`data`."""
        seen = set() if seen is None else seen
        out: dict[Any, Any] = {}
        for key, item in value.items():
            try:
                step = steps.get(key) if steps is not None and type(key) is str else None
                if step is not None:
                    new_key, item = key, step(self, item)
                else:
                    new_key, sensitive = self.key(key)
                    if sensitive == 2:
                        continue
                    if sensitive:
                        item = item if item is None or isinstance(item, bool) else FILTERED
                    elif type(key) is str and _kept(key, item):
                        pass
                    else:
                        item = self.data(item, depth + 1, seen)
            except Exception:
                self.s.errors += 1
                new_key, item = self._failed_key(key), ERROR
            if item is DROP:
                continue
            if new_key in out:  # two keys scrubbed to the same text keep both values
                n = 2
                while f"{new_key}#{n}" in out:
                    n += 1
                new_key = f"{new_key}#{n}"
            out[new_key] = item
        return out

    def _failed_key(self, key: Any) -> Any:
        """The key of a value that failed: scrubbed if it can be, else :data:`ERROR` too."""
        try:
            return self.key(key)[0]
        except Exception:
            return ERROR

    def key(self, key: Any) -> tuple[Any, int]:
        """(scrubbed key, 0 keep | 1 filter its value | 2 remove the entry)."""
        if isinstance(key, str):
            low = key.lower()
            sensitive = low in self.s.deny_keys or rules.DENY_KEY_WORDS_RE.search(low) is not None
            clean = key if key in rules.PROTOCOL_KEYS else self.text(key)
            return clean, 2 if low in rules.REMOVE_KEYS else int(sensitive)
        if key is None or isinstance(key, _PLAIN):
            return key, 0
        if isinstance(key, bytes):
            return self.text(key.decode("utf-8", "replace")), 0
        return self.text(str(key)), 0


def _remember(cache: dict[str, Any], key: str, value: Any) -> None:
    if len(cache) >= 8192:
        cache.clear()
    cache[key] = value


def _kept(key: str, value: Any) -> bool:
    """Ids, timestamps and the app's release/environment keep their value as it is: random ids,
    times, and the app author's own strings (never the run's data) in the right shape."""
    if type(value) is not str:
        return False
    low = key.lower()
    if _ID_KEYS.search(low):
        return _SAFE_ID.fullmatch(value) is not None
    if low in _TIME_KEYS:
        return _TIMESTAMP.fullmatch(value) is not None
    if low in ("status", "outcome"):
        return value in rules.PROTOCOL_STATUSES
    if low in _SAMPLING_KEYS:
        return _SAMPLING.fullmatch(value) is not None
    if low in ("release", "environment", "dist"):
        return len(value) <= 200
    return False


# -- steps: one per part of an event ------------------------------------------------------------
def frames_step(item: Item, frames: Any) -> Any:
    """A stack trace's frames: installed code keeps its names and source (secrets removed); the
    user's code keeps only what is program text, and no source line (their count is kept)."""
    if not isinstance(frames, list):
        return item.data(frames)
    return [frame_step(item, f) if isinstance(f, Mapping) else item.data(f) for f in frames]


_SOURCE_KEYS = ("pre_context", "context_line", "post_context")


def frame_step(item: Item, frame: Mapping[str, Any]) -> dict[str, Any]:
    s = item.s
    installed = s.code.frame_file(frame) is not None
    module = frame.get("module") if isinstance(frame.get("module"), str) else None
    out: dict[str, Any] = {}
    for key, value in frame.items():
        if key == "vars":
            continue
        try:
            if key in _SOURCE_KEYS:
                out[key] = _source(item, value, installed)
            elif key in ("abs_path", "filename") and isinstance(value, str):
                out[key] = (s.code.relative(value, module) if installed
                            else item.text(value.replace("\\", "/").rsplit("/", 1)[-1]))  # fmt: skip
            elif key in ("function", "module", "raw_function", "symbol") and isinstance(value, str):
                out[key] = s.code_line(value) if installed else item.text(value)
            elif value is None or type(value) in _PLAIN:
                out[key] = value
            else:
                out[key] = item.data(value)
        except Exception:
            s.errors += 1
            out[key] = ERROR
    return out


def _source(item: Item, value: Any, installed: bool) -> Any:
    if isinstance(value, str):
        return item.s.code_line(value) if installed else ""
    if isinstance(value, list):
        if not installed:
            return ["" if isinstance(v, str) else item.data(v) for v in value]
        return item.s.code_lines(value)
    return item.data(value)


def exception_step(item: Item, exc: Any) -> Any:
    """``{"values": [...]}``: each exception's type and module kept when its class is installed
    code (or builtins), its value as text, its frames by :func:`frames_step`."""
    if isinstance(exc, Mapping):
        return item.mapping(exc, steps={"values": lambda i, v: _each(i, v, exception_value_step)})
    if isinstance(exc, list):
        return _each(item, exc, exception_value_step)
    return item.data(exc)


def _each(item: Item, values: Any, step: Callable[[Item, Mapping[str, Any]], Any]) -> Any:
    if not isinstance(values, list):
        return item.data(values)
    return [step(item, v) if isinstance(v, Mapping) else item.data(v) for v in values]


def exception_value_step(item: Item, value: Mapping[str, Any]) -> dict[str, Any]:
    module = value.get("module")
    known = module in (None, "builtins") or item.s.code.module_file(module) is not None
    code = item.s.code_line

    def name(i: Item, v: Any) -> Any:
        return code(v) if known and isinstance(v, str) else i.text(v)

    return item.mapping(value, steps={
        "type": name, "module": name, "value": Item.text,
        "stacktrace": stacktrace_step, "mechanism": Item.data,
    })  # fmt: skip


def stacktrace_step(item: Item, value: Any) -> Any:
    if isinstance(value, Mapping):
        return item.mapping(value, steps={"frames": frames_step})
    return item.data(value)


def threads_step(item: Item, value: Any) -> Any:
    if isinstance(value, Mapping):
        return item.mapping(value, steps={"values": lambda i, v: _each(
            i, v, lambda j, t: j.mapping(t, steps={"stacktrace": stacktrace_step, "name": Item.text}))})
    return item.data(value)


def breadcrumbs_step(item: Item, value: Any) -> Any:
    crumb_steps: dict[str, Callable[[Item, Any], Any]] = {
        "message": Item.data, "category": Item.text, "type": _word_or_text, "level": _word_or_text,
        "timestamp": _timestamp, "data": Item.data,
    }  # fmt: skip

    def crumbs(i: Item, v: Any) -> Any:
        return _each(i, v, lambda j, c: j.mapping(c, steps=crumb_steps))

    if isinstance(value, Mapping):
        return item.mapping(value, steps={"values": crumbs})
    return crumbs(item, value)


def _word_or_text(item: Item, value: Any) -> Any:
    return value if isinstance(value, str) and value in _LEVELS else item.text(value)


def _timestamp(item: Item, value: Any) -> Any:
    if type(value) in _PLAIN or (isinstance(value, str) and _TIMESTAMP.fullmatch(value)):
        return value
    return item.text(value)


def logentry_step(item: Item, value: Any) -> Any:
    if isinstance(value, Mapping):
        return item.mapping(value, steps={"message": Item.text, "formatted": Item.text,
                                          "params": Item.data})  # fmt: skip
    return item.text(value)


def contexts_step(item: Item, value: Any) -> Any:
    """Contexts: the trace's ids, the runtime's and packages' versions kept; the rest as data."""
    if not isinstance(value, Mapping):
        return item.data(value)

    def runtime(i: Item, v: Any) -> Any:
        if isinstance(v, Mapping):
            return i.mapping(v, steps={"version": _version, "name": Item.text, "build": Item.text})
        return i.data(v)

    def trace(i: Item, v: Any) -> Any:
        if isinstance(v, Mapping):
            return i.mapping(v, steps={"op": Item.text, "status": Item.text, "data": Item.data})
        return i.data(v)

    return item.mapping(value, steps={"packages": versions_step, "runtime": runtime, "trace": trace})


_DIST = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def versions_step(item: Item, value: Any) -> Any:
    """``{distribution: version}`` (the reporter's ``modules`` and ``packages``): kept when every
    entry has those shapes (a version never holds anyone's name), else as data."""
    if isinstance(value, Mapping) and all(
        isinstance(k, str) and _DIST.fullmatch(k) and isinstance(v, str) and _VERSION.fullmatch(v)
        for k, v in value.items()
    ):
        return dict(value)
    return item.data(value)


def _version(item: Item, value: Any) -> Any:
    return value if isinstance(value, str) and _VERSION.fullmatch(value) else item.text(value)


def spans_step(item: Item, value: Any) -> Any:
    return _each(item, value, span_step)


def span_step(item: Item, span: Mapping[str, Any]) -> dict[str, Any]:
    return item.mapping(span, steps={"op": Item.text, "description": Item.text, "status": Item.text,
                                     "data": Item.data, "tags": tags_step})  # fmt: skip


def user_step(item: Item, user: Any) -> Any:
    """Only the anonymous id of the user is sent (no ip_address, name, email ...)."""
    uid = user.get("id") if isinstance(user, Mapping) else None
    if isinstance(uid, int) and not isinstance(uid, bool):
        return {"id": uid}
    if isinstance(uid, str):
        return {"id": uid if _SAFE_ID.fullmatch(uid) else item.text(uid)}
    return DROP


def request_step(item: Item, request: Any) -> Any:
    """A CLI has no request; what a library put there (headers, cookies, env, data) is not sent."""
    if not isinstance(request, Mapping):
        return item.data(request)
    drop = {"cookies", "headers", "env", "data", "query_string"}
    return item.mapping({k: v for k, v in request.items() if k not in drop},
                        steps={"url": Item.text, "method": Item.text})  # fmt: skip


def extra_step(item: Item, extra: Any) -> Any:
    """sentry-sdk's ``extra["sys.argv"]`` holds every argument: never sent."""
    if isinstance(extra, Mapping):
        return item.mapping({k: v for k, v in extra.items() if k != "sys.argv"})
    return item.data(extra)


def _sdk(item: Item, value: Any) -> Any:
    """The SDK's name, version, integrations and packages: set by sentry-sdk, kept."""
    if isinstance(value, Mapping) and isinstance(value.get("name"), str):
        return {k: v for k, v in value.items() if k in ("name", "version", "integrations", "packages")}
    return item.data(value)


_TAG_KEY = re.compile(r"[a-zA-Z0-9_.:-]{1,200}")


def tags_step(item: Item, tags: Any) -> Any:
    """Tags as data; a key keeps to the characters Sentry accepts in one (its words joined by
    ``_``: ``<text>`` becomes ``text``), or Sentry's ingest would drop the tag."""
    if not isinstance(tags, Mapping):
        return item.data(tags)
    out: dict[Any, Any] = {}
    for key, value in item.mapping(tags).items():
        if isinstance(key, str) and not _TAG_KEY.fullmatch(key):
            key = "_".join(re.findall(r"[a-zA-Z0-9]+", key))[:200] or "text"
            while key in out:
                key += "_"
        out[key] = value
    return out


def _texts(item: Item, value: Any) -> Any:
    if isinstance(value, list):
        return [item.text(v) for v in value]
    return item.text(value)


#: The step of each top-level field of an event; any other field goes through data.
EVENT_STEPS: dict[str, Callable[[Item, Any], Any]] = {
    "server_name": lambda i, v: DROP,
    "user": user_step,
    "request": request_step,
    "extra": extra_step,
    "exception": exception_step,
    "threads": threads_step,
    "stacktrace": stacktrace_step,
    "breadcrumbs": breadcrumbs_step,
    "logentry": logentry_step,
    "message": logentry_step,
    "contexts": contexts_step,
    "tags": tags_step,
    "spans": spans_step,
    "transaction": Item.text,
    "culprit": Item.text,
    "logger": Item.text,
    "fingerprint": _texts,
    "modules": versions_step,
    "sdk": _sdk,
}


#: Per process: the vocabulary of each (rules, base words, files) and its scrubbed strings, so
#: that the frames, breadcrumbs and messages a process reports again cost a dict look-up.
_ITEMS: dict[tuple[TextRules, frozenset[str], tuple[str, ...]], tuple[Vocabulary, dict[str, str]]] = {}
_SHARED: dict[tuple[TextRules, frozenset[str]], dict[str, tuple[str, tuple[tuple[str, bool], ...]]]] = {}


# -- the scrubber -------------------------------------------------------------------------------
class Scrubber:
    """Scrubs events and other JSON items so that only the program's own text leaves.

    ``patterns``: extra secret regexes (strings or compiled) whose matches become
    ``[Filtered]``; ``keys``: extra key names whose values become ``[Filtered]``; ``words``: the
    app author's extra SAFE words (enum values, error codes). Nothing turns the allowlist off.
    """

    def __init__(self, context: MachineContext, *, patterns: Iterable[str | re.Pattern[str]] = (),
                 keys: Iterable[str] = (), words: Iterable[str] = ()) -> None:  # fmt: skip
        self.context = context
        self.errors = 0
        compiled = tuple(re.compile(p) if isinstance(p, str) else p for p in patterns)
        self.rules: TextRules = text_rules(context, compiled)
        self.code = Code(self.rules)
        self.deny_keys = rules.DENY_KEYS | {k.lower() for k in keys}
        self.base = base_words(words)
        self._lines = self.rules.lines

    # -- vocabulary -------------------------------------------------------------------------------
    def vocabulary(self, files: Iterable[str] = ()) -> Vocabulary:
        """The vocabulary of an item whose code is ``files`` (plus the app's own packages)."""
        return self._item(tuple(files)).vocab

    def _item(self, files: tuple[str, ...]) -> Item:
        files = tuple(dict.fromkeys((*files, *app_files(self.context.app_roots))))
        key = (self.rules, self.base, files)
        cached = _ITEMS.get(key)
        if cached is None:
            if len(_ITEMS) >= 16:
                _ITEMS.clear()
            cached = _ITEMS[key] = (Vocabulary(self.base, files), {})
        shared = _SHARED.setdefault((self.rules, self.base), {})
        return Item(self, *cached, shared)

    def event_files(self, event: Mapping[str, Any]) -> list[str]:
        """The installed files of an event's frames (the crashing frame first) and of the
        modules of its exception types (a compiled extension's too: see Vocabulary)."""
        files: list[str] = []
        modules: list[str] = []
        for stack in _stacktraces(event):
            frames = stack.get("frames")
            if isinstance(frames, list):
                files += [f for f in (self.code.frame_file(fr) for fr in reversed(frames)
                                      if isinstance(fr, Mapping)) if f]  # fmt: skip
        exception = event.get("exception")
        values = exception.get("values") if isinstance(exception, Mapping) else None
        for value in values if isinstance(values, list) else ():
            if isinstance(value, Mapping) and isinstance(value.get("module"), str):
                modules.append(value["module"])
        files += [f for f in map(self.code.module_file, modules) if f]
        return files

    # -- code -------------------------------------------------------------------------------------
    def code_line(self, line: str) -> str:
        cached = self._lines.get(line)
        if cached is None:
            cached = self.rules.code_line(line)
            if len(self._lines) >= 16384:
                self._lines.clear()
            self._lines[line] = cached
        return cached

    def code_lines(self, lines: list[Any]) -> list[Any]:
        """Source lines of installed code; a batch with no secret hint at all is kept whole."""
        new = [v for v in lines if isinstance(v, str) and v not in self._lines]
        if new and not self.extra_patterns:
            hinted = rules.hinted_lines(new)
            names = self.rules.names
            if names is not None and names.search("\n".join(new)):
                hinted |= {i for i, line in enumerate(new) if names.search(line)}
            for i, line in enumerate(new):
                if i not in hinted:
                    self._lines[line] = line
        return [self.code_line(v) if isinstance(v, str) else v for v in lines]

    @property
    def extra_patterns(self) -> bool:
        return bool(self.rules.extra)

    # -- items ------------------------------------------------------------------------------------
    def scrub_event(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """A scrubbed copy of an event or transaction: same keys minus the removed ones, same
        list lengths, same types."""
        try:
            item = self._item(tuple(self.event_files(event)))
            out: dict[str, Any] = {}
            for key, value in event.items():
                if key in VERBATIM_FIELDS and (value is None or isinstance(value, str | int | float)):
                    out[key] = value
                    continue
                step = EVENT_STEPS.get(key) if isinstance(key, str) else None
                try:
                    clean = step(item, value) if step is not None else item.data(value)
                except Exception:
                    self.errors += 1
                    clean = ERROR
                if clean is not DROP:  # top-level keys are the protocol's: kept
                    out[key if isinstance(key, str) else item.key(key)[0]] = clean
            return out
        except Exception:
            self.errors += 1
            return {"message": ERROR}

    def scrub(self, payload: Any) -> Any:
        """A scrubbed copy of any other JSON item (sessions, spans, logs, client reports ...)."""
        try:
            return self._item(()).data(payload)
        except Exception:
            self.errors += 1
            return ERROR

    def scrub_string(self, text: str) -> str:
        """One free-text string, with the vocabulary of the app's own packages."""
        return str(self._item(()).text(text))


def _stacktraces(event: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found: list[Mapping[str, Any]] = []
    for section in ("exception", "threads"):
        part = event.get(section)
        values = part.get("values") if isinstance(part, Mapping) else part
        for value in values if isinstance(values, list) else ():
            stack = value.get("stacktrace") if isinstance(value, Mapping) else None
            if isinstance(stack, Mapping):
                found.append(stack)
    if isinstance(event.get("stacktrace"), Mapping):
        found.append(event["stacktrace"])
    return found

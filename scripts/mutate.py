"""Mutation testing of one module against that module's tests (poodle; see docs/testing.md).

    nice -n 15 python scripts/mutate.py consent          # or crashreport/consent.py
    python scripts/mutate.py --list                      # the modules and their tests
    python scripts/mutate.py consent --report            # show the last run's result again

Each mutant is one small change to the module (a string, a number, a comparison, a call …);
the module's tests run against it and must fail. What survives is printed as
``file:line  mutator  original → mutant``; the result is kept in ``.mutation/<name>.json``.

The tables below are the whole configuration: which tests pin which module, and the mutants
that are *equivalent* (they change nothing a user, a caller or the disk could observe), each with
one line saying why. An equivalent mutant is left out of the score, never out of the report.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / ".mutation"

#: Module → the tests that pin it (pytest arguments). Fast, in-process tests: each mutant runs
#: them once (``-x``: a killed mutant stops at its first failure).
PRIVACY_FAST = ("not transport_scrubs and not end_to_end and not config_warning and not no_canary"
                " and not benchmark")
TESTS: dict[str, list[str]] = {
    "crashreport/consent.py": ["tests/test_consent.py"],
    "crashreport/config.py": ["tests/test_config.py", "tests/test_hardening_config.py"],
    "crashreport/options.py": ["tests/test_options.py"],
    "crashreport/identity.py": ["tests/test_identity.py"],
    "crashreport/yamledit.py": ["tests/test_yamledit.py"],
    "crashreport/journal.py": ["tests/test_journal.py", "-k", "not writer"],
    "crashreport/reports/__init__.py": ["tests/test_reports.py"],
    "crashreport/reports/session.py": ["tests/test_reports.py"],
    "crashreport/reports/usage.py": ["tests/test_reports.py", "tests/test_reports_usage.py"],
    "crashreport/reports/fatal.py": ["tests/test_reports.py"],
    "crashreport/delivery/outbox.py": ["tests/test_outbox.py"],
    "crashreport/delivery/http.py": ["tests/test_http.py"],
    "crashreport/delivery/ratelimits.py": ["tests/test_ratelimits.py"],
    "crashreport/delivery/drain.py": ["tests/test_sender.py"],
    # the sender's own process (main: signals, its bound, the lock's hand-over) runs in the
    # lifecycle tests: real programs, real senders
    "crashreport/sender.py": ["tests/test_sender.py", "tests/test_lifecycle.py", "-m", "not slow"],
    "crashreport/run/usage.py": ["tests/test_actions.py"],
    "crashreport/run/errorcap.py": ["tests/test_errorcap.py"],
    # the privacy tests that run in process, without the slow property searches
    "crashreport/privacy/rules.py": ["tests/test_privacy_rules.py", "tests/test_privacy.py",
                                     "-k", PRIVACY_FAST],
}

#: Equivalent mutants, per module: (where, the mutant's text, why). ``where`` is the enclosing
#: function (or class, or ``<module>``) and the source line, ``#2`` for its second occurrence
#: there: it holds when lines move.
ORDER = "Source's numbers are only compared (precedence), never shown or stored: the order stays"
POSIX = "getattr's default is used only where os lacks the flag: never on POSIX"
OPEN_TMP = 'fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)'
TMP_NAME = 'tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")'
TMP = "a hidden temporary name of this process, removed after: only that it is unique matters"
RACE = "the file just put in place holds `fresh`: reading it back gives `fresh` (one process)"
OPEN_READ = ('fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW | _O_BINARY | getattr(os, "O_NONBLOCK", '
             "0))")
PRIORITY = ('rank = 0 if "event" in entry.kinds else 1 if set(entry.kinds) <= {"session", '
            '"sessions"} else 2')
PRIORITY_SUBSET = "set(entry.kinds) < {'session', 'sessions'}"
FALSY = "None is as false as False: callers only test its truth"
EXACT = "the clock read exactly equal to the deadline, to the microsecond"
NO_FORK = "the branch for systems without fork (Windows): never taken on POSIX"
FROZEN = "no code assigns to its fields: frozen only guards against a mistake"
TYPING = "only a type checker reads it (typing-only imports: the stdlib, modules init loads anyway)"
ENTERED = "set on entering the block, before anything reads it"
READ_ERROR = ("a read error after a successful open and fstat of a regular file (EIO): no test can "
              "cause it")
NARROWED = "chmod 0700 of a folder already 0700"
MADE = ("any access for others is taken away right after (0700): the mode it was made with is "
        "never seen")
SPOOL = "Spotlight's copies are dropped once posted, never moved to a sent log: it is never used"
HTTP_NAMED = 'named = {400: "invalid_argument", 401: "unauthenticated", 403: "permission_denied",'
ALIAS = "BeforeSend = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any] | None]"
EQUIVALENT: dict[str, list[tuple[str, str, str]]] = {
    "crashreport/consent.py": [
        ("Source: DO_NOT_TRACK = 1", "0", ORDER),
        ("Source: DEFAULT = 6", "7", ORDER),
    ],
    "crashreport/config.py": [
        ('_read_text: flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)',
         m, POSIX) for m in ("1", "-1")
    ] + [
        ('looks_like_dsn: and parts.path.rstrip("/").rsplit("/", 1)[-1].isdigit()', "2",
         "the last part of the path is the same whatever the split's limit"),
        ("parse_level: if isinstance(value, bool):", "None",
         "True and False are the ints 1 and 0: the next line maps them the same"),
    ],
    "crashreport/identity.py": [
        ('read_id: flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)',
         m, POSIX) for m in ("1", "-1")
    ] + [
        (f"_write_aside: {OPEN_TMP}", m, POSIX) for m in ("1", "-1")
    ] + [
        (f"_write_aside: {OPEN_TMP}", "'XXO_NOFOLLOWXX'",
         "O_CREAT | O_EXCL never follows a link (POSIX): a planted one fails the open either way"),
        (f"_write_aside: {TMP_NAME}", "5", TMP),
        (f"_write_aside: {TMP_NAME}", "3", TMP),
        (f"_write_aside: {TMP_NAME}", "'XX.XX'", TMP),
        ("load_or_create: return read_id(path) or fresh", "read_id(path) and fresh", RACE),
        ("load_or_create: return read_id(path) or fresh", "None", RACE),
    ],
    "crashreport/run/usage.py": [
        ("<module>: TYPE_CHECKING = False  # the typing module costs ~3 ms of start-up; mypy still "
         "sees these", "True", TYPING),
    ] + [
        ('<module>: F = TypeVar("F", bound=Callable[..., Any])', m, TYPING)
        for m in ("'XXFXX'", "None")
    ] + [
        (f"__init__: self.{name}: float = 0.0", "1.0", ENTERED)
        for name in ("start", "start_wall", "duration")
    ] + [
        ("__init__: self._sink: SpanSink | None = None", "' '", ENTERED),
        ("Action: def __init__(self, name: str, data: dict[str, Any] | None = None) -> None:", "' '",
         "track() always passes its data: the default is never used"),
        ("__exit__: self.error_message = _message(exc) if exc is not None else None", "' '",
         "a with statement passes the exception with its type: exc is never None there"),
    ],
    "crashreport/yamledit.py": [
        ('_write_atomic: fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", '
         'dir=target.parent)', m, TMP) for m in ("'XX.XX'", "'XX.tmpXX'")
    ] + [
        ("_write_atomic: umask = os.umask(0)", m,
         "the umask is set only to read it, and put back on the next line") for m in ("1", "-1")
    ],
    "crashreport/delivery/outbox.py": [
        ('<module>: _O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)', m, POSIX) for m in ("1", "-1")
    ] + [
        (f"_read_nofollow: {OPEN_READ}", m, POSIX) for m in ("1", "-1")
    ] + [
        ('<module>: _O_BINARY = getattr(os, "O_BINARY", 0)', "'XXO_BINARYXX'",
         "POSIX has no O_BINARY: 0 either way"),
        ('_pid_alive: if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT there; rely on '
         "the age", "'XXntXX'", "POSIX: the Windows branch is never taken"),
        ("_pid_alive: return True #2", "False", "the Windows branch: never taken on POSIX"),
        ("_pid_alive: return True #2", "return None", "the Windows branch: never taken on POSIX"),
        ("_pid_alive: return False", "return None", FALSY),
        ("_pid_alive: return False #2", "return None", FALSY),
        ("_zombie: stat_line = f.read(512)", "513", "a /proc stat line's state is within its "
         "first 100 bytes"),
        ("_zombie: stat_line = f.read(512)", "511", "a /proc stat line's state is within its "
         "first 100 bytes"),
        ("<module>: @dataclass(frozen=True)", "False", FROZEN),
        ("<module>: @dataclass(frozen=True) #2", "False", FROZEN),
        ("_ensure_dir: if stat.S_IMODE(os.lstat(path).st_mode) & 0o077:",
         "stat.S_IMODE(os.lstat(path).st_mode) | 63", NARROWED),
    ] + [
        ("_ensure_dir: os.mkdir(path, 0o700)", m, MADE) for m in ("449", "447")
    ] + [
        ('_write_atomic: tmp = folder / f".tmp-{os.getpid()}-{secrets.token_hex(4)}"', "5",
         "a longer random part of a temporary name: still unique, still recognised by recover()"),
    ] + [
        ("_enforce_bounds: max_count, max_bytes = max(1, max_count * 9 // 10), max(1, max_bytes * 9 "
         "// 10)", m, "a whole count or size is over x exactly when it is over floor(x)")
        for m in ("max_count * 9 / 10", "max_bytes * 9 / 10")
    ],
    "crashreport/delivery/drain.py": [
        (f"{where}: if time.time() >= deadline:", "time.time() > deadline",
         "a clock reading equal to the deadline to the nanosecond: the next check stops anyway")
        for where in ("drain", "copy_to_spotlight", "send_from_memory")
    ] + [
        (place, m, "a batch's held count is never read: drain() counts held reports from the "
         "outbox (its sent and kept counts are pinned: tests/test_sender.py)")
        for place in ("_settle: return SendResult(len(claims), 0, 0, dropped)",
                      "_settle: return SendResult(0, 0, 0, dropped)",
                      "_settle: return SendResult(0, 0, 0, dropped + len(claims))",
                      "_deliver: return SendResult(0, 0, 0, dropped)")
        for m in ("1", "-1")
    ] + [
        (f"_priority: {PRIORITY}", m, "ranks are only compared: crash reports first, sessions, "
         "then the rest, either way") for m in ("-1", "3", PRIORITY_SUBSET)
    ] + [
        (f"{where}: break", "continue", "past the deadline every later turn skips too: nothing "
         "more is sent either way") for where in ("copy_to_spotlight", "send_from_memory")
    ] + [
        (f"{where}: continue", "break", "another sender took the report between listing and "
         "claiming: that sender delivers the rest (tests/test_sender.py: two senders, each report "
         "once)") for where in ("drain", "copy_to_spotlight")
    ] + [
        ("_settle: dropped += 1", "dropped = 1", "only a lone report can be dropped on a 429 "
         "(a batch is sessions, which are held), after none was dropped as corrupt"),
        ("_merge: return datas[0]", "-1", "a list of one: its first is its last"),
    ] + [
        ('_merge: return datas[0][: datas[0].index(b"\\n") + 1] + b"".join(items)', m,
         "the sessions of a batch carry the same header (sent_at alone, set again on sending): "
         "any one of them heads the request") for m in ("1", "-1")
    ] + [
        ("_merge: if len(datas) == 1:", m, "one envelope merged is itself (its items re-joined "
         "with the same newlines)") for m in ("0", "None")
    ],
    "crashreport/sender.py": [
        ('__init__: self.spool = Outbox(self.paths.spotlight_dir, self.paths.spotlight_dir / "sent",',
         "'XXsentXX'", SPOOL),
        ("work: if self.spool is not None and self.spotlight:", "self.spool is not None or "
         "self.spotlight", "the spool exists exactly when a Spotlight URL is set"),
        ("_queue: if time.time() - created > (MAX_AGE_SESSION if kind == \"session\" else "
         "MAX_AGE_EVENT):", "time.time() - created >= (MAX_AGE_SESSION if kind == 'session' else "
         "MAX_AGE_EVENT)", "a report exactly as old as Sentry's limit, to the microsecond"),
        ("main: os._exit(0)", "None", "main returns and the process exits 0 all the same (its "
         "threads are daemons)"),
        ("main: sender.close()", "None", "the process exits right after: its connection closes "
         "with it"),
        ("_scrubber: scrubber = self._scrubbers.get(key)", "None", "the cache only spares building "
         "a second scrubber of the same settings: the same result"),
    ] + [
        ("__init__: sent_keep=0) if spotlight else None  # fmt: skip", m, SPOOL) for m in ("1", "-1")
    ] + [
        (place, "-1", "done is a list of one: done[-1] is done[0]")
        for place in ("step: done[0] += n", "step: progress(done[0], total)")
    ] + [
        ("wait_and_collect: time.sleep(0.02)", m, "how often a waiting `show` asks for the lock: "
         "it gets it all the same") for m in ("0.04", "0.01", "None")
    ] + [
        ("wait_and_collect: lock = take_lock(sender.paths.sender_lock)", "None", "the loop below "
         "asks again 20 ms later and gets it all the same"),
        ("work: while time.time() < deadline:", "time.time() <= deadline", EXACT),
        ("main: if time.time() >= deadline:", "time.time() > deadline", EXACT),
        ("_more_work: return False", "return None", FALSY),
    ] + [
        (f'{where}: lock = take_lock({lock}) if hasattr(os, "fork") else None', "' '", NO_FORK)
        for where, lock in (("run_in_process", "paths.sender_lock"),
                            ("send_now", "sender.paths.sender_lock"))
    ] + [
        ("run_in_process: if timeout > 0:", m, "a drain given no time stops at its deadline before "
         "its first request: it sends nothing and changes nothing") for m in ("timeout >= 0", "-1")
    ] + [
        (place, m, "a missing or empty fault file holds no crash: there is no crash report to date")
        for place, mutants in (("_mtime: return None", ("' '", "return ''")),
                               ("_mtime: return st.st_mtime if st.st_size else None", ("' '",)))
        for m in mutants
    ],
    "crashreport/journal.py": [
        ("<module>: TYPE_CHECKING = False", "True", TYPING),
        ("<module>: _O_CLOEXEC = getattr(os, \"O_CLOEXEC\", 0)", "'XXO_CLOEXECXX'",
         "Python opens every descriptor non-inheritable (PEP 446): close-on-exec either way"),
        ("ensure_dir: if stat.S_IMODE(st.st_mode) & 0o077:", "stat.S_IMODE(st.st_mode) | 63",
         NARROWED),
        ("_alive: return False", "return None", FALSY),
        ("_alive: return False  # the run never got its lock file: nothing can finish it any more",
         "return None", FALSY),
    ] + [
        (place, m, READ_ERROR)
        for place, mutants in (("read: return None #3", ("' '", "return ''")),
                               ('_read_fault: return "" #3', ("'XXXX'", "return None")))
        for m in mutants
    ] + [
        ("_alive: return _recent(record, now)", m, "the branch without fcntl (Windows): never "
         "taken on POSIX; _recent itself is tested") for m in ("None", "return None")
    ] + [
        ("ensure_dir: os.mkdir(path, 0o700)", m, MADE) for m in ("449", "447")
    ] + [
        ("read: data = os.read(fd, MAX_RECORD_BYTES + 1)", m, "fstat has shown the file is at most "
         "MAX_RECORD_BYTES: any read of that much or more reads it whole")
        for m in ("2", "0", "MAX_RECORD_BYTES * 1")
    ] + [
        (f"<module>: {name} = getattr(os, \"{flag}\", 0)", m, POSIX)
        for name, flag in (("_O_NOFOLLOW", "O_NOFOLLOW"), ("_O_CLOEXEC", "O_CLOEXEC"))
        for m in ("1", "-1")
    ] + [
        (f"{where}: fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC | getattr(os, "
         '"O_NONBLOCK", 0))', m, POSIX) for where in ("read", "_read_fault") for m in ("1", "-1")
    ],
    "crashreport/delivery/http.py": [
        ("_post: body = gzip.compress(data, compresslevel=6)", m, "any gzip level: the server "
         "decompresses the same bytes") for m in ("7", "5")
    ] + [
        ("post: timer.daemon = True", "False", "the timer is cancelled (finally) before post() "
         "returns: it never outlives a request"),
        ('_abort: sock = getattr(conn, "sock", None)', "' '", "the deadline (twice the connect "
         "timeout or more) fires after connecting: the connection is set by then"),
        ('_connect: host, port = parts.hostname or "", parts.port or _default_port(parts.scheme)',
         "'XXXX'", "a proxy URL without a host: '' and 'XXXX' both fail to resolve"),
        ('parse: path, _, project = parts.path.rstrip("/").rpartition("/")', "'XX/XX'",
         "stripping X too from a path that must end in digits changes nothing"),
        ("_certifi: return None", "return ''", "without certifi only: '' and None both mean the "
         "system's store (a false cafile is not loaded)"),
        ("_certifi: return None", "' '", "reached only without certifi, which sentry-sdk "
         "depends on"),
        ('_bypass: name = name.lstrip(".")', "'XX.XX'", "entries are lower case by then: there "
         "is no X to strip"),
        ('_describe: return f"TLS: {exc.reason or type(exc).__name__}"', "None", "ssl's errors "
         "from a handshake or a read always carry a reason"),
    ],
    "crashreport/reports/usage.py": [
        (f"http_status: {HTTP_NAMED}", "401", "400 falls to the default, the same "
         "invalid_argument (the later 401 entry wins)"),
        (f"http_status: {HTTP_NAMED}", "399", "below 400 has returned ok already; 400 falls to "
         "the default, the same invalid_argument"),
        ('http_status: return named.get(code, "invalid_argument" if code < 500 else '
         '"internal_error")', "499", "499 is named (cancelled): the default is never asked"),
        ('_span: outcome = "ok" if data["outcome"] == "ok" else "crashed" if error.get("type") else '
         '"failed"', "'XXfailedXX'", "run_status reads any outcome it does not name as failed"),
        ('measurement_name: name = _NOT_NAME.sub("_", counter.lower()).strip("_.")[:MAX_NAME]'
         '.rstrip("_.")', "'XX_.XX'", "the name is lower case by then: there is no X to strip"),
    ],
    "crashreport/delivery/ratelimits.py": [
        ('parse: for part in (rate_limits or "").split(","):', "'XXXX'",
         "no header read as a header of no number: no limit either way"),
        ("parse: limits[cat] = max(limits.get(cat, 0.0), now + seconds)", "1.0",
         "now + seconds is a unix time (the drain passes time.time()): never below 1"),
    ],
    "crashreport/run/errorcap.py": [
        ("<module>: TYPE_CHECKING = False", "True", TYPING),
        ("__init__: self.limit = None if limit is None else max(0, int(limit))", "-1",
         "a negative limit admits nothing either way: len(seen) is never below 0, nor -1"),
    ],
    "crashreport/options.py": [
        (f"<module>: {ALIAS}", m, TYPING)
        for m in ("dict[str, Any] & None", "' '", "None")
    ] + [
        ("<module>: TYPE_CHECKING = False", "True", TYPING),
        ("resolve: spotlight: bool | str | None = None,", "' '",
         "a blank spotlight option is no URL, as None: no sidecar either way"),
    ],
}

#: poodle's settings (https://poodle.readthedocs.io): every mutator, two workers (the machine has
#: two cores), a mutant that takes 10x the clean run (or 20 s) is a timeout, counted as killed.
SETTINGS = {
    "source_folders": ["."],
    "file_copy_filters": ["__pycache__/**", "**/node_modules/**", "build/**", "dist/**",
                          "*.egg-info/**", "docs/*.png", "bench/**"],
    "max_workers": 2,
    "min_timeout": 20,
    "timeout_multiplier": 10,
    "reporters": ["summary", "json"],
}


def short_name(module: str) -> str:
    """``crashreport/delivery/outbox.py`` → ``delivery/outbox``; a package is its folder."""
    return module.removeprefix("crashreport/").removesuffix(".py").removesuffix("/__init__")


def module_path(name: str) -> str:
    """The table's key for ``consent``, ``outbox``, ``delivery/outbox``, ``crashreport/consent.py``
    (a last part shared by two modules, such as ``usage``, needs its folder)."""
    found = [key for key in TESTS if name in (key, short_name(key))]
    found = found or [key for key in TESTS if short_name(key).rsplit("/", 1)[-1] == name]
    if len(found) != 1:
        raise SystemExit(f"{'ambiguous' if found else 'unknown'} module {name!r}; one of: "
                         + ", ".join(short_name(key) for key in found or TESTS))
    return found[0]


def toml(settings: dict[str, object]) -> str:
    """A flat TOML table (strings, numbers, lists of strings, one inline table)."""
    lines = ["[poodle]"]
    for key, value in settings.items():
        if isinstance(value, dict):
            inner = ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items())
            lines.append(f"{key} = {{{inner}}}")
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


#: Hypothesis is imported before pytest sees it (below): pytest's warning that it cannot
#: rewrite its asserts any more is no failure here.
PYTEST = ["-x", "-q", "--no-header", "-p", "no:cacheprovider",
          "-W", "ignore::pytest.PytestAssertRewriteWarning"]  # fmt: skip
#: Imported once per worker, before it forks a child per mutant: a third of the cost of a fresh
#: ``python -m pytest``. Never crashreport or tests: those come from the mutant's checkout.
WARM = ("pytest", "hypothesis", "hypothesis.strategies", "_hypothesis_pytestplugin", "yaml",
        "platformdirs", "http.client", "http.server", "ssl", "json", "gzip", "email.utils")


def run(module: str, tests: list[str], report: Path) -> int:
    report.with_suffix(".py.txt").write_text((ROOT / module).read_text())  # as it is mutated
    config = OUT / f"{report.stem}.toml"
    config.write_text(toml({**SETTINGS, "only_files": [module],
                            "work_folder": str(OUT / f"work-{report.stem}"),
                            "runner": "mutate.fork_runner",
                            "runner_opts": {"pytest_args": [*PYTEST, *tests]},
                            "reporter_opts": {"json_report_file": str(report),
                                              "json_report_found": True}}))  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "scripts"),
                                                        os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([str(Path(sys.executable).with_name("poodle")), "-c", str(config), "-q"],
                          cwd=ROOT, env=env).returncode  # fmt: skip


def fork_runner(config: Any, run_folder: Path, mutant: Any, timeout: float | None,
                *_: Any, **__: Any) -> Any:  # fmt: skip
    """poodle's runner: the module's tests run in a child forked from this worker, which has
    pytest and the test libraries imported already (a fresh ``python -m pytest`` per mutant costs
    a second more), in the mutant's copy of the checkout. Exit 1 (a test failed): killed."""
    import importlib
    import time

    from poodle.data_types import MutantTrialResult

    for name in WARM:
        importlib.import_module(name)
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 3
        try:
            os.setpgrp()  # a timeout ends the tests' own subprocesses too
            folder = str(Path(run_folder).resolve())
            os.chdir(folder)
            sys.path.insert(0, folder)
            os.environ["PYTHONPATH"] = folder
            quiet = os.open(os.devnull, os.O_WRONLY)
            os.dup2(quiet, 1)
            os.dup2(quiet, 2)
            import pytest

            code = int(pytest.main(list(config.runner_opts["pytest_args"])))
        finally:
            os._exit(code)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if deadline is not None and time.monotonic() > deadline:
            os.killpg(pid, 9)
            os.waitpid(pid, 0)
            return MutantTrialResult(found=False, reason_code=MutantTrialResult.RC_TIMEOUT)
        time.sleep(0.01)
    code = os.waitstatus_to_exitcode(status)
    if code == 0:
        return MutantTrialResult(found=False, reason_code=MutantTrialResult.RC_NOT_FOUND)
    if code == 1:
        return MutantTrialResult(found=True, reason_code=MutantTrialResult.RC_FOUND)
    return MutantTrialResult(found=True, reason_code=MutantTrialResult.RC_OTHER,
                             reason_desc=f"pytest exited with {code}")  # fmt: skip


def where(lines: list[str], lineno: int) -> str:
    """``function: line`` for the line ``lineno`` (1-based), ``#n`` for its n-th occurrence."""
    line = lines[lineno - 1]
    indent = len(line) - len(line.lstrip())
    owner, start = "<module>", 0
    for i in range(lineno - 2, -1, -1):
        text = lines[i].lstrip()
        if text and len(lines[i]) - len(text) < indent and text.startswith(("def ", "class ")):
            owner, start = text.split()[1].split("(")[0].rstrip(":"), i
            break
    nth = [other.strip() for other in lines[start : lineno]].count(line.strip())
    return f"{owner}: {line.strip()}" + (f" #{nth}" if nth > 1 else "")


def _rule_names() -> list[tuple[str, str, str]]:
    """The secret rules' names (``"pem"``, ``"card"`` …): each names its own regex group and the
    check looked up by that group, both from the one table, so a changed name changes nothing
    (``"pair"``, which ``_secret`` names too, is left to the tests)."""
    lines = (ROOT / "crashreport/privacy/rules.py").read_text().splitlines()
    found = []
    for lineno, line in enumerate(lines, 1):
        name = line.strip().removeprefix('("').split('"', 1)[0]
        if line.startswith('    ("') and ', r"' in line and name != "pair":
            found.append((where(lines, lineno), f"'XX{name}XX'", "a rule's name is only the key "
                          "of its own group and check: renamed in both at once"))  # fmt: skip
    return found


EQUIVALENT["crashreport/privacy/rules.py"] = _rule_names()


def summarise(module: str, report: Path) -> float:
    """Print the survivors and the score; return the score (equivalent mutants left out)."""
    trials = json.loads(report.read_text())["mutant_trials"]
    lines = report.with_suffix(".py.txt").read_text().splitlines()  # the source that was run
    known = {(place, text): why for place, text, why in EQUIVALENT.get(module, [])}
    survivors, equivalent, timeouts = [], [], 0
    for trial in trials:
        if trial["result"]["reason_code"] == "Trial Exceeded Timeout":
            timeouts += 1  # the tests noticed: they did not finish
            continue
        if trial["result"]["found"]:
            continue
        m = trial["mutant"]
        place = where(lines, m["lineno"])
        why = known.get((place, m["text"]))
        row = f"{module}:{m['lineno']}  {m['mutator_name']:<9} {place}  →  {m['text']!r}"
        (equivalent if why else survivors).append(row + (f"\n    equivalent: {why}" if why else ""))
    for row in survivors + equivalent:
        print(row)
    total = len(trials) - len(equivalent)
    score = (total - len(survivors)) / total if total else 1.0
    print(f"{module}: {len(trials)} mutants, {len(survivors)} survived, "
          f"{len(equivalent)} equivalent, {timeouts} timed out (killed); score {score:.1%}")  # fmt: skip
    return score


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("module", nargs="?")
    parser.add_argument("--list", action="store_true", help="the modules and their tests")
    parser.add_argument("--report", action="store_true", help="summarise the last run only")
    parser.add_argument("--tests", nargs="+", help="pytest arguments instead of the table's")
    ns = parser.parse_args(argv)
    if ns.list or not ns.module:
        for module, tests in TESTS.items():
            print(f"{short_name(module):<20} {module:<36} {' '.join(tests)}")
        return 0
    module = module_path(ns.module)
    if not ns.report and (ROOT / "build" / "lib" / module).exists():
        # poodle's only_files matches this copy too, then finds it missing from a mutant's copy
        raise SystemExit(f"remove build/ first: poodle would mutate build/lib/{module} too")
    OUT.mkdir(exist_ok=True)
    report = OUT / (short_name(module).replace("/", ".") + ".json")
    if not ns.report:
        report.unlink(missing_ok=True)
        code = run(module, ns.tests or TESTS[module], report)
        if code not in (0, 1):  # 1: under fail_under; anything else: no result (see its output)
            print(f"poodle failed ({code}); rerun it without -q: poodle -c {OUT / report.stem}.toml",
                  file=sys.stderr)  # fmt: skip
            return code
    if not report.exists():
        print(f"no report at {report}", file=sys.stderr)
        return 1
    summarise(module, report)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())

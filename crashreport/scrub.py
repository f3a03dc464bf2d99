"""The privacy core: pure functions that remove personal data from event payloads.

No sentry import and no I/O here: :func:`machine_context` gathers the facts about this machine
once (at the edge), and :class:`Scrubber` applies them to any JSON-like payload. Every string
value and every dictionary key is scrubbed; the payload keeps its shape (same keys, same list
lengths, same types) apart from the fields that are removed on purpose.

The rules are plain data at the top of this module, each saying where it came from, and are
applied as a chain (structlog-style processors):

- :data:`EVENT_RULES`: small callables that remove whole fields of an event (``server_name``,
  ``sys.argv``, all of ``user`` but its id, ``request`` headers/cookies/env/data);
- :data:`STRING_RULES`: (name, regex, replace, trigger) rules. Each string first meets two
  C-speed quick regexes on its lower-cased text (symbols and digit shapes; words); the few that
  pass are scanned ONCE by a single alternation compiled from the rules they can trigger; the
  app author's extra ``patterns`` run after it. The source lines of a whole stack trace meet
  the quick regexes as one joined batch. Everything is compiled once per process and
  :class:`MachineContext`, so a new Scrubber per event costs ~2 us;
- :data:`DENY_KEYS` / :data:`DENY_KEY_WORDS`: values under sensitive keys become ``[Filtered]``;
  :data:`REMOVE_KEYS` are removed;
- frames: ``vars`` removed, ``abs_path``/``filename`` made relative to their installed root or
  reduced to a base name, source lines of the user's own files blanked.

A rule that fails on a value replaces that value with :data:`ERROR` and counts it in
:attr:`Scrubber.errors`; nothing raises out of :meth:`Scrubber.scrub`/:meth:`scrub_event`.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import hashlib
import ipaddress
import itertools
import operator
import os
import re
import socket
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# -- placeholders: short, readable, and never matched by any rule (so scrubbing is idempotent)
HOME = "~"
USER = "<user>"
HOST = "<host>"
PATH = "<path>"
EMAIL = "<email>"
IP = "<ip>"
FILTERED = "[Filtered]"  # the word sentry-sdk and Relay use for removed secrets
ERROR = "<scrub-error>"  # a value a rule failed on: never sent raw
DEEP = "<too-deep>"
CYCLE = "<cycle>"
TOO_LONG = "<too-long>"

#: Containers nested deeper than this are replaced by :data:`DEEP` (events are ~8 deep).
MAX_DEPTH = 32
#: Strings are scanned up to this length (longer ones become :data:`TOO_LONG`) ...
MAX_SCAN = 1 << 20
#: ... and cut to this length after scrubbing (a secret is never cut before it is seen).
MAX_STRING = 1 << 16
#: Per-string results kept (frames and breadcrumbs repeat a lot); cleared when full.
CACHE_SIZE = 8192
CACHE_MAX_LEN = 4096

# -- sensitive keys ---------------------------------------------------------------------------
#: Exact key names (lower-cased): sentry_sdk.scrubber.DEFAULT_DENYLIST + DEFAULT_PII_DENYLIST
#: (sentry-python 2.x), plus Relay's session cookie names and a few common ones.
DENY_KEYS: frozenset[str] = frozenset({
    # sentry_sdk.scrubber.DEFAULT_DENYLIST
    "password", "passwd", "secret", "api_key", "apikey", "auth", "credentials", "mysql_pwd",
    "privatekey", "private_key", "token", "session", "csrftoken", "sessionid", "x_csrftoken",
    "x_forwarded_for", "set_cookie", "cookie", "authorization", "proxy-authorization",
    "x_api_key", "aiohttp_session", "connect.sid", "csrf_token", "csrf", "_csrf", "_csrf_token",
    "phpsessid", "_session", "symfony", "user_session", "_xsrf", "xsrf-token",
    # sentry_sdk.scrubber.DEFAULT_PII_DENYLIST
    "x_real_ip", "ip_address", "remote_addr",
    # Relay's default cookie rules (relay-pii convert.rs) and common spellings
    "sentrysid", "sudo", "su", "__session", "fasthttpsessionid", "mysession", "irissessionid",
    "_vercel_jwt", "xsrf", "csrf-token", "xsrf_token", "fastcsrf", "_iris_csrf",
    "pwd", "pass", "passphrase", "pin", "otp", "jwt", "bearer", "signature", "sig",
    "x-api-key", "x-auth-token", "set-cookie", "proxy_authorization", "client_secret",
    "refresh_token", "access_token", "id_token", "ssn", "card_number", "cvv", "iban",
})  # fmt: skip
#: Keys whose entry is removed, not filtered, wherever found: an IP address must parse as one
#: (sessions' ``attrs.ip_address``), and Relay removes these too (``@anything:remove``).
REMOVE_KEYS: frozenset[str] = frozenset({"ip_address", "client_ip", "remote_addr"})
#: Words that make any key containing them sensitive: Relay's ``@password`` key pattern
#: (password, secret, passwd, api_key, apikey, auth, credentials, mysql_pwd, privatekey,
#: private_key, token), measured with sentry_relay.pii_strip_event, plus cookie/csrf/xsrf.
DENY_KEY_WORDS: tuple[str, ...] = (
    "password", "passwd", "secret", "api_key", "apikey", "auth", "credential", "mysql_pwd",
    "privatekey", "private_key", "token", "cookie", "csrf", "xsrf", "sessionid", "session_key",
    "api-key", "private-key",
)  # fmt: skip
#: Relay's default rules filter a whole *data* string (extra, contexts, breadcrumbs, tags)
#: when it merely contains one of these words; we do the same there so that nothing is left
#: for the server to strip (not in exception values, frames or log messages, where the
#: key=value and secret-shape rules apply instead).
DATA_WORDS: tuple[str, ...] = (
    "password", "passwd", "secret", "api_key", "apikey", "auth", "credential", "mysql_pwd",
    "privatekey", "private_key",
)  # fmt: skip

# -- names that are not personal --------------------------------------------------------------
#: Account and host names shared by millions of machines: replacing "root" or "runner" in free
#: text would mangle messages ("root logger") while identifying no one. Their home folder is
#: still replaced. Placeholder words are here too, so that scrubbing twice changes nothing.
COMMON_NAMES: frozenset[str] = frozenset({
    "root", "admin", "administrator", "user", "users", "guest", "nobody", "runner", "ubuntu",
    "debian", "fedora", "pi", "vagrant", "ec2-user", "test", "tester", "dev", "default", "home",
    "docker", "jenkins", "build", "builder", "ci", "system", "app", "www-data", "daemon",
    "localhost", "localhost.localdomain", "localdomain", "host", "path", "ip", "email",
    "filtered", "python", "scrub-error", "too-deep", "cycle", "too-long", "me", "owner", "main",
})  # fmt: skip

#: Folders of the operating system: paths under them name no one's files and are kept.
SYSTEM_DIRS: tuple[str, ...] = (
    "/usr/", "/etc/", "/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/", "/dev/", "/proc/",
    "/sys/", "/System/", "/Library/", "/opt/homebrew/", "c:/windows/", "c:/program files/",
    "c:/program files (x86)/",
)  # fmt: skip
#: What a home folder looks like on POSIX, macOS and Windows, whoever's it is.
HOME_LIKE = re.compile(r"(?i)^(?:/home/[^/]+|/Users/[^/]+|/root|[a-z]:/(?:Users|Documents and "
                       r"Settings)/[^/]+|/var/home/[^/]+)/?$")  # fmt: skip


# -- the machine --------------------------------------------------------------------------------
@dataclass(frozen=True)
class MachineContext:
    """Personal strings of this machine and the roots of installed code, longest first.

    ``roots`` maps the folder of installed code (site-packages, stdlib, the interpreter's
    prefix) to the short label that replaces it in free text.
    """

    home: tuple[str, ...] = ()
    user_names: tuple[str, ...] = ()
    host_names: tuple[str, ...] = ()
    roots: tuple[tuple[str, str], ...] = ()


def machine_context(environ: Mapping[str, str] | None = None) -> MachineContext:
    """Gather home, user names, host names and installed-code roots (reads only, never raises)."""
    environ = os.environ if environ is None else environ
    homes = {environ.get("HOME", ""), environ.get("USERPROFILE", "")}
    with contextlib.suppress(Exception):  # no home is fine
        homes.add(os.path.expanduser("~"))
    names = {environ.get(k, "") for k in ("USER", "LOGNAME", "USERNAME")}
    try:
        import getpass

        names.add(getpass.getuser())
    except Exception:  # noqa: S110 - no user name is fine
        pass
    homes = {h.rstrip("/\\") for h in homes if h and h.rstrip("/\\")}
    for home in homes:
        names.add(re.split(r"[/\\]", home)[-1])
    hosts = _host_names()
    return MachineContext(
        home=_longest_first(homes, 2),
        user_names=_longest_first(names, 2),
        host_names=_longest_first(hosts, 2),
        roots=_installed_roots(),
    )


def _host_names() -> set[str]:
    """The host name, and its full names from /etc/hosts: what ``socket.getfqdn()`` finds on
    most machines, without its reverse DNS lookup (which can block start-up for seconds
    offline, and would be network traffic outside the transport)."""
    hosts: set[str] = set()
    with contextlib.suppress(Exception):  # no host name is fine
        hosts.add(socket.gethostname())
    short = {h.split(".")[0].lower() for h in hosts}
    with contextlib.suppress(OSError, UnicodeDecodeError), open("/etc/hosts", encoding="utf-8") as f:
        for line in f.read(1 << 16).splitlines():
            names = line.split("#", 1)[0].split()[1:]
            if any(n.split(".")[0].lower() in short for n in names):
                hosts.update(n for n in names if n.lower() not in ("localhost", "localhost.localdomain"))
    return hosts | {h.split(".")[0] for h in hosts}


def _longest_first(values: Iterable[str], min_len: int) -> tuple[str, ...]:
    keep = {v for v in values if v and len(v) >= min_len}
    return tuple(sorted(keep, key=lambda v: (-len(v), v)))


def _installed_roots() -> tuple[tuple[str, str], ...]:
    """Folders of installed code with their labels: stdlib, site-packages, the interpreter."""
    roots: dict[str, str] = {}

    def add(path: object, label: str) -> None:
        if isinstance(path, str) and len(path.rstrip("/\\")) > 1:
            roots.setdefault(path.rstrip("/\\"), label)

    try:
        import sysconfig

        paths = sysconfig.get_paths()
        for key in ("stdlib", "platstdlib"):
            add(paths.get(key), "<stdlib>")
        for key in ("purelib", "platlib"):
            add(paths.get(key), "<site-packages>")
    except Exception:  # noqa: S110 - fewer roots only means more "<path>"
        pass
    try:
        import site

        for path in [*site.getsitepackages(), site.getusersitepackages()]:
            add(path, "<site-packages>")
    except Exception:  # noqa: S110
        pass
    for path in sys.path:
        if path.rstrip("/\\").endswith(("site-packages", "dist-packages")):
            add(path, "<site-packages>")
    for path in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
        add(path, "<python>")
    return tuple(sorted(roots.items(), key=lambda kv: (-len(kv[0]), kv[0])))


# -- string rules ---------------------------------------------------------------------------------
Replace = Callable[["Scrubber", str], str]


def _filtered(_s: Scrubber, _text: str) -> str:
    return FILTERED


def _luhn_ok(digits: list[int]) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _luhn(_s: Scrubber, text: str) -> str:
    """A card number: whole groups (split at spaces/dashes) of 13-19 digits that pass Luhn."""
    groups = re.split(r"[ -]", text)
    for start in range(len(groups)):
        for end in range(start + 1, len(groups) + 1):
            digits = [int(c) for c in "".join(groups[start:end])]
            if 13 <= len(digits) <= 19 and _luhn_ok(digits):
                return FILTERED
    return text


def _iban(_s: Scrubber, text: str) -> str:
    """An IBAN (ISO 13616): the match, or a prefix of it, passes the mod-97 check."""
    compact = text.replace(" ", "").upper()
    for n in range(len(compact), 14, -1):
        moved = compact[4:n] + compact[:4]
        try:
            number = int("".join(str(int(c, 36)) for c in moved))
        except ValueError:
            return text
        if number % 97 == 1:
            return FILTERED
    return text


def _ip(_s: Scrubber, text: str) -> str:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return text
    return IP


def _email(_s: Scrubber, _text: str) -> str:
    return EMAIL


_URL_PARTS = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$", re.S)


def _url(s: Scrubber, text: str) -> str:
    """user:password@ and the whole query go; host and path get the other rules."""
    m = _URL_PARTS.match(text)
    if m is None:
        return FILTERED
    scheme, authority, path, query, fragment = m.groups()
    if "@" in authority:
        authority = FILTERED + "@" + authority.rsplit("@", 1)[1]
    if scheme.lower() == "file://":
        rest = s._sub(path) if path else ""
    else:
        rest = s._sub_no_paths(path) if path else ""
    out = scheme + s._sub_no_paths(authority) + rest
    if query:
        out += "?" + FILTERED
    if fragment:
        out += "#" + FILTERED
    return out


def _path(s: Scrubber, text: str) -> str:
    return s._classify_path(text)


def _user(_s: Scrubber, _text: str) -> str:
    return USER


def _host(_s: Scrubber, _text: str) -> str:
    return HOST


_B = r"(?<![\w.+-])"  # not inside a longer token
_E = r"(?![\w-])"
_PATH_CHARS = r"[^\s'\"<>|;,()\[\]{}*?`:]"

#: (name, regex, replace, trigger), tried in this order at each position. ``trigger`` is a cheap
#: test (see :func:`_triggers`) that must hold for the rule to have any chance of matching; the
#: rules a string can trigger are compiled together (once per combination) and scanned in ONE
#: pass. Sources: GitHub token formats (github.blog 2021-04-05, "Behind GitHub's new
#: authentication token formats"), AWS access key ids (AKIA/ASIA..., IAM docs), Slack tokens
#: (xox[abprs]-), Stripe live keys, Google API keys (AIza + 35), JWT (RFC 7519, base64url
#: "eyJ"), PEM (RFC 7468), credit cards (Luhn), IBAN (ISO 13616 mod 97), US SSN and Bearer tokens
#: (as Relay's @creditcard/@iban/@usssn/@bearer), Relay's @password pairs, @ip.
STRING_RULES: tuple[tuple[str, str, Replace, str], ...] = (
    ("pem", r"(?:-----BEGIN[A-Z ]*)?PRIVATE KEY-----(?s:.*?)(?:-----END[A-Z ]*PRIVATE KEY-----|\Z)",
     _filtered, "pem"),
    # Brackets end a URL except around an IPv6 host: "file:///x[[Password: y" is two things.
    ("url", r"\b[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^\s'\"<>`;,\[\]@/]*@)?(?:\[[0-9A-Fa-f:.]+\])?"
     r"[^\s'\"<>`;,\[\]]*", _url, "url"),
    ("email", _B + r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}" + _E, _email, "at"),
    ("github", r"\b(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_\w{22,255})\b", _filtered, "gh"),
    ("aws", r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b", _filtered, "aws"),
    ("slack", r"\bxox[abprs]-[A-Za-z0-9-]{10,}", _filtered, "xox"),
    ("stripe", r"\b(?:sk|rk|pk)_live_[0-9A-Za-z]{10,}", _filtered, "live"),
    ("google", r"\bAIza[0-9A-Za-z_-]{30,40}", _filtered, "aiza"),
    ("jwt", r"\beyJ[\w-]{5,}\.eyJ[\w-]{5,}\.[\w-]*", _filtered, "jwt"),
    ("bearer", r"(?i:\bbearer\s+)[^\s\"']+"
     r"|(?i:\b(?:basic|token)\s+)(?=[\w.~+/-]*\d)[\w.~+/-]{8,}=*", _filtered, "word"),
    # A key may repeat before its value ("APIKEY: Password: x"): each one is consumed, so the
    # value after the last is what gets filtered.
    ("pair", r"(?:(?i:" + _B + r"-{0,2}[\w.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|auth"
     r"|credential|private[_-]?key|session[_-]?id|cookie)[\w.-]*)[\"']?"
     r"(?:\s*[:=]\s*|\s+(?=\S*\d)(?=\S{6,})))+(?i:(?:bearer|basic|token|digest)\s+)?"
     r"(?:\"[^\"]*\"?|'[^']*'?|[^\s,;&'\"\[\](){}<>]+)", _filtered,
     "word"),
    ("card", r"(?<![\w.-])\d(?:[ -]?\d){12,30}(?![\w-])", _luhn, "digits"),
    ("iban", r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b", _iban, "digits"),
    ("ssn", r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])", _filtered, "digits"),
    ("ipv4", r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)", _ip, "dotdigit"),
    ("ipv6", r"(?<![\w.])(?<![0-9A-Fa-f]:)(?=[0-9A-Fa-f:]*[0-9A-Fa-f]{3})"
     r"(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4}){7}|(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*)?::(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*)?"
     r"(?::\d{1,3}(?:\.\d{1,3}){3})?)(?!\w|:[0-9A-Fa-f])", _ip, "colons"),
    ("qpath", r"(?<=['\"])(?:~(?=[/\\])|/|[A-Za-z]:[\\/]|\\\\)(?=[^\s'\"])[^'\"\n]*"
     r"(?=['\"])", _path, "path"),
    ("relpath", r"(?<=['\"])(?=[^'\"\n]*\.\w{1,8}['\"]|(?:[^'\"/\n]+/){2})"
     r"[\w.@+-]+(?:/[\w.@+-]+)+(?=['\"])", _path, "path"),
    ("path", r"(?<![\w.~/\\<>\])%])(?:~(?![\w~])|~?/(?=[\w.~@+-])|[A-Za-z]:[\\/]|\\\\(?=\w))"
     + _PATH_CHARS + r"*(?<![.])", _path, "path"),
)  # fmt: skip

#: A card number may be written one digit at a time ("4 1 1 1 ..."), so two digits with at most
#: one separator between them, not only two adjacent ones, can start a digit rule.
_DIGITS = re.compile(r"\d[ -]?\d")
_DOT_DIGIT = re.compile(r"\d\.\d")
_WORDS = ("password", "passwd", "pwd", "secret", "token", "key", "auth", "credential", "private",
          "session", "cookie", "bearer", "basic")  # fmt: skip
#: Lower-case substrings, one of which any match of a word-based rule contains: the ``pair``
#: rule's key words ("passw" for password/passwd, "private" for private_key/privatekey/private
#: key, "session" for session_id/sessionid), bearer/basic/token, and the secret prefixes.
_QUICK_WORDS = ("passw", "pwd", "secret", "token", "apikey", "api_key", "api-key", "auth",
                "credential", "private", "session", "cookie", "bearer", "basic", "gh", "akia",
                "asia", "agpa", "aida", "aroa", "xox", "_live_", "aiza", "eyj")  # fmt: skip


def _triggers(text: str, low: str) -> set[str]:
    """Which rule triggers ``text`` can fire: substring tests at C speed, no regex scan."""
    found = set()
    if "://" in text:
        found.add("url")
    if "@" in text:
        found.add("at")
    if "/" in text or "\\" in text or "~" in text:
        found.add("path")
    if "PRIVATE KEY" in text:
        found.add("pem")
    if "gh" in text:
        found.add("gh")
    if "A" in text and ("AKIA" in text or "ASIA" in text or "AGPA" in text or "AIDA" in text
                        or "AROA" in text):  # fmt: skip
        found.add("aws")
    if "xox" in text:
        found.add("xox")
    if "_live_" in text:
        found.add("live")
    if "AIza" in text:
        found.add("aiza")
    if "eyJ" in text:
        found.add("jwt")
    if "::" in text or text.count(":") >= 7:
        found.add("colons")
    if _DIGITS.search(text):
        found.add("digits")
        if "." in text and _DOT_DIGIT.search(text):
            found.add("dotdigit")
    for word in _WORDS:
        if word in low:
            found.add("word")
            break
    return found


# -- event rules ----------------------------------------------------------------------------------
EventRule = Callable[[dict[str, Any]], None]


def drop_server_name(event: dict[str, Any]) -> None:
    """sentry-sdk sets the hostname here by default."""
    event.pop("server_name", None)


def drop_argv(event: dict[str, Any]) -> None:
    """sentry-sdk's ``extra["sys.argv"]`` holds every argument, ``--password`` values too."""
    extra = event.get("extra")
    if isinstance(extra, Mapping) and "sys.argv" in extra:
        event["extra"] = {k: v for k, v in extra.items() if k != "sys.argv"}


_SAFE_ID = re.compile(r"^[0-9A-Fa-f-]{8,64}$")


def reduce_user(event: dict[str, Any]) -> None:
    """Only the anonymous id of the user is sent (no ip_address, name, email, ...)."""
    user = event.get("user")
    if user is None:
        return
    uid = user.get("id") if isinstance(user, Mapping) else None
    if isinstance(uid, int | str) and not isinstance(uid, bool):
        event["user"] = {"id": uid}
    else:
        del event["user"]


def drop_request_data(event: dict[str, Any]) -> None:
    """A CLI has no request; what a library put there (headers, cookies, env) is not sent."""
    request = event.get("request")
    if isinstance(request, Mapping):
        drop = {"cookies", "headers", "env", "data", "query_string"}
        event["request"] = {k: v for k, v in request.items() if k not in drop}


#: Applied in order to a shallow copy of each event before its strings are scrubbed.
EVENT_RULES: tuple[EventRule, ...] = (drop_server_name, drop_argv, reduce_user, drop_request_data)

#: Top-level event fields set by the SDK or the app author, kept verbatim.
VERBATIM_FIELDS = frozenset({"event_id", "timestamp", "start_timestamp", "received", "release",
                             "dist", "environment", "platform", "level", "type"})  # fmt: skip
#: Event sections of code and messages: secret shapes are removed, not whole strings.
TEXT_FIELDS = frozenset({"exception", "threads", "stacktrace", "logentry", "message",
                         "transaction", "spans", "culprit", "logger"})  # fmt: skip


# -- compiled once per process ---------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _quick_symbols() -> re.Pattern[str]:
    """The symbol half of the quick test (see :meth:`Scrubber._pattern`), on lower-cased text.

    It must find every string a rule could match, so each part is the necessary core of a rule
    (see STRING_RULES), and every branch starts with a literal (the engine skips ahead on the
    set of first characters). Compiled once per process, on first use.
    """
    symbols = ["/[^\\s'\"]", ":/", ":\\\\", "\\\\\\\\", "~", "@[\\w-]+\\.", "::"]
    # One branch per first digit (a branch starting with a class would cost the engine its
    # first-character skip); inside, plain character runs that never backtrack: a card is 13+
    # characters of digits, spaces and dashes, an IBAN two digits and 11+ letters, digits or
    # spaces (each a necessary, looser form of its rule). ISO timestamps no longer cost ~5 us.
    digit_rules = "|".join((
        r"[0-9 -]{12}",  # card
        r"[0-9][ a-z0-9]{11}",  # iban
        r"[0-9]{2}-[0-9]{2}-[0-9]{4}(?![0-9])",  # ssn (not a date)
        r"[0-9]{0,2}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]",  # ipv4
    ))
    symbols += [d + "(?:" + digit_rules + ")" for d in "0123456789"]
    return re.compile("|".join(symbols))


def _trie(words: Iterable[str]) -> str:
    """An alternation of literal words factored by first letter (``a(?:uth|iza)|...``): the
    engine then tries one branch per candidate position instead of every word, 2-3x faster
    than a flat alternation. A word that another word starts with covers it."""
    groups: dict[str, list[str]] = {}
    for word in sorted(set(words) - {""}):
        groups.setdefault(word[0], []).append(word[1:])
    parts = []
    for first, rests in groups.items():
        if "" in rests:
            parts.append(re.escape(first))
        elif len(rests) == 1:
            parts.append(re.escape(first + rests[0]))
        else:
            parts.append(re.escape(first) + "(?:" + _trie(rests) + ")")
    return "|".join(parts)


@functools.lru_cache(maxsize=1)
def _deny_words() -> re.Pattern[str]:
    """:data:`DENY_KEY_WORDS` as one regex (over lower-cased keys)."""
    return re.compile(_trie(DENY_KEY_WORDS))


@functools.lru_cache(maxsize=1)
def _data_words() -> re.Pattern[str]:
    """:data:`DATA_WORDS` as one regex over lower-cased text (far faster than ``(?i)``)."""
    return re.compile(_trie(DATA_WORDS))


@dataclass(frozen=True)
class _Prepared:
    """What a :class:`Scrubber` derives from a :class:`MachineContext`, computed once per
    context and process, so that building a Scrubber costs next to nothing."""

    homes: tuple[str, ...]
    roots: tuple[tuple[str, str], ...]
    alternatives: tuple[tuple[str, str], ...]
    replacers: tuple[tuple[str, Replace], ...]
    host_lows: tuple[str, ...]
    user_lows: tuple[str, ...]
    quick_words: re.Pattern[str]
    #: The one regex per combination of triggers, shared by the Scrubbers of this context.
    compiled: dict[frozenset[str], re.Pattern[str]]


@functools.lru_cache(maxsize=8)
def _prepare(context: MachineContext) -> _Prepared:
    alternatives: list[tuple[str, str]] = []
    replacers: list[tuple[str, Replace]] = []
    for i, (name, regex, replace, trigger) in enumerate(STRING_RULES):
        group = f"r{i}_{name}"
        alternatives.append((trigger, f"(?P<{group}>{regex})"))
        replacers.append((group, replace))
    hosts = [h for h in context.host_names if h.lower() not in COMMON_NAMES]
    users = [u for u in context.user_names if u.lower() not in COMMON_NAMES]
    if hosts:
        alternatives.append(("host", "(?P<host>" + _words(hosts) + ")"))
        replacers.append(("host", _host))
    if users:
        alternatives.append(("user", "(?P<user>" + _words(users) + ")"))
        replacers.append(("user", _user))
    host_lows = tuple(sorted({h.lower() for h in hosts}))
    user_lows = tuple(sorted({u.lower() for u in users}))
    return _Prepared(
        homes=tuple(_norm(h) for h in context.home),
        roots=tuple((_norm(r), label) for r, label in context.roots),
        alternatives=tuple(alternatives),
        replacers=tuple(replacers),
        host_lows=host_lows,
        user_lows=user_lows,
        quick_words=re.compile(_trie((*_QUICK_WORDS, *host_lows, *user_lows))),
        compiled={},
    )


#: The keys of a stack frame in Sentry's protocol (``vars`` is removed).
FRAME_KEYS = frozenset({"filename", "abs_path", "function", "raw_function", "module", "lineno",
                        "colno", "pre_context", "context_line", "post_context", "vars", "in_app",
                        "package", "platform", "instruction_addr", "addr_mode", "symbol",
                        "symbol_addr", "image_addr", "function_id", "lang", "stack_start",
                        "trust"})  # fmt: skip
_PLAIN = (bool, int, float)
#: A value in :meth:`Scrubber._mapping`'s ``done`` that removes its key.
_DROP: Any = object()


# -- the scrubber -------------------------------------------------------------------------------
class Scrubber:
    """Scrubs strings and nested payloads with rules compiled once into one regex.

    ``patterns``: extra regexes (strings or compiled) whose matches become ``[Filtered]``;
    ``keys``: extra key names whose values become ``[Filtered]``; ``path_salt``: when given,
    user paths become ``<path:xxxxxx>`` (a salted hash, so the same path groups together; keep
    the salt on the machine).
    """

    def __init__(
        self,
        context: MachineContext,
        *,
        patterns: Iterable[str | re.Pattern[str]] = (),
        keys: Iterable[str] = (),
        path_salt: bytes | None = None,
    ) -> None:
        self.context = context
        self.errors = 0
        self._extra = tuple(re.compile(p) if isinstance(p, str) else p for p in patterns)
        self._deny_keys = DENY_KEYS | {k.lower() for k in keys}
        self._deny_words = _deny_words()
        self._data_words = _data_words()
        self._salt = path_salt
        prepared = _prepare(context)
        self._homes = prepared.homes
        self._roots = prepared.roots
        self._alternatives = prepared.alternatives  # (trigger, named regex)
        self._replacers: dict[str, Replace] = dict(prepared.replacers)
        self._host_lows = prepared.host_lows
        self._user_lows = prepared.user_lows
        self._compiled = prepared.compiled
        self._quick = _quick_symbols()
        self._quick_words = prepared.quick_words
        self._cache_text: dict[str, str] = {}
        self._keys: dict[str, tuple[str, int]] = {}  # key -> (scrubbed, 0 keep|1 filter|2 drop)
        self._cache_data: dict[str, str] = {}
        self._safe_keys: frozenset[str] | None = None
        self._cache_paths: dict[tuple[str, str | None], tuple[str, bool]] = {}  # frame_path, own

    # -- strings --------------------------------------------------------------------------------
    def _replace(self, m: re.Match[str]) -> str:
        group = m.lastgroup or ""
        return self._replacers[group](self, m.group(group))

    def _pattern(self, text: str, paths: bool = True) -> re.Pattern[str] | None:
        """The one regex of the rules ``text`` can trigger (None: nothing to do)."""
        low = text.lower()
        if (self._quick.search(low) is None and self._quick_words.search(low) is None
                and low.count(":") < 7):  # fmt: skip
            return None
        found = _triggers(text, low)
        if not paths:
            found.discard("path")
        if any(h in low for h in self._host_lows):
            found.add("host")
        if any(u in low for u in self._user_lows):
            found.add("user")
        if not found:
            return None
        key = frozenset(found)
        pattern = self._compiled.get(key)
        if pattern is None:
            if len(self._compiled) >= 512:
                self._compiled.clear()
            pattern = re.compile("|".join(r for t, r in self._alternatives if t in key))
            self._compiled[key] = pattern
        return pattern

    def _sub(self, text: str) -> str:
        pattern = self._pattern(text)
        return text if pattern is None else pattern.sub(self._replace, text)

    def _sub_no_paths(self, text: str) -> str:
        pattern = self._pattern(text, paths=False)
        return text if pattern is None else pattern.sub(self._replace, text)

    def scrub_string(self, value: str) -> str:
        """Free text (messages, code, frames): personal parts and secret shapes replaced."""
        cached = self._cache_text.get(value)
        if cached is not None:
            return cached
        out = self._scrub_text(value)
        self._remember(self._cache_text, value, out)
        return out

    def _scrub_data(self, value: str) -> str:
        """A data value (extra, contexts, breadcrumbs): also filtered whole when it mentions a
        password-like word, as Relay's default rules do."""
        cached = self._cache_data.get(value)
        if cached is not None:
            return cached
        out = self.scrub_string(value)
        if out is not TOO_LONG and (
            self._data_words.search(value.lower())
            or (out is not value and self._data_words.search(out.lower()))
        ):
            out = FILTERED
        self._remember(self._cache_data, value, out)
        return out

    def _scrub_text(self, value: str) -> str:
        try:
            if len(value) > MAX_SCAN:
                return TOO_LONG
            out = self._sub(value)
            for extra in self._extra:
                out = extra.sub(FILTERED, out)
            if len(out) > MAX_STRING:
                out = out[: MAX_STRING - 1] + "…"
            return out
        except Exception:
            self.errors += 1
            return ERROR

    @staticmethod
    def _remember(cache: dict[Any, Any], text: str, value: Any, key: Any = None) -> None:
        """Cache ``value`` under ``key`` (default: ``text``) unless ``text`` is long; a full
        cache is cleared (bounded memory, no LRU bookkeeping on the hot path)."""
        if len(text) <= CACHE_MAX_LEN:
            if len(cache) >= CACHE_SIZE:
                cache.clear()
            cache[text if key is None else key] = value

    # -- paths ----------------------------------------------------------------------------------
    def _classify_path(self, text: str) -> str:
        """A path in free text: installed code keeps its tail, home is ``~``, else ``<path>``."""
        norm = _norm(text)
        low = norm.lower()
        for root, label in self._roots:
            if norm == root or norm.startswith(root + "/"):
                return label + self._sub_no_paths(norm[len(root):])
        if norm in ("~", "~/") or norm.rstrip("/") in self._homes or HOME_LIKE.match(norm):
            return HOME
        if low.startswith(SYSTEM_DIRS) and not any(h and low.startswith(h.lower()) for h in
                                                   self._homes):  # fmt: skip
            return self._sub_no_paths(text)
        if self._salt is not None:
            digest = hashlib.blake2b(norm.encode("utf-8", "replace"), key=self._salt[:64],
                                     digest_size=3).hexdigest()  # fmt: skip
            return f"<path:{digest}>"
        return PATH

    def frame_path(self, path: str, module: str | None) -> str:
        """A frame's abs_path/filename: relative to its installed root or to its sys.path entry
        (found from the module name); anything else keeps only its base name."""
        return self._frame_path(path, module)[0]

    def _frame_path(self, path: str, module: str | None) -> tuple[str, bool]:
        """(:meth:`frame_path`, whether the file is the user's own), cached: the frames of one
        traceback share a handful of files."""
        key = (path, module)
        cached = self._cache_paths.get(key)
        if cached is None:
            errors = self.errors
            cached = (self._frame_path_uncached(path, module), self._own_file(path, module))
            if self.errors == errors:  # a failure is counted each time it happens
                self._remember(self._cache_paths, path, cached, key)
        return cached

    def _frame_path_uncached(self, path: str, module: str | None) -> str:
        try:
            norm = _norm(path)
            if not norm or norm.startswith("<"):
                return self.scrub_string(path)
            tail = _module_tail(norm, module)
            for root, label in self._roots:
                if norm.startswith(root + "/"):
                    return tail or label + self._sub_no_paths(norm[len(root):])
            if tail:
                return self.scrub_string(tail)
            return self.scrub_string(norm.rsplit("/", 1)[-1])
        except Exception:
            self.errors += 1
            return ERROR

    # -- payloads ---------------------------------------------------------------------------------
    def scrub(self, value: Any) -> Any:
        """A scrubbed copy of a JSON-like value (sessions, logs, client reports, spans ...)."""
        try:
            return self._walk(value, 0, set(), self._scrub_data)
        except Exception:
            self.errors += 1
            return ERROR

    def scrub_event(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """A scrubbed copy of an event or transaction; fields never to be sent are removed."""
        try:
            out: dict[str, Any] = dict(event)
            for rule in EVENT_RULES:
                try:
                    rule(out)
                except Exception:
                    self.errors += 1
            for key, value in list(out.items()):
                if key in VERBATIM_FIELDS and isinstance(value, str | int | float | type(None)):
                    continue
                if key == "modules" and _flat_strings(value):
                    continue
                if key == "user" and isinstance(value, dict) and set(value) == {"id"}:
                    uid = value["id"]
                    if isinstance(uid, int) or (isinstance(uid, str) and _SAFE_ID.match(uid)):
                        continue
                mode = self.scrub_string if key in TEXT_FIELDS else self._scrub_data
                out[key] = self._walk(value, 1, set(), mode)
            return self._mapping(out, 0, set(), self.scrub_string, walk_values=False)
        except Exception:
            self.errors += 1
            return {"message": ERROR}

    def _walk(self, value: Any, depth: int, seen: set[int], mode: Callable[[str], str]) -> Any:
        kind = type(value)
        if kind is str:
            return mode(value)
        if value is None or kind is bool or kind is int or kind is float:
            return value
        if depth >= MAX_DEPTH:
            return DEEP
        if isinstance(value, Mapping):
            if id(value) in seen:
                return CYCLE
            seen.add(id(value))
            try:
                return self._mapping(value, depth, seen, mode)
            finally:
                seen.discard(id(value))
        if isinstance(value, list | tuple | set | frozenset):
            if id(value) in seen:
                return CYCLE
            seen.add(id(value))
            try:
                depth += 1
                return [mode(v) if type(v) is str else self._walk(v, depth, seen, mode)
                        for v in value]  # fmt: skip
            finally:
                seen.discard(id(value))
        try:
            if isinstance(value, bytes | bytearray | memoryview):
                return mode(bytes(value).decode("utf-8", "replace"))
            if isinstance(value, str | bool | int | float):  # subclasses: plain values
                return mode(str(value)) if isinstance(value, str) else value
            return mode(str(value))
        except Exception:
            self.errors += 1
            return ERROR

    def _mapping(
        self,
        value: Mapping[Any, Any],
        depth: int,
        seen: set[int],
        mode: Callable[[str], str],
        walk_values: bool = True,
        done: Mapping[Any, Any] | None = None,
    ) -> dict[Any, Any]:
        """A scrubbed dict: keys scrubbed (kept distinct), values under sensitive keys filtered;
        ``done`` holds keys whose scrubbed value is already known (:data:`_DROP`: removed)."""
        out: dict[Any, Any] = {}
        depth += 1
        for key, item in value.items():
            if done is not None and key in done:
                item = done[key]
                if item is not _DROP:
                    out[key] = item
                continue
            try:
                info = self._keys.get(key) if type(key) is str else None
                if info is None:
                    info = self._key_info(key)
                new_key, sensitive = info
                if not walk_values:
                    pass
                elif sensitive == 2:
                    continue
                elif sensitive:
                    item = item if item is None or isinstance(item, bool) else FILTERED
                elif type(item) is str:
                    item = mode(item)
                elif key == "frames" and isinstance(item, list):
                    item = self._frames(item, depth + 1, seen)
                else:
                    item = self._walk(item, depth, seen, mode)
            except Exception:
                self.errors += 1
                new_key, item = ERROR, ERROR
            if new_key in out:  # two keys scrubbed to the same text keep both values
                n = 2
                while f"{new_key}#{n}" in out:
                    n += 1
                new_key = f"{new_key}#{n}"
            out[new_key] = item
        return out

    def _key_info(self, key: Any) -> tuple[Any, int]:
        """(scrubbed key, whether its value is sensitive), cached for string keys."""
        if isinstance(key, str):
            low = key.lower()
            sensitive = low in self._deny_keys or self._deny_words.search(low) is not None
            info = (self.scrub_string(str(key)), 2 if low in REMOVE_KEYS else int(sensitive))
            self._remember(self._keys, key, info)
            return info
        if key is None or isinstance(key, bool | int | float):
            return key, 0
        if isinstance(key, bytes):
            return self.scrub_string(key.decode("utf-8", "replace")), 0
        return self.scrub_string(str(key)), 0

    def _frames(
        self, frames: list[Any], depth: int, seen: set[int], check: bool = False
    ) -> list[Any]:
        """The frames of one stack trace: local variables dropped, paths made relative, the rest
        as text.

        The source lines (``pre_context``, ``context_line``, ``post_context``) of all frames are
        done as one batch: each line is looked up in the string cache (a traceback's frames, and
        the next traceback's, share many lines), and the new ones are joined, lower-cased and
        scanned once per quick regex, so the rules run only on the few lines that need them.
        The lines of the user's own files (in their home, not installed code) are blanked,
        keeping their count: a script's literals and comments are the user's data.

        Lists of lines are assumed to hold only strings, checked once for the whole batch; if
        one does not, the frames are planned again with ``check`` (each list on its own).
        """
        lines: list[str] = []
        plans: list[tuple[str | None, bool, dict[str, tuple[int, int, bool]]] | None] = []
        for frame in frames:
            if not isinstance(frame, Mapping):
                plans.append(None)
                continue
            module = frame.get("module")
            module = module if isinstance(module, str) else None
            path = frame.get("abs_path") or frame.get("filename")
            own = isinstance(path, str) and self._frame_path(path, module)[1]
            spans: dict[str, tuple[int, int, bool]] = {}
            for key in ("pre_context", "context_line", "post_context"):
                value = frame.get(key)
                if isinstance(value, str):
                    spans[key] = (len(lines), len(lines) + 1, False)
                    lines.append("" if own else value)
                elif isinstance(value, list) and (not (check or own) or _all_str(value)):
                    spans[key] = (len(lines), len(lines) + len(value), True)
                    lines.extend([""] * len(value) if own else value)
            plans.append((module, own, spans))
        if not check and not _all_str(lines):
            return self._frames(frames, depth, seen, check=True)
        clean: list[Any] = list(map(self._cache_text.get, lines))  # None: not cached yet
        if None in clean:
            clean = self._new_lines(lines, clean)
        out: list[Any] = []
        safe = self._safe_frame_keys()
        text = self.scrub_string
        for frame, plan in zip(frames, plans, strict=True):
            if plan is None:
                out.append(self._walk(frame, depth, seen, self.scrub_string))
                continue
            module, own, spans = plan
            done: dict[str, Any] = {key: clean[a:b] if is_list else clean[a]
                                    for key, (a, b, is_list) in spans.items()}  # fmt: skip
            for key in ("abs_path", "filename"):
                value = frame.get(key)
                if isinstance(value, str):
                    done[key] = self._frame_path(value, module)[0]
            if frame.keys() <= safe:  # the usual frame: no key to rename or filter
                clean_frame = dict(frame)
                clean_frame.update(done)
                clean_frame.pop("vars", None)
                for key, value in clean_frame.items():
                    if key in done or value is None or type(value) in _PLAIN:
                        continue
                    clean_frame[key] = (text(value) if type(value) is str
                                        else self._walk(value, depth + 1, seen, text))  # fmt: skip
                out.append(clean_frame)
            else:
                done["vars"] = _DROP
                out.append(self._mapping(frame, depth, seen, text, done=done))
        return out

    def _safe_frame_keys(self) -> frozenset[str]:
        """The :data:`FRAME_KEYS` that this scrubber keeps as they are, and whose values are not
        sensitive (all of them, unless a user is called "module" or the app author's patterns
        match a key): frames with only these keys take the short way in :meth:`_frames`."""
        if self._safe_keys is None:
            self._safe_keys = frozenset(k for k in FRAME_KEYS if self._key_info(k) == (k, 0))
        return self._safe_keys

    def _new_lines(self, lines: list[str], clean: list[Any]) -> list[Any]:
        """``clean`` with its ``None`` entries (lines not in the cache) scrubbed and cached.

        The new lines (each once) are joined and lower-cased, and each quick regex scans the
        whole text once; only the lines a quick test finds get the rules (``scrub_string``),
        the others are what ``scrub_string`` would return for them: themselves. Every step
        over all lines is a C-level call (map, join, dict.update), not a Python loop.
        """
        new = list(dict.fromkeys(itertools.compress(lines, map(operator.is_, clean,
                                                               itertools.repeat(None)))))  # fmt: skip
        joined = "\n".join(new).lower()
        if self._extra:  # the app author's patterns may match any line
            hits = set(range(len(new)))
        elif self._quick.search(joined) is None and self._quick_words.search(joined) is None:
            hits = set()  # the common case: one C-speed scan per regex, no line needs rules
        elif len(joined) != sum(map(len, new)) + len(new) - 1:
            hits = set(range(len(new)))  # lower() changed a length ("İ"): no line map
        else:  # no quick match spans a newline, so each one names its line
            starts = list(itertools.accumulate(map(len, new), lambda a, n: a + n + 1, initial=0))
            hits = {bisect.bisect_right(starts, m.start()) - 1
                    for quick in (self._quick, self._quick_words)
                    for m in quick.finditer(joined)}  # fmt: skip
        if joined.count(":") >= 7 and max(map(str.count, new, itertools.repeat(":"))) >= 7:
            hits.update(i for i, line in enumerate(new) if line.count(":") >= 7)
        long = max(map(len, new)) > CACHE_MAX_LEN
        if long:
            hits.update(i for i, line in enumerate(new) if len(line) > CACHE_MAX_LEN)
        results = dict(zip(new, new, strict=True))
        for i in hits:
            results[new[i]] = self.scrub_string(new[i])
        cache = self._cache_text
        if len(cache) + len(results) > CACHE_SIZE:
            cache.clear()
        if not long:
            cache.update(results)
        return list(map(results.get, lines, clean))

    def _own_file(self, path: str, module: str | None) -> bool:
        """Whether a frame's file is the user's own: anything that is not installed code (the
        stdlib, site-packages, the interpreter), wherever it lives: a script in ~/bin, /tmp or
        /srv is the user's as much as one in the home folder."""
        norm = _norm(path)
        if norm.startswith("<"):
            return False
        if any(norm.startswith(root + "/") for root, _ in self._roots):
            return False
        if not norm.startswith("/") and not _DRIVE.match(norm):
            return _module_tail(norm, module) is None  # a script's base name, or relative path
        return True


def _norm(path: str) -> str:
    path = path.replace("\\", "/")
    return path[:-1] if len(path) > 1 and path.endswith("/") else path


_DRIVE = re.compile(r"[A-Za-z]:/")
_MODULE = re.compile(r"[\w.]+")
_SOURCE_EXT = re.compile(r"\.(?:py[cdwio]?|pyx|so|pyd)$")


def _module_tail(norm: str, module: str | None) -> str | None:
    """``pkg/mod.py`` when ``norm`` ends with the module's path (relative to its sys.path entry)."""
    if not module or module == "__main__" or not _MODULE.fullmatch(module):
        return None
    ext = _SOURCE_EXT.search(norm)
    if ext is None:
        return None
    stem = module.replace(".", "/")
    for tail in (stem + ext.group(0), stem + "/__init__" + ext.group(0)):
        if norm == tail or norm.endswith("/" + tail):
            return tail
    return None


def _words(names: Iterable[str]) -> str:
    """Case-insensitive alternation: names of 6 characters or more anywhere (``alicesmith2``,
    ``xalicesmith``), shorter ones at alphanumeric boundaries (``alice`` in ``alice.smith`` but
    not in ``malice``)."""
    ordered = sorted({n for n in names if n}, key=lambda n: (-len(n), n))
    long = "|".join(re.escape(n) for n in ordered if len(n) >= 6)
    short = "|".join(re.escape(n) for n in ordered if len(n) < 6)
    parts = ([long] if long else []) + ([r"(?<![^\W_])(?:" + short + r")(?![^\W_])"] if short else [])
    return "(?i:" + ("|".join(parts) or "(?!)") + ")"


def _all_str(values: list[Any]) -> bool:
    """Whether every item is exactly a ``str`` (a C-speed scan, no generator)."""
    return set(map(type, values)) <= {str}


def _flat_strings(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


__all__ = [
    "DENY_KEYS",
    "EVENT_RULES",
    "STRING_RULES",
    "MachineContext",
    "Scrubber",
    "machine_context",
]

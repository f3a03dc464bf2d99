"""Rules as plain data: placeholders, secret shapes, sensitive keys, names that identify no one.

The secret-shape rules are the second layer, on top of the allowlist (:mod:`.text`): a token
hard-coded in installed code *is* program text, and must still never be sent. Each entry says
where its shape comes from. Nothing here reads the machine; everything is compiled once per
process, on first use.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from collections.abc import Callable

# -- placeholders: what was removed, readable, and never matched by any rule (idempotence) -------
TEXT = "<text>"  # words that are not the program's own text
NUMBER = "<number>"  # dates, phone numbers, ids, long or zero-padded numbers
PATH = "<path>"  # a file or folder of the user's (its extension kept when it is a known one)
EMAIL = "<email>"
IP = "<ip>"
HOST = "<host>"  # this machine's names, and the hosts of URLs that are not program text
USER = "<user>"  # this machine's user names
MAC = "<mac>"
ID = "<id>"  # UUIDs and long hexadecimal ids
HOME = "~"
FILTERED = "[Filtered]"  # a secret (the word sentry-sdk and Relay use)
ERROR = "<scrub-error>"  # a value a rule failed on: never sent raw
DEEP = "<too-deep>"
CYCLE = "<cycle>"
TOO_LONG = "<too-long>"
#: Labels of installed-code roots that replace their folder in free text.
ROOT_LABELS = ("<stdlib>", "<site-packages>", "<python>", "<app>")

PLACEHOLDERS: tuple[str, ...] = (TEXT, NUMBER, PATH, EMAIL, IP, HOST, USER, MAC, ID, ERROR, DEEP,
                                 CYCLE, TOO_LONG, *ROOT_LABELS)  # fmt: skip
#: Words of the placeholders (scrubbing twice changes nothing) and of what crashreport and
#: sentry-sdk write themselves (``cli.run``, ``crashreport.errors_dropped``, ``sentry.python``):
#: program text by definition, in every item.
PLACEHOLDER_WORDS = frozenset({"text", "number", "path", "email", "ip", "host", "user", "mac", "id",
                               "filtered", "scrub", "error", "too", "deep", "cycle", "long",
                               "stdlib", "site", "packages", "python", "app", "cli", "run",
                               "crashreport", "errors", "dropped", "sentry", "sdk", "outcome",
                               "counters", "excepthook", "atexit", "dedupe", "threading",
                               "logging"})  # fmt: skip

#: Containers nested deeper than this become :data:`DEEP` (events are ~8 deep).
MAX_DEPTH = 32
#: Strings are scanned up to this length (longer ones become :data:`TOO_LONG`) ...
MAX_SCAN = 1 << 20
#: ... and cut to this length only after scrubbing (a secret is never cut before it is seen).
MAX_STRING = 1 << 16


# -- secret shapes ------------------------------------------------------------------------------
def _luhn(text: str) -> bool:
    """A card number: whole groups (split at spaces/dashes) of 13-19 digits that pass Luhn."""
    groups = re.split(r"[ -]", text)
    for start in range(len(groups)):
        for end in range(start + 1, len(groups) + 1):
            digits = [int(c) for c in "".join(groups[start:end])]
            if 13 <= len(digits) <= 19:
                total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2)
                            for i, d in enumerate(reversed(digits)))  # fmt: skip
                if total % 10 == 0:
                    return True
    return False


def _iban(text: str) -> bool:
    """An IBAN (ISO 13616) in any case, with spaces or dashes: a prefix passes mod 97."""
    compact = re.sub(r"[ -]", "", text).upper()
    for n in range(len(compact), 14, -1):
        try:
            number = int("".join(str(int(c, 36)) for c in compact[4:n] + compact[:4]))
        except ValueError:
            return False
        if number % 97 == 1:
            return True
    return False


_B = r"(?<![\w.+-])"  # not inside a longer token
#: The key of a secret pair (Relay's @password key words), quoted or not.
_PAIR_KEY = (r"(?i:" + _B + r"-{0,2}[\w.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|auth"
             r"|credential|private[_-]?key|session[_-]?id|cookie)[\w.-]*)[\"']?")

#: (name, regex, check). A match becomes :data:`FILTERED` when ``check`` (if any) says so.
#: Sources: GitHub token formats (github.blog 2021-04-05), GitLab (glpat-, docs "Personal access
#: tokens"), AWS access key ids (IAM docs), Slack (xox?-), Stripe (sk_/rk_/pk_ live and test),
#: Google API keys (AIza + 35), Hugging Face (hf_), npm (npm_), PyPI (pypi- macaroons), OpenAI
#: (sk-, sk-proj-), Anthropic (sk-ant-), Telegram bot tokens (id:35), JWT (RFC 7519), PEM (RFC
#: 7468), cards (Luhn), IBAN (ISO 13616 mod 97), US SSN, Bearer/Basic, and Relay's @password
#: pairs (password=..., --api-key x).
SECRET_RULES: tuple[tuple[str, str, Callable[[str], bool] | None], ...] = (
    ("pem", r"(?:-----BEGIN[A-Z ]*)?PRIVATE KEY-----(?s:.*?)(?:-----END[A-Z ]*PRIVATE KEY-----|\Z)",
     None),
    ("github", r"\b(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_\w{22,255})\b", None),
    ("gitlab", r"\bglpat-[\w-]{20,}", None),
    ("aws", r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b", None),
    ("slack", r"\bxox[abprs]-[A-Za-z0-9-]{10,}", None),
    ("stripe", r"\b(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{10,}", None),
    ("google", r"\bAIza[0-9A-Za-z_-]{30,40}", None),
    ("huggingface", r"\bhf_[A-Za-z0-9]{30,}", None),
    ("npm", r"\bnpm_[A-Za-z0-9]{30,}", None),
    ("pypi", r"\bpypi-[\w-]{40,}", None),
    ("openai", r"\bsk-(?:ant-|proj-)?[\w-]{20,}", None),
    ("telegram", r"\b\d{6,12}:[\w-]{30,}", None),
    ("jwt", r"\beyJ[\w-]{5,}\.eyJ[\w-]{5,}\.[\w-]*", None),
    ("bearer", r"(?i:\bbearer\s+)[^\s\"']+|(?i:\b(?:basic|token)\s+)(?=[\w.~+/-]*\d)[\w.~+/-]{8,}=*",
     None),
    # A key may repeat before its value ("APIKEY: Password: x"): each one is consumed. The keys
    # stay (``password=[Filtered]``, ``'Authorization': '[Filtered]'``); the value goes.
    ("pair", r"(?P<pair_key>(?:" + _PAIR_KEY + r"(?:\s*[:=]\s*|\s+(?=\S*\d)(?=\S{6,})))+)"
     r"(?i:(?:bearer|basic|token|digest)\s+)?"
     # the value: not another key ("PASSWD: password=[Filtered]" is already done)
     r"(?!" + _PAIR_KEY + r"\s*[:=])(?:\"[^\"]*\"?|'[^']*'?|[^\s,;&'\"\[\](){}<>]+)", None),
    ("card", r"(?<![\w.-])\d(?:[ -]?\d){12,30}(?![\w-])", _luhn),
    ("iban", r"(?i:\b[a-z]{2}\d{2}(?:[ -]?[a-z0-9]{4}){2,7}(?:[ -]?[a-z0-9]{1,3})?\b)", _iban),
    ("ssn", r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])", None),
)  # fmt: skip

#: Cheap tests on the lower-cased text (a case-sensitive scan is ~3x faster than (?i)): a
#: string that has none of these cannot match any secret rule, so the rules are not run.
_SECRET_HINTS = re.compile(
    r"private key|gh[pousr]_|github_pat_|glpat-|akia|asia|agpa|aida|aroa|xox[abprs]-|_live_|_test_"
    r"|aiza|hf_|npm_|pypi-|sk-|eyj|\d(?:[ -]?\d){5}|\d{3}-\d\d-|[a-z]{2}\d\d[ -]?[a-z0-9]{4}"
    r"|bearer|basic|token|passw|pwd|secret|api.?key|auth|credential|private|session|cookie"
)


@functools.lru_cache(maxsize=1)
def secret_pattern() -> re.Pattern[str]:
    """All secret rules as one alternation with one named group per rule."""
    return re.compile("|".join(f"(?P<{name}>{regex})" for name, regex, _ in SECRET_RULES))


_CHECKS = {name: check for name, _, check in SECRET_RULES}


def _secret(m: re.Match[str]) -> str:
    name = m.lastgroup or ""
    if name == "pair":
        key, value = m.group("pair_key"), m.group()[len(m.group("pair_key")):]
        quote = value[0] if value[:1] in ("'", '"') else ""
        return key + quote + FILTERED + (quote if value.endswith(quote) and len(value) > 1 else "")
    check = _CHECKS[name]
    return FILTERED if check is None or check(m.group()) else m.group()


def filter_secrets(text: str) -> str:
    """``text`` with every secret shape replaced by :data:`FILTERED`."""
    if _SECRET_HINTS.search(text.lower()) is None:
        return text
    return secret_pattern().sub(_secret, text)


def hinted_lines(lines: list[str]) -> set[int]:
    """The indexes of the lines :func:`filter_secrets` might change: one scan of them all."""
    joined = "\n".join(lines).lower()
    if _SECRET_HINTS.search(joined) is None:
        return set()
    if len(joined) != sum(map(len, lines)) + len(lines) - 1:  # lower() changed a length ("İ")
        return set(range(len(lines)))
    starts = list(itertools.accumulate(map(len, lines), lambda a, n: a + n + 1, initial=0))
    return {bisect.bisect_right(starts, m.start()) - 1 for m in _SECRET_HINTS.finditer(joined)}


# -- sensitive keys ---------------------------------------------------------------------------
#: Exact key names (lower-cased) that are sensitive: sentry_sdk.scrubber.DEFAULT_DENYLIST +
#: DEFAULT_PII_DENYLIST (sentry-python 2.x), Relay's session cookie names and a few common ones,
#: less those that hold a :data:`DENY_KEY_WORDS` word ("password", "csrf_token": sensitive by
#: that word) or are :data:`REMOVE_KEYS` (removed whole). tests/test_privacy_rules.py lists them all.
DENY_KEYS: frozenset[str] = frozenset({
    # sentry_sdk.scrubber.DEFAULT_DENYLIST
    "session", "x_forwarded_for", "aiohttp_session", "connect.sid", "phpsessid", "_session",
    "symfony", "user_session",
    # sentry_sdk.scrubber.DEFAULT_PII_DENYLIST
    "x_real_ip",
    # Relay's default cookie rules (relay-pii convert.rs) and common spellings
    "sentrysid", "sudo", "su", "__session", "mysession", "_vercel_jwt",
    "pwd", "pass", "passphrase", "pin", "otp", "jwt", "bearer", "signature", "sig",
    "ssn", "card_number", "cvv", "iban",
})  # fmt: skip
#: Keys whose entry is removed, not filtered, wherever found: an IP address must parse as one
#: (sessions' ``attrs.ip_address``), and Relay removes these too (``@anything:remove``).
REMOVE_KEYS: frozenset[str] = frozenset({"ip_address", "client_ip", "remote_addr"})
#: Words that make any key containing them sensitive: Relay's ``@password`` key pattern
#: (measured with sentry_relay.pii_strip_event), plus cookie/csrf/xsrf.
DENY_KEY_WORDS: tuple[str, ...] = (
    "password", "passwd", "secret", "api_key", "apikey", "auth", "credential", "mysql_pwd",
    "privatekey", "private_key", "token", "cookie", "csrf", "xsrf", "sessionid", "session_key",
    "api-key", "private-key",
)  # fmt: skip
#: Relay's default rules filter a whole *data* string (extra, contexts, breadcrumbs, tags)
#: when it merely contains one of these words; we do the same there so that nothing is left
#: for the server to strip.
DATA_WORDS: tuple[str, ...] = (
    "password", "passwd", "secret", "api_key", "apikey", "auth", "credential", "mysql_pwd",
    "privatekey", "private_key",
)  # fmt: skip

DENY_KEY_WORDS_RE = re.compile("|".join(map(re.escape, DENY_KEY_WORDS)))
DATA_WORDS_RE = re.compile("|".join(map(re.escape, DATA_WORDS)))

# -- the protocol's own words ---------------------------------------------------------------
#: Keys of Sentry's envelope items (sessions, client reports, logs, spans, contexts, frames,
#: breadcrumbs: develop.sentry.dev "Envelope Items" and "Event Payloads") that sentry-sdk and
#: crashreport write: kept as keys (their values still get the rules).
PROTOCOL_KEYS: frozenset[str] = frozenset({
    "sid", "did", "seq", "init", "started", "timestamp", "status", "errors", "duration", "attrs",
    "release", "environment", "user_agent", "aggregates", "exited", "errored",
    "abnormal", "crashed", "discarded_events", "reason", "category", "quantity", "items", "body",
    "attributes", "level", "severity_text", "severity_number", "trace_id", "span_id",
    "parent_span_id", "op", "description", "origin", "data", "tags", "start_timestamp",
    "same_process_as_parent", "measurements", "value", "unit", "type", "name", "version", "build",
    "event_id", "sent_at", "sdk", "trace", "public_key", "sample_rate", "sampled", "transaction",
    "segment_id", "is_segment", "exclusive_time", "message", "formatted", "params", "outcome",
    "exit_code", "status_code", "counters", "error.type", "error.message", "thread.id",
    "thread.name", "mechanism", "handled", "frames", "filename", "abs_path", "function", "module",
    "lineno", "colno", "in_app", "pre_context", "context_line", "post_context", "values",
    "stacktrace", "runtime", "packages", "os", "device", "app", "url", "method", "logger",
    "sentry.release", "sentry.environment", "sentry.sdk.name", "sentry.sdk.version",
    "sentry.message.template", "sentry.origin", "server.address", "code.file.path",
    "code.function.name", "code.line.number", "logger.name",
    "subcommand", "python",  # crashreport's tags
})  # fmt: skip
#: Values of ``status`` fields that the protocol defines (sessions and span statuses).
PROTOCOL_STATUSES: frozenset[str] = frozenset({
    "ok", "exited", "crashed", "abnormal", "errored", "cancelled", "unknown", "unknown_error",
    "invalid_argument", "deadline_exceeded", "not_found", "already_exists", "permission_denied",
    "resource_exhausted", "failed_precondition", "aborted", "out_of_range", "unimplemented",
    "internal_error", "unavailable", "data_loss", "unauthenticated",
    "error", "failed", "interrupted",  # crashreport's own outcomes (reports/usage.py)
})  # fmt: skip

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
    "text", "number", "mac", "id",
})  # fmt: skip

#: What a home folder looks like on POSIX, macOS and Windows, whoever's it is.
HOME_LIKE = re.compile(r"(?i)^(?:/home/[^/]+|/Users/[^/]+|/root|[a-z]:/(?:Users|Documents and "
                       r"Settings)/[^/]+|/var/home/[^/]+)(?:/|$)")  # fmt: skip

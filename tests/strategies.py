"""Hypothesis strategies: config documents, and JSON-like payloads and events with canaries.

A *canary* is a personal string (a user name, a host name, a home folder path, an e-mail, a
token ...) put into free text between separators, into dictionary keys, frames and breadcrumbs.
:data:`CANARIES` lists the substrings that must not survive scrubbing (compared lower-cased).
"""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import strategies as st

from crashreport.privacy import MachineContext, machine_context

#: Each property test's example count is multiplied by this in the ``explore`` profile.
EXPLORE_FACTOR = 40


def examples(n: int) -> int:
    """How many examples a property test runs: ``n`` in CI, many more when exploring."""
    return n * EXPLORE_FACTOR if os.environ.get("HYPOTHESIS_PROFILE") == "explore" else n

HOME = "/home/alice"
WIN_HOME = "C:\\Users\\Alice"
HOST = "ws-4471.corp.example.org"

#: What must vanish (lower-cased substrings of the scrubbed JSON).
CANARIES = (
    "alice", "ws-4471", "corp.example.org", "acme-holdings", "taxes-2025", "carol99",
    "198.51.100.23", "2001:db8:85a3::8a2e:370:7334", "ghp_a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8",
    "akiaiosfodnn7example", "xoxp-99887766-abcdefghij", "sk_live_4ec39hqlyjwdarjtt1zdp7dc",
    "aizasya1234567890abcdefghijklmnopqrstu", "eyjzdwiioijhbgljzsj9", "miievqibadanbgkqhkig9w0",
    "hunter2-xyzzy", "pa55w0rd-url", "q-secret-77", "4111 1111 1111 1111", "de89370400440532013000",
)  # fmt: skip

#: Texts that carry the canaries, as a user's program would write them.
PLANTED = (
    "alice", "ALICE", "Alice.Smith", "alice_backup", "ws-4471", HOST, "ws-4471.local",
    HOME, f"{HOME}/clients/acme-holdings/taxes-2025.pdf", f"'{HOME}/My Files/acme-holdings x'",
    f"{WIN_HOME}\\Documents\\acme-holdings\\taxes-2025.xlsx", "~/acme-holdings/taxes-2025.txt",
    "/srv/data/acme-holdings/taxes-2025.csv", "file:///home/alice/acme-holdings",
    "carol99@example.net", "198.51.100.23", "2001:db8:85a3::8a2e:370:7334",
    "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8", "AKIAIOSFODNN7EXAMPLE",
    "xoxp-99887766-abcdefghij", "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "AIzaSyA1234567890abcdefghijklmnopqrstu",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl",
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0\n-----END PRIVATE KEY-----",
    "password=hunter2-xyzzy", "Password: hunter2-xyzzy", "--password hunter2-xyzzy",
    '"passwd": "hunter2-xyzzy"', "https://bob:pa55w0rd-url@example.com/x?key=q-secret-77",
    "4111 1111 1111 1111", "DE89370400440532013000",
)  # fmt: skip

SEPARATORS = (" ", ", ", ": ", " (", ") ", "\n", "\t", " - ", " = ", "[", "] ", "'", '"', ";")


def context() -> MachineContext:
    """The machine the planted canaries come from (installed roots are this interpreter's)."""
    return MachineContext(
        home=(HOME, WIN_HOME),
        user_names=("alice",),
        host_names=(HOST, "ws-4471"),
        roots=machine_context({"HOME": HOME}).roots,
    )


def leaks(payload: Any) -> list[str]:
    """Canaries still present anywhere in ``payload`` (values and keys)."""
    text = json.dumps(payload, ensure_ascii=False, default=str).lower()
    plain = text.replace("\\\\", "\\").replace("\\n", "\n").replace('\\"', '"')
    return [c for c in CANARIES if c in text or c in plain]


words = st.text(st.characters(codec="ascii", categories=["L", "N"]), max_size=8)
#: Text without a canary (Hypothesis also draws constants from the source: keep them out here,
#: canaries only come planted between separators, where the rules are promised to find them).
plain_text = st.one_of(words, st.text(max_size=30)).filter(
    lambda t: not any(c in t.lower() for c in (*CANARIES, "alice", "ws-4471"))
)


@st.composite
def planted_text(draw: st.DrawFn) -> str:
    """Free text with one to three canaries between separators."""
    parts = [draw(words)]
    for _ in range(draw(st.integers(1, 3))):
        parts += [draw(st.sampled_from(SEPARATORS)), draw(st.sampled_from(PLANTED)),
                  draw(st.sampled_from(SEPARATORS)), draw(words)]  # fmt: skip
    return "".join(parts)


texts = st.one_of(plain_text, planted_text())
leaves = st.one_of(
    texts, st.integers(), st.floats(allow_nan=False), st.booleans(), st.none(),
)
json_values = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(texts, children, max_size=4),
    ),
    max_leaves=16,
)


@st.composite
def frames(draw: st.DrawFn) -> dict[str, Any]:
    """A stack frame of the user's script or of installed code, with planted context lines."""
    user = draw(st.booleans())
    abs_path = f"{HOME}/clients/acme-holdings/tool.py" if user else "/usr/lib/python3/json/x.py"
    return {
        "filename": "tool.py" if user else "json/x.py",
        "abs_path": abs_path,
        "module": "__main__" if user else "json.x",
        "function": draw(words) or "f",
        "lineno": draw(st.integers(1, 9999)),
        "pre_context": draw(st.lists(texts, max_size=3)),
        "context_line": draw(texts),
        "post_context": draw(st.lists(texts, max_size=3)),
        "vars": draw(st.dictionaries(words, texts, max_size=3)),
        "in_app": user,
    }


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """An event as sentry-sdk builds it, with canaries anywhere."""
    return {
        "event_id": "0" * 32,
        "level": "error",
        "platform": "python",
        "release": "tool@1.0",
        "server_name": "ws-4471",
        "message": draw(texts),
        "exception": {"values": [{
            "type": "OSError",
            "value": draw(texts),
            "stacktrace": {"frames": draw(st.lists(frames(), min_size=1, max_size=5))},
        }]},
        "breadcrumbs": {"values": draw(st.lists(st.fixed_dictionaries({
            "message": texts, "category": words, "data": st.dictionaries(texts, json_values,
                                                                        max_size=3)}),
            max_size=5))},
        "contexts": draw(st.dictionaries(words, st.dictionaries(texts, json_values, max_size=3),
                                         max_size=3)),
        "tags": draw(st.dictionaries(texts, texts, max_size=3)),
        "extra": {"sys.argv": ["tool", "--password", "hunter2-xyzzy"],
                  **draw(st.dictionaries(texts, json_values, max_size=4))},
        "user": {"id": "ab" * 16, "email": "carol99@example.net", "ip_address": "198.51.100.23"},
    }  # fmt: skip


def event_with(**fields: Any) -> dict[str, Any]:
    """A minimal event of the shape :func:`events` draws, with ``fields`` set (pinned examples)."""
    event: dict[str, Any] = {
        "event_id": "0" * 32, "level": "error", "platform": "python", "release": "tool@1.0",
        "server_name": "ws-4471", "message": "",
        "exception": {"values": [{"type": "OSError", "value": "", "stacktrace": {"frames": [{
            "filename": "json/x.py", "abs_path": "/usr/lib/python3/json/x.py", "module": "json.x",
            "function": "f", "lineno": 1, "pre_context": [], "context_line": "",
            "post_context": [], "vars": {}, "in_app": False}]}}]},
        "breadcrumbs": {"values": []}, "contexts": {}, "tags": {},
        "extra": {"sys.argv": ["tool", "--password", "hunter2-xyzzy"]},
        "user": {"id": "ab" * 16, "email": "carol99@example.net", "ip_address": "198.51.100.23"},
    }  # fmt: skip
    event.update(fields)
    return event


# -- config documents (tests/test_hardening_config.py) -------------------------------------------
config_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30),
    st.sampled_from(["true", "all", "errors", "off", "https://k@h/1", "collect", "telemetry"]),
)  # fmt: skip
config_keys = st.one_of(st.sampled_from(["telemetry", "collect", "dsn", "environment", "spotlight",
                                  "exit_timeout"]), st.text(max_size=10))  # fmt: skip


def yaml_documents() -> st.SearchStrategy[object]:
    """Random nested mappings and lists, often with a `telemetry` section."""
    tree = st.recursive(config_scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(config_keys, inner, max_size=4), max_leaves=20)  # fmt: skip
    section = st.dictionaries(config_keys, tree, max_size=6)
    return st.one_of(tree, st.fixed_dictionaries({"telemetry": section}),
                     st.fixed_dictionaries({"telemetry": tree}))  # fmt: skip


# -- tokens from outside the program (tests/test_privacy_property.py) ----------------------------
#: Letters of several scripts: a user's name, town or file is written in any of them.
SCRIPTS = (
    "abcdefghijklmnopqrstuvwxyz", "äöüßéèêëçñåøæœłśźżčřšžőűğışţ", "αβγδεζηθικλμνξοπρστυφχψω",
    "абвгдежзийклмнопрстуфхцчшщыэюя", "的一是不了人我在有他这中大来上国个到说们为子和你地出道",
    "ابتثجحخدذرزسشصضطظعغفقكلمنهوي", "अआइईउऊएऐओऔकखगघचछजझटठडढणतथदधनपफबभमयरलवशषसह",
)  # fmt: skip


@st.composite
def foreign_tokens(draw: st.DrawFn) -> str:
    """A word that is not program text: 5-10 letters of one script, maybe with digits."""
    letters = draw(st.sampled_from(SCRIPTS))
    word = draw(st.text(st.sampled_from(letters), min_size=5, max_size=10))
    if draw(st.booleans()):
        at = draw(st.integers(0, len(word)))
        word = word[:at] + draw(st.text(st.sampled_from("0123456789"), min_size=1, max_size=3)) + word[at:]
    return word


#: How a token is written where it is planted.
SPELLINGS = ("as is", "upper", "title", "nfd", "ascii", "percent")


def spell(token: str, how: str) -> str:
    import unicodedata
    from urllib.parse import quote

    if how == "upper":
        return token.upper()
    if how == "title":
        return token.title()
    if how == "nfd":
        return unicodedata.normalize("NFD", token)
    if how == "ascii":
        folded = unicodedata.normalize("NFKD", token).encode("ascii", "ignore").decode()
        return folded if len(folded) >= 5 else token
    if how == "percent":
        return quote(token, safe="")
    return token


#: Numbers that are the user's: dates, phone numbers, ids, amounts (a run of digit groups).
user_numbers = st.one_of(
    st.builds("{:02d}.{:02d}.{}".format, st.integers(1, 28), st.integers(1, 12), st.integers(1900, 2030)),
    st.builds("+{} {} {}".format, st.integers(1, 99), st.integers(100, 999), st.integers(100000, 9999999)),
    st.builds("{}-{:02d}-{:02d}".format, st.integers(1900, 2030), st.integers(1, 12), st.integers(1, 28)),
    st.integers(10000, 10**12).map(str),
    st.integers(1000, 9999).map(str),  # a year, a customer's number
    st.builds("{}.{:03d},{:02d}".format, st.integers(1, 999), st.integers(0, 999), st.integers(0, 99)),
)  # fmt: skip

#: Messages as code writes them, with ``{}`` where the run's data goes.
MESSAGE_TEMPLATES = (
    "cannot open {}", "No such file or directory: '{}'", "invalid literal for int() with base 10: '{}'",
    "user {} not found", "{} is not a valid value", "failed to parse {} at line 3",
    "KeyError: {}", "connection to {} refused", "expected str, got {}", "{}",
)  # fmt: skip

#: Where a planted token goes, as the text around it (``{}``: the token).
PLACES = (
    "{}", "/home/{}/Documents/{}.pdf", "C:\\Users\\{}\\Desktop\\notes.txt", "~/{}/data.csv",
    "Acme {}/Steuer 2026/{} Belege.xlsx", "https://{}.example.net/api/{}/items?q={}",
    "https://api.example.com/customers/{}/documents/{}", "'{}'", '"{}"', "{}@example.org",
    "templates/{}.html", "{}'s files", "--name={}", "{}-{}", "{}_{}.json",
)  # fmt: skip

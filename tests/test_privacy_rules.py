"""The rule table (crashreport/privacy/rules.py) as a user meets it: each secret shape filtered
and its near miss not, each sensitive key, the names that are nobody's, the bounds. The tables are
written out here on purpose: a word dropped from (or added to) a table is a changed promise."""

from __future__ import annotations

import re
from typing import Any

import pytest

from crashreport.privacy import FILTERED, MachineContext, Scrubber, rules
from crashreport.privacy.rules import filter_secrets, hinted_lines

CTX = MachineContext(home=("/home/alice",), user_names=("alice",), host_names=("ws-4471",))

# -- secret shapes: each rule's own example, from the format's documentation ---------------------
SECRETS = [
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
    "ghp_" + "A1b2C3d4E5" * 3 + "xyz123",
    "github_pat_" + "11ABCDEFG0" * 3,
    "glpat-" + "x1Y2z3W4v5U6t7S8r9Q0",
    "AKIAIOSFODNN7EXAMPLE",
    "ASIAIOSFODNN7EXAMPLE",
    "xoxb-1234567890-abcdefghij",
    "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "rk_test_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "AIzaSyD" + "x" * 32,
    "hf_" + "a1" * 17,
    "npm_" + "b2" * 18,
    "pypi-AgEIcHlwaS5vcmc" + "c" * 30,
    "sk-" + "d4" * 12,
    "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
]  # fmt: skip


@pytest.mark.parametrize("secret", SECRETS)
def test_each_secret_shape_is_filtered_alone_and_in_a_sentence(secret: str) -> None:
    assert filter_secrets(secret) == FILTERED
    assert filter_secrets(f"got {secret} back") == f"got {FILTERED} back"
    assert Scrubber(CTX).scrub_string(f"got {secret} back") == f"got {FILTERED} back"


@pytest.mark.parametrize(("text", "expected"), [
    ("Authorization: Basic dXNlcjpwYXNzMTIz", f"Authorization: {FILTERED}"),
    ("auth token abcdef12345", f"auth {FILTERED}"),
    ("Bearer abc", FILTERED),
    ("PASSWD: password=hunter2", f"PASSWD: password={FILTERED}"),
    ("'password': 'hunter2'", f"'password': '{FILTERED}'"),
    ('password="hunter 2"', f'password="{FILTERED}"'),
    ("--api-key x9y8z7w6", f"--api-key {FILTERED}"),
    ("session_id=abc", f"session_id={FILTERED}"),
    ("cookie=abc", f"cookie={FILTERED}"),
])  # fmt: skip
def test_secret_pairs_keep_their_key_and_quotes(text: str, expected: str) -> None:
    assert filter_secrets(text) == expected


#: Test card numbers of the card networks (13 to 19 digits), each passing Luhn.
CARDS = ["4222222222222", "378282246310005", "4111111111111111", "5555555555554444",
         "6011111111111117", "3530111333300000", "6011000990139424", "4000 0566 5566 5556",
         "4111111111111111003"]  # fmt: skip


@pytest.mark.parametrize("card", CARDS)
def test_card_numbers_that_pass_luhn_are_filtered_and_one_digit_off_are_not(card: str) -> None:
    assert filter_secrets(card) == FILTERED
    last = str((int(card[-1]) + 1) % 10)
    assert filter_secrets(card[:-1] + last) == card[:-1] + last


def test_a_luhn_number_longer_than_a_card_is_no_card() -> None:
    twenty = "41111111111111110000"  # passes Luhn, but 20 digits
    assert filter_secrets(twenty) == twenty


#: IBANs of several countries (ISO 13616 examples), the shortest (Norway, 15) to 27 characters.
IBANS = ["NO9386011117947", "NL91ABNA0417164300", "DE89370400440532013000",
         "GB82 WEST 1234 5698 7654 32", "fr14-2004-1010-0505-0001-3m02-606"]  # fmt: skip


@pytest.mark.parametrize("iban", IBANS)
def test_ibans_are_filtered_and_a_wrong_check_digit_is_not(iban: str) -> None:
    assert filter_secrets(iban) == FILTERED
    wrong = iban[:2] + str((int(iban[2]) + 1) % 10) + iban[3:]
    assert filter_secrets(wrong) == wrong


def test_ssn_and_text_without_any_hint_are_left_alone() -> None:
    assert filter_secrets("ssn 123-45-6789.") == f"ssn {FILTERED}."
    plain = "nothing secret-shaped here: 12-34, x86_64, 3.11"
    assert filter_secrets(plain.replace("secret", "odd")) == plain.replace("secret", "odd")


def test_hinted_lines_are_the_lines_a_secret_may_be_on() -> None:
    lines = ["import os", "token = 'x'", "", "print(1)", "key = 'AKIAIOSFODNN7EXAMPLE'"]
    assert hinted_lines(lines) == {1, 4}
    assert hinted_lines(["a", "b"]) == set()
    assert hinted_lines(["İstanbul", "x", "password"]) == {0, 1, 2}  # lower() changed a length


# -- sensitive keys: sentry-sdk's and Relay's, exactly ------------------------------------------
DENY_KEYS = [
    "password", "passwd", "secret", "api_key", "apikey", "auth", "credentials", "mysql_pwd",
    "privatekey", "private_key", "token", "session", "csrftoken", "sessionid", "x_csrftoken",
    "x_forwarded_for", "set_cookie", "cookie", "authorization", "proxy-authorization",
    "x_api_key", "aiohttp_session", "connect.sid", "csrf_token", "csrf", "_csrf", "_csrf_token",
    "phpsessid", "_session", "symfony", "user_session", "_xsrf", "xsrf-token", "x_real_ip",
    "sentrysid", "sudo", "su", "__session", "fasthttpsessionid", "mysession", "irissessionid",
    "_vercel_jwt", "xsrf", "csrf-token", "xsrf_token", "fastcsrf", "_iris_csrf", "pwd", "pass",
    "passphrase", "pin", "otp", "jwt", "bearer", "signature", "sig", "x-api-key", "x-auth-token",
    "set-cookie", "proxy_authorization", "client_secret", "refresh_token", "access_token",
    "id_token", "ssn", "card_number", "cvv", "iban",
]  # fmt: skip
REMOVED = ["ip_address", "client_ip", "remote_addr"]


def test_each_sensitive_key_has_its_value_filtered_in_any_case() -> None:
    scrubber = Scrubber(CTX)
    for key in DENY_KEYS:
        clean = scrubber.scrub({key: "zq", key.upper(): "zq"})
        assert list(clean.values()) == [FILTERED, FILTERED], key
    assert list(scrubber.scrub({"spin": "zq", "pins": "zq"}).values()) == ["<text>", "<text>"]


def test_address_keys_are_removed_not_filtered() -> None:
    payload: dict[str, Any] = {key: "198.51.100.23" for key in REMOVED}
    assert Scrubber(CTX).scrub({**payload, "kept": 1}) == {"kept": 1}


#: A key holding one of these words anywhere is sensitive (Relay's @password key pattern).
KEY_WORDS = ["password", "passwd", "secret", "api_key", "apikey", "auth", "credential",
             "mysql_pwd", "privatekey", "private_key", "token", "cookie", "csrf", "xsrf",
             "sessionid", "session_key", "api-key", "private-key"]  # fmt: skip


@pytest.mark.parametrize("word", KEY_WORDS)
def test_a_key_containing_a_sensitive_word_is_sensitive(word: str) -> None:
    assert list(Scrubber(CTX).scrub({f"Old{word.upper()}Value": "zq"}).values()) == [FILTERED]


#: A data string mentioning one of these is filtered whole, as Relay's default rules do.
DATA_WORDS = ["password", "passwd", "secret", "api_key", "apikey", "auth", "credential",
              "mysql_pwd", "privatekey", "private_key"]  # fmt: skip


@pytest.mark.parametrize("word", DATA_WORDS)
def test_a_data_string_naming_a_secret_word_is_filtered_whole(word: str) -> None:
    assert Scrubber(CTX).scrub({"note": f"The {word.upper()} is wrong"}) == {"note": FILTERED}
    assert Scrubber(CTX).scrub({"note": "The name is wrong"}) == {"note": "The name is wrong"}


# -- names that are nobody's, and homes that are somebody's --------------------------------------
COMMON_NAMES = [
    "root", "admin", "administrator", "user", "users", "guest", "nobody", "runner", "ubuntu",
    "debian", "fedora", "pi", "vagrant", "ec2-user", "test", "tester", "dev", "default", "home",
    "docker", "jenkins", "build", "builder", "ci", "system", "app", "www-data", "daemon",
    "localhost", "localhost.localdomain", "localdomain", "host", "path", "ip", "email",
    "filtered", "python", "scrub-error", "too-deep", "cycle", "too-long", "me", "owner", "main",
    "text", "number", "mac", "id",
]  # fmt: skip


@pytest.mark.parametrize("name", COMMON_NAMES)
def test_an_account_or_host_named_like_millions_is_nobodys_name(name: str) -> None:
    """"root logger" stays readable on a machine whose user is root: the name identifies no one
    (their home folder is still ~)."""
    context = MachineContext(home=(f"/home/{name}",), user_names=(name,), host_names=(name,))
    out = Scrubber(context).scrub_string(f"the {name} logger in /home/{name}")
    assert "<user>" not in out and "<host>" not in out and out.endswith(" ~")


@pytest.mark.parametrize("home", ["/home/bob", "/Users/bob", "/root", "C:/Users/bob",
                                  "c:/Users/bob", "/var/home/bob"])  # fmt: skip
def test_any_users_home_folder_is_a_home(home: str) -> None:
    scrubber = Scrubber(CTX)
    assert scrubber.scrub_string(f"in {home}") == "in ~"
    assert scrubber.scrub_string(f"in {home}/Kundenakte") == "in <path>"


def test_crashreports_and_sentrys_own_words_are_program_text() -> None:
    words = ("<text> <number> <path> <email> <ip> <host> <user> <mac> <id> <scrub-error> "
             "<too-deep> <cycle> <too-long> <stdlib> <site-packages> <python> <app> [Filtered] "
             "cli.run crashreport.errors_dropped sentry.python sdk excepthook atexit dedupe "
             "threading logging outcome counters")  # fmt: skip
    assert Scrubber(CTX).scrub_string(words) == words


# -- the protocol's own values ------------------------------------------------------------------
STATUSES = ["ok", "exited", "crashed", "abnormal", "errored", "cancelled", "unknown",
            "unknown_error", "invalid_argument", "deadline_exceeded", "not_found",
            "already_exists", "permission_denied", "resource_exhausted", "failed_precondition",
            "aborted", "out_of_range", "unimplemented", "internal_error", "unavailable",
            "data_loss", "unauthenticated", "error", "failed", "interrupted"]  # fmt: skip


def test_protocol_statuses_are_kept_whoever_the_machine_is() -> None:
    """A session's or span's status is read by Relay: kept as written even on a machine whose
    user is called ``ok`` or ``crashed``; any other value is scrubbed like text."""
    for status in STATUSES:
        context = MachineContext(home=("/home/x",), user_names=(status,), host_names=("ws-4471",))
        scrubber = Scrubber(context)
        assert scrubber.scrub({"status": status, "outcome": status}) == {"status": status,
                                                                         "outcome": status}
        assert scrubber.scrub({"status": f"{status} Kundenakte"})["status"] in (
            "<user> <text>", FILTERED)  # "unauthenticated" names a secret word: filtered whole


# -- bounds -------------------------------------------------------------------------------------
def test_nesting_is_cut_at_32_levels() -> None:
    def nested(levels: int, inner: Any = "x") -> Any:
        for _ in range(levels):
            inner = {"k": inner}
        return inner

    scrubber = Scrubber(CTX)
    assert scrubber.scrub(nested(31)) == nested(31)
    assert scrubber.scrub(nested(32)) == nested(31, rules.DEEP)


def test_a_mebibyte_is_scanned_and_the_result_cut_to_64_kib() -> None:
    scrubber = Scrubber(CTX)
    assert scrubber.scrub_string("a" * (1 << 20)) == "<text>"  # exactly 1 MiB: scanned
    assert scrubber.scrub_string("a" * ((1 << 20) + 1)) == rules.TOO_LONG
    short = "a " * (1 << 15)  # 64 KiB: not cut
    assert scrubber.scrub_string(short) == short
    out = scrubber.scrub_string(short + "a ")
    assert len(out) == 1 << 16 and out.endswith(" a…")


# -- the placeholders, as a reader of a report meets them ---------------------------------------
def test_each_placeholder_is_written_as_documented() -> None:
    """The exact words a report shows where something was removed (written out: a placeholder
    that changes is a changed promise, and the second scrub below would not keep it)."""
    scrubber = Scrubber(CTX)
    cycle: dict[str, Any] = {}
    cycle["me"] = cycle
    seen = {
        "Kundenakte": "<text>",
        "on 2024-03-05": "on <number>",
        "/home/alice/Kundenakte/x.pdf": "<path>.pdf",
        "sent to alice@example.org": "sent to <email>",
        "from 198.51.100.23": "from <ip>",
        "on ws-4471": "on <host>",
        "by alice": "by <user>",
        "mac 00:1a:2b:3c:4d:5e": "mac <mac>",
        "id 0f8fad5b-d9cb-469f-a165-70867728950e": "id <id>",
        "password=x": "password=[Filtered]",
        "in /home/alice": "in ~",
    }
    for raw, expected in seen.items():
        assert scrubber.scrub_string(raw) == expected, raw
        assert scrubber.scrub_string(expected) == expected, expected  # a second scrub keeps it
    assert scrubber.scrub(cycle) == {"me": "<cycle>"}
    assert scrubber.scrub_string("a" * ((1 << 20) + 1)) == "<too-long>"
    assert set(rules.PLACEHOLDERS) == {
        "<text>", "<number>", "<path>", "<email>", "<ip>", "<host>", "<user>", "<mac>", "<id>",
        "<scrub-error>", "<too-deep>", "<cycle>", "<too-long>", "<stdlib>", "<site-packages>",
        "<python>", "<app>",
    }  # fmt: skip
    assert (rules.FILTERED, rules.ERROR, rules.DEEP) == ("[Filtered]", "<scrub-error>",
                                                         "<too-deep>")  # fmt: skip


#: Words of the placeholders and of what crashreport and sentry-sdk write themselves.
PLACEHOLDER_WORDS = ["text", "number", "path", "email", "ip", "host", "user", "mac", "id",
                     "filtered", "scrub", "error", "too", "deep", "cycle", "long", "stdlib",
                     "site", "packages", "python", "app", "cli", "run", "crashreport", "errors",
                     "dropped", "sentry", "sdk", "outcome", "counters", "excepthook", "atexit",
                     "dedupe", "threading", "logging"]  # fmt: skip


def test_placeholder_words_are_in_the_shipped_word_list() -> None:
    """The table is read when ``scripts/gen_cpython_words.py`` writes the shipped word list: a
    word added to it (or changed) without regenerating the list would not be program text."""
    from crashreport.privacy.vocabulary import cpython_words

    assert set(rules.PLACEHOLDER_WORDS) == set(PLACEHOLDER_WORDS)
    assert set(PLACEHOLDER_WORDS) <= cpython_words()
    text = " ".join(PLACEHOLDER_WORDS)
    assert Scrubber(CTX).scrub_string(text) == text


# -- the protocol's own keys --------------------------------------------------------------------
PROTOCOL_KEYS = [
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
    "code.function.name", "code.line.number", "logger.name", "subcommand", "python",
]  # fmt: skip


@pytest.mark.parametrize("key", PROTOCOL_KEYS)
def test_a_protocol_key_stays_a_key_whoever_the_machine_is(key: str) -> None:
    """Relay reads these keys by name: on a machine whose user is called like one (``sid``,
    ``release``), or an app whose own secret pattern matches one, the key stays as it is while
    its value is still scrubbed (a user's folder in it is still replaced)."""
    context = MachineContext(home=("/home/alice",), user_names=(key,), host_names=("ws-4471",))
    scrubber = Scrubber(context, patterns=[rf"(?<![\w.]){re.escape(key)}(?![\w.])"])
    out = scrubber.scrub({key: ["/home/alice/Kundenakte"]})
    assert out == {key: ["<path>"]}


# -- near misses at the edges of the secret checks ----------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("411111111117 5", "411111111117 5"),  # 12 digits pass Luhn, the 13 do not: no card
    ("NO698601111794", "NO698601111794"),  # passes mod 97 at 14 characters: no country's IBAN
    ("NL43ZZZZ0417164300", FILTERED),  # an IBAN with Z, the last letter of base 36
    ('password="hunter2', f'password="{FILTERED}'),  # a cut line: no quote is invented
    ('password=""', f'password="{FILTERED}"'),  # an empty quoted value keeps both quotes
    ("password='", f"password='{FILTERED}"),
])  # fmt: skip
def test_the_edges_of_cards_ibans_and_quoted_values(text: str, expected: str) -> None:
    assert filter_secrets(text) == expected


def test_hinted_lines_point_at_the_right_line_after_many_short_ones() -> None:
    assert hinted_lines(["x"] * 20 + ["token", "y"]) == {20}
    assert hinted_lines(["x"] * 20 + ["y", "token"]) == {21}

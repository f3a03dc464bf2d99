"""A property a deny-list cannot pass: a token that is not the program's text never leaves.

Random words from outside the program (any script, case, digits, NFD, ASCII-folded, percent-
encoded) and the user's numbers (dates, phone numbers, ids) are planted everywhere an item can
carry them: exception messages, log arguments, breadcrumbs, paths, URLs, template names, argv,
span data, dict keys, frames of the user's code. None survives as a word in any item, the event
keeps its shape, and scrubbing twice changes nothing. No rule knows these tokens: only the
allowlist can remove them.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any
from urllib.parse import unquote

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from crashreport.privacy import Scrubber, machine_context
from crashreport.privacy.vocabulary import fold

from . import strategies
from .test_privacy import STDLIB

HOME = "/home/zoë.müller-lüdenscheid"
#: The items' own words, with nothing planted ("spans", "status", "production" ...): not the
#: user's, whatever a token drawn happens to spell.
SKELETON_WORDS: set[str] = set()
CONTEXT = machine_context({"HOME": HOME, "USER": "zoë.müller-lüdenscheid"})
SCRUBBER = Scrubber(CONTEXT)
WORD = re.compile(r"[^\W_]+")
PROPS = settings(max_examples=strategies.examples(120), deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip

INSTALLED_FRAME = {"filename": "json/decoder.py", "abs_path": f"{STDLIB}/json/decoder.py",
                   "module": "json.decoder", "function": "raw_decode", "lineno": 355,
                   "context_line": "            raise JSONDecodeError(\"Expecting value\", s, err.value)",
                   "pre_context": ["        try:"], "post_context": ["        return obj, end"]}  # fmt: skip


def words_of(payload: Any) -> set[str]:
    """Every word of a payload's JSON, decoded the ways a reader could decode it."""
    text = json.dumps(payload, ensure_ascii=False)
    text = unicodedata.normalize("NFC", unquote(text.replace("\\\\", "\\")))
    return {fold(w) for w in WORD.findall(text)}


def canary_words(token: str) -> set[str]:
    return {fold(w) for w in WORD.findall(unicodedata.normalize("NFC", token))}


def foreign(token: str, vocab: Any) -> bool:
    """Not program text in any part: no word of it is in the vocabulary or the items' own words,
    and some run of its letters is not a word of the program ("100as" is "100" and "as")."""
    return not any(w in vocab or w in SKELETON_WORDS for w in canary_words(token)) and any(
        len(r) > 1 and r not in vocab for r in re.findall(r"[^\W\d_]+", token))


@st.composite
def planted(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """(texts with tokens planted, the canary tokens): texts to put anywhere in an item."""
    vocab = SCRUBBER.vocabulary([INSTALLED_FRAME["abs_path"]])
    tokens = draw(st.lists(strategies.foreign_tokens(), min_size=1, max_size=4))
    # Foreign: some run of letters in it is not program text ("0false" is "0" and "false", both
    # the program's: see test_privacy.STRING_TABLE)
    tokens = [t for t in tokens if all(foreign(unquote(strategies.spell(t, how)), vocab)
                                       for how in strategies.SPELLINGS)]
    tokens = tokens or ["qxzvbrpl"]
    texts = []
    for _ in range(draw(st.integers(3, 8))):
        place = draw(st.sampled_from(strategies.PLACES))
        fill = [strategies.spell(draw(st.sampled_from(tokens)), draw(st.sampled_from(strategies.SPELLINGS)))
                for _ in range(place.count("{}"))]  # fmt: skip
        text = place.format(*fill)
        if draw(st.booleans()):
            text += " " + draw(strategies.user_numbers)
        texts.append(draw(st.sampled_from(strategies.MESSAGE_TEMPLATES)).format(text))
    return texts, tokens


def build_items(texts: list[str]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """An error event, a transaction (the usage record) and a session carrying ``texts``."""
    t = (texts * 8)[:8]
    user_frame = {"filename": f"{t[1][:40]}.py", "abs_path": f"{HOME}/{t[1]}/{t[2]}.py",
                  "module": t[3], "function": t[4], "lineno": 7, "context_line": t[5],
                  "pre_context": [t[6]], "post_context": [t[7]], "vars": {"x": t[0]}}  # fmt: skip
    template_frame = {"filename": f"templates/{t[2]}.html", "abs_path": f"{HOME}/templates/{t[2]}.html",
                      "module": None, "function": "top-level template code", "lineno": 3,
                      "context_line": t[3]}  # fmt: skip
    event = {
        "event_id": "a" * 32, "level": "error", "platform": "python", "release": "tool@1.0",
        "server_name": t[0], "message": t[1],
        "logentry": {"message": "cannot read %s for %s", "params": [t[2], t[3]], "formatted": t[4]},
        "exception": {"values": [{"type": "OSError", "module": None, "value": t[0],
                                  "stacktrace": {"frames": [user_frame, template_frame,
                                                            dict(INSTALLED_FRAME)]}},
                                 {"type": t[7], "module": "__main__", "value": t[6]}]},
        "breadcrumbs": {"values": [{"category": t[5], "message": t[6], "data": {t[7]: t[0]}}]},
        "contexts": {"app": {"cwd": t[1], t[2]: t[3]}},
        "tags": {"subcommand": t[4], t[5]: t[6]},
        "extra": {"sys.argv": ["tool", t[0], t[1]], "args": [t[2], t[3]], t[4]: t[5]},
        "user": {"id": "ab" * 16, "email": t[6], "username": t[7]},
        "request": {"url": t[1], "headers": {"x": t[2]}},
        "fingerprint": [t[3]],
    }  # fmt: skip
    transaction = {
        "type": "transaction", "transaction": t[0], "event_id": "b" * 32, "release": "tool@1.0",
        "contexts": {"trace": {"trace_id": "c" * 32, "span_id": "d" * 16, "op": "cli.run",
                               "data": {"outcome": "crashed", "counters": {t[1]: 3}}}},
        "spans": [{"span_id": "e" * 16, "trace_id": "c" * 32, "op": "action", "description": t[2],
                   "data": {"error.message": t[3], "file": t[4], t[5]: t[6]}, "tags": {t[7]: t[0]}}],
        "measurements": {t[1]: {"value": 1.5, "unit": "second"}},
    }  # fmt: skip
    session = {"sid": "f" * 32, "did": "ab" * 16, "status": "crashed", "errors": 1,
               "attrs": {"release": "tool@1.0", "environment": "production", "user_agent": t[2]},
               t[3]: t[4]}  # fmt: skip
    return event, transaction, session


SKELETON_WORDS.update(words_of(build_items(["-"])))


def same_shape(raw: Any, clean: Any) -> bool:
    if isinstance(raw, dict):
        return isinstance(clean, dict)
    if isinstance(raw, list):
        return isinstance(clean, list) and len(raw) == len(clean)
    return type(raw) is type(clean) or isinstance(clean, str)


@PROPS
@given(planted())
@example((["cannot open /home/Ζωή/Dokumente/Arztbrief Ζωή.pdf +49 170 1234567"], ["Ζωή"]))
def test_no_token_from_outside_the_program_survives_in_any_item(
    drawn: tuple[list[str], list[str]],
) -> None:
    texts, tokens = drawn
    event, transaction, session = build_items(texts)
    clean_event = SCRUBBER.scrub_event(event)
    clean_tx = SCRUBBER.scrub_event(transaction)
    clean_session = SCRUBBER.scrub(session)
    sent = words_of([clean_event, clean_tx, clean_session])
    for token in tokens:
        for how in strategies.SPELLINGS:
            assert not canary_words(unquote(strategies.spell(token, how))) & sent, (token, how)
    numbers = {w for text in texts for w in WORD.findall(text) if w.isdigit() and len(w) >= 4}
    assert not numbers & sent
    # shape: same top-level keys minus the removed ones, same list lengths
    assert set(clean_event) == set(event) - {"server_name"}
    frames = clean_event["exception"]["values"][0]["stacktrace"]["frames"]
    assert len(frames) == 3
    assert all(same_shape(event[k], clean_event[k]) for k in clean_event)
    assert len(clean_tx["spans"]) == 1
    assert clean_session["status"] == "crashed"
    assert clean_session["sid"] == session["sid"]
    # idempotent
    assert SCRUBBER.scrub_event(clean_event) == clean_event
    assert SCRUBBER.scrub_event(clean_tx) == clean_tx
    assert SCRUBBER.scrub(clean_session) == clean_session
    assert SCRUBBER.errors == 0


def test_the_code_made_part_of_a_message_stays() -> None:
    """The same messages with no planted token keep their words (the allowlist is not a
    blanket: see tests/test_privacy_corpus.py for the measured share)."""
    event, _, _ = build_items(["cannot open a file", "Expecting value: line 1 column 1 (char 0)"])
    clean = SCRUBBER.scrub_event(event)
    assert clean["exception"]["values"][0]["value"] == "cannot open a file"
    assert clean["message"] == "Expecting value: line 1 column 1 (char 0)"

"""One string of the run: its program text kept, everything else a typed placeholder.

:class:`TextRules` holds what is compiled once per machine and app (secret shapes, this
machine's names, installed roots). :meth:`TextRules.scrub` takes one string and the
:class:`~.vocabulary.Vocabulary` of the item it belongs to, and returns, in order:

1. secret shapes (:mod:`.rules`) replaced by ``[Filtered]``, even when they are program text;
2. one left-to-right pass over the text where each piece is, by its kind: a URL (scheme kept,
   host kept only when it is program text, path segments only when they are, query values
   never), an e-mail, an IP or MAC address, a path (installed code relative to its root, the
   home folder as ``~``, anything else with a word that is not program text ``<path>``,
   keeping a known extension), this machine's user and host names, a number (kept when it is
   one small group like ``line 1`` or ``base 10``, or a version like ``3.11``; dates, phone
   numbers and ids become ``<number>``), or a word (kept when it is in the vocabulary);
3. a quoted value (``'...'``) that lost anything becomes one placeholder, and runs of the same
   placeholder become one.

The output is made of program text and placeholders only, so scrubbing it again with the same
vocabulary changes nothing.
"""

from __future__ import annotations

import functools
import os
import re
import unicodedata
from collections.abc import Callable, Iterable
from urllib.parse import unquote

from . import rules
from .machine import MachineContext
from .rules import EMAIL, FILTERED, HOME, ID, IP, MAC, NUMBER, PATH, TEXT, USER
from .vocabulary import Vocabulary, fold, safe_extensions

_ATOM = (r"<(?:text|number|path|email|ip|host|user|mac|id|scrub-error|too-deep|cycle|too-long"
         r"|stdlib|site-packages|python|app)>|\[Filtered\]")  # fmt: skip
ATOM = re.compile(_ATOM)
#: Characters of a path, and an apostrophe inside a word (``Zoë's Belege``).
_APOS = r"(?<=[^\W\d_])'(?=[^\W\d_])"
_PC = r"(?:[^\s'\"<>|;,()\[\]{}*?`:]|" + _APOS + ")"
_WORD = r"(?:[^\W_]|[\u0300-\u036f]|%[0-9A-Fa-f]{2})+"

#: The pieces of a text, tried in this order at each position (leftmost match wins).
PIECES: tuple[tuple[str, str], ...] = (
    ("rooted", r"<(?:stdlib|site-packages|python|app)>(?:/[\w.+@-]+)+"),
    ("atom", _ATOM),
    ("url", r"\b[a-zA-Z][a-zA-Z0-9+.-]*://(?:" + _ATOM + r"|\[[0-9A-Fa-f:.]+\]|[^\s'\"<>`\[\]])*"),
    ("email", r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}(?![\w-])"),
    ("mac", r"(?<![\w:-])[0-9A-Fa-f]{2}(?:(?::[0-9A-Fa-f]{2}){5}|(?:-[0-9A-Fa-f]{2}){5})(?![\w:-])"),
    ("ipv6", r"(?<![\w:.])(?=[0-9A-Fa-f:.]*[0-9A-Fa-f]{3})(?=[0-9A-Fa-f]*:[0-9A-Fa-f]*:)"
     r"(?:[0-9A-Fa-f:]*[0-9A-Fa-f]|[0-9A-Fa-f:]*::)(?:\d{1,3}(?:\.\d{1,3}){3})?(?!\w|:[0-9A-Fa-f:]|\.\d)"),
    ("ipv4", r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)"),
    ("uuid", r"(?<![\w-])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
     r"(?![\w-])|(?<![\w-])(?=[a-f]*\d)(?=\d*[a-f])[0-9a-f]{16,}(?![\w-])"),
    ("path", r"(?<![\w.~/\\<>%\]\)-])(?:~(?=[/\\]|(?![\w~]))|\.{1,2}(?=[/\\])|/(?=[\w.~@+%-]|[^\x00-\x7f])"
     r"|[A-Za-z]:[\\/]|\\\\(?=\w))" + _PC + r"*(?<![.])"),
    ("relpath", r"(?<![\w.~/\\<>%@-])(?=[\w.@+~%/\\'-]*[^\W\d_])(?:[\w.@+~%-]|" + _APOS + r")+"
     r"(?:[/\\](?:[\w.@+%-]|" + _APOS + r")+)+"),
    # digit groups joined by one separator or space are one number (not into an address: "0 ::1")
    ("number", r"(?<![\w.,:/+-])[+-]?\d+(?:(?:[.,:/-]| (?=\+?\d+(?![\w:])))\+?\d+)*"
     r"(?![^\W_]|[.,]\d)"),
    ("word", _WORD),
)  # fmt: skip

#: A number the code makes: up to 3 digits, or a version or decimal (``3.11.7``, ``0.25``) ...
_NUMBER_OK = re.compile(r"[+-]?(?:0|[1-9]\d{0,2})|-?(?:0|[1-9]\d{0,2})(?:\.\d{1,3}){1,3}")
#: ... or 4 digits right after a word that counts (``line 1234``, ``port 8080``): anywhere else
#: 4 digits are as likely a year of birth, a tax year or a customer's number.
_COUNTED = re.compile(r"-?[1-9]\d{3}")
_COUNTING_WORD = re.compile(r"(?i:line|lines|column|col|char|chars|character|position|pos|offset"
                            r"|index|row|port|errno|status|code|pid|size|length|byte|bytes|item"
                            r"|items|page|level|limit|max|min|count|timeout|width|height)"
                            r"[\s:=#(]{0,2}\Z"
                            r"|(?:(?:\d{1,3}\.){3}\d{1,3}|\]|\.[a-z]{2,}|localhost|<ip>|<host>):\Z")  # a port
_DIGITS_UNIT = re.compile(r"(\d+)([^\W\d_]+)")
_NAME_DIGITS = re.compile(r"([^\W\d_]+)\d{1,2}")
_HEX = re.compile(r"0[xX][0-9a-fA-F]+")
#: A hexadecimal number the code writes (a byte, a code point, a flag), not an address or id.
_SHORT_HEX = re.compile(r"0[xX][0-9a-fA-F]{1,6}")
_EXT = re.compile(r"\.([A-Za-z0-9]{1,8})$")
_URL = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#(.*))?$", re.S)
_QUOTED = re.compile(r"(?<![^\W_])(['\"])((?:(?!\1)[^\n]){1,500}?)\1(?![^\W_])")
_RUN = re.compile(r"(<(?:text|number|path|email|ip|host|user|mac|id)>)(?:[ /\\-]\1)+")
_PLACEHOLDER_ONLY = re.compile(r"(?:" + _ATOM + r")(?:\.[A-Za-z0-9]{1,8})?")


def norm_path(path: str) -> str:
    path = path.replace("\\", "/")
    return path[:-1] if len(path) > 1 and path.endswith("/") else path


def with_extension(placeholder: str, name: str) -> str:
    """``<path>.pdf`` when the removed name ends in an extension of the stdlib's mimetypes."""
    m = _EXT.search(name)
    if m and m.group(1).lower() in safe_extensions():
        return placeholder + "." + m.group(1)
    return placeholder


def _words_regex(names: Iterable[str]) -> str:
    """Case-insensitive alternation: names of 6 characters or more anywhere (``alicesmith2``),
    shorter ones at word boundaries (``alice`` in ``alice.smith``, not in ``malice``)."""
    ordered = sorted({n for n in names if n}, key=lambda n: (-len(n), n))
    long = "|".join(re.escape(n) for n in ordered if len(n) >= 6)
    short = "|".join(re.escape(n) for n in ordered if len(n) < 6)
    parts = ([long] if long else []) + ([r"(?<![^\W_])(?:" + short + r")(?![^\W_])"] if short else [])
    return "(?i:" + ("|".join(parts) or "(?!)") + ")"


class TextRules:
    """The string rules of one machine (and the app author's extra patterns)."""

    def __init__(self, context: MachineContext, patterns: Iterable[re.Pattern[str]] = ()) -> None:
        self.context = context
        self.extra = tuple(patterns)
        self.homes = tuple(norm_path(h) for h in context.home)
        roots = [(norm_path(r), label) for r, label in context.roots]
        roots += [(norm_path(os.path.dirname(r)), "<app>") for r in context.app_roots]
        self.roots = tuple(sorted(roots, key=lambda kv: (-len(kv[0]), kv[0])))
        users = [u for u in context.user_names if u.lower() not in rules.COMMON_NAMES]
        hosts = [h for h in context.host_names if h.lower() not in rules.COMMON_NAMES]
        #: Single words of this machine's names: never kept, even when they are program text.
        self.deny: dict[str, str] = {}
        for names, placeholder in ((hosts, rules.HOST), (users, USER)):
            for name in names:
                for word in re.findall(r"[^\W_]+", name):
                    if len(word) >= 3 and word.lower() not in rules.COMMON_NAMES:
                        self.deny.setdefault(fold(word), placeholder)
                self.deny.setdefault(fold(name), placeholder)
        for name in hosts:  # a host's labels are words of the internet, only its first is its own
            for word in re.findall(r"[^\W_]+", name)[1:]:
                if self.deny.get(fold(word)) == rules.HOST and fold(word) != fold(name.split(".")[0]):
                    del self.deny[fold(word)]
        machine = []
        if hosts:
            machine.append(("host", _words_regex(hosts)))
        if users:
            machine.append(("user", _words_regex(users)))
        pieces = list(PIECES)
        at = [name for name, _ in pieces].index("relpath")
        pieces[at:at] = machine  # after paths (a path gets the names itself), before words
        self.pattern = re.compile("|".join(f"(?P<{name}>{regex})" for name, regex in pieces))
        self.names = re.compile("|".join(f"(?P<{name}>{regex})" for name, regex in machine)) \
            if machine else None
        self.plain = re.compile("|".join(f"(?P<{name}>{regex})" for name, regex in pieces
                                         if name in ("atom", "host", "user", "number", "word")))  # fmt: skip
        self._handlers: dict[str, Callable[[str, Vocabulary], str]] = {
            "atom": lambda t, v: t,
            "rooted": self._rooted,
            "url": self._url,
            "email": lambda t, v: EMAIL,
            "mac": lambda t, v: MAC,
            "ipv6": self._ip,
            "ipv4": self._ip,
            "uuid": lambda t, v: ID,
            "path": self._path,
            "relpath": self._relpath,
            "host": lambda t, v: rules.HOST,
            "user": lambda t, v: USER,
            "number": lambda t, v: self._number(t),  # (with the words before it: _pieces)
            "word": self._word,
        }
        self._exists: dict[str, bool] = {}
        #: Source lines of installed code already scrubbed (see Scrubber.code_lines).
        self.lines: dict[str, str] = {}

    # -- the pass ---------------------------------------------------------------------------------
    def scrub(self, text: str, vocab: Vocabulary) -> str:
        """``text`` made of program text and placeholders only (see the module's docstring)."""
        if len(text) > rules.MAX_SCAN:
            return rules.TOO_LONG
        out = unicodedata.normalize("NFC", text) if not text.isascii() else text
        out = rules.filter_secrets(out)
        for extra in self.extra:
            out = extra.sub(FILTERED, out)
        out = self._pieces(out, vocab, self.pattern)
        if ("'" in out or '"' in out) and "<" in out:
            for _ in range(4):  # to a fixpoint: one collapse can bring two quotes together
                collapsed = _QUOTED.sub(_collapse_quoted, out)
                if collapsed == out:
                    break
                out = collapsed
        if "<" in out:
            out = _RUN.sub(r"\1", out)
            # a pair can take shape only now ("cookie '<path>'[0"): the output is a fixpoint
            out = rules.filter_secrets(out)
        if len(out) > rules.MAX_STRING:
            out = out[: rules.MAX_STRING - 1] + "…"
        return out

    def _pieces(self, text: str, vocab: Vocabulary, pattern: re.Pattern[str]) -> str:
        handlers = self._handlers

        def replace(m: re.Match[str]) -> str:
            if m.lastgroup == "number" or (m.lastgroup == "word" and m.group().isdigit()):
                return self._number(m.group(), m.string[max(0, m.start() - 16):m.start()])
            return handlers[m.lastgroup or "word"](m.group(), vocab)

        return pattern.sub(replace, text)

    def words_only(self, text: str, vocab: Vocabulary) -> str:
        """``text`` through the word, number and name rules only (a piece already cut out)."""
        return self._pieces(text, vocab, self.plain)

    def code_line(self, line: str) -> str:
        """A source line of installed code: program text, so only secrets and this machine's
        names (a path or name in a comment) go."""
        out = rules.filter_secrets(line)
        for extra in self.extra:
            out = extra.sub(FILTERED, out)
        if self.names is not None:
            out = self.names.sub(lambda m: rules.HOST if m.lastgroup == "host" else USER, out)
        return out

    # -- pieces -----------------------------------------------------------------------------------
    def _word(self, token: str, vocab: Vocabulary) -> str:
        if "%" in token:
            decoded = unquote(token)
            if decoded != token:
                return token if self.words_only(decoded, vocab) == decoded else TEXT
        low = fold(token)
        denied = self.deny.get(low)
        if denied is not None:
            return denied
        if low.isdigit():
            return self._number(token)
        if _HEX.fullmatch(token):
            return token if _SHORT_HEX.fullmatch(token) else NUMBER
        unit = _DIGITS_UNIT.fullmatch(token)
        if unit is not None:  # 500ms, 3rd, 2x
            number = self._number(unit.group(1))
            return number + (unit.group(2) if _known(unit.group(2), vocab) else TEXT)
        if _known(token, vocab):
            return token
        named = _NAME_DIGITS.fullmatch(token)  # python3, utf8, x86, int64
        return token if named is not None and _known(named.group(1), vocab) else TEXT

    @staticmethod
    def _number(token: str, before: str = "") -> str:
        if _NUMBER_OK.fullmatch(token):
            return token
        if _COUNTED.fullmatch(token) and _COUNTING_WORD.search(before):
            return token
        return NUMBER

    def _ip(self, token: str, vocab: Vocabulary) -> str:
        import ipaddress

        try:
            ipaddress.ip_address(token)
        except ValueError:
            return self.words_only(token, vocab)
        return IP

    def _url(self, token: str, vocab: Vocabulary) -> str:
        tail = ""
        while token and token[-1] in ".,;:!?)'":  # sentence punctuation is not the URL's
            token, tail = token[:-1], token[-1] + tail
        m = _URL.match(token)
        if m is None:
            return TEXT + tail
        scheme, authority, path, query, fragment = m.groups()
        scheme = scheme if scheme.lower() in vocab else TEXT
        if scheme.lower() == "file":
            rest = authority + path + ("?" + query if query is not None else "")
            rest += "#" + fragment if fragment is not None else ""
            kept = rest if not rest or ATOM.fullmatch(rest) else self._path(rest, vocab)
            return scheme + "://" + kept + tail
        userinfo = ""
        if "@" in authority:
            userinfo, authority = FILTERED + "@", authority.rsplit("@", 1)[1]
        host, port = authority, ""
        if authority.startswith("[") and "]" in authority:
            host, _, rest = authority[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else ""
        elif authority.count(":") == 1:
            host, port = authority.split(":")
        host = self._host(host, vocab)
        port = ":" + (port if port.isdigit() else TEXT) if port else ""
        segments = [self._segment(s, vocab) for s in path.split("/")]
        out = scheme + "://" + userinfo + host + port + "/".join(segments)
        if query is not None:
            pairs = [p.split("=", 1) for p in query.split("&")]
            out += "?" + "&".join(self._segment(p[0], vocab) + ("=" + _value(p[1]) if len(p) > 1 else "")
                                  for p in pairs)  # fmt: skip
        if fragment is not None:
            out += "#" + _value(fragment)
        return out + tail

    def _host(self, host: str, vocab: Vocabulary) -> str:
        if not host or ATOM.fullmatch(host):
            return host
        import ipaddress

        try:
            ipaddress.ip_address(host)
            return IP
        except ValueError:
            pass
        if fold(host) in self.deny:
            return self.deny[fold(host)]
        words = re.findall(r"[^\W_]+", host)
        if not words or any(fold(w) in self.deny for w in words):
            return rules.HOST
        if "." in host:  # a full name: kept only if the program's files hold it as it is
            return host if vocab.has_text(host) else rules.HOST
        return host if host in vocab else rules.HOST

    def _segment(self, segment: str, vocab: Vocabulary) -> str:
        """A URL path segment or query key: kept only if it is all program text."""
        if not segment or ATOM.fullmatch(segment):
            return segment
        decoded = unquote(segment)
        if self.words_only(decoded, vocab) == decoded:
            return segment
        return NUMBER if decoded.isdigit() else with_extension(TEXT, decoded)

    def _path(self, token: str, vocab: Vocabulary) -> str:
        """A path in free text: installed code keeps its tail, the home folder is ``~``, a path
        made only of program text is kept; anything else is ``<path>`` (with its extension)."""
        path = norm_path(token)
        for root, label in self.roots:
            if path == root:
                return label
            if path.startswith(root + "/"):
                tail = path[len(root):]
                if ".." not in tail and self._exists_under(root, tail):
                    return label + tail
                return with_extension(PATH, tail)
        rest = None
        low = path.lower()
        for home in self.homes:
            if low == home.lower() or low.startswith(home.lower() + "/"):
                rest = path[len(home):]
                break
        if rest is None:
            m = rules.HOME_LIKE.match(path)
            if m:
                rest = path[m.end() - (1 if path[m.end() - 1:m.end()] == "/" else 0):]
        if rest is not None:
            if not rest.strip("/"):
                return HOME
            return HOME + rest if self._all_code(rest, vocab) else with_extension(PATH, path)
        if path.startswith("~"):
            return path if self._all_code(path[1:], vocab) else with_extension(PATH, path)
        return path if self._all_code(path, vocab) else with_extension(PATH, path)

    def _rooted(self, token: str, vocab: Vocabulary) -> str:
        """``<stdlib>/json/decoder.py`` (an earlier scrub's output): kept if that file is there."""
        label, _, tail = token.partition("/")
        if ".." not in tail.split("/") and any(
            lab == label and self._exists_under(root, "/" + tail) for root, lab in self.roots
        ):
            return token
        return with_extension(PATH, tail)

    def _relpath(self, token: str, vocab: Vocabulary) -> str:
        return token if self._all_code(token, vocab) else with_extension(PATH, token)

    def _all_code(self, path: str, vocab: Vocabulary) -> bool:
        """Whether every name in ``path`` is made of program text (and none is this machine's)."""
        part = path.replace("\\", "/")
        return self.words_only(part, vocab) == part

    def _exists_under(self, root: str, tail: str) -> bool:
        key = root + tail
        known = self._exists.get(key)
        if known is None:
            known = self._exists[key] = os.path.exists(key)
        return known

    # -- frames -----------------------------------------------------------------------------------
    def installed(self, path: str) -> tuple[str, str] | None:
        """(root, label) of installed code that ``path`` is under, else None."""
        norm = norm_path(path)
        for root, label in self.roots:
            if norm.startswith(root + "/"):
                return root, label
        return None


def _known(word: str, vocab: Vocabulary) -> bool:
    """A word of the vocabulary, or a single ASCII letter (``x``, ``s``: no one's name)."""
    return (len(word) == 1 and word.isascii()) or word in vocab


_ATOMS_ONLY = re.compile(r"(?:" + _ATOM + r"|[;,&|+.-])*")


def _value(value: str) -> str:
    """A query value or fragment: the user's by nature, never sent (only placeholders stay)."""
    return value if _ATOMS_ONLY.fullmatch(value) else TEXT


def _collapse_quoted(m: re.Match[str]) -> str:
    """A quoted value that lost a part becomes one placeholder: ``'<path>.pdf'``, ``'<text>'``."""
    quote, content = m.group(1), m.group(2)
    if not ATOM.search(content) or _PLACEHOLDER_ONLY.fullmatch(content) or "://" in content:
        return m.group()  # nothing lost, or a URL (already rebuilt piece by piece)
    kinds = {a for a in ATOM.findall(content) if a != FILTERED}
    if not kinds:
        return m.group()  # only a secret went: the secret rule left what is around it
    if PATH in kinds or "/" in content or "\\" in content:
        kind = PATH
    elif len(kinds) == 1:
        kind = kinds.pop()
    else:
        kind = TEXT
    if kind in (PATH, TEXT):
        kind = with_extension(kind, content)
    return quote + kind + quote


@functools.lru_cache(maxsize=16)
def text_rules(context: MachineContext, patterns: tuple[re.Pattern[str], ...] = ()) -> TextRules:
    """The :class:`TextRules` of a context (and extra patterns), compiled once per process."""
    return TextRules(context, patterns)

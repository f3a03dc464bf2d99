"""The program's own text: which words may leave the machine.

A word is program text when it is one of CPython's own (its messages, the ``os.strerror``
table, builtins: the generated ``cpython_words.txt``), a placeholder's, one the app author
declared safe, or when it occurs as a word in a source file of the code involved: the files of
an event's frames where they are installed code, the modules of its exception types, and the
app's own packages. A compiled extension (an exception's module, like pydantic_core's) is
searched only for host names (``errors.pydantic.dev``): a full scan of its megabytes for every
unknown word cost ~130 ms a report and kept no more of the corpus's words than CPython's list.

Source files are not tokenised up front (a crash touches a few MB of code; reading it all would
cost more than the rest of the report). A :class:`Vocabulary` answers ``word in vocabulary``
from the small base set first, and only a word not there is searched for, as a whole word, in
the bytes of each file: a handful of C-speed ``bytes.find`` calls per unknown word.
"""

from __future__ import annotations

import functools
import os
import re
import unicodedata
import zipimport  # always loaded: the import system's own
from collections.abc import Iterable

#: A word: a run of letters and digits (``_`` splits identifiers into their words).
WORD = re.compile(r"[^\W_]+")
#: Source files larger than this are not read.
MAX_FILE = 8 << 20
#: Files kept in memory per process (their lower-cased bytes).
MAX_FILES = 256
#: What a source file's name ends with (anything else is compiled: see Vocabulary).
SOURCE_SUFFIXES = (".py", ".pyi", ".pyw")
#: Files of the app's own packages read, at most.
MAX_APP_FILES = 400

_HERE = os.path.dirname(os.path.abspath(__file__))


def _read_words(name: str) -> frozenset[str]:
    data = _read(os.path.join(_HERE, name))
    if data is None:  # a broken install: fewer words kept, never more
        return frozenset()
    return frozenset(data.decode("ascii", "replace").split())


def _read(path: str, limit: int | None = None) -> bytes | None:
    """A file's bytes (None when unreadable or over ``limit``), also a file inside a zip archive
    on ``sys.path`` (a zipapp, an egg), where installed code and crashreport itself may live."""
    try:
        if os.path.isfile(path):
            if limit is not None and os.path.getsize(path) > limit:
                return None
            with open(path, "rb") as f:
                return f.read()
        archive = os.path.dirname(path)
        while archive and not os.path.isfile(archive):
            parent = os.path.dirname(archive)
            archive = parent if parent != archive else ""
        if not archive:
            return None
        data: bytes = zipimport.zipimporter(archive).get_data(path)
        return data if limit is None or len(data) <= limit else None
    except (OSError, zipimport.ZipImportError):
        return None


@functools.lru_cache(maxsize=1)
def cpython_words() -> frozenset[str]:
    """CPython's own words, the placeholders' and the safe extensions (all generated into
    ``cpython_words.txt`` by ``scripts/gen_cpython_words.py``), and this platform's
    ``os.strerror`` table (the generating platform's is in the file already)."""
    words = _read_words("cpython_words.txt")
    table = " ".join(os.strerror(code) for code in range(1, 134)).lower()
    more = set(WORD.findall(table)) - words
    return words | more if more else words


@functools.lru_cache(maxsize=1)
def safe_extensions() -> frozenset[str]:
    """File extensions from the stdlib's built-in mimetypes table (``extensions.txt``): a removed
    path keeps one of these, since it tells only the kind of file, which the program knows."""
    return _read_words("extensions.txt")


def fold(word: str) -> str:
    """How words are compared: NFC, lower case (``str.lower``, as the sources' bytes are lowered:
    ``casefold`` would turn ``ß`` into ``ss``, which no source file has)."""
    return unicodedata.normalize("NFC", word).lower()


_TEXTS: dict[str, bytes | None] = {}
#: Per file, the words already looked for in it (whole-word search results), per process.
_FOUND: dict[str, dict[bytes, bool]] = {}


def file_text(path: str) -> bytes | None:
    """The lower-cased bytes of a regular file (None if unreadable or too big), cached per process."""
    if path in _TEXTS:
        return _TEXTS[path]
    data = _read(path, MAX_FILE)
    if data is not None:
        data = data.lower()
    if len(_TEXTS) >= MAX_FILES:
        _TEXTS.clear()
        _FOUND.clear()
    _TEXTS[path] = data
    return data


def file_has_word(path: str, word: bytes) -> bool:
    """Whether the file holds ``word`` (lower-case UTF-8) as a whole word; cached per process."""
    found = _FOUND.get(path)
    if found is None:
        found = _FOUND[path] = {}
    known = found.get(word)
    if known is None:
        text = file_text(path)
        known = found[word] = text is not None and has_word(text, word)
    return known


_RAW: dict[str, bytes | None] = {}


def binary_text(path: str) -> bytes | None:
    """The bytes of a compiled file as they are (its strings are searched as written)."""
    if path not in _RAW:
        _RAW[path] = _read(path, MAX_FILE)
    return _RAW[path]


def _is_word_byte(b: int) -> bool:
    return b >= 0x80 or 48 <= b <= 57 or 97 <= b <= 122


def has_word(text: bytes, word: bytes) -> bool:
    """Whether ``word`` occurs in ``text`` as a whole word (not inside a longer one)."""
    start = text.find(word)
    n = len(word)
    while start >= 0:
        end = start + n
        if (start == 0 or not _is_word_byte(text[start - 1])) and (
            end == len(text) or not _is_word_byte(text[end])
        ):
            return True
        start = text.find(word, start + 1)
    return False


def app_files(roots: Iterable[str]) -> list[str]:
    """The Python source files of the app's packages (bounded), cached per process."""
    return list(_app_files(tuple(roots)))


@functools.lru_cache(maxsize=8)
def _app_files(roots: tuple[str, ...]) -> tuple[str, ...]:
    found: list[str] = []
    for root in roots:
        if os.path.isfile(root):
            found.append(root)
            continue
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
            found += [os.path.join(folder, f) for f in sorted(files) if f.endswith((".py", ".pyi"))]
            if len(found) >= MAX_APP_FILES:
                return tuple(found[:MAX_APP_FILES])
    return tuple(found)


class Vocabulary:
    """The words that may leave the machine, for one item.

    ``base``: words known up front; ``files``: the source files searched on demand, in order
    (the frames' first); compiled ones among them are searched for host names only. Answers
    are cached per instance.
    """

    def __init__(self, base: frozenset[str], files: Iterable[str] = ()) -> None:
        self.base = base
        every = tuple(dict.fromkeys(files))
        self.files = tuple(f for f in every if f.endswith(SOURCE_SUFFIXES))
        self.binaries = tuple(f for f in every if not f.endswith(SOURCE_SUFFIXES))
        self._known: dict[str, bool] = {}
        #: The answers given that did not come from ``base`` (see :meth:`record`).
        self.asked: list[tuple[str, bool]] | None = None

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str):
            return False
        w = fold(word)
        if w in self.base:
            return True
        return self.knows(w)

    def knows(self, w: str) -> bool:
        """Whether the folded word is in one of the source files (a key starting with NUL: a
        host name, in the compiled files too)."""
        known = self._known.get(w)
        if known is None:
            needle = w.lstrip("\0").encode("utf-8")
            known = bool(needle) and any(file_has_word(f, needle) for f in self.files)
            if not known and needle and w.startswith("\0"):
                known = any((data := binary_text(f)) is not None and has_word(data, needle)
                            for f in self.binaries)  # fmt: skip
            self._known[w] = known
        if self.asked is not None:
            self.asked.append((w, known))
        return known

    def has_text(self, text: str) -> bool:
        """Whether ``text`` (a host name, say) occurs verbatim, as a whole, in a file."""
        return self.knows("\0" + text.lower())

    def agrees(self, asked: tuple[tuple[str, bool], ...]) -> bool:
        """Whether this vocabulary gives the same answers (a result computed with another
        vocabulary is valid here when every answer it depended on is the same)."""
        return all(self.knows(w) is known for w, known in asked)


def base_words(words: Iterable[str] = ()) -> frozenset[str]:
    """CPython's words plus the app author's safe ``words`` (each split into its words)."""
    extra = {fold(t) for w in words for t in WORD.findall(str(w))}
    return cpython_words() | extra if extra else cpython_words()

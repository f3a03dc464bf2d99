"""Generate crashreport/privacy/cpython_words.txt and extensions.txt from the running interpreter.

CPython's own messages are program text: the interpreter's built-in exception messages (the
C strings of libpython and of the stdlib's compiled modules in lib-dynload), the ``os.strerror``
table, the names of builtins, keywords and standard exception classes. Their words may leave
the machine. ``extensions.txt`` is the stdlib's built-in ``mimetypes`` table (no system file):
the file extensions whose mention says only what kind of file it was.

The placeholders' words and the extensions go into ``cpython_words.txt`` too (one set to load
at run time). Run: ``python scripts/gen_cpython_words.py`` (commit both files). Only the words
are kept (runs of letters, lower-cased, 2-24 long), from C strings that read like messages
(they hold a space).
"""

from __future__ import annotations

import builtins
import errno
import glob
import keyword
import os
import re
import sys
import sysconfig
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "crashreport" / "privacy"
#: A C string that reads like a message: printable ASCII with at least one space.
C_STRING = re.compile(rb"[\x20-\x7e]{6,}")
WORD = re.compile(r"[^\W\d_]{2,24}")


def binaries() -> list[str]:
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    names = [sysconfig.get_config_var("LDLIBRARY") or "", sysconfig.get_config_var("INSTSONAME") or ""]
    found = [os.path.join(libdir, n) for n in names if n and os.path.isfile(os.path.join(libdir, n))]
    found.append(os.path.realpath(sys.executable))
    dynload = os.path.join(os.path.dirname(os.__file__), "lib-dynload")  # the base, not a venv
    found += sorted(glob.glob(os.path.join(dynload, "*.so")) + glob.glob(os.path.join(dynload, "*.pyd")))
    return list(dict.fromkeys(found))


def message_words(data: bytes) -> set[str]:
    words: set[str] = set()
    for run in C_STRING.findall(data):
        text = run.decode("ascii")
        if " " not in text.strip():
            continue
        words.update(w.lower() for w in WORD.findall(text))
    return words


def main() -> None:
    words: set[str] = set()
    for path in binaries():
        words |= message_words(Path(path).read_bytes())
    for code in sorted(errno.errorcode):
        words.update(w.lower() for w in WORD.findall(os.strerror(code)))
        words.add(errno.errorcode[code].lower())
    for name in [*dir(builtins), *keyword.kwlist, *getattr(keyword, "softkwlist", [])]:
        words.update(w.lower() for w in WORD.findall(name))
        words.add(name.lower().strip("_"))
    import mimetypes

    sys.path.insert(0, str(OUT.parent.parent))
    from crashreport.privacy.rules import PLACEHOLDER_WORDS

    table = getattr(mimetypes, "_types_map_default", {}) or {}
    exts = sorted({e.lstrip(".").lower() for e in table if e.lstrip(".").isalnum()})
    (OUT / "extensions.txt").write_text("\n".join(exts) + "\n", encoding="ascii")
    words |= set(exts) | set(PLACEHOLDER_WORDS)  # one file, one set to load at run time
    words.discard("")
    (OUT / "cpython_words.txt").write_text("\n".join(sorted(words)) + "\n", encoding="ascii")
    print(f"{len(words)} words, {len(exts)} extensions (Python {sys.version.split()[0]})")


if __name__ == "__main__":
    main()

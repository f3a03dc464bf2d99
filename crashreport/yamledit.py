"""Set ``telemetry.collect`` in a user's YAML config by a small text edit.

The user's file is theirs: every other key, the order, the comments, the quoting and the line
endings stay as they were. We locate the exact characters to change with PyYAML's composer
(node marks are character offsets), splice in the new value, then prove the result: it must
parse with ``yaml.safe_load`` to the old data with only ``telemetry.collect`` changed. If not,
nothing is written. The write is atomic (a temporary file in the same folder, then a rename) and
keeps the file's mode; a symlinked config is written through to its target.

No new dependency (ruamel.yaml would round-trip too, but it is a large one for one key).
"""

from __future__ import annotations

import contextlib
import copy
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from .config import parse_level

#: The text written for each level; ``true``/``false`` read best and parse as booleans.
VALUE_TEXT = {"all": "true", "errors": "errors", "off": "false"}
_PARSED = {"all": True, "errors": "errors", "off": False}


class EditError(Exception):
    """The file was not changed; the message says why in one line."""


@dataclass(frozen=True)
class EditResult:
    """What :func:`set_collect` did: the file, whether it was created or changed."""

    path: Path
    created: bool
    changed: bool


def set_collect(path: str | os.PathLike[str], level: str) -> EditResult:
    """Make ``telemetry.collect`` in ``path`` say ``level`` (``all``, ``errors`` or ``off``)."""
    if level not in VALUE_TEXT:
        raise ValueError(f"unknown level {level!r}")
    target = Path(os.path.expanduser(os.fspath(path)))
    try:
        if target.is_symlink():
            target = target.resolve()
        raw = target.read_bytes()
    except FileNotFoundError:
        raw = None
    except IsADirectoryError:
        raise EditError(f"{target} is a folder, not a config file") from None
    except OSError as exc:
        raise EditError(f"{target}: cannot be read ({exc.strerror or exc})") from None
    except RuntimeError:  # Python < 3.13 raises this for a loop of symlinks
        raise EditError(f"{target}: cannot be read (a loop of symbolic links)") from None

    if raw is None:
        text = ""
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise EditError(f"{target} is not UTF-8 text; not touching it") from None
    new_text = edit_text(text, level, where=str(target))
    if raw is not None and new_text == text:
        return EditResult(target, created=False, changed=False)
    _write_atomic(target, new_text.encode("utf-8"))
    return EditResult(target, created=raw is None, changed=True)


def edit_text(text: str, level: str, *, where: str = "the config") -> str:
    """The text of a YAML document with ``telemetry.collect`` set to ``level``; verified."""
    value = VALUE_TEXT[level]
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise EditError(f"{where} is not valid YAML ({first}); fix it by hand first") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise EditError(f"{where}: the top level is not a mapping of keys; not touching it")
    section = data.get("telemetry")
    if isinstance(section, dict) and parse_level(section.get("collect")) == level:
        return text  # already says so (perhaps in other words: yes, on, 1); leave it be

    nl = "\r\n" if "\r\n" in text else "\n"
    if isinstance(root, yaml.MappingNode) and root.flow_style:
        new = _edit_flow_root(text, root, value, where)
    elif isinstance(root, yaml.MappingNode) and root.value:
        new = _edit_block_root(text, root, value, nl, where)
    else:  # empty, comments only, or an explicit null (``~``): remove the null, add a block
        if root is not None:
            text = text[: root.start_mark.index] + text[root.end_mark.index :]
        new = _append_section(text, value, nl)

    expected = copy.deepcopy(data)
    section = expected.get("telemetry")
    expected["telemetry"] = dict(section) if isinstance(section, dict) else {}
    expected["telemetry"]["collect"] = _PARSED[level]
    try:
        result = yaml.safe_load(new)
    except yaml.YAMLError:
        result = None
    if result != expected:
        raise EditError(f"{where}: could not set telemetry.collect without changing other "
                        f"settings; add 'collect: {value}' under 'telemetry:' by hand")  # fmt: skip
    return new


def _last_pair(node: yaml.MappingNode, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    """The last ``key: value`` pair of a mapping node (safe_load keeps the last duplicate)."""
    found = None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            found = (k, v)
    return found


def _append_section(text: str, value: str, nl: str) -> str:
    """A new ``telemetry:`` block at the end."""
    prefix = text if not text.strip() or text.endswith(("\n", "\r")) else text + nl
    if not prefix.strip():
        prefix = ""
    return f"{prefix}telemetry:{nl}  collect: {value}{nl}"


def _edit_flow_root(text: str, root: yaml.MappingNode, value: str, where: str) -> str:
    pair = _last_pair(root, "telemetry")
    if pair is None:
        return _insert_flow_pair(text, root, f"telemetry: {{collect: {value}}}")
    return _edit_section(text, pair, value, "\n", where, in_flow=True)


def _edit_block_root(text: str, root: yaml.MappingNode, value: str, nl: str, where: str) -> str:
    pair = _last_pair(root, "telemetry")
    if pair is None:
        indent = root.value[0][0].start_mark.column
        prefix = text if text.endswith(("\n", "\r")) else text + nl
        pad = " " * indent
        return f"{prefix}{pad}telemetry:{nl}{pad}  collect: {value}{nl}"
    return _edit_section(text, pair, value, nl, where)


def _edit_section(text: str, pair: tuple[yaml.Node, yaml.Node], value: str, nl: str,
                  where: str, *, in_flow: bool = False) -> str:  # fmt: skip
    key, section = pair
    if section.start_mark.index < key.end_mark.index:
        raise EditError(f"{where}: 'telemetry' is an alias of another section; edit it by hand")
    if isinstance(section, yaml.ScalarNode):
        if section.tag != "tag:yaml.org,2002:null":
            raise EditError(f"{where}: 'telemetry' is not a mapping; not touching it")
        # ``telemetry:`` with nothing (or ~/null) after it: put a block under the key.
        start, end = section.start_mark.index, section.end_mark.index
        text = text[:start] + text[end:]
        if in_flow:
            colon = text.find(":", key.end_mark.index) + 1
            return text[:colon] + f" {{collect: {value}}}" + text[colon:].lstrip(" ")
        line_end = _line_end(text, key.end_mark.index)
        pad = " " * (key.start_mark.column + 2)
        return text[:line_end] + f"{nl}{pad}collect: {value}" + text[line_end:]
    if not isinstance(section, yaml.MappingNode):
        raise EditError(f"{where}: 'telemetry' is not a mapping; not touching it")
    collect = _last_pair(section, "collect")
    if collect is not None:
        node = collect[1]
        aliased = node.start_mark.index < collect[0].end_mark.index
        if not isinstance(node, yaml.ScalarNode) or aliased:
            raise EditError(f"{where}: telemetry.collect is not a plain value; edit it by hand")
        start, end = node.start_mark.index, node.end_mark.index
        if start == end:  # ``collect:`` with no value: the empty node's mark may be far away
            colon = text.find(":", collect[0].end_mark.index) + 1
            return text[:colon] + " " + value + text[colon:]
        return text[:start] + value + text[end:]
    if section.flow_style or not section.value:
        return _insert_flow_pair(text, section, f"collect: {value}")
    first = section.value[0][0]
    if first.start_mark.line == key.start_mark.line:
        raise EditError(f"{where}: unusual layout of 'telemetry'; edit it by hand")
    # Right under ``telemetry:``: a comment above the first key stays with that key.
    line_end = _line_end(text, key.end_mark.index)
    pad = " " * first.start_mark.column
    return text[:line_end] + f"{nl}{pad}collect: {value}" + text[line_end:]


def _insert_flow_pair(text: str, node: yaml.MappingNode, pair: str) -> str:
    """Add ``pair`` as the last entry of a flow mapping ``{...}``."""
    close = text.rfind("}", node.start_mark.index, node.end_mark.index)
    if close < 0:
        raise EditError("unexpected YAML layout; edit it by hand")
    before = text[node.start_mark.index + 1 : close]
    inside = before.rstrip()
    if not inside:
        return text[: node.start_mark.index + 1] + pair + text[close:]
    at = node.start_mark.index + 1 + len(inside)
    sep = " " if inside.endswith(",") else ", "
    return text[:at] + sep + pair + text[at:]


def _line_end(text: str, index: int) -> int:
    """Index of the line break ending the line that contains ``index`` (or the text's end)."""
    ends = [i for i in (text.find("\r\n", index), text.find("\n", index)) if i >= 0]
    return min(ends) if ends else len(text)


def _write_atomic(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` via a temporary file and a rename; keep the file's mode."""
    try:
        mode: int | None = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise EditError(f"cannot write in {target.parent} ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise EditError(f"cannot write {target} ({exc.strerror or exc})") from None

# ruff: noqa: F507, F524, SIM905, UP015, UP031 - each entry is a mistake made on purpose
"""Common error messages that hold no personal data, each raised for real.

Every entry of :data:`ERRORS` is a callable that raises a typical programming error through the
stdlib or a popular library (json, re, datetime, pathlib, sqlite3, PyYAML, pydantic, click,
jinja2, SQLAlchemy, requests, httpx ...). :func:`events` raises each one and builds the event
sentry-sdk builds for it. :func:`retention` scrubs them and counts the share of the message
tokens (words and numbers) that is kept: the measure of how much of the code-made part of a
message survives the allowlist. This module plays the app: its own identifiers are program text
(``app_roots``), as an app's are.
"""

from __future__ import annotations

import base64
import binascii
import collections
import configparser
import csv
import datetime
import decimal
import enum
import fractions
import functools
import importlib
import io
import ipaddress
import itertools
import json
import math
import operator
import os
import pathlib
import pickle
import queue
import re
import shlex
import socket
import sqlite3
import statistics
import string
import struct
import subprocess
import sys
import tarfile
import textwrap
import urllib.parse
import uuid
import zipfile
import zlib
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree

HERE = os.path.abspath(__file__)
NOTHING: Any = None


class Color(enum.Enum):
    red = 1


class Shape:
    __slots__ = ("sides",)

    def area(self) -> float:
        raise NotImplementedError("subclasses compute their area")


class Record(dict[str, Any]):
    pass


def _call(f: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[[], Any]:
    return lambda: f(*args, **kwargs)


def _stdlib() -> list[Callable[[], Any]]:
    missing = os.path.join(os.path.dirname(HERE), "no-such-folder", "settings.toml")
    return [
        lambda: NOTHING.name,
        lambda: NOTHING(),
        lambda: NOTHING[0],
        lambda: len(5),  # type: ignore[arg-type]
        lambda: 1 + "1",  # type: ignore[operator]
        lambda: "1" + 1,  # type: ignore[operator]
        lambda: [] + (),  # type: ignore[operator]
        lambda: 1 / 0,
        lambda: 1 % 0,
        lambda: 1.0 / 0,
        lambda: divmod(1, 0),
        lambda: int("twelve"),
        lambda: int(""),
        lambda: int("12", base=1),
        lambda: int(None),  # type: ignore[arg-type]
        lambda: float("nan-ish"),
        lambda: complex("j j"),
        lambda: [][0],
        lambda: ()[3],
        lambda: "abc"[10],
        lambda: {}["missing"],
        lambda: {"name": 1}["value"],
        lambda: collections.OrderedDict().popitem(),
        lambda: [].pop(),
        lambda: {}.popitem(),
        lambda: set().pop(),
        lambda: [1, 2].index(3),
        lambda: "text".index("z"),
        lambda: [3].remove(4),
        lambda: iter(5),  # type: ignore[call-overload]
        lambda: next(iter([])),
        lambda: object().missing,  # type: ignore[attr-defined]
        lambda: setattr(object(), "x", 1),
        lambda: Shape().area(),
        lambda: setattr(Shape(), "color", "red"),
        lambda: Color(3),
        lambda: Color["blue"],
        lambda: hash([]),
        lambda: hash({}),
        lambda: {[]: 1},
        lambda: sorted([1, "a"]),  # type: ignore[list-item]
        lambda: max([]),
        lambda: min([], key=len),
        lambda: sum(["a", "b"]),  # type: ignore[list-item]
        lambda: chr(-1),
        lambda: ord("ab"),
        lambda: bytes("x"),  # type: ignore[arg-type]
        lambda: bytearray(-1),
        lambda: "x".encode("no-such-codec"),
        lambda: b"\xff\xfe\xfa".decode("utf-8"),
        lambda: "é".encode("ascii"),
        lambda: range(1, 2, 0),
        lambda: list(range(3))[1:2:0],
        lambda: isinstance(1, 2),  # type: ignore[arg-type]
        lambda: issubclass(1, int),  # type: ignore[arg-type]
        lambda: getattr(1, "real", 1, 2),  # type: ignore[call-overload]
        lambda: dict(1),  # type: ignore[call-overload]
        lambda: dict([(1, 2, 3)]),  # type: ignore[list-item]
        lambda: "{} {}".format(1),
        lambda: "{name}".format(),
        lambda: "%d" % "x",
        lambda: "%s %s" % (1,),
        lambda: "abc".split(""),
        lambda: "a".join([1]),  # type: ignore[list-item]
        lambda: round("1.5"),  # type: ignore[call-overload]
        lambda: pow(0, -1),
        lambda: 10 ** 10000 * 1.0,
        lambda: math.sqrt(-1),
        lambda: math.log(0),
        lambda: math.factorial(-1),
        lambda: math.exp(1000),
        lambda: statistics.mean([]),
        lambda: statistics.stdev([1]),
        lambda: fractions.Fraction(1, 0),
        lambda: decimal.Decimal("1.2.3"),
        lambda: decimal.Decimal(1) / decimal.Decimal(0),
        lambda: json.loads(""),
        lambda: json.loads("{"),
        lambda: json.loads('{"a": 1,}'),
        lambda: json.loads("[1, 2"),
        lambda: json.loads("{'a': 1}"),
        lambda: json.loads('{"a" 1}'),
        lambda: json.loads("nul"),
        lambda: json.loads('"\\x"'),
        lambda: json.dumps({1j: 2}),
        lambda: json.dumps(object()),
        lambda: json.dumps(float("nan"), allow_nan=False),
        lambda: re.compile("("),
        lambda: re.compile("[a-"),
        lambda: re.compile("*a"),
        lambda: re.compile("(?P<name>a)(?P<name>b)"),
        lambda: re.sub("(a)", r"\2", "a"),
        lambda: re.compile("a{2,1}"),
        lambda: datetime.datetime.strptime("2026-13-01", "%Y-%m-%d"),
        lambda: datetime.datetime.strptime("noon", "%H:%M"),
        lambda: datetime.date(2026, 2, 30),
        lambda: datetime.time(25, 0),
        lambda: datetime.datetime.fromisoformat("yesterday"),
        lambda: datetime.timedelta(days=10**10),
        lambda: datetime.datetime.now() - datetime.datetime.now(datetime.timezone.utc),
        lambda: datetime.datetime(2026, 1, 1) < datetime.date(2026, 1, 1),  # type: ignore[operator]
        lambda: open(missing, encoding="utf-8"),
        lambda: pathlib.Path(missing).read_text(),
        lambda: os.listdir(missing),
        lambda: os.remove(missing),
        lambda: os.rename(missing, missing + ".bak"),
        lambda: os.mkdir(os.path.dirname(HERE)),
        lambda: open(os.path.dirname(HERE), encoding="utf-8"),
        lambda: os.rmdir(os.path.dirname(HERE)),
        lambda: pathlib.Path("relative").relative_to("/usr"),
        lambda: pathlib.PurePath("").with_suffix(".txt"),
        lambda: pathlib.PurePath("a").with_suffix("txt"),
        lambda: os.fspath(3),  # type: ignore[arg-type]
        lambda: os.environ["CRASHREPORT_CORPUS_UNSET"],
        lambda: os.getenv(3),  # type: ignore[arg-type]
        lambda: os.strerror("x"),  # type: ignore[arg-type]
        lambda: io.StringIO().fileno(),
        lambda: io.BytesIO(b"x").write("text"),  # type: ignore[arg-type]
        lambda: io.StringIO("x").write(b"bytes"),  # type: ignore[arg-type]
        lambda: _write_read_only(),
        lambda: open(HERE, "rx", encoding="utf-8"),
        lambda: open(HERE, "r", buffering=0, encoding="utf-8"),
        lambda: struct.pack("i", "x"),
        lambda: struct.unpack("i", b"x"),
        lambda: struct.pack("q", 2 ** 64),
        lambda: struct.calcsize("z"),
        lambda: base64.b64decode("abc"),
        lambda: binascii.unhexlify("abc"),
        lambda: base64.b32decode("a"),
        lambda: zlib.decompress(b"not compressed"),
        lambda: pickle.loads(b"garbage"),
        lambda: pickle.dumps(lambda: 1),
        lambda: uuid.UUID("not-a-uuid"),
        lambda: ipaddress.ip_address("999.1.1.1"),
        lambda: ipaddress.ip_network("10.0.0.1/24"),
        lambda: urllib.parse.urlsplit("http://[::1"),
        lambda: urllib.parse.urlsplit("http://host:port/").port,
        lambda: socket.getservbyname("no-such-service"),
        lambda: socket.inet_aton("1.2.3.4.5"),
        lambda: shlex.split('echo "unterminated'),
        lambda: string.Template("$who").substitute(),
        lambda: string.Template("$").substitute(),
        lambda: textwrap.wrap("text", width=0),
        lambda: csv.reader(["a"], delimiter="ab"),
        lambda: next(csv.reader(['"a"b'], strict=True)),
        lambda: csv.writer(io.StringIO(), quoting=csv.QUOTE_NONE).writerow(["a,b"]),
        lambda: configparser.ConfigParser().read_string("no section"),
        lambda: configparser.ConfigParser().get("section", "option"),
        lambda: configparser.ConfigParser().read_string("[a]\nb=1\n[a]\n"),
        lambda: bytes.fromhex("zz"),
        lambda: int.from_bytes(b"x", "middle"),  # type: ignore[arg-type]
        lambda: (1).to_bytes(1, "big", signed=False) and (256).to_bytes(1, "big"),
        lambda: ElementTree.fromstring("<root>"),
        lambda: ElementTree.fromstring("<a></b>"),
        lambda: importlib.import_module("no_such_module_here"),
        lambda: importlib.import_module("json.no_such_submodule"),
        lambda: __import__("os").no_such_function(),
        lambda: functools.reduce(operator.add, []),
        lambda: itertools.islice([], -1),
        lambda: list(zip([1], [2, 3], strict=True)),
        lambda: operator.itemgetter(5)([1]),
        lambda: queue.Queue().get_nowait(),
        lambda: collections.deque(maxlen=-1),
        lambda: collections.namedtuple("Point", "x x"),
        lambda: Record(a=1).missing_attribute,  # type: ignore[attr-defined]
        lambda: sys.getrecursionlimit.__call__(1),  # type: ignore[call-arg]
        lambda: sqlite3.connect(":memory:").execute("select * from missing_table"),
        lambda: sqlite3.connect(":memory:").execute("selec 1"),
        lambda: sqlite3.connect(":memory:").execute("select ?", (1, 2)),
        lambda: _sqlite_unique(),
        lambda: _sqlite_closed(),
        lambda: subprocess.run(["false"], check=True),
        lambda: subprocess.run(["sh", "-c", "exit 3"], check=True),
        lambda: subprocess.run(["no-such-program-here"], check=True),
        lambda: subprocess.check_output(["sleep", "5"], timeout=0.01),
        lambda: tarfile.open(fileobj=io.BytesIO(b"not a tar")),
        lambda: zipfile.ZipFile(io.BytesIO(b"not a zip")),
        lambda: exec("def f(:\n pass"),
        lambda: eval("1 +"),
        lambda: compile("x = = 1", "<string>", "exec"),
        lambda: exec("if True:\npass"),
        lambda: exec("return 1"),
        lambda: _unbound(),
        lambda: _recursion(),
        lambda: _assertion(),
        lambda: _too_many_args(1, 2),  # type: ignore[call-arg]
        lambda: _missing_arg(),  # type: ignore[call-arg]
        lambda: _unexpected_kwarg(colour=1),  # type: ignore[call-arg]
        lambda: _generator_twice(),
        lambda: _frozen(),
    ]


def _write_read_only() -> None:
    with open(HERE, encoding="utf-8") as f:
        f.write("x")


def _sqlite_unique() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("create table users (id integer primary key, email text unique)")
    db.execute("insert into users (id) values (1)")
    db.execute("insert into users (id) values (1)")


def _sqlite_closed() -> None:
    db = sqlite3.connect(":memory:")
    db.close()
    db.execute("select 1")


def _unbound() -> None:
    if False:
        total = 0
    total += 1


def _recursion(n: int = 0) -> int:
    return _recursion(n + 1) + 1


def _assertion() -> None:
    assert 1 == 2, "the totals must match"


def _too_many_args(a: int) -> None:
    pass


def _missing_arg(a: int) -> None:
    pass


def _unexpected_kwarg(color: int = 0) -> None:
    pass


def _generator_twice() -> None:
    gen = (x for x in [1])

    def again() -> Any:
        yield from gen
        gen.send(None)

    list(again())


def _frozen() -> None:
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class Point:
        x: int

    Point(1).x = 2  # type: ignore[misc]


def _libraries() -> list[Callable[[], Any]]:
    import click
    import httpx
    import jinja2
    import pydantic
    import requests
    import sqlalchemy
    import yaml

    class Order(pydantic.BaseModel):
        quantity: int
        price: float
        created: datetime.date

    engine = sqlalchemy.create_engine("sqlite://")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)

    @click.command()
    @click.option("--count", type=int, required=True)
    def cli(count: int) -> None:
        pass

    def invoke(*args: str) -> None:
        cli.main(list(args), standalone_mode=False)

    def query(sql: str) -> None:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text(sql))

    return [
        lambda: yaml.safe_load("a: [1, 2"),
        lambda: yaml.safe_load("a: b: c"),
        lambda: yaml.safe_load("key: value\n\tindented: tab"),
        lambda: yaml.safe_load("!!python/object:os.system x"),
        lambda: yaml.safe_load("a: 'unterminated"),
        lambda: Order(quantity="many", price=1, created="2026-01-01"),
        lambda: Order(quantity=1, price="cheap", created="2026-01-01"),
        lambda: Order(quantity=1, price=1, created="someday"),
        lambda: Order(quantity=1, price=1),  # type: ignore[call-arg]
        lambda: Order.model_validate_json("{"),
        lambda: pydantic.TypeAdapter(list[int]).validate_python([1, "x"]),
        lambda: pydantic.TypeAdapter(pydantic.PositiveInt).validate_python(-1),
        lambda: invoke(),
        lambda: invoke("--count", "many"),
        lambda: invoke("--colour", "1"),
        lambda: invoke("extra", "--count", "1"),
        lambda: env.from_string("{{ missing.attribute }}").render(),
        lambda: env.from_string("{% if %}").render(),
        lambda: env.from_string("{{ 1 + }}").render(),
        lambda: env.from_string("{% for x in %}{% endfor %}").render(),
        lambda: jinja2.Environment(loader=jinja2.DictLoader({})).get_template("page.html"),
        lambda: env.from_string("{{ x | no_such_filter }}").render(),
        lambda: query("select * from orders"),
        lambda: query("selec 1"),
        lambda: query("select nosuchfunction(1)"),
        lambda: engine.connect().execute(sqlalchemy.text("select :a")),
        lambda: requests.get("not a url"),
        lambda: requests.get("ftp://example.invalid/file"),
        lambda: requests.get("http://"),
        lambda: httpx.get("not a url"),
        lambda: httpx.Headers({"accept": 1}),  # type: ignore[dict-item]
        lambda: httpx.Response(200).json(),
        lambda: httpx.Response(404, request=httpx.Request("GET", "https://api.example.com/items"))
        .raise_for_status(),
    ]


ERRORS: list[Callable[[], Any]] = _stdlib()


def all_errors() -> list[Callable[[], Any]]:
    """Every entry: the stdlib's and the libraries' (imported on first use)."""
    return ERRORS + _libraries()


def raised() -> list[BaseException]:
    """Each entry raised for real: the exceptions (an entry that does not raise is a bug here)."""
    out: list[BaseException] = []
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        for make in all_errors():
            try:
                make()
            except BaseException as exc:  # SystemExit from click too
                out.append(exc)
            else:
                raise AssertionError(f"corpus entry did not raise: {make}")
    finally:
        sys.setrecursionlimit(limit)
    return out


def events() -> list[tuple[BaseException, dict[str, Any]]]:
    """(exception, the event sentry-sdk builds for it) for every entry."""
    from sentry_sdk.utils import event_from_exception

    found = []
    for exc in raised():
        event, _hint = event_from_exception(exc, client_options={"include_source_context": True,
                                                                 "include_local_variables": False,
                                                                 "max_value_length": None})  # fmt: skip
        found.append((exc, event))
    return found


WORD = re.compile(r"[^\W_]+")


def tokens(text: str) -> collections.Counter[str]:
    """The words and numbers of a message (placeholders are not tokens)."""
    return collections.Counter(WORD.findall(re.sub(r"<[a-z-]+>|\[Filtered\]", " ", text)))


def retention(scrubbed: list[tuple[str, str]]) -> float:
    """The share of the tokens of the raw messages that the scrubbed messages keep."""
    total = kept = 0
    for raw, clean in scrubbed:
        before, after = tokens(raw), tokens(clean)
        total += sum(before.values())
        kept += sum((before & after).values())
    return kept / total if total else 1.0


def measure() -> dict[str, Any]:
    """Retention on the corpus, as the pipeline scrubs (capture's structure, then the scrubber):
    with this module as the app's code, and with no app code at all (CPython's words and the
    installed code on the stack only). ``python -m tests.privacy_corpus`` prints it."""
    from crashreport.privacy import Scrubber, machine_context, structure_event

    found = events()
    figures: dict[str, Any] = {"messages": len(found)}
    for name, roots in (("app", (HERE,)), ("no_app", ())):
        scrubber = Scrubber(machine_context(app_roots=roots))
        pairs = []
        for exc, event in found:
            raw = event["exception"]["values"][-1].get("value") or ""
            structured = structure_event(json.loads(json.dumps(event)),
                                         {"exc_info": (type(exc), exc, exc.__traceback__)})  # fmt: skip
            clean = scrubber.scrub_event(structured)["exception"]["values"][-1].get("value") or ""
            pairs.append((raw, clean))
        figures[name] = retention(pairs)
        figures[name + "_pairs"] = pairs
    return figures


if __name__ == "__main__":
    result = measure()
    print(f"{result['messages']} messages; tokens kept: {result['app']:.1%} (this module as the "
          f"app's code), {result['no_app']:.1%} (no app code)")
    for raw, clean in result["app_pairs"]:
        if tokens(raw) - tokens(clean):
            print(f"  {raw[:100]!r}\n    -> {clean[:100]!r}")

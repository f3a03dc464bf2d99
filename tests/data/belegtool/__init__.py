"""belegtool: a realistic small CLI on popular libraries, failing the ways real ones do.

Used by tests/test_privacy_apps.py, installed (with metadata) into a temporary folder. Its
source holds no personal data: the user's data comes from the command line, the environment
and the files in the user's folder (``eingabe.json``), as in a real app.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import crashreport

log = logging.getLogger("belegtool")


def data() -> dict[str, Any]:
    """The user's data, as the user's own files would hold it."""
    with open("eingabe.json", encoding="utf-8") as f:
        loaded: dict[str, Any] = json.load(f)
    return loaded


def open_document() -> None:
    """A file in the user's folder that is not there (spaces, umlauts, apostrophes)."""
    Path(data()["document"]).read_bytes()


def encrypt_document() -> None:
    """The app's own message with the path in it, unquoted."""
    raise RuntimeError(f"cannot encrypt {data()['document']}: key not loaded")


def log_path() -> None:
    """A logged error whose arguments are the user's path and e-mail."""
    d = data()
    log.error("cannot read %s for %s", Path(d["relative"]), d["email"])


def windows_path() -> None:
    d = data()
    raise ValueError(f"unsupported location {d['windows']} (or {d['unc']})")


def fetch_requests() -> None:
    import requests

    d = data()
    url = f"{os.environ['BELEG_API']}/customers/{d['email_quoted']}/documents/{d['file_quoted']}"
    requests.get(url, params={"token": d["token"], "name": d["name"]}, timeout=5).raise_for_status()


def fetch_httpx() -> None:
    import httpx

    d = data()
    url = f"{os.environ['BELEG_API']}/bot{d['bot_token']}/sendMessage"
    httpx.get(url, params={"chat": d["name"]}, timeout=5).raise_for_status()


def validate_customer() -> None:
    import pydantic

    class Customer(pydantic.BaseModel):
        name: str
        age: int
        phone: int

    d = data()
    Customer(name=d["name"], age=d["birthday"], phone=d["phone"])


def store_customer() -> None:
    import sqlalchemy

    d = data()
    engine = sqlalchemy.create_engine("sqlite://")
    meta = sqlalchemy.MetaData()
    customers = sqlalchemy.Table(
        "customers", meta,
        sqlalchemy.Column("name", sqlalchemy.String, primary_key=True),
        sqlalchemy.Column("email", sqlalchemy.String), sqlalchemy.Column("phone", sqlalchemy.String),
        sqlalchemy.Column("birthday", sqlalchemy.String),
    )  # fmt: skip
    meta.create_all(engine)
    row = {"name": d["name"], "email": d["email"], "phone": d["phone"], "birthday": d["birthday"]}
    with engine.begin() as conn:
        conn.execute(customers.insert(), row)
        conn.execute(customers.insert(), row)


def push() -> None:
    d = data()
    subprocess.run([sys.executable, "-c", "raise SystemExit(128)", "-u", d["credentials"],
                    d["remote"]], check=True)  # fmt: skip


def read_settings() -> None:
    import yaml

    with open(data()["settings"], encoding="utf-8") as f:
        yaml.safe_load(f)


def send_headers() -> None:
    d = data()
    headers = {"Authorization": f"Bearer {d['token']}", "X-Customer": d["email"]}
    raise ConnectionError(f"upload failed, headers were {headers}")


def render_letter() -> None:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader("Vorlagen"),
                             undefined=jinja2.StrictUndefined)  # fmt: skip
    env.get_template(data()["template"]).render(customer={})


def network_facts() -> None:
    d = data()
    raise OSError(f"peer {d['mapped_ip']} ({d['mac']}) refused {d['iban_lower']} / {d['iban_dashed']}")


def tokens() -> None:
    d = data()
    raise PermissionError("rejected: " + " ".join(d["tokens"]))


def folded_names() -> None:
    d = data()
    raise LookupError(f"no account for {d['folded']} or {d['nfd']} or {d['upper']}")


def long_action() -> None:
    d = data()
    with crashreport.track("sync", folder=d["folder"], **{d["key"]: d["name"]}):
        raise ValueError("x" * 490 + " " + d["email"] + " " + d["name"])


def choose() -> None:
    import click

    @click.command()
    @click.option("--count", type=int)
    @click.argument("customer")
    def cli(count: int, customer: str) -> None:
        raise click.ClickException(f"unknown customer {customer}")

    cli.main([*sys.argv[2:]], standalone_mode=False)


COMMANDS = {f.__name__.replace("_", "-"): f for f in (
    open_document, encrypt_document, log_path, windows_path, fetch_requests, fetch_httpx,
    validate_customer, store_customer, push, read_settings, send_headers, render_letter,
    network_facts, tokens, folded_names, long_action, choose)}  # fmt: skip


def main() -> int:
    logging.basicConfig(level=logging.INFO)
    command = sys.argv[1]
    crashreport.init("belegtool", subcommand=command)
    log.info("working in %s", os.getcwd())
    COMMANDS[command]()
    return 0


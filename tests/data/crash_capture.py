# ruff: noqa: E501 - one log line per rule reads best unwrapped
"""A script that crashes like a real CLI would, reporting with plain sentry-sdk defaults.

Run from the user's folder in a temporary HOME; every envelope item sentry-sdk builds is
written as one JSON line to the file named by CAPTURE_TO (no network at all).
"""

import json
import logging
import os
import socket

import sentry_sdk
import yaml
from sentry_sdk.transport import Transport

HOME = os.path.expanduser("~")
OUT = os.environ["CAPTURE_TO"]


class Capture(Transport):
    def capture_envelope(self, envelope):
        with open(OUT, "a", encoding="utf-8") as fh:
            for item in envelope.items:
                payload = item.payload.json
                if payload is not None:
                    fh.write(json.dumps({"type": item.type, "payload": payload}) + "\n")


sentry_sdk.init(dsn="http://key@127.0.0.1:9/1", transport=Capture(), release="tool@1.0")
sentry_sdk.get_isolation_scope().start_session()
sentry_sdk.set_user({"id": "abc123", "email": "alice.smith@example.com", "ip_address": "203.0.113.9"})
sentry_sdk.set_tag("account", "alice.smith")
sentry_sdk.set_extra("api_key", "AIzaSyA1234567890abcdefghijklmnopqrstu")
sentry_sdk.set_context("login", {"auth_header": "Bearer abcdef123456", "user": "alice"})


def add_request(event, hint):
    event["request"] = {"url": "https://alice:pa55w0rd-url@example.com/x?key=q-hidden-77",
                        "headers": {"Cookie": "sessionid=zzz"}, "env": {"REMOTE_ADDR": "203.0.113.9"},
                        "data": {"card": "4111 1111 1111 1111"}, "method": "GET"}
    return event


sentry_sdk.get_global_scope().add_event_processor(add_request)
log = logging.getLogger("tool")
log.warning("home is %s", HOME)
log.warning("hello ALICE, alice.smith and Alice from %s (%s)", socket.gethostname(), socket.getfqdn())
log.warning("mail alice.smith@example.com from 203.0.113.77 and 2001:db8:85a3::8a2e:370:7334")
log.warning("fetching https://alice:pa55w0rd-url@api.example.com/v1?key=q-hidden-77")
log.warning("token ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8 aws AKIAIOSFODNN7EXAMPLE")
log.warning("slack xoxb-1234567890-abcdefghij stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc")
log.warning("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl")
log.warning("key -----BEGIN RSA PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END RSA PRIVATE KEY-----")
log.warning("login with password=hunter2-xyzzy and token: tok-99887766")
log.warning("opened %s/clients/acme-holdings/taxes-2025.pdf", HOME)
log.warning("windows path C:\\Users\\alice\\Documents\\acme-holdings\\cfg.ini")


def load(path):
    secret_token = "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"  # a local variable
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh) or secret_token


try:
    json.loads("{not json: " + HOME + "}")
except ValueError:
    log.exception("could not parse the settings of alice")
load(os.path.join(HOME, "clients", "acme-holdings", "taxes-2025.pdf"))

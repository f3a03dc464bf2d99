"""Copy reports to a local Spotlight sidecar, Sentry's local UI.

Spotlight (``npx @spotlightjs/spotlight``) shows on the app author's machine exactly what
crashreport sends, in Sentry's own views. sentry-sdk has a ``spotlight=`` option, but it POSTs in
the calling thread, forces ``send_default_pii`` when there is no DSN and never delivers sessions;
crashreport keeps it off. Instead every scrubbed envelope that is queued (events, sessions, the
usage record) is also put in a small spool, and the sender POSTs each copy once: the sidecar sees
the very envelopes that go to Sentry. A sidecar that is not running loses its copies and costs
one refused connection. Standard library only.
"""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

#: The media type Spotlight's sidecar expects for a Sentry envelope.
CONTENT_TYPE = "application/x-sentry-envelope"
#: Seconds for one POST to the sidecar (it is local: anything slower means it is not there).
POST_TIMEOUT = 2.0


def post(url: str, data: bytes, timeout: float = POST_TIMEOUT) -> bool:
    """POST one envelope to the sidecar at ``url``; True on a 2xx answer. Never raises.

    No proxy: the sidecar is a local process; a user's proxy settings must not divert it."""
    parts = urlsplit(url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    try:
        conn = cls(parts.hostname or "localhost", parts.port, timeout=timeout)
        try:
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            conn.request("POST", path, body=data, headers={"Content-Type": CONTENT_TYPE})
            response = conn.getresponse()
            response.read(1024)
            return 200 <= response.status < 300
        finally:
            conn.close()
    except (OSError, http.client.HTTPException, ValueError):
        return False

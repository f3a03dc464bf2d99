"""Privacy by construction: only the program's own text leaves the machine.

A string produced during the run is sent only as far as it is made of the program's own text
(the words of the code involved, CPython's messages, crashreport's placeholders, the app
author's safe words); every other token becomes a typed placeholder (``<path>``, ``<text>``,
``<number>`` ...), and secret shapes are removed even from program text. See docs/privacy.md.

- :class:`Scrubber`: ``scrub_event(event)`` for events and transactions, ``scrub(payload)``
  for every other item; never raises, idempotent.
- :func:`machine_context`: the facts about this machine, gathered once.
- :func:`exception_value`, :func:`log_message`: messages rebuilt from live objects at capture.
"""

from __future__ import annotations

from .machine import MachineContext, machine_context
from .rules import DENY_KEYS, ERROR, FILTERED, PLACEHOLDERS, REMOVE_KEYS
from .scrubber import Scrubber
from .structured import exception_value, log_message, structure_breadcrumb, structure_event

__all__ = [
    "DENY_KEYS",
    "ERROR",
    "FILTERED",
    "PLACEHOLDERS",
    "REMOVE_KEYS",
    "MachineContext",
    "Scrubber",
    "exception_value",
    "log_message",
    "machine_context",
    "structure_breadcrumb",
    "structure_event",
]

"""Wire sentry-sdk for one run: options, integrations, tags, contexts, session and exit.

Imported only when telemetry is on. Everything sentry-sdk would otherwise take from the user's
machine (``SENTRY_*`` variables, a git checkout, the hostname, ``sys.argv``, local variables,
every installed module) is set explicitly here so that only what the app author passed is used.
"""

from __future__ import annotations

import atexit
import logging
import platform
import sys
from collections.abc import Callable
from typing import Any

import sentry_sdk
from sentry_sdk.integrations.atexit import AtexitIntegration
from sentry_sdk.integrations.dedupe import DedupeIntegration
from sentry_sdk.integrations.excepthook import ExcepthookIntegration
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.integrations.threading import ThreadingIntegration
from sentry_sdk.transport import HttpTransport

from ._safe import guard
from .consent import Level
from .scrub import Scrubber, machine_context
from .spotlight import SpotlightForwarder
from .transport import ScrubbingTransport

BeforeSend = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any] | None]

#: Default for how long the exit may wait for this run's reports to go out.
DEFAULT_EXIT_TIMEOUT = 0.5


def _quiet_shutdown(pending: int, timeout: float) -> None:
    """sentry-sdk's default prints to the host's stderr at exit; crashreport never does."""


class Reporter:
    """One enabled run: owns the sentry-sdk client and the session."""

    def __init__(
        self,
        *,
        app: str,
        release: str,
        user_id: str,
        level: Level,
        dsn: str | None,
        environment: str,
        subcommand: str | None,
        packages: dict[str, str],
        before_send: BeforeSend | None,
        exit_timeout: float,
        scrubber: Scrubber | None = None,
        spotlight: str | None = None,
    ) -> None:
        self.app = app
        self.release = release
        self.user_id = user_id
        self.level = level
        self.subcommand = subcommand
        self.packages = packages
        self._user_before_send = before_send
        self._exit_code: int | None = None
        self.scrubber = scrubber or Scrubber(machine_context())
        self.transport = ScrubbingTransport(None, self.scrubber, self._send)
        self._http: HttpTransport | None = None
        self._spotlight: SpotlightForwarder | None = None
        if spotlight:  # before sentry_sdk.init, so that its atexit flush runs after sentry-sdk's
            self._spotlight = SpotlightForwarder(spotlight, exit_timeout=exit_timeout)

        sentry_sdk.init(
            dsn=dsn or None,
            release=release,
            environment=environment,
            debug=False,
            spotlight=False,
            server_name="",
            default_integrations=False,
            auto_enabling_integrations=False,
            integrations=[
                ExcepthookIntegration(),
                AtexitIntegration(callback=_quiet_shutdown),
                DedupeIntegration(),
                LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
                ThreadingIntegration(propagate_scope=True),
            ],
            include_local_variables=False,
            max_breadcrumbs=30,
            ignore_errors=[KeyboardInterrupt],
            before_send=self._before_send,
            transport=self.transport,
            shutdown_timeout=exit_timeout,
            keep_alive=False,
        )
        client = sentry_sdk.get_client()
        self._unwrap_printer(client)
        if dsn:
            self._http = HttpTransport(client.options)
            self.transport._inner = self._http
        scope = sentry_sdk.get_global_scope()
        scope.set_user({"id": user_id})
        scope.set_tag("python", platform.python_version())
        if subcommand:
            scope.set_tag("subcommand", subcommand)
        scope.set_context(
            "runtime", {"name": platform.python_implementation(), "version": platform.python_version()}
        )
        scope.set_context("packages", dict(packages))
        if level is Level.ALL:
            sentry_sdk.get_isolation_scope().start_session()
        self._patch_exit()
        atexit.register(self._at_exit)

    # -- sending -----------------------------------------------------------------------------
    def _send(self, envelope: Any) -> None:
        if self.level is Level.OFF:
            return
        if self._spotlight is not None:
            self._spotlight.send(envelope)
        if self._http is not None:
            self._http.capture_envelope(envelope)

    @staticmethod
    def _unwrap_printer(client: Any) -> None:
        # SENTRY_PRINT_ENVELOPES in the user's shell would wrap our transport and print raw
        # envelopes to the host's stderr; only what the app author passed may configure us.
        inner = getattr(client.transport, "_inner", None)
        if inner is not None and type(client.transport).__name__ == "_EnvelopePrinterTransport":
            client.transport = inner

    # -- events ------------------------------------------------------------------------------
    def _before_send(self, event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
        if self.level is Level.OFF:
            return None
        if self._user_before_send is not None:
            result = None
            with guard():
                result = self._user_before_send(event, hint)
            if result is None:
                return None
            event = result
        event["modules"] = dict(self.packages)
        return event

    # -- the run -----------------------------------------------------------------------------
    def set_subcommand(self, name: str | None) -> None:
        self.subcommand = name
        sentry_sdk.get_global_scope().set_tag("subcommand", name)

    def set_level(self, level: Level) -> None:
        previous, self.level = self.level, level
        scope = sentry_sdk.get_isolation_scope()
        if level is not Level.ALL and previous is Level.ALL:
            scope._session = None  # no session update after leaving level all
        elif level is Level.ALL and previous is not Level.ALL:
            scope.start_session()

    def _patch_exit(self) -> None:
        original = sys.exit

        def exit(status: object = None) -> None:  # noqa: A001 - the same name as sys.exit
            with guard():
                self._exit_code = _exit_code(status)
            original(status)  # type: ignore[arg-type]

        exit.__wrapped__ = original  # type: ignore[attr-defined]
        sys.exit = exit

    def _at_exit(self) -> None:
        with guard():
            session = getattr(sentry_sdk.get_isolation_scope(), "_session", None)
            if session is not None and self._exit_code and session.status == "ok":
                session.update(errors=max(session.errors, 1))


def _exit_code(status: object) -> int:
    if status is None:
        return 0
    if isinstance(status, int):
        return status
    return 1

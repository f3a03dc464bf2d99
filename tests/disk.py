"""Test helpers for what reaches the disk: the order of fsync and publishing, a full disk."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


def durability_log(monkeypatch: pytest.MonkeyPatch, publish: str) -> list[tuple[str, int]]:
    """Spy (calling through) on ``os.fsync`` and ``os.<publish>`` (``link`` or ``replace``):
    each call is logged as (name, size of the file it concerns at that moment), in order."""
    log: list[tuple[str, int]] = []
    real_fsync, real_publish = os.fsync, getattr(os, publish)

    def fsync(fd: int) -> None:
        log.append(("fsync", os.fstat(fd).st_size))
        real_fsync(fd)

    def published(src: str, dst: str, *args: object, **kwargs: object) -> None:
        log.append((publish, os.stat(src).st_size))
        real_publish(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, publish, published)
    return log


@contextmanager
def full_disk(room: int = 100) -> Iterator[None]:
    """Writes past ``room`` bytes of a file fail (EFBIG), as on a full disk (RLIMIT_FSIZE)."""
    import resource
    import signal

    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (room, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old)

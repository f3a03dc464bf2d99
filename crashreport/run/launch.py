"""Start the sender after the program: detached, silent, at most one per app.

The sender (``python -m crashreport.sender``) delivers the outbox after the program has exited,
so that no run waits for the network. It is started with ``posix_spawn`` in a new session
(``setsid``: a closed terminal's SIGHUP does not reach it), with ``/dev/null`` as its stdin,
stdout and stderr and no other file of the program (a caller that captures the program's
output through a pipe sees the pipe close when the program exits, not when the sender does).

At most one sender runs per app: it holds ``sender.lock`` (``flock``) for as long as it works.
The program takes that lock *before* spawning and hands it to the child, so two programs that
exit at once cannot both start one; a program that finds the lock taken starts nothing (the
running sender looks for new work once more before it lets go of the lock).

Where no process can be started this way (Windows, a frozen app whose ``sys.executable`` is the
app itself), :func:`can_spawn` is False and the run delivers in-process with a bounded wait.
"""

from __future__ import annotations

import contextlib
import os
import sys

from ..locks import take_lock, wait_for_lock

TYPE_CHECKING = False
if TYPE_CHECKING:

    from ..paths import Paths

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
#: The sender's command: the module, run by this very interpreter.
MODULE = "crashreport.sender"


def can_spawn() -> bool:
    return (hasattr(os, "posix_spawn") and not getattr(sys, "frozen", False)
            and bool(sys.executable) and os.name == "posix")  # fmt: skip


def start_sender(paths: Paths, args: list[str]) -> int | None:
    """Start a sender unless one runs (the caller's record is written): the pid, or None.

    Under the journal lock: a sender making its last look for work holds it until it exits, so
    either it sees the caller's record, or it is gone and a new one is started."""
    try:
        fd = wait_for_lock(paths.runs_lock)
    except OSError:
        return None
    try:
        lock = take_lock(paths.sender_lock)
        return spawn(args, lock) if lock is not None else None
    finally:
        os.close(fd)


def spawn(args: list[str], lock_fd: int, env: dict[str, str] | None = None) -> int | None:
    """Start ``python -m crashreport.sender ARGS --lock-fd N`` detached, handing it the lock.

    Returns the child's pid (None if it could not be started; the lock is then released)."""
    devnull = os.open(os.devnull, os.O_RDWR | _O_CLOEXEC)
    child_fd = 3  # the lock, at a fixed number in the child
    actions: list[tuple[int, ...]] = [
        (os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1),
        (os.POSIX_SPAWN_DUP2, devnull, 2), (os.POSIX_SPAWN_DUP2, lock_fd, child_fd),
    ]  # fmt: skip
    # Any descriptor the host made inheritable (fds are not, by default, since PEP 446) is
    # closed in the child, so that the sender holds none of the host's pipes or sockets.
    for fd in _inheritable_fds():
        if fd > child_fd and fd not in (devnull, lock_fd):
            actions.append((os.POSIX_SPAWN_CLOSE, fd))
    argv = [sys.executable, "-m", MODULE, *args, "--lock-fd", str(child_fd)]
    try:
        pid = os.posix_spawn(sys.executable, argv, os.environ if env is None else env,
                             file_actions=actions, setsid=True)  # fmt: skip
    except OSError:
        return None
    finally:
        os.close(devnull)
        os.close(lock_fd)
    # The lowest priority (nice 19), set as the child starts: the sender then takes only what
    # the program's next run and the user's other work leave of the processors.
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, pid, 19)
    return pid


def _inheritable_fds() -> list[int]:
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd") if name.isdigit()]
    except OSError:
        fds = list(range(3, 256))
    out = []
    for fd in fds:
        try:
            if fd > 2 and os.get_inheritable(fd):
                out.append(fd)
        except OSError:
            continue
    return out

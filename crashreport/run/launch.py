"""Start the sender after the program: detached, silent, at most one per app.

The sender (:mod:`crashreport.sender`) delivers the outbox after the program has exited,
so that no run waits for the network. It is started with ``posix_spawn`` in a new session
(``setsid``: a closed terminal's SIGHUP does not reach it), with ``/dev/null`` as its stdin,
stdout and stderr and no other file of the program (a caller that captures the program's
output through a pipe sees the pipe close when the program exits, not when the sender does).

At most one sender runs per app: it holds ``sender.lock`` (``flock``) for as long as it works.
The program takes that lock *before* spawning and hands it to the child, so two programs that
exit at once cannot both start one; a program that finds the lock taken starts nothing and
never waits (the running sender lets go of the lock before its last look for new work).

Where no process can be started this way (Windows, a frozen app whose ``sys.executable`` is the
app itself), :func:`can_spawn` is False and the run delivers in-process with a bounded wait.
"""

from __future__ import annotations

import contextlib
import os
import sys

from ..locks import take_lock

TYPE_CHECKING = False
if TYPE_CHECKING:

    from ..paths import Paths

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def command() -> list[str]:
    """The sender's command line: this interpreter, importing crashreport from where this
    process did (a zipapp, a folder put on ``sys.path`` at run time) and never from the current
    folder (a ``yaml.py`` or ``crashreport/`` there must not run in the sender)."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    root = os.path.dirname(here)
    code = (f"import sys; sys.path[:] = [{root!r}, *filter(None, sys.path)]; "
            "from crashreport.sender import main; main()")
    return [sys.executable, "-c", code]


def can_spawn() -> bool:
    return (hasattr(os, "posix_spawn") and not getattr(sys, "frozen", False)
            and bool(sys.executable) and os.name == "posix")  # fmt: skip


def start_sender(paths: Paths, args: list[str]) -> int | None:
    """Start a sender unless one runs (the caller's record is written): the pid, or None.

    Never waits: a running sender lets go of the lock before its last look for work, so it
    either sees the caller's record or leaves the lock free for the caller to start one."""
    lock = take_lock(paths.sender_lock)
    return spawn(args, lock) if lock is not None else None


def spawn(args: list[str], lock_fd: int, env: dict[str, str] | None = None) -> int | None:
    """Start the sender (:func:`command`) with ``ARGS --lock-fd N``, detached, handing it the lock.

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
    argv = [*command(), *args, "--lock-fd", str(child_fd)]
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

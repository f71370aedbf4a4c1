"""The run folder's control channel: who holds the run, and how viewers reach its trainer.

A trainer holds `trainer.lock` (an exclusive flock, released by the kernel however the process
ends, so a crashed trainer is told from a live one without trusting a pid) and serves
`control.sock`, a Unix socket any number of viewers connect to. Two guards keep it to the user
who owns the run: the socket file is created with mode 0600 (connecting needs write permission on
it), and the server checks each connection's peer uid (SO_PEERCRED) against its own.

The protocol: on connecting, the server says `hello RUN` (or `error: why` and hangs up), RUN naming
the run folder it serves (`run_identity`), so a viewer whose `control.sock` leads elsewhere (a
symlink to another run's socket) refuses it; then one command name per line, each answered with
`ok` or `error: why`. A command is carried out only while its sender waits for the answer: the
client waits as long as the trainer lives (saying when the answer is slow), and the server drops the
commands of a client that has hung up.
A viewer keeps its connection open while it watches: the trainer counts them, so a finished run
stays up to answer inspection of the final model while someone looks, and ends when nobody does.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import selectors
import socket
import struct
import threading
import time
from pathlib import Path

from mnist_tui.run.folder import open_for_writing

SOCKET = "control.sock"
LOCK = "trainer.lock"
COMMANDS = ("pause", "resume", "toggle_pause", "stop", "request_validation", "request_layer_stats",
            "request_snapshot", "request_checkpoint", "toggle_auto_stats")
TAKES_ARGUMENT = ("request_snapshot",)  # "request_snapshot conv2": that layer (a name has no spaces)
_MAX_UNIX_PATH = 100  # sun_path holds 108 bytes; longer paths are reached through /proc/self/fd
CONNECT_TIMEOUT_S = 1.0  # a trainer stopped by the OS (SIGSTOP, swapped out) accepts but never greets
ANSWER_POLL_S = 0.25  # while an answer is awaited, how often the trainer's lock is looked at
SLOW_ANSWER_S = 1.0  # an answer later than this is reported as pending
MAX_LINE = 4096


class ControlError(OSError):
    """The run's trainer cannot be reached (gone, refused, or not ours)."""


class AnotherRunsTrainer(ControlError):
    """control.sock leads to a trainer that serves another run (a symlink to its socket)."""


def hold_trainer_lock(run_path: str | Path):
    """Take the run's trainer lock for this process's lifetime; returns the open file (keep it)."""
    lock = os.fdopen(open_for_writing(Path(run_path) / LOCK), "a+")  # held until the process ends; never through a link
    deadline = time.monotonic() + 0.5  # a viewer's liveness probe holds a shared lock for a moment
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                lock.close()
                raise ControlError(f"{run_path}: another trainer is running this run") from None
            time.sleep(0.02)
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def run_identity(run_path: str | Path) -> str:
    """The run folder as the kernel knows it (device and inode): the same however its path is written."""
    found = os.stat(run_path)
    return f"{found.st_dev}:{found.st_ino}"


def trainer_alive(run_path: str | Path) -> bool:
    """True while some process holds the run's trainer lock."""
    path = Path(run_path) / LOCK
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO put there does not hang a viewer
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a lock we may have taken
    return False


@contextlib.contextmanager
def _socket_address(run_path: Path):
    """The socket's path, short enough for sun_path (through the folder's fd when it is long)."""
    path = str(run_path / SOCKET)
    if len(path.encode()) <= _MAX_UNIX_PATH:
        yield path
        return
    fd = os.open(run_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{SOCKET}"
    finally:
        os.close(fd)


def _hung_up(conn: socket.socket) -> bool:
    """The peer has closed its end (all it sent is read); looked at without waiting or consuming."""
    try:
        return conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


class ControlServer:
    """Serves `control.sock` for `target` (an object with the COMMANDS as methods) in a thread."""

    def __init__(self, run_path: str | Path, target) -> None:
        self.run_path = Path(run_path)
        self.target = target
        self._selector = selectors.DefaultSelector()
        self._listener: socket.socket | None = None
        self._buffers: dict[socket.socket, bytes] = {}
        self._closed = threading.Event()
        self._wake, self._waker = socket.socketpair()  # close() writes to it, so the loop ends at once
        self._thread = threading.Thread(target=self._serve, name="mnist-tui-control", daemon=True)

    @property
    def viewers(self) -> int:
        """Viewers connected now."""
        return len(self._buffers)

    def start(self) -> ControlServer:
        sock_path = self.run_path / SOCKET
        with contextlib.suppress(FileNotFoundError):
            sock_path.unlink()  # left by a trainer that crashed: we hold the lock, so it is stale
        self._hello = f"hello {run_identity(self.run_path)}\n".encode()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)  # born 0600: no window in which another user could connect
        try:
            with _socket_address(self.run_path) as address:
                listener.bind(address)
        finally:
            os.umask(old_umask)
        os.chmod(sock_path, 0o600)
        listener.listen(16)
        listener.setblocking(False)
        self._listener = listener
        self._selector.register(listener, selectors.EVENT_READ)
        self._selector.register(self._wake, selectors.EVENT_READ)
        self._thread.start()
        return self

    def _serve(self) -> None:
        while not self._closed.is_set():
            for key, _ in self._selector.select(timeout=1.0):
                if key.fileobj is self._listener:
                    self._accept()
                elif key.fileobj is not self._wake:
                    self._read(key.fileobj)

    def _accept(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except OSError:
            return
        if peer_uid(conn) != os.getuid():
            with contextlib.suppress(OSError):
                conn.sendall(b"error: this run belongs to another user\n")
            conn.close()
            return
        with contextlib.suppress(OSError):
            conn.sendall(self._hello)
        conn.setblocking(False)
        self._buffers[conn] = b""
        self._selector.register(conn, selectors.EVENT_READ)

    def _read(self, conn: socket.socket) -> None:
        try:
            data = conn.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        lines = (self._buffers[conn] + data).split(b"\n")
        self._buffers[conn] = lines.pop()[-256:]
        if lines and _hung_up(conn):  # its sender gave up waiting: carrying them out now would surprise it
            self._drop(conn)
            return
        for line in lines:
            name, _, argument = line.decode(errors="replace").strip().partition(" ")
            if name not in COMMANDS or (argument and name not in TAKES_ARGUMENT):
                reply = f"error: unknown command {name[:40]!r}\n".encode()
            else:
                try:
                    getattr(self.target, name)(*([argument] if argument else []))
                    reply = b"ok\n"
                except Exception as exc:  # noqa: BLE001 - the viewer is told why; the channel stays up
                    reply = f"error: {exc}\n".encode()
            with contextlib.suppress(OSError):
                conn.sendall(reply)

    def _drop(self, conn: socket.socket) -> None:
        self._selector.unregister(conn)
        self._buffers.pop(conn, None)
        conn.close()

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._waker.send(b"x")
        if self._thread.is_alive():
            self._thread.join(2)
        for conn in list(self._buffers):
            self._drop(conn)
        if self._listener is not None:
            self._selector.unregister(self._listener)
            self._listener.close()
            with contextlib.suppress(FileNotFoundError):
                (self.run_path / SOCKET).unlink()
        self._selector.close()
        self._wake.close()
        self._waker.close()


class ControlClient:
    """A viewer's connection to a run's trainer; `send` raises ControlError when it cannot act.
    It blocks while it waits for the trainer: a viewer calls it from a thread of its own."""

    def __init__(self, run_path: str | Path) -> None:
        self.run_path = Path(run_path)
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(CONNECT_TIMEOUT_S)
        try:
            expected = f"hello {run_identity(self.run_path)}"
            with _socket_address(self.run_path) as address:
                sock.connect(address)
            greeting = _read_line(sock)
        except OSError as exc:
            sock.close()
            raise ControlError(f"cannot reach the trainer ({exc.strerror or exc})") from None
        if greeting != expected:
            sock.close()
            if greeting.startswith("hello"):
                raise AnotherRunsTrainer("control.sock leads to another run's trainer: refused")
            raise ControlError(greeting.removeprefix("error: ") or "the trainer closed the channel")
        self._sock = sock

    def send(self, command: str, argument: str = "", waiting=None) -> None:
        """Send a command and wait for its answer. A slow answer (a trainer stopped by the OS) is
        waited for as long as the trainer lives, `waiting()` being called once it is SLOW_ANSWER_S
        late: a command the sender was told did not go through is never carried out later."""
        if command not in COMMANDS or (argument and command not in TAKES_ARGUMENT) or "\n" in argument:
            raise ValueError(command)
        with self._lock:
            if self._sock is None:
                self.connect()
            sock = self._sock
            try:
                sock.sendall(f"{command} {argument}".strip().encode() + b"\n")
                reply = self._answer(sock, waiting)
            except OSError as exc:
                self.close()
                raise ControlError(f"the trainer went away ({exc.strerror or exc})") from None
        if not reply:
            self.close()
        if reply != "ok":
            raise ControlError(reply.removeprefix("error: ") or "the trainer closed the channel")

    def _answer(self, sock: socket.socket, waiting) -> str:
        sent = time.monotonic()
        data = b""
        sock.settimeout(ANSWER_POLL_S)
        try:
            while not data.endswith(b"\n") and len(data) < MAX_LINE:
                try:
                    chunk = sock.recv(1)  # byte by byte: never read past the line into the next reply
                except TimeoutError:
                    if not trainer_alive(self.run_path):
                        raise OSError("it exited before answering") from None
                    if waiting is not None and time.monotonic() - sent >= SLOW_ANSWER_S:
                        waiting()
                        waiting = None
                    continue
                if not chunk:
                    break
                data += chunk
        finally:
            sock.settimeout(CONNECT_TIMEOUT_S)
        return data.decode(errors="replace").strip()

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()


def _read_line(sock: socket.socket) -> str:
    """One line, within the socket's timeout (TimeoutError past it)."""
    data = b""
    while not data.endswith(b"\n") and len(data) < MAX_LINE:
        chunk = sock.recv(1)  # byte by byte: never read past the line into the next reply
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()

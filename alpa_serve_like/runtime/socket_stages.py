"""A one-stage mesh group's stage call over a local stream socket instead of a Ray call.

Why: on a small machine the stage call was the largest piece of alpa's added latency over plain
Serve (issue 10). An actor call is a task submission and a reply through Ray's core worker
(~1-2 ms beyond compute from a Serve replica on 2 cores). A compiled graph's shared-memory channels
are cheaper per call but their readers poll: measured with ``/proc`` per-thread CPU, a sequential
client cost the controller replica 5.8 ms and the stage actor 5.7 ms of CPU per request beyond
what an actor call used, CPU the 2 cores then lacked for everything else. Here the stage actor
serves a Unix socket from a thread of its own that sleeps in ``recv`` between calls, and the
controller's event loop reads the answers like any other socket: no thread hand-off and no
polling on either side.

The wire format is a 4-byte length and a pickle, each way: ``(model, payload)`` in (the int64
token ids and an empty timing list, as an actor call's payload), ``(ok, answer or error text)``
out, where the answer is the stage's small summary and timing record, so activations never reach
the controller. The socket is in Linux's abstract namespace (no file to leave behind when the
actor is killed) and the stage serves only connections from its own user (``SO_PEERCRED``), the
same trust as the Ray cluster's processes. Calls are answered in the order they were written (one
connection, one thread): the fcfs order an actor call gets. A stage actor that dies closes its
end, so every call in flight and every later one fails at once with ``error_type``
(``mesh_group.StageTransportError``), which the controller treats as a group failure; a model's
own exception comes back as ``StageRunError`` and leaves the group up.
"""
from __future__ import annotations

import asyncio
import collections
import os
import pickle
import socket
import struct
import sys
import threading
import uuid
from typing import Callable

_LENGTH = struct.Struct("!I")
"""Each frame's length prefix (a frame is at most ``MAX_FRAME_BYTES``)."""
MAX_FRAME_BYTES = 1 << 31
_PEER_CREDENTIALS = struct.Struct("3i")  # pid, uid, gid of SO_PEERCRED


def supported() -> bool:
    """Abstract Unix sockets and ``SO_PEERCRED`` are Linux's; elsewhere groups use actor calls."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_PEERCRED")


class StageRunError(RuntimeError):
    """The stage's model raised on this call (the stage actor itself is fine)."""


def _frame(value) -> bytes:
    body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    if len(body) >= MAX_FRAME_BYTES:
        raise ValueError(f"a stage call of {len(body)} bytes exceeds the socket transport's {MAX_FRAME_BYTES} bytes")
    return _LENGTH.pack(len(body)) + body


# ---- the stage actor's side --------------------------------------------------------------------
class StageSocketServer:
    """Serves ``run(model, payload) -> answer`` on an abstract Unix socket (``address``), one
    thread per connection (the controller keeps one; a recreated controller opens another)."""

    def __init__(self, run: Callable[[str, dict], dict]):
        self.run = run
        self.address = f"\0alpa-serve-like-stage-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.address)
        self.listener.listen(8)
        threading.Thread(target=self._accept_loop, name="stage-socket-accept", daemon=True).start()

    def _accept_loop(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:  # listener closed
                return
            _pid, uid, _gid = _PEER_CREDENTIALS.unpack(
                conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEER_CREDENTIALS.size))
            if uid != os.getuid():  # another user's process: never unpickle what it sends
                conn.close()
                continue
            threading.Thread(target=self._serve, args=(conn,), name="stage-socket", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as stream:
            while True:
                header = stream.read(_LENGTH.size)
                if len(header) < _LENGTH.size:  # the controller closed its end
                    return
                (size,) = _LENGTH.unpack(header)
                model, payload = pickle.loads(stream.read(size))
                try:
                    reply = (True, self.run(model, payload))
                except Exception as exc:  # the model's own error: answered, the stage stays up
                    reply = (False, f"{type(exc).__name__}: {exc}")
                try:
                    conn.sendall(_frame(reply))
                except OSError:
                    return

    def close(self) -> None:
        self.listener.close()


# ---- the controller's side ---------------------------------------------------------------------
class SocketStage:
    """The controller's connection to one stage actor's ``StageSocketServer`` at ``address``,
    opened on the first call on the running event loop (a call from another loop, a test's second
    ``asyncio.run``, opens a new one). A lost connection raises ``error_type`` for every call in
    flight and every later call."""

    def __init__(self, address: str, error_type: type[Exception]):
        self.address = address
        self.error_type = error_type
        self.loop: asyncio.AbstractEventLoop | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.backlog: list[bytes] = []  # frames written before the connection is open
        self.waiting: collections.deque[asyncio.Future] = collections.deque()  # in the order written
        self.broken = ""

    def call(self, model: str, payload: dict, ticket: dict | None = None) -> asyncio.Future:
        """Write one call now (its place in the order is taken at once); the future resolves to
        the stage's answer payload. ``ticket`` is unused: this transport serves fcfs groups."""
        loop = asyncio.get_running_loop()
        if self.loop is not loop:
            self._open_on(loop)
        future = loop.create_future()
        if self.broken:
            future.set_exception(self.error_type(self.broken))
            return future
        frame = _frame((model, payload))
        self.waiting.append(future)
        if self.writer is not None:
            self.writer.write(frame)
        else:
            self.backlog.append(frame)
        return future

    def _open_on(self, loop: asyncio.AbstractEventLoop) -> None:
        self._drop_connection()
        self.loop, self.broken = loop, ""
        loop.create_task(self._connect())

    async def _connect(self) -> None:
        try:
            # Connected here, then handed over: uvloop (Serve's replicas run it) refuses an
            # abstract address given as a path. A local connect does not wait for the stage.
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(1.0)
                sock.connect(self.address)
                sock.setblocking(False)
            except OSError:
                sock.close()
                raise
            reader, writer = await asyncio.open_unix_connection(sock=sock)
        except OSError as exc:
            self._break(f"connecting to the stage actor's socket failed: {exc}")
            return
        if self.broken:  # closed while connecting
            writer.close()
            return
        for frame in self.backlog:
            writer.write(frame)
        self.backlog.clear()
        self.writer = writer
        asyncio.get_running_loop().create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                (size,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
                ok, value = pickle.loads(await reader.readexactly(size))
                future = self.waiting.popleft()
                if future.done():  # its caller gave up (a timeout): the answer has no one to go to
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(StageRunError(value))
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
            self._break(f"the stage actor's socket closed ({type(exc).__name__}): the actor is gone")
        except asyncio.CancelledError:
            self._break("the stage actor's connection was closed")
            raise

    def _break(self, message: str) -> None:
        self.broken = self.broken or message
        self._drop_connection()

    def _drop_connection(self) -> None:
        """Fail every call in flight with ``error_type`` and close the connection."""
        waiting, self.waiting, self.backlog = self.waiting, collections.deque(), []
        for future in waiting:
            if not future.done() and not future.get_loop().is_closed():
                future.set_exception(self.error_type(self.broken or "the stage actor's connection was reset"))
        writer, self.writer = self.writer, None
        if writer is not None and not writer.transport.get_loop().is_closed():
            writer.close()

    def close(self) -> None:
        """Stop using the connection (the group is shutting down); safe from any thread."""
        self.broken = self.broken or "the group was shut down"
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._drop_connection()
        else:
            loop.call_soon_threadsafe(self._drop_connection)

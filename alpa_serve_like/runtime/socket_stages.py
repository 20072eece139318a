"""A mesh group's stage calls over local stream sockets instead of Ray calls.

Why: on a small machine the stage call was the largest piece of alpa's added latency over plain
Serve (issue 10). An actor call is a task submission and a reply through Ray's core worker
(~1-2 ms beyond compute from a Serve replica on 2 cores, per hop). A compiled graph's
shared-memory channels are cheaper per call but their readers poll, CPU the 2 cores then lack
for everything else (``benchmarks/bench_hop_transport.py`` counts each transport's CPU per round
trip: 0.41 ms for the compiled graph, 0.08 ms here, one run in the README). Here every stage
actor serves a Unix socket from threads that sleep in ``recv`` between calls, and the
controller's event loop reads the answers like any other socket: no thread hand-off and no
polling on either side.

A pipeline is a chain of connections: the controller writes each batch to stage 0, stage ``s``
writes its output (activations) to stage ``s + 1`` over a link set up at start
(``StageWorker.link_next``), and the last stage writes the answer (the small summary and every
stage's timing record) to a second connection the controller holds to it; stage 0 also answers
the controller with its own timing record, which a batching dispatcher waits for. So activations
go stage to stage and never reach the controller. A one-stage group is one connection both ways.

Frames are a 4-byte length and a pickle: ``(call id, model, payload)`` down the chain (payload as
an actor call's: ``{"x": ..., "timings": [...]}``; model None relays an earlier stage's error
text), ``(call id, ok, answer or error text)`` back. Sockets are in Linux's abstract namespace (no
file left behind when an actor is killed) and a stage serves only its own user's processes
(``SO_PEERCRED``), the trust the Ray cluster's processes already share; both ends check it (a
freed name can be bound by anyone, and both ends unpickle what they read). Each connection is served
by one thread in order: the fcfs order actor calls get. A stage actor that dies closes its
connections; a stage whose link to a neighbour breaks closes all of its own, so the break reaches
the controller, and every call in flight and every later one fails with ``error_type``
(``mesh_group.StageTransportError``), a group failure. A model's own exception comes back as
``StageRunError`` for that call only, and the group stays up.
"""
from __future__ import annotations

import asyncio
import itertools
import os
import pickle
import socket
import struct
import sys
import threading
import uuid
from typing import Callable

from alpa_serve_like.runtime.controller_state import settled_when_done

_LENGTH = struct.Struct("!I")
"""Each frame's length prefix (a frame is at most ``MAX_FRAME_BYTES``)."""
MAX_FRAME_BYTES = 1 << 31
_PEER_CREDENTIALS = struct.Struct("3i")  # pid, uid, gid of SO_PEERCRED
_CONNECT_TIMEOUT_S = 5.0

# What a connection's first frame says it is.
FROM_CONTROLLER = "controller"
"""The controller's calls to stage 0 (answered on the same connection)."""
FROM_STAGE = "stage"
"""The previous stage's outputs (a link; losing it means the group is broken)."""
TO_CONTROLLER = "answers"
"""The controller's connection to the last stage of a pipeline, on which answers go back."""
READY = "ready"
"""The last stage's reply on a new answer connection: answers go there from now on. The controller
sends no call before it (a call could otherwise overtake the new connection's first frame and
be answered on an older connection, one a closed event loop left open and nobody reads)."""


def supported() -> bool:
    """Abstract Unix sockets and ``SO_PEERCRED`` are Linux's; elsewhere groups use actor calls."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_PEERCRED")


class StageRunError(RuntimeError):
    """The stage's model raised on this call (the stage actor itself is fine)."""


def _frame(value) -> bytes:
    body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    if len(body) >= MAX_FRAME_BYTES:
        raise ValueError(f"a stage call of {len(body)} bytes exceeds the socket transport's {MAX_FRAME_BYTES} bytes "
                         f"(stage_transport=actor_call has no such limit)")
    return _LENGTH.pack(len(body)) + body


def _read_frame(stream):
    """The next frame's value from a blocking binary stream; None at the end of the stream (a
    reset by the peer, a killed process, is an end too)."""
    try:
        header = stream.read(_LENGTH.size)
        if len(header) < _LENGTH.size:
            return None
        (size,) = _LENGTH.unpack(header)
        body = stream.read(size)
    except OSError:
        return None
    if len(body) < size:
        return None
    return pickle.loads(body)


def _peer_uid(sock: socket.socket) -> int:
    return _PEER_CREDENTIALS.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEER_CREDENTIALS.size))[1]


def connect(address: str) -> socket.socket:
    """A connected (blocking) socket to ``address``, served by a process of this user. Connected
    here rather than by asyncio: uvloop (Serve's replicas run it) refuses an abstract address
    given as a path. The server's user is checked because an abstract name is free for anyone to
    bind once its stage actor is gone (``/proc/net/unix`` lists the names to every user), and what
    comes back is unpickled."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(_CONNECT_TIMEOUT_S)
        sock.connect(address)
        sock.settimeout(None)
        uid = _peer_uid(sock)
        if uid != os.getuid():
            raise PermissionError(f"the stage socket {address!r} is served by uid {uid}, not this user "
                                  f"(uid {os.getuid()}): not a stage actor of ours; refusing it")
    except OSError:
        sock.close()
        raise
    return sock


# ---- the stage actor's side --------------------------------------------------------------------
class StageSocketServer:
    """Serves ``run(model, payload) -> (output payload, timing)`` of stage ``stage`` of ``pp`` on
    an abstract Unix socket (``address``), one thread per connection; ``link_next`` connects it to
    the next stage's server."""

    def __init__(self, run: Callable[[str, dict], tuple], stage: int, pp: int):
        self.run, self.stage, self.pp = run, stage, pp
        self.address = f"\0alpa-serve-like-stage-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.address)
        self.listener.listen(8)
        self.lock = threading.Lock()  # guards the connection fields below
        self.send_lock = threading.Lock()  # one frame at a time on any connection
        self.next: socket.socket | None = None  # the link to stage + 1
        self.answers: socket.socket | None = None  # the last stage's connection to the controller
        self.unsent: list[bytes] = []  # answers ready before that connection was
        self.connections: set[socket.socket] = set()
        self.broken = False
        threading.Thread(target=self._accept_loop, name="stage-socket-accept", daemon=True).start()

    def link_next(self, address: str) -> None:
        """Connect to stage + 1's server (before the first call)."""
        sock = connect(address)
        sock.sendall(_frame(FROM_STAGE))
        with self.lock:
            self.next = sock
            self.connections.add(sock)

    def _accept_loop(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:  # listener closed
                return
            if _peer_uid(conn) != os.getuid():  # another user's process: never unpickle what it sends
                conn.close()
                continue
            with self.lock:  # close() sets broken before it takes the lock: it sees conn, or conn sees broken
                closed = self.broken
                if not closed:
                    self.connections.add(conn)
            if closed:
                conn.close()
                continue
            threading.Thread(target=self._serve, args=(conn,), name="stage-socket", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn.makefile("rb") as stream:
            try:
                kind = _read_frame(stream)
            except Exception:  # not one of ours
                kind = None
            if kind == TO_CONTROLLER:
                self._set_answers(conn)
                _read_frame(stream)  # nothing more comes on it: wait for its end
                with self.lock:
                    if self.answers is conn:
                        self.answers = None
            elif kind in (FROM_CONTROLLER, FROM_STAGE):
                while (message := _read_frame(stream)) is not None:
                    if not self._handle(conn, *message):
                        break
                if kind == FROM_STAGE:  # the previous stage is gone: this pipeline is broken
                    self.close()
        with self.lock:
            self.connections.discard(conn)
        conn.close()

    def _handle(self, conn: socket.socket, call_id: int, model: str | None, payload) -> bool:
        """Run one call and send what it yields on; False when a link it needs is gone."""
        if model is None:  # an earlier stage failed this call: relay its error text
            ok, value = False, payload
        else:
            try:
                value, timing = self.run(model, payload)
                ok = True
            except Exception as exc:  # the model's own error: answered, the stage stays up
                ok, value = False, f"{type(exc).__name__}: {exc}"
        if self.stage == self.pp - 1:
            return self._answer(self._pack(call_id, ok, value, answer=True), conn if self.pp == 1 else None)
        if self.stage == 0 and not self._send(conn, _frame((call_id, ok, timing if ok else value))):
            return False
        if not self._send(self.next, self._pack(call_id, ok, value, model=model)):
            self.close()  # the next stage is gone: break the chain so the controller learns it
            return False
        return True

    def _pack(self, call_id: int, ok: bool, value, *, model: str | None = None, answer: bool = False) -> bytes:
        """The frame of a call's answer (``answer``) or of what goes on to the next stage. An output
        that cannot be framed (over ``MAX_FRAME_BYTES``, not picklable) fails that call only, like
        the model's own error: raised here it would end this connection's thread and leave the
        connection open, the call and every later one unanswered."""
        try:
            return _frame((call_id, ok, value) if answer else (call_id, model if ok else None, value))
        except Exception as exc:
            text = f"stage {self.stage} could not send its output: {type(exc).__name__}: {exc}"
            return _frame((call_id, False, text) if answer else (call_id, None, text))

    def _set_answers(self, conn: socket.socket) -> None:
        with self.lock:  # READY goes out before any answer can take this connection
            if not self._send(conn, _frame(READY)):
                return
            self.answers, unsent, self.unsent = conn, self.unsent, []
        for frame in unsent:
            self._send(conn, frame)

    def _answer(self, frame: bytes, conn: socket.socket | None) -> bool:
        if conn is not None:
            return self._send(conn, frame)
        with self.lock:
            if self.answers is None:  # the controller's answer connection is not there (yet)
                self.unsent.append(frame)
                return True
            target = self.answers
        # A failed send here is no broken chain: the controller closed that connection (an event
        # loop it left, whose calls nobody awaits); closing this stage would fail the new loop's.
        self._send(target, frame)
        return True

    def _send(self, conn: socket.socket | None, frame: bytes) -> bool:
        if conn is None:
            return False
        try:
            with self.send_lock:
                conn.sendall(frame)
            return True
        except OSError:
            return False

    def close(self) -> None:
        """Stop serving: close the listener and every connection (the neighbours and the
        controller then see their ends close)."""
        self.broken = True
        with self.lock:
            connections, self.connections = list(self.connections), set()
        for sock in [self.listener] + connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


# ---- the controller's side ---------------------------------------------------------------------
class SocketStage:
    """The controller's connections to a group's stage servers at ``addresses`` (stage order):
    calls go to stage 0, answers come from the last stage. Opened on the first call on the running
    event loop (a call from another loop, a test's second ``asyncio.run``, opens new ones). A lost
    connection raises ``error_type`` for every call in flight and every later call."""

    def __init__(self, addresses: list[str], error_type: type[Exception]):
        self.addresses = list(addresses)
        self.error_type = error_type
        self.loop: asyncio.AbstractEventLoop | None = None
        self.writer: asyncio.StreamWriter | None = None  # to stage 0
        self.answers_writer: asyncio.StreamWriter | None = None  # to the last stage (pp > 1)
        self.readers: list[asyncio.Task] = []
        self.sockets: list[socket.socket] = []  # what the writers write to, closed with them
        self.backlog: list[bytes] = []  # frames written before the connections are open
        self.first: dict[int, asyncio.Future] = {}  # call id -> stage 0's timing record (pp = 1: the answer)
        self.last: dict[int, asyncio.Future] = {}  # call id -> the answer
        self.ids = itertools.count()
        self.broken = ""

    def call(self, model: str, payload: dict, ticket: dict | None = None) -> tuple[asyncio.Future, asyncio.Future]:
        """Write one call now (its place in the order is taken at once); returns the futures of
        stage 0's timing record (in a one-stage group: the answer, or None if the call failed; it
        never raises) and of the answer. ``ticket`` is unused: this transport serves fcfs groups.

        Two futures even for one stage: a batching dispatcher awaits the first while ``_finish``
        awaits the answer within a timeout, and a timeout cancels what it awaits; one shared future
        would cancel the dispatcher too (an actor call's refs give each awaiter its own future)."""
        loop = asyncio.get_running_loop()
        if self.loop is not loop:
            self._open_on(loop)
        call_id = next(self.ids)
        last = loop.create_future()
        # One stage: its only frame is the answer, and stage 0 is free once it is back.
        first = settled_when_done(last) if len(self.addresses) == 1 else loop.create_future()
        if self.broken:
            last.set_exception(self.error_type(self.broken))
            if not first.done():
                first.set_result(None)
            return first, last
        frame = _frame((call_id, model, payload))
        self.last[call_id] = last
        if len(self.addresses) > 1:
            self.first[call_id] = first
        if self.writer is not None:
            self.writer.write(frame)
        else:
            self.backlog.append(frame)
        return first, last

    def _open_on(self, loop: asyncio.AbstractEventLoop) -> None:
        self._drop_connections()
        self.loop, self.broken = loop, ""
        loop.create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        opened: list[socket.socket] = []  # connected sockets, each handed to a stream below
        writers: list[asyncio.StreamWriter] = []
        try:
            answers = None
            if len(self.addresses) > 1:  # the answer connection first, so no answer waits for it
                opened.append(connect(self.addresses[-1]))
                answers = await asyncio.open_unix_connection(sock=opened[-1])
                writers.append(answers[1])
                answers[1].write(_frame(TO_CONTROLLER))
                async with asyncio.timeout(_CONNECT_TIMEOUT_S):
                    ready = await _read_value(answers[0])
                if ready != READY:
                    raise ConnectionError(f"the last stage replied {ready!r} instead of {READY!r}")
            opened.append(connect(self.addresses[0]))
            reader, writer = await asyncio.open_unix_connection(sock=opened[-1])
            writers.append(writer)
        except (OSError, EOFError, pickle.UnpicklingError) as exc:  # TimeoutError is an OSError
            _close(writers, opened[len(writers):])
            if self.loop is loop:
                self._break(f"connecting to the stage actors' sockets failed: {type(exc).__name__}: {exc}")
            return
        if self.loop is not loop or self.broken:  # another loop took over, or closed, while connecting
            _close(writers, [])
            return
        self.sockets = opened
        writer.write(_frame(FROM_CONTROLLER))
        for frame in self.backlog:
            writer.write(frame)
        self.backlog.clear()
        self.writer = writer
        if answers is None:  # stage 0 answers
            self.readers = [loop.create_task(self._read(reader, self.last))]
        else:
            self.answers_writer = answers[1]
            self.readers = [loop.create_task(self._read(reader, self.first)),
                            loop.create_task(self._read(answers[0], self.last))]

    async def _read(self, reader: asyncio.StreamReader, futures: dict[int, asyncio.Future]) -> None:
        try:
            while True:
                call_id, ok, value = await _read_value(reader)
                future = futures.pop(call_id, None)
                if future is None or future.done():  # its caller gave up (a timeout), or another loop's
                    continue
                if ok or futures is self.first:  # stage 0 is free either way; the answer says why not
                    future.set_result(value if ok else None)
                else:
                    future.set_exception(StageRunError(value))
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
            self._break(f"a stage actor's socket closed ({type(exc).__name__}): the actor is gone")
        except asyncio.CancelledError:
            raise

    def _break(self, message: str) -> None:
        self.broken = self.broken or message
        self._drop_connections()

    def _drop_connections(self) -> None:
        """Fail every call in flight with ``error_type`` and close the connections."""
        first, last = self.first, self.last
        self.first, self.last, self.backlog = {}, {}, []
        error = self.error_type(self.broken or "the stage actors' connections were reset")
        for futures, settle in ((first, lambda f: f.set_result(None)),  # stage 0's turn is over
                                (last, lambda f: f.set_exception(error))):
            for future in futures.values():
                if not future.done() and not future.get_loop().is_closed():
                    settle(future)
        writers = [self.writer, getattr(self, "answers_writer", None)]
        self.writer = self.answers_writer = None
        readers, self.readers = self.readers, []
        for task in readers:
            if not task.get_loop().is_closed() and task is not _current_task():
                task.cancel()
        sockets, self.sockets = self.sockets, []
        if self.loop is not None and not self.loop.is_closed():  # the loop the writers are on
            for writer in writers:
                if writer is not None:
                    writer.close()
        else:  # that loop is closed (a test's earlier asyncio.run): close what its writers held
            for sock in sockets:
                sock.close()

    def close(self) -> None:
        """Stop using the connections (the group is shutting down); safe from any thread."""
        self.broken = self.broken or "the group was shut down"
        loop = self.loop
        if loop is None:
            return
        if loop.is_closed():  # nothing runs there any more: close the sockets its streams held
            self._drop_connections()
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._drop_connections()
        else:
            loop.call_soon_threadsafe(self._drop_connections)


def _close(writers: list[asyncio.StreamWriter], sockets: list[socket.socket]) -> None:
    """Close streams (on their running loop) and sockets no stream took yet."""
    for writer in writers:
        writer.close()
    for sock in sockets:
        sock.close()


async def _read_value(reader: asyncio.StreamReader):
    (size,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    return pickle.loads(await reader.readexactly(size))


def _current_task():
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None

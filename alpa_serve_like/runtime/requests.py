"""The HTTP request format of ``POST /v1/models/{name}/infer`` and its validation (pure, no Ray).

Body: ``{"input": [token ids] | {"length": n}, "slo_ms": optional positive number}``. A length
asks the server to draw ``n`` random token ids (the demo and replay client send lengths, which
keeps requests small). Every rejection is an ``HttpError`` carrying the status the ingress returns:
400 for malformed bodies, 404 for unknown models, 413 for oversized bodies.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np

from alpa_serve_like.core.model_spec import ModelSpec

MIN_SLO_MS = 1e-3
"""Smallest ``slo_ms`` accepted (1 us): below it no request can be served and the number is a typo."""
MAX_SLO_MS = 86_400_000.0
"""Largest ``slo_ms`` accepted (one day); larger values are not latency objectives."""
MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays/objects a body may have; the format needs 2 (deep ones only burn CPU)."""
MAX_ECHO_CHARS = 64
"""Longest piece of client-sent text (a model name, a value) repeated in an error message."""


class HttpError(Exception):
    """An error the ingress turns into an HTTP response with ``status`` and a JSON body."""

    def __init__(self, status: int, message: str, **extra):
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra

    def body(self) -> dict:
        return {"error": self.message, **self.extra}


@dataclass(frozen=True)
class InferRequest:
    """A validated inference request: explicit ``tokens`` or a ``length`` to fill randomly."""

    model: str
    length: int
    tokens: tuple[int, ...] | None = None
    slo_s: float | None = None


def shorten(value, limit: int = MAX_ECHO_CHARS) -> str:
    """``repr(value)`` cut to ``limit`` characters, so an error never echoes a huge client string."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def unknown_model(model: str, known) -> HttpError:
    return HttpError(404, f"model {shorten(model)} is not served here (known: {', '.join(known)})",
                     known_models=list(known))


def _json_depth_ok(body: bytes, limit: int) -> bool:
    """True when brackets outside strings nest at most ``limit`` deep (checked before parsing,
    so a 50k-deep body costs one linear scan instead of a recursion error deep in ``json``)."""
    if body.count(b"[") + body.count(b"{") <= limit:  # cannot nest deeper than it opens (C speed)
        return True
    depth, in_string, escaped = 0, False, False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return False
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return True


def check_body_size(num_bytes: int, max_body_bytes: int) -> None:
    if num_bytes > max_body_bytes:
        raise HttpError(413, f"request body of {num_bytes} bytes is over the limit of {max_body_bytes} "
                             f"bytes; send {{\"input\": {{\"length\": n}}}} instead of long token lists")


def parse_json_body(body: bytes, max_body_bytes: int, expected: str):
    """The decoded JSON value of ``body`` (size, UTF-8 and nesting checked first); ``expected``
    describes the format in the error messages."""
    check_body_size(len(body), max_body_bytes)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HttpError(400, f"request body is not UTF-8 (byte {exc.start}); send UTF-8 encoded JSON") from None
    if not _json_depth_ok(body, MAX_JSON_DEPTH):
        raise HttpError(400, f"request body nests arrays/objects deeper than {MAX_JSON_DEPTH} levels; "
                             f"expected {expected}")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise HttpError(400, f"request body is not valid JSON ({exc})") from None


_CUSTOM_FORMAT = '{"input": [token ids] | {"length": n}, "slo_ms": optional}'


def parse_infer_body(body: bytes, model: str, spec: ModelSpec, max_body_bytes: int) -> InferRequest:
    """Validate one request body for ``model`` (architecture ``spec``); raise HttpError if bad."""
    data = parse_json_body(body, max_body_bytes, _CUSTOM_FORMAT)
    if not isinstance(data, dict) or "input" not in data:
        raise HttpError(400, f"expected a JSON object {_CUSTOM_FORMAT}")
    unknown = sorted(set(data) - {"input", "slo_ms"})
    if unknown:
        raise HttpError(400, f"unknown fields {shorten(unknown)}; allowed: input, slo_ms")
    return validated_request(data["input"], data.get("slo_ms"), model, spec)


def validated_request(given, slo_ms, model: str, spec: ModelSpec) -> InferRequest:
    """The request for ``given`` (token ids or ``{"length": n}``) and ``slo_ms`` (or None): the one
    validation every protocol (``/v1`` and KServe v2) goes through."""
    slo_s = _parse_slo(slo_ms)
    limit = spec.seq_len
    if isinstance(given, dict):
        length = given.get("length")
        if set(given) != {"length"} or not _is_int(length) or not 1 <= length <= limit:
            raise HttpError(400, f'"input": {{"length": n}} needs an integer n in [1, {limit}] for '
                                 f"{spec.name!r}, got {shorten(given)}")
        return InferRequest(model, int(length), None, slo_s)
    if not isinstance(given, list) or not given:
        raise HttpError(400, '"input" must be a non-empty list of token ids or {"length": n}')
    if len(given) > limit:
        raise HttpError(400, f"{len(given)} tokens is more than {spec.name!r} takes ({limit})")
    if not all(_is_int(t) and 0 <= t < spec.vocab_size for t in given):
        raise HttpError(400, f"token ids must be integers in [0, {spec.vocab_size}) for {spec.name!r}")
    return InferRequest(model, len(given), tuple(int(t) for t in given), slo_s)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_slo(value) -> float | None:
    if value is None:
        return None
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
            or not MIN_SLO_MS <= value <= MAX_SLO_MS):
        raise HttpError(400, f'"slo_ms" must be a number of milliseconds in [{MIN_SLO_MS:g}, {MAX_SLO_MS:g}], '
                             f"got {shorten(value)}")
    return float(value) / 1e3


def batch_tokens(requests, vocab_size: int, rng: np.random.Generator) -> np.ndarray:
    """int64 ``[batch, longest]`` token ids of ``requests``: explicit tokens as given, lengths drawn
    from ``rng``; shorter rows are right-padded with token 0 (the models take no attention mask, so
    a padded row's output is that of its padded sequence)."""
    longest = max(r.length for r in requests)
    if all(r.tokens is None and r.length == longest for r in requests):
        # One draw for the whole batch: the generator fills it row after row, so the ids are those
        # of the loop below (tests compare), at a third of its cost on the per-request hot path.
        return rng.integers(0, vocab_size, (len(requests), longest))
    out = np.zeros((len(requests), longest), dtype=np.int64)
    for i, r in enumerate(requests):
        if r.tokens is not None:
            out[i, : r.length] = r.tokens
        else:
            out[i, : r.length] = rng.integers(0, vocab_size, r.length)
    return out

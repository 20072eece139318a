"""Online estimates of the overheads around stage compute, for admission's predictions.

A profiled stage latency covers only the model's forward pass. Between arrival and response a
request also pays: the dispatch (controller -> stage 0 actor), each hop between stages (activation
transfer, actor scheduling) and the response (last stage -> controller). Each batch that comes back
gives one sample of each; ``OverheadEstimator`` keeps, per kind, an EWMA of the samples and of their
absolute deviation (the way TCP estimates a retransmission timeout) and predicts
``mean + deviations * deviation``: a high estimate, because an admitted request must make its
deadline. Pure Python with no clock: the caller passes measured wall times in.

When clients stamp their send time (``X-Request-Start``), the delay from that stamp to the handler
(the way in through Serve's proxy) is learned too, and the way back out is predicted to take as
long (``ingress_s``): the client, not the controller, decides whether a deadline was met.

Estimates fade (halve every ``half_life_s``) while no batch comes back. Without that, one burst
that drove them above the SLO would lock the server out for good: admission would reject every
request, so no batch would ever come back to bring them down again.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class _Ewma:
    mean_s: float = 0.0
    deviation_s: float = 0.0
    samples: int = 0

    def add(self, value_s: float, alpha: float) -> None:
        if self.samples == 0:
            self.mean_s, self.deviation_s = value_s, value_s / 2
        else:
            self.deviation_s += alpha * (abs(value_s - self.mean_s) - self.deviation_s)
            self.mean_s += alpha * (value_s - self.mean_s)
        self.samples += 1


class OverheadEstimator:
    """Dispatch, per-stage hop and response overheads learned from measured batch timelines."""

    def __init__(self, alpha: float = 0.1, deviations: float = 2.0, half_life_s: float = 1.0):
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"overhead EWMA alpha must be in (0, 1], got {alpha!r}")
        if not half_life_s > 0.0:
            raise ValueError(f"overhead half-life must be > 0 seconds, got {half_life_s!r}")
        self.alpha, self.deviations, self.half_life_s = alpha, deviations, half_life_s
        self.dispatch, self.hop, self.response, self.ingress = _Ewma(), _Ewma(), _Ewma(), _Ewma()
        self.last_sample_s = float("-inf")

    def observe(self, ready_s: float, starts_s, ends_s, prev_ends_s, seen_s: float) -> None:
        """One batch's timeline: ``ready_s`` when it could first have started stage 0 (admitted and
        dispatched); ``starts_s``/``ends_s`` each stage's measured compute interval; ``prev_ends_s``
        when the previous batch left each stage (a stage busy with it is queueing, not overhead);
        ``seen_s`` when the controller had the result. Negative gaps (clock skew) count as 0."""
        a = self.alpha
        self.dispatch.add(max(0.0, starts_s[0] - max(ready_s, prev_ends_s[0])), a)
        for s in range(1, len(starts_s)):
            self.hop.add(max(0.0, starts_s[s] - max(ends_s[s - 1], prev_ends_s[s])), a)
        self.response.add(max(0.0, seen_s - ends_s[-1]), a)
        self.last_sample_s = seen_s

    def observe_ingress(self, delay_s: float) -> None:
        """One request's delay from the client's send stamp to the handler."""
        self.ingress.add(max(0.0, delay_s), self.alpha)

    @property
    def ingress_s(self) -> float:
        return self._predict(self.ingress)

    def fade(self, now_s: float) -> float:
        """Factor (<= 1) on every estimate at ``now_s``: halves per ``half_life_s`` since the last sample."""
        idle_s = now_s - self.last_sample_s
        return 1.0 if idle_s <= 0.0 or self.last_sample_s == float("-inf") else 0.5 ** (idle_s / self.half_life_s)

    def _predict(self, e: _Ewma) -> float:
        return e.mean_s + self.deviations * e.deviation_s

    @property
    def dispatch_s(self) -> float:
        return self._predict(self.dispatch)

    @property
    def hop_s(self) -> float:
        """Per-stage overhead: between stages, and (as the response) after the last one."""
        return self._predict(self.hop) if self.hop.samples else self.response_s

    @property
    def response_s(self) -> float:
        return self._predict(self.response)

    def snapshot(self) -> dict:
        """Predicted overheads in milliseconds, with sample counts (``/v1/stats``)."""
        return {name: {"predicted_ms": round(self._predict(e) * 1e3, 3), "mean_ms": round(e.mean_s * 1e3, 3),
                       "samples": e.samples}
                for name, e in (("dispatch", self.dispatch), ("hop", self.hop), ("response", self.response),
                                ("ingress", self.ingress))}

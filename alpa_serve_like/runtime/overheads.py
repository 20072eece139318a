"""Online estimates of the overheads around stage compute, for admission's predictions.

A profiled stage latency covers only the model's forward pass. Between arrival and response a
request also pays: the dispatch (controller -> stage 0 actor), each hop between stages (activation
transfer, actor scheduling), the response (last stage -> controller) and the way back out to the
client (controller -> Serve's proxy -> client). Each batch that comes back gives one sample of the
first three, and of how far its compute strayed from the (corrected) prediction; per kind,
``OverheadEstimator`` keeps an EWMA of the samples and of their absolute deviation (the way TCP
estimates a retransmission timeout). Pure Python with no clock: the caller passes measured wall
times in.

Predictions are *expected* values (the EWMA means): they time the stage clocks, and admission
compares the expected finish plus one ``margin_s`` with the deadline. The margin is ``deviations``
times the deviation of the *sum* of the overheads, the components' deviations added in quadrature
(independent noise), not each component's own high estimate added up: five "mean + 2 deviations"
in a row describe a request that is unlucky at every step, and on a noisy machine they rejected
most requests that would have been on time (the demo, 40 ms SLO: predicted 44-47 ms, served in
25-29 ms; the way out alone was predicted at 14 ms and took 2).

When clients stamp their send time (``X-Request-Start``) the deadline counts from that stamp, so
the way in has already been spent when admission runs and is never predicted. It is learned
(``ingress``, for ``/v1/stats``) but is no model of the way back: it includes the client's send
queue and Serve's replica choice, the way back neither (the demo: in ~9 ms mean, out ~2 ms). The
way back is predicted like the response hop it follows, one more return of a result
(``egress_s``).

The margin, once requests have come back, is not built from deviations at all: it is the
``quantile`` (0.99) of the *residuals* of the requests answered in the last ``window_s`` seconds (at
most ``window`` of them), each the time the controller had its result minus the finish its batch
was predicted at (the committed prediction, before the measured stage times corrected it). One
residual holds every error of the prediction at once (queueing behind a late batch, dispatch slip,
compute noise, hops, the response), so its quantile is the margin that makes ~99% of admitted
requests finish in time whatever the shape of the noise. The quadrature margin assumes normal
noise; this machine's is not (stage compute doubles now and then under CPU contention), and under
it admitted requests met the SLO only 91-94% of the time. With fewer than 100 residuals in the
window the quantile is their largest; with none (a cold start, or nothing answered for
``window_s``, when the fading below has shrunk every estimate anyway) the quadrature margin stands
in. The window is in seconds, not only in requests: a stall (a residual of 400 ms after a cold
start, or a neighbour's burst on the cores) must leave the margin once it is old; counted in
requests it stayed, since a margin above the SLO admits almost nothing to push it out (the
overload benchmark rejected 771 of 823 requests at its clean rate that way).

Two kinds of error are kept out of the margin because no margin can help against them: they are
stalls of the whole machine (on two shared cores: another process's burst, a collection in a Ray
process), which freeze every actor at once for a few hundred milliseconds now and then, are over by
the time their results come back, and say nothing about the next request.
* A residual longer than the *room* an SLO leaves: the SLO minus the shortest latency predicted
  for a request of the window (arrival to predicted finish: one at an idle group) and the way back.
  A margin that long rejects even that request, so every request, and only turning every request
  away would have avoided such a residual. The margin for an SLO is the quantile of the residuals
  within its room (``residual_quantile_s(now_s, slo_s)``). Kept in, one stall held the margin (the
  largest residual of the window while fewer than 100 came back) at 430 ms against an 80 ms SLO
  and every request was rejected until the fade brought it down ~3 s later: in the demo
  (sr-greedy, 80 ms live SLO) 104 of 110 rejections would have passed with the margin left out,
  while the stall's own victims were late whatever admission did. (Left out only when longer than
  the whole SLO, the warm-up's stalls of 95 and 142 ms against a 97 ms SLO, lone requests predicted
  at ~25 ms, still rejected every request for the replay's first seconds.)
* In the expected values: a sample more than ``outlier_deviations`` deviations above an EWMA's mean
  counts as that bound. Three stalled dispatches (316-434 ms) moved the dispatch mean from ~1.5 ms
  to 73 ms (alpha 0.1), so every prediction missed an 80 ms SLO; after the warm-up's stall it took
  ~25 batches to fall from 68 ms below 5 ms. A lasting change still moves the mean within a few
  samples, since each clipped sample also widens the deviation (10 ms from 1.5-2 ms: 7.5 ms after
  15 samples, 9.5 after 30, against 8.3 and 9.7 unclipped).

Estimates fade (halve every ``half_life_s``) while no batch comes back. Without that, one burst
that drove them above the SLO would lock the server out for good: admission would reject every
request, so no batch would ever come back to bring them down again.
"""
from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass

from alpa_serve_like.scheduling.options import SchedulingOptions


@dataclass
class _Ewma:
    mean_s: float = 0.0
    deviation_s: float = 0.0
    samples: int = 0

    def add(self, value_s: float, alpha: float, clip_deviations: float | None = None) -> None:
        """Fold one sample in; with ``clip_deviations``, a sample above the mean by more than that many
        deviations counts as that bound (a stall must not move the expected value)."""
        if self.samples == 0:
            self.mean_s, self.deviation_s = value_s, abs(value_s) / 2
        else:
            if clip_deviations is not None and self.deviation_s > 0.0:
                value_s = min(value_s, self.mean_s + clip_deviations * self.deviation_s)
            self.deviation_s += alpha * (abs(value_s - self.mean_s) - self.deviation_s)
            self.mean_s += alpha * (value_s - self.mean_s)
        self.samples += 1


class OverheadEstimator:
    """Dispatch, per-stage hop and response overheads learned from measured batch timelines."""

    def __init__(self, alpha: float = 0.1, deviations: float = 2.0, half_life_s: float = 1.0,
                 quantile: float | None = 0.99, window: int = 500, window_s: float = 5.0,
                 min_residuals: int = 1, outlier_deviations: float | None = 4.0):
        """``deviations``: how many (absolute) deviations of the summed overheads the quadrature
        margin holds (2 mean absolute deviations are ~2.5 standard deviations, the 99th percentile
        of normal noise). ``quantile``: the residual quantile the margin is while ``min_residuals``
        of the requests answered in the last ``window_s`` seconds (at most ``window``) are known
        (None: always the quadrature margin). ``outlier_deviations``: samples of the dispatch, hop,
        response and compute error above their mean by more than this many deviations count as that
        bound (None: as measured)."""
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"overhead EWMA alpha must be in (0, 1], got {alpha!r}")
        if not 0.0 <= deviations < float("inf"):
            raise ValueError(f"overhead margin deviations must be a finite number >= 0, got {deviations!r}")
        if not half_life_s > 0.0:
            raise ValueError(f"overhead half-life must be > 0 seconds, got {half_life_s!r}")
        if quantile is not None and not 0.0 < quantile < 1.0:
            raise ValueError(f"admission quantile must be in (0, 1) (or None for the quadrature margin), "
                             f"got {quantile!r}")
        if not 1 <= min_residuals <= window:
            raise ValueError(f"need 1 <= min_residuals <= window, got {min_residuals!r} and {window!r}")
        if not window_s > 0.0:
            raise ValueError(f"residual window must be > 0 seconds, got {window_s!r}")
        if outlier_deviations is not None and not outlier_deviations > 0.0:
            raise ValueError(f"outlier_deviations must be > 0 (or None to fold samples in as measured), "
                             f"got {outlier_deviations!r}")
        self.outlier_deviations = outlier_deviations
        self.quantile, self.min_residuals, self.window_s = quantile, min_residuals, window_s
        self.residuals: deque[tuple[float, float]] = deque(maxlen=window)
        """``(seen_s, seen minus predicted finish)`` of the last answered requests (one per request)."""
        self._best: deque[tuple[float, float]] = deque()
        """``(seen_s, predicted latency)`` of the window's answered requests whose predicted latency
        is below every later one's: its head is the window's shortest (a sliding minimum)."""
        self._ordered: list[float] = []
        """The same residuals, sorted: kept in order as they come and go (a bisect each), since
        sorting the window on every answered batch cost ~0.1 ms of the controller's loop."""
        self.alpha, self.deviations, self.half_life_s = alpha, deviations, half_life_s
        self.dispatch, self.hop, self.response, self.ingress = _Ewma(), _Ewma(), _Ewma(), _Ewma()
        self.compute = _Ewma()
        """Measured minus predicted (corrected) compute of a batch: its deviation is the stage-time
        noise the latency correction's mean cannot follow (CPU contention), part of the margin."""
        self.last_sample_s = float("-inf")
        self.applied_slo_s = math.inf
        """The SLO the last ``scheduler_overheads`` was for (``snapshot`` reports its margin)."""

    def observe(self, ready_s: float, starts_s, ends_s, prev_ends_s, seen_s: float) -> None:
        """One batch's timeline: ``ready_s`` when it could first have started stage 0 (admitted and
        dispatched); ``starts_s``/``ends_s`` each stage's measured compute interval; ``prev_ends_s``
        when the previous batch left each stage (a stage busy with it is queueing, not overhead);
        ``seen_s`` when the controller had the result. Negative gaps (clock skew) count as 0."""
        a, k = self.alpha, self.outlier_deviations
        self.dispatch.add(max(0.0, starts_s[0] - max(ready_s, prev_ends_s[0])), a, k)
        for s in range(1, len(starts_s)):
            self.hop.add(max(0.0, starts_s[s] - max(ends_s[s - 1], prev_ends_s[s])), a, k)
        self.response.add(max(0.0, seen_s - ends_s[-1]), a, k)
        self.last_sample_s = seen_s

    def observe_compute(self, measured_s: float, predicted_s: float) -> None:
        """One batch's summed stage compute, measured and as predicted at its admission."""
        self.compute.add(measured_s - predicted_s, self.alpha, self.outlier_deviations)

    def observe_residual(self, seen_s: float, residual_s: float, requests: int = 1,
                         latency_s: float | None = None) -> None:
        """A batch of ``requests`` was back at ``seen_s``, ``residual_s`` after its predicted finish
        (negative: early); ``latency_s``: the shortest latency predicted for one of them (arrival
        to predicted finish), which bounds the room of an SLO."""
        for _ in range(requests):
            if len(self.residuals) == self.residuals.maxlen:
                self._forget_oldest()
            self.residuals.append((seen_s, residual_s))
            bisect.insort(self._ordered, residual_s)
        if latency_s is not None:
            while self._best and self._best[-1][1] >= latency_s:
                self._best.pop()
            self._best.append((seen_s, latency_s))

    def _forget_oldest(self) -> None:
        _, residual_s = self.residuals.popleft()
        del self._ordered[bisect.bisect_left(self._ordered, residual_s)]

    def residual_quantile_s(self, now_s: float, slo_s: float = math.inf) -> float | None:
        """The ``quantile`` of the residuals within the room of ``slo_s`` (``room_s``) seen in the
        ``window_s`` before ``now_s`` (the order statistic at or just above it), or None while fewer
        than ``min_residuals`` are. Longer ones are left out: a margin that long rejects every
        request of that SLO."""
        horizon_s = now_s - self.window_s
        while self.residuals and self.residuals[0][0] < horizon_s:
            self._forget_oldest()
        while self._best and self._best[0][0] < horizon_s:
            self._best.popleft()
        ordered = self._ordered
        n = len(ordered) if slo_s == math.inf else bisect.bisect_right(ordered, self.room_s(slo_s))
        if self.quantile is None or n < self.min_residuals:
            return None
        return ordered[min(n - 1, math.ceil(self.quantile * n) - 1)]

    def room_s(self, slo_s: float) -> float:
        """The longest margin that still admits a request of SLO ``slo_s`` at the best latency the
        window's requests were predicted (0 if none is known) and the way back."""
        return slo_s - (self._best[0][1] if self._best else 0.0) - self.egress_s

    def observe_ingress(self, delay_s: float) -> None:
        """One request's delay from the client's send stamp to the handler."""
        self.ingress.add(max(0.0, delay_s), self.alpha)

    def fade(self, now_s: float) -> float:
        """Factor (<= 1) on every estimate at ``now_s``: halves per ``half_life_s`` since the last sample."""
        idle_s = now_s - self.last_sample_s
        return 1.0 if idle_s <= 0.0 or self.last_sample_s == float("-inf") else 0.5 ** (idle_s / self.half_life_s)

    @property
    def dispatch_s(self) -> float:
        return self.dispatch.mean_s

    @property
    def hop_s(self) -> float:
        """Per-stage overhead: between stages, and (as the response) after the last one."""
        return self.hop.mean_s if self.hop.samples else self.response_s

    @property
    def response_s(self) -> float:
        return self.response.mean_s

    @property
    def egress_s(self) -> float:
        """The way from the controller back to the client: predicted like the response hop."""
        return self.response.mean_s

    @property
    def ingress_s(self) -> float:
        """Mean delay from the client's send stamp to the handler (introspection only, see above)."""
        return self.ingress.mean_s

    def after_last_stage_s(self, now_s: float, per_stage_s: float, slo_s: float = math.inf) -> float:
        """What admission adds to a batch's predicted finish (the last stage's, its per-stage
        overhead ``per_stage_s`` included) to get the latest the client may see the answer of a
        request with SLO ``slo_s``, faded: the residual quantile (of residuals within the room of
        ``slo_s``) and the way back once enough requests came back; until then the response hop in
        place of the last stage's hop, the way back and the quadrature margin."""
        fade = self.fade(now_s)
        q = self.residual_quantile_s(now_s, slo_s)
        if q is not None:
            return fade * (q + self.egress_s)
        return fade * (self.response_s + self.egress_s + self.margin_s) - per_stage_s

    def scheduler_overheads(self, now_s: float, floors: SchedulingOptions,
                            slo_s: float = math.inf) -> tuple[float, float, float]:
        """``(dispatch, per-stage, response)`` for ``Scheduler.set_overheads`` at ``now_s``, for
        requests with SLO ``slo_s``: the faded estimates, never below the fixed overheads of
        ``floors``. The stage clocks get the expected dispatch and per-stage overheads; the response
        overhead, which only admission, batch joins and doomed drops add, is ``after_last_stage_s``."""
        self.applied_slo_s = slo_s
        fade = self.fade(now_s)
        per_stage_s = max(floors.per_stage_overhead_s, fade * self.hop_s)
        return (max(floors.dispatch_overhead_s, fade * self.dispatch_s), per_stage_s,
                max(floors.finish_overhead_s, self.after_last_stage_s(now_s, per_stage_s, slo_s), 0.0))

    @property
    def margin_s(self) -> float:
        """``deviations`` deviations of dispatch + one hop + response + egress + the batch's compute,
        added in quadrature."""
        hop = self.hop if self.hop.samples else self.response
        squares = (self.dispatch.deviation_s ** 2 + hop.deviation_s ** 2 + 2 * self.response.deviation_s ** 2
                   + self.compute.deviation_s ** 2)
        return self.deviations * squares ** 0.5

    def snapshot(self) -> dict:
        """Learned overheads in milliseconds, with sample counts, and the margin (``/v1/stats``; the
        residual quantile for the SLO of the last application, ``for_slo_ms``)."""
        # predictions use the means; ``predicted_ms`` keeps the name older readers of the stats know
        out = {name: {"predicted_ms": round(e.mean_s * 1e3, 3), "mean_ms": round(e.mean_s * 1e3, 3),
                      "deviation_ms": round(e.deviation_s * 1e3, 3), "samples": e.samples}
               for name, e in (("dispatch", self.dispatch), ("hop", self.hop), ("response", self.response),
                               ("ingress", self.ingress), ("compute_error", self.compute))}
        out["margin"] = {"predicted_ms": round(self.margin_s * 1e3, 3), "deviations": self.deviations}
        q = self.residual_quantile_s(self.last_sample_s, self.applied_slo_s)
        slo_ms = None if self.applied_slo_s == math.inf else round(self.applied_slo_s * 1e3, 3)
        out["residual"] = {"quantile": self.quantile, "samples": len(self.residuals), "window_s": self.window_s,
                           "for_slo_ms": slo_ms,
                           "predicted_ms": None if q is None else round(q * 1e3, 3),
                           "in_use": q is not None}
        return out

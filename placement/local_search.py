"""mp-anneal (ours): simulated annealing over placements, starting from mp-search's best.

Not in AlpaServe. mp-search fixes one group shape for the whole cluster and fills it greedily; the
greedy never takes a replica back and never mixes group sizes. This policy keeps editing the
best mp-search placement within ``options.time_budget_s`` of wall-clock time, with moves aimed by
the last simulation's per-model unserved counts:

- add:     a replica of a badly served model onto a group that can hold it, evicting replicas of
           well-served models with several replicas when memory is short;
- move:    a badly served model's replica moves to another group (evicting likewise);
- swap:    a badly served model trades groups with a model that fits in its place;
- reshape: a group changes op x pp at the same size (latency vs memory trade);
- split:   a group becomes two groups of half the size; merge: two equal groups become one.
After a structural move the touched groups are refilled (most unserved first, no simulation), so
every move costs exactly one simulation on the training workload. A move is kept if it does not
lower attainment, or with probability exp(delta / T) under a temperature falling linearly to zero;
the best placement seen is returned. Scores of states already seen are cached (moves that undo a
previous move cost nothing). All randomness comes from ``rng``.
"""
from __future__ import annotations

import math
import time

import numpy as np

from alpa_serve_like.core.parallel_config import ParallelConfig
from alpa_serve_like.placement.structure import structured_starts
from alpa_serve_like.placement.objective import resampled_copies
from alpa_serve_like.placement.partitions import shapes_of_size
from alpa_serve_like.placement.problem import PlacementProblem, Score
from alpa_serve_like.placement.registry import register_policy
from alpa_serve_like.placement.state import FillState

START_TEMPERATURE = 0.001  # attainment units: a 0.1-point loss is accepted with probability 1/e at first


class _Moves:
    """Neighbourhood of a FillState; every move returns a new state or None (not applicable)."""

    def __init__(self, problem: PlacementProblem, rng: np.random.Generator):
        self.p = problem
        self.rng = rng
        dpn = problem.cluster.devices_per_node
        self.node_ok = lambda size: (dpn % size == 0) if size <= dpn else (size % dpn == 0)

    # ---- helpers ---------------------------------------------------------------------------------
    def _priority(self, state: FillState, score: Score) -> list[str]:
        """Models, most in need of another replica first (unserved, then traffic per replica)."""
        reps = state.replicas()
        rates = self.p.rates
        return sorted(self.p.models, key=lambda m: (-score.unserved[self.p.index[m]],
                                                    -rates[self.p.index[m]] / (reps.get(m, 0) + 1)))

    def _pick_needy(self, score: Score) -> str:
        weights = score.unserved.astype(float) + 1e-3
        return self.p.models[self.rng.choice(len(weights), p=weights / weights.sum())]

    def _refill(self, state: FillState, groups, order: list[str]) -> None:
        for g in groups:
            for m in order:
                if state.can_add(g, m) and self.p.useful(m, state.configs[g]):
                    state.add(g, m)

    def _evictable(self, state: FillState, g: int, score: Score, keep: str) -> list[str]:
        reps = state.replicas()
        cands = [m for m in state.hosted[g] if m != keep and reps[m] > 1]
        # least harm first: fewest unserved, then least traffic per replica
        return sorted(cands, key=lambda m: (score.unserved[self.p.index[m]],
                                            self.p.rates[self.p.index[m]] / reps[m]))

    # ---- moves -----------------------------------------------------------------------------------
    def _make_room(self, state: FillState, g: int, model: str, score: Score) -> bool:
        """Evict up to three replicas of well-served, replicated models from ``g`` until ``model`` fits."""
        for victim in self._evictable(state, g, score, model)[:3]:
            if state.can_add(g, model):
                break
            state.remove(g, victim)
        return state.can_add(g, model)

    def add(self, state: FillState, score: Score) -> FillState | None:
        model = self._pick_needy(score)
        groups = [g for g, c in enumerate(state.configs) if model not in state.hosted[g] and self.p.useful(model, c)]
        if not groups:
            return None
        g = int(self.rng.choice(groups))
        new = state.copy()
        if not self._make_room(new, g, model, score):
            return None
        new.add(g, model)
        return new

    def move(self, state: FillState, score: Score) -> FillState | None:
        """A replica of a badly served model leaves its group for another (making room there)."""
        model = self._pick_needy(score)
        sources = [g for g, h in enumerate(state.hosted) if model in h]
        targets = [g for g, c in enumerate(state.configs) if model not in state.hosted[g] and self.p.useful(model, c)]
        if not sources or not targets:
            return None
        src, dst = int(self.rng.choice(sources)), int(self.rng.choice(targets))
        new = state.copy()
        new.remove(src, model)
        if not self._make_room(new, dst, model, score):
            return None
        new.add(dst, model)
        self._refill(new, [src], self._priority(new, score))
        return new

    def swap(self, state: FillState, score: Score) -> FillState | None:
        """A badly served model trades groups with a better served one that fits in its place."""
        ma = self._pick_needy(score)
        homes = [g for g, h in enumerate(state.hosted) if ma in h]
        others = [g for g, c in enumerate(state.configs) if ma not in state.hosted[g] and self.p.useful(ma, c)]
        if not homes or not others:
            return None
        a, b = int(self.rng.choice(homes)), int(self.rng.choice(others))
        partners = [m for m in state.hosted[b] if m not in state.hosted[a] and self.p.useful(m, state.configs[a])]
        self.rng.shuffle(partners)
        for mb in partners[:8]:
            new = state.copy()
            new.remove(a, ma)
            new.remove(b, mb)
            if new.can_add(a, mb) and new.can_add(b, ma):
                new.add(a, mb)
                new.add(b, ma)
                return new
        return None

    def _rebuild(self, state: FillState, drop: list[int], add: list[ParallelConfig], keep_models: list[str],
                 score: Score) -> FillState:
        """Replace groups ``drop`` by new groups ``add``; ``keep_models`` go in first, then refill."""
        new = FillState([c for g, c in enumerate(state.configs) if g not in drop] + add, self.p.memory)
        kept = [g for g in range(len(state.configs)) if g not in drop]
        for i, g in enumerate(kept):
            new.hosted[i] = list(state.hosted[g])
            new.usage[i] = state.usage[g].copy()
        fresh = list(range(len(kept), len(new.configs)))
        order = self._priority(new, score)
        first = [m for m in order if m in set(keep_models)]
        self._refill(new, fresh, first)
        self._refill(new, fresh, order)
        return new

    def reshape(self, state: FillState, score: Score) -> FillState | None:
        g = int(self.rng.integers(len(state.configs)))
        c = state.configs[g]
        shapes = [s for s in shapes_of_size(c.op * c.pp, self.p.options.max_op, self.p.options.max_pp,
                                            self.p.cluster.devices_per_node) if s != c]
        if not shapes:
            return None
        to = shapes[int(self.rng.integers(len(shapes)))]
        return self._rebuild(state, [g], [to], state.hosted[g], score)

    def split(self, state: FillState, score: Score) -> FillState | None:
        g = int(self.rng.integers(len(state.configs)))
        c = state.configs[g]
        if c.op * c.pp < 2:
            return None
        half = ParallelConfig(1, c.op, c.pp // 2) if c.pp >= 2 else ParallelConfig(1, c.op // 2, 1)
        if not self.node_ok(half.op * half.pp):
            return None
        return self._rebuild(state, [g], [half, half], state.hosted[g], score)

    def merge(self, state: FillState, score: Score) -> FillState | None:
        g = int(self.rng.integers(len(state.configs)))
        c = state.configs[g]
        twins = [h for h in range(len(state.configs)) if h != g and state.configs[h] == c]
        if not twins:
            return None
        h = int(self.rng.choice(twins))
        opts = self.p.options
        shapes = []
        if 2 * c.pp <= opts.max_pp:
            shapes.append(ParallelConfig(1, c.op, 2 * c.pp))
        if 2 * c.op <= min(opts.max_op, self.p.cluster.devices_per_node):
            shapes.append(ParallelConfig(1, 2 * c.op, c.pp))
        if not shapes or not self.node_ok(2 * c.op * c.pp):
            return None
        to = shapes[int(self.rng.integers(len(shapes)))]
        return self._rebuild(state, [g, h], [to], state.hosted[g] + state.hosted[h], score)


# Replica moves are cheap and usually what helps; group-shape moves are rarer but let the search
# leave the start's partition.
MOVE_WEIGHTS = {"add": 2.0, "move": 1.0, "swap": 4.0, "reshape": 0.3, "split": 0.3, "merge": 0.3}


def anneal(problem: PlacementProblem, state: FillState, score: Score, rng: np.random.Generator,
           deadline: float, max_moves: int = 0) -> tuple[FillState, Score, dict]:
    """Simulated annealing from ``state`` until ``deadline`` (time.perf_counter()) or ``max_moves``
    scored moves; the best placement found wins. With ``max_moves`` the temperature follows the
    move count instead of the clock, so a capped run is reproducible."""
    moves = _Moves(problem, rng)
    names = list(MOVE_WEIGHTS)
    probs = np.array([MOVE_WEIGHTS[n] for n in names])
    probs /= probs.sum()
    cache = {state.key(): score}
    best_state, best_score = state, score
    start = time.perf_counter()
    stats = {"tried": 0, "accepted": 0, "improved": 0}
    per_move = {n: [0, 0, 0] for n in names}  # scored, accepted, new best
    idle = 0  # draws since a move last applied
    while True:
        now = time.perf_counter()
        if now >= deadline or (max_moves and stats["tried"] >= max_moves):
            break
        idle += 1
        if deadline == math.inf and idle > 10_000:  # no move applies any more and no clock stops us
            break
        left = (1 - stats["tried"] / max_moves) if max_moves else (deadline - now) / max(deadline - start, 1e-9)
        temperature = START_TEMPERATURE * max(0.0, left)
        name = names[int(rng.choice(len(names), p=probs))]
        new = getattr(moves, name)(state, score)
        if new is None:
            continue
        idle = 0
        key = new.key()
        new_score = cache.get(key)
        if new_score is None:
            new_score = problem.score(new.to_placement())
            cache[key] = new_score
        stats["tried"] += 1
        per_move[name][0] += 1
        delta = new_score.attainment - score.attainment
        if delta >= 0 or (temperature > 0 and rng.random() < math.exp(delta / temperature)):
            state, score = new, new_score
            stats["accepted"] += 1
            per_move[name][1] += 1
            if score.attainment > best_score.attainment:
                best_state, best_score = state, score
                stats["improved"] += 1
                per_move[name][2] += 1
    stats["moves"] = {n: "/".join(map(str, v)) for n, v in per_move.items()}
    return best_state, best_score, stats


@register_policy("mp-anneal")
def mp_anneal(cluster, models, profiles, train_workload, options, rng):
    """Ours: simulated annealing (replica add/move/swap, group reshape/split/merge) from mp-search."""
    return _mp_anneal(cluster, models, profiles, train_workload, options, rng, "mp-anneal", deterministic=False)


@register_policy("mp-anneal-budget", param="moves")
def mp_anneal_budget(cluster, models, profiles, train_workload, options, rng, *, moves: int):
    """mp-anneal with a budget of N scored moves: the same result for the same inputs and seed."""
    return _mp_anneal(cluster, models, profiles, train_workload, options.with_(anneal_max_moves=moves), rng,
                      f"mp-anneal-budget-{moves}", deterministic=True)


def _mp_anneal(cluster, models, profiles, train_workload, options, rng, name: str, deterministic: bool):
    """``deterministic``: the structure search runs to completion and the annealing stops after
    ``options.anneal_max_moves`` moves; ``time_budget_s`` is not used, so the wall clock decides
    nothing (the move budget is the knob for time) unless ``options.search_time_cap_s`` caps it."""
    tic = time.perf_counter()
    cap_s = options.search_time_cap_s if deterministic else options.time_budget_s
    deadline = tic + cap_s if cap_s > 0 else math.inf
    problem = PlacementProblem(cluster, models, profiles, train_workload, options)
    # Structure first (at most 40% of the time if there is a clock), then local moves.
    structure_deadline = tic + 0.4 * cap_s if cap_s > 0 else math.inf
    start_state, start_score, how = structured_starts(problem, structure_deadline)[0]
    # Anneal against the training sample plus fresh samples fitted to it (objective.py), so the
    # thousands of evaluations do not tune the placement to one sample's bursts.
    search = PlacementProblem(cluster, models, profiles,
                              resampled_copies(train_workload, options.anneal_copies, rng), options)
    state, score, stats = anneal(search, start_state.copy(), search.score(start_state.to_placement()), rng, deadline,
                                 options.anneal_max_moves)
    stats["evaluations"] = problem.evaluations + search.evaluations
    if deterministic:
        stats["stopped_by"] = "move budget" if stats["tried"] >= options.anneal_max_moves else (
            "time cap" if time.perf_counter() >= deadline else "no applicable move")
    start_score, score = problem.score(start_state.to_placement()), problem.score(state.to_placement())
    return state.to_placement({
        "policy": name, "start": how,
        "start_train_attainment": start_score.attainment, "train_attainment": score.attainment,
        **stats,
    })

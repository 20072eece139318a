"""What the controller reports about itself: group states (``/health``) and ``/v1/stats``."""
from __future__ import annotations

import math
import sys


class IntrospectionMixin:
    """``group_status`` and ``snapshot``; part of ``ControllerCore``."""

    def group_status(self) -> list[dict]:
        out, now = [], self.clock()
        for g, (st, group) in enumerate(zip(self.groups, self.placement.groups)):
            out.append({
                "group": g, "op": group.config.op, "pp": group.config.pp, "models": list(group.models),
                "up": self.scheduler.is_up(g), "generation": st.generation, "restarts": st.restarts,
                "warm": st.warm,
                "queued_batches": len(st.queue), "open_batches": len(st.batches),
                "predicted_backlog_ms": [round(max(0.0, f - now) * 1e3, 3) if math.isfinite(f) else None
                                         for f in self.scheduler.groups[g].free_s],
                "last_error": st.last_error,
            })
        return out

    def health(self) -> dict:
        """``/health``: ``warming_up`` until the initial warm-up is over (HTTP 503), then ``ok`` when
        every group is up, else ``degraded`` (some group is being recreated; the others serve)."""
        groups = self.group_status()
        up = sum(g["up"] for g in groups)
        warm = sum(g["warm"] for g in groups)
        out = {"status": "ok" if up == len(groups) else "degraded", "groups_up": up,
               "groups_warm": warm, "groups": len(groups)}
        if not self.warmed_up:
            out.update(status="warming_up", reason="warming_up",
                       error=f"{warm} of {len(groups)} groups have served their warm-up batches; retry later")
        return out

    def snapshot(self) -> dict:
        """``/v1/stats``: request stats, group states, learned overheads and latency corrections."""
        out = self.stats.snapshot()
        out["stats_since_s"] = round(self.stats_since_s, 3)  # later after a controller restart
        out["groups"] = self.group_status()
        out["pending_requests"] = self.pending
        out["dropped_at_dispatch"] = self.dropped_at_dispatch
        # Activations must never be deserialized here; torch in this process would mean one was.
        out["controller_imported_torch"] = "torch" in sys.modules
        if self.overheads is not None:
            out["overheads"] = self.overheads.snapshot()
        corr = self.scheduler.correction
        if corr is not None:
            tables = self.scheduler.tables
            # as the last prediction used them: faded to its time
            out["latency_correction"] = {
                f"{self.model_names[int(tables.replica_model[r])]}@group{int(tables.replica_group[r])}":
                    [round(corr.factor(r, s), 4) for s in range(int(tables.num_stages[tables.replica_group[r]]))]
                for r in range(len(tables.replica_group))
            }
        return out

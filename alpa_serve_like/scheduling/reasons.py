"""Why a request was not served: codes shared by the simulator's arrays and the runtime's replies."""
from __future__ import annotations

from enum import IntEnum


class RejectReason(IntEnum):
    """Reason codes; ``NONE`` marks an admitted request. The integer values are stored in arrays."""

    NONE = 0
    SLO = 1
    """Rejected at arrival: the predicted finish on the chosen group is after the deadline."""
    UNPLACED = 2
    """No group of the placement hosts the request's model."""
    GROUP_DOWN = 3
    """Every group hosting the model is marked down (runtime only: the simulator has no failures)."""
    DOOMED = 4
    """Dropped at dispatch: it could no longer meet its deadline, so no compute was spent on it
    (``SchedulingOptions.drop_doomed_at_dispatch``)."""

    @property
    def label(self) -> str:
        return self.name.lower()

"""Queue disciplines by name (see ``registry``); importing this package registers the built-ins.

fcfs (arrival order), srpt (Paella's shortest remaining work with a fairness threshold U), edf.
"""
from alpa_serve_like.scheduling.disciplines import edf, fcfs, srpt  # noqa: F401  (registration side effect)
from alpa_serve_like.scheduling.disciplines.estimates import RemainingWork
from alpa_serve_like.scheduling.disciplines.fairness import DeficitCredits
from alpa_serve_like.scheduling.disciplines.registry import (
    DisciplineEntry,
    DispatchView,
    Priority,
    QueueDiscipline,
    Waiting,
    discipline_names,
    register_discipline,
    resolve_discipline,
)
from alpa_serve_like.scheduling.disciplines.state import PURE_SRPT_THRESHOLD, DisciplineState

__all__ = [
    "DeficitCredits", "DisciplineEntry", "DisciplineState", "DispatchView", "Priority", "PURE_SRPT_THRESHOLD",
    "QueueDiscipline", "RemainingWork", "Waiting", "discipline_names", "register_discipline",
    "resolve_discipline",
]

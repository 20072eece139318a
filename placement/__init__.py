"""The placement optimizer, installed as ``alpa_serve_like.placement``.

``place(policy, cluster, models, profiles, train_workload, options, rng)`` runs a registered policy
by name (``policy_names()`` lists them); ``evaluate.train_and_evaluate`` / ``compare_policies``
train on one workload and score on another. Importing this package registers every policy.
"""
from alpa_serve_like.placement import ilp, local_search, mp_greedy, mp_round_robin, mp_search, mp_search_sep, sr_greedy, sr_replace  # noqa: F401  (registration)
from alpa_serve_like.placement.memory import MemoryModel, PlacementInfeasibleError, check_models_fit
from alpa_serve_like.placement.models import instantiate_models, parse_model_counts
from alpa_serve_like.placement.options import PlacementOptions
from alpa_serve_like.placement.partitions import enumerate_partitions
from alpa_serve_like.placement.registry import PolicyNameError, policy_names, register_policy, resolve_policy


def place(policy, cluster, models, profiles, train_workload, options=None, rng=None, **kwargs):
    """Run policy ``policy`` (a registered name such as ``mp-search`` or ``mp-greedy-4``)."""
    import numpy as np

    _, fn = resolve_policy(policy)
    return fn(cluster, list(models), profiles, train_workload, options or PlacementOptions(),
              rng if rng is not None else np.random.default_rng(0), **kwargs)


__all__ = [
    "MemoryModel", "PlacementInfeasibleError", "PlacementOptions", "PolicyNameError",
    "check_models_fit", "enumerate_partitions", "instantiate_models", "parse_model_counts", "place",
    "policy_names", "register_policy", "resolve_policy",
]

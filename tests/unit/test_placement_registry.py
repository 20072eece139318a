"""The policy registry: lookup by name, families with an integer, duplicates refused."""
import pytest

from alpa_serve_like.placement import PolicyNameError, policy_names, register_policy, resolve_policy
from alpa_serve_like.placement.registry import unregister_policy


def test_all_issue_policies_are_registered():
    for name in ("sr-greedy", "sr-replace-60", "mp-greedy-4", "mp-round-robin", "mp-round-robin-any", "mp-search",
                 "mp-search-sep", "mp-ilp", "sr-ilp", "mp-anneal"):
        entry, fn = resolve_policy(name)
        assert callable(fn)
    assert resolve_policy("mp-greedy-4")[1].keywords == {"group_size": 4}
    assert resolve_policy("sr-replace-30")[0].online


def test_duplicate_names_are_refused():
    with pytest.raises(PolicyNameError, match="already registered"):
        register_policy("mp-search")(lambda *a: None)
    with pytest.raises(PolicyNameError, match="already registered"):
        register_policy("mp-greedy", param="group_size")(lambda *a: None)


def test_register_and_resolve_a_new_policy():
    @register_policy("test-only-policy")
    def policy(cluster, models, profiles, train, options, rng):
        """Does nothing."""
    try:
        assert resolve_policy("test-only-policy")[1] is policy
        assert "test-only-policy" in policy_names()
    finally:
        unregister_policy("test-only-policy")


def test_unknown_and_parameterless_names_explain_themselves():
    with pytest.raises(PolicyNameError, match="unknown placement policy 'mp-serach'.*mp-search"):
        resolve_policy("mp-serach")
    with pytest.raises(PolicyNameError, match="needs a parameter: use mp-greedy-<group_size>"):
        resolve_policy("mp-greedy")

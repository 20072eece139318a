"""Compound applications: task graphs of models with variants, planned onto MIG slices (issue 15).

``app_spec`` holds the application value, ``slice_table`` the per-option latency/throughput inputs
(from the shared MIG rules and slice model), ``optimizer`` the MILP, ``systems`` the ablations by name.
"""

"""Compound applications: task graphs of models with variants, planned onto MIG slices (issue 15).

``app_spec`` holds the application value, ``slice_table`` the per-option latency/throughput inputs
and MIG geometries, ``optimizer`` the MILP, ``systems`` the ablations by name.
"""

"""Workloads and real traces, installed as ``alpa_serve_like.trace`` (never as top-level ``trace``,
which is a standard-library module).

- ``workload``: the Workload value and merge / slice / train-test split / SLO rewrite.
- ``workload_io``: save/load workloads as ``.npz``.
- ``arrival``, ``rate_split``, ``synthetic``: synthetic traffic.
- ``csv_reader``: streaming, validating CSV reader shared by the trace loaders.
- ``maf1``, ``maf2``, ``function_trace``, ``function_mapping``, ``fit``, ``gamma_replay``,
  ``azure_functions``: Azure Functions 2019/2021 traces -> cache -> model workloads.
- ``azure_llm``: Azure LLM inference trace 2023.
- ``stats``: per-model rate/CV table.
"""

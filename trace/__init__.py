"""Workloads and real traces, installed as ``alpa_serve_like.trace`` (never as top-level ``trace``,
which is a standard-library module)."""

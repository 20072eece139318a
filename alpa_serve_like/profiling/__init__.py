"""Profiling database, legacy import, analytic and measured profilers."""
from alpa_serve_like.profiling.database import DatabaseError, ProfilingDatabase, default_database_path, restricted_loads

__all__ = ["DatabaseError", "ProfilingDatabase", "default_database_path", "restricted_loads"]

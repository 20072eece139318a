"""Core values shared by every layer: hardware, models, parallel configs, profiles, the plan,
the workload, SLO helpers and instance naming. Imports nothing else of ours, nor ray, torch or matplotlib."""

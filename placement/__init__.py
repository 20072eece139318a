"""The placement optimizer, installed as ``alpa_serve_like.placement``."""

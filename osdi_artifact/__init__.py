"""Paper-style experiments, installed as ``alpa_serve_like.osdi_artifact``."""

"""Torch transformer models (BERT, GPT, MoE) built from a ModelSpec and cut into pipeline stages.

Importing this package imports torch; the core package (``alpa_serve_like``) does not.
"""
from alpa_serve_like.models.stages import StageModule, build_model, build_stage, random_token_ids, split_stages, stage_layer_ranges
from alpa_serve_like.models.tensor_parallel import TensorParallel

__all__ = [
    "StageModule",
    "TensorParallel",
    "build_model",
    "build_stage",
    "random_token_ids",
    "split_stages",
    "stage_layer_ranges",
]

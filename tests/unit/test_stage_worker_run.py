"""``StageWorker._run`` on what each transport hands it: a socket's writable arrays are used in
place, the object store's read-only ones are copied; both give the same answer."""
import numpy as np


def test_writable_and_read_only_token_arrays_give_the_same_answer():
    import torch

    from alpa_serve_like.runtime.stage_worker import StageWorker

    worker = StageWorker(0, 0, 1, ["m"], seed=0, use_gpu=False, torch_threads=1)
    seen = []

    def module(x):
        seen.append(x)
        return torch.nn.functional.one_hot(x[:, 0], 8).float() * 3.0

    worker.modules["m"] = module
    writable = np.array([[1, 2], [5, 6]], dtype=np.int64)
    read_only = writable.copy()
    read_only.flags.writeable = False
    out_w, timing = worker._run("m", {"x": writable, "timings": []})
    out_r, _ = worker._run("m", {"x": read_only, "timings": []})
    assert out_w["summary"] == out_r["summary"]
    assert out_w["summary"][0] == {"norm": 3.0, "head": [0.0, 3.0, 0.0, 0.0]}
    assert np.shares_memory(seen[0].numpy(), writable)  # used in place
    assert not np.shares_memory(seen[1].numpy(), read_only)  # copied: torch wants writable memory
    assert out_w["timings"] == [timing] and timing["stage"] == 0

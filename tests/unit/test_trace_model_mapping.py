"""A trace's own model names (the LLM trace's conv/code) mapped onto the models to place, and the
LLM trace reaching 'trace build', 'place', 'simulate' and 'compare-policies' from the command line."""
import numpy as np
import pytest

from alpa_serve_like.cli.main import main
from alpa_serve_like.core.workload import Workload
from alpa_serve_like.trace.model_mapping import map_models, parse_map
from alpa_serve_like.trace.workload_io import load_workload

# conv: 3 requests, code: 1, chat: 2 (in that name order)
W = Workload(np.arange(6, dtype=float), np.array([0, 1, 2, 0, 2, 0], np.int32), np.full(6, 0.5),
             ("conv", "code", "chat"), size=np.arange(6, dtype=np.int32) + 10)


def test_round_robin_popularity_and_explicit():
    rr = map_models(W, ["a", "b"], "round-robin")
    assert rr.model_names == ("a", "b") and list(rr.model_id) == [0, 1, 0, 0, 0, 0]
    pop = map_models(W, ["a", "b", "c"], "popularity")  # conv (3) > chat (2) > code (1)
    assert list(pop.model_id) == [0, 2, 1, 0, 1, 0] and pop.meta["model_map"] == {"conv": "a", "chat": "b", "code": "c"}
    ex = map_models(W, ["a", "b"], parse_map("conv=b,code=a,chat=b"))
    assert list(ex.model_id) == [1, 0, 1, 1, 1, 1]
    np.testing.assert_array_equal(ex.arrival_s, W.arrival_s)
    np.testing.assert_array_equal(ex.size, W.size)


def test_mapping_errors_name_the_fix():
    with pytest.raises(ValueError, match="chat"):
        map_models(W, ["a", "b"], parse_map("conv=a,code=b"))
    with pytest.raises(ValueError, match="not in --models"):
        map_models(W, ["a"], parse_map("conv=z"))
    with pytest.raises(ValueError, match="round-robin"):
        parse_map("by-size")


def _llm_workload(tmp_path):
    rows = "".join(f"2023-11-16 18:{m:02d}:{s:02d}.0,{100 + s},5\n" for m in range(3) for s in range(0, 60, 2))
    conv = tmp_path / "AzureLLMInferenceTrace_conv.csv"
    conv.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n" + rows)
    code = tmp_path / "AzureLLMInferenceTrace_code.csv"
    code.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:00:01.0,7,1\n2023-11-16 18:01:03.0,9,1\n")
    out = tmp_path / "llm.npz"
    assert main(["trace", "convert", "--llm", str(conv), str(code), "--slo-ms", "400", "--out", str(out)]) == 0
    return out


def test_llm_trace_builds_onto_models_and_reaches_place(tmp_path, capsys):
    llm = _llm_workload(tmp_path)
    built = tmp_path / "built.npz"
    assert main(["trace", "build", str(llm), "--models", "bert-1.3b-0,bert-1.3b-1", "--map", "popularity",
                 "--minutes", "2", "--out", str(built)]) == 0
    assert "conv -> bert-1.3b-0, code -> bert-1.3b-1" in capsys.readouterr().out
    w = load_workload(built)
    assert w.model_names == ("bert-1.3b-0", "bert-1.3b-1") and len(w) == 60 + 2 and w.span_s == 120.0
    assert main(["trace", "build", str(llm), "--models", "2", "--mode", "exact", "--out", str(built)]) == 2
    assert "--mode applies to function-trace caches" in capsys.readouterr().err

    plan = tmp_path / "p.json"
    args = ["place", "--policy", "sr-greedy", "--num-devices", "2", "--models", "bert-1.3b:2",
            "--workload", str(llm), "--out", str(plan)]
    assert main(args) == 2
    assert "--map" in capsys.readouterr().err
    assert main(args + ["--map", "conv=bert-1.3b-1,code=bert-1.3b-0"]) == 0
    assert "(mapped conv=bert-1.3b-1,code=bert-1.3b-0)" in capsys.readouterr().out
    assert main(["simulate", "--placement", str(plan), "--workload", str(llm), "--map", "popularity"]) == 0
    assert "attainment" in capsys.readouterr().out
    assert main(["compare-policies", "--policies", "sr-greedy", "--num-devices", "2", "--models", "bert-1.3b:2",
                 "--workload", str(llm), "--map", "round-robin", "--out", str(tmp_path / "c.tsv")]) == 0


@pytest.mark.parametrize("flag, value", [("--fit-window", "600"), ("--spread", "even")])
def test_function_trace_flags_on_a_workload_input_are_refused(tmp_path, capsys, flag, value):
    # they shape a MAF1/MAF2 replay; on the LLM workload they were ignored without a word
    llm = _llm_workload(tmp_path)
    assert main(["trace", "build", str(llm), "--models", "2", flag, value, "--out", str(tmp_path / "b.npz")]) == 2
    assert f"{flag} applies to function-trace caches" in capsys.readouterr().err

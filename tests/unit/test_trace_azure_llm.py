"""Azure LLM inference trace 2023: tiny files in its format, and the real shared files."""
from pathlib import Path

import numpy as np
import pytest

from alpa_serve_like.trace.azure_llm import load_azure_llm, read_llm_csv
from alpa_serve_like.trace.csv_reader import TraceFormatError

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "azure_llm_inference_2023"
HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens\n"


def _write(path, rows):
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path


def test_two_files_share_one_clock(tmp_path):
    conv = _write(tmp_path / "AzureLLMInferenceTrace_conv.csv",
                  ["2023-11-16 18:15:46.6805900,374,44", "2023-11-16 18:15:50.9951690,396,109"])
    code = _write(tmp_path / "AzureLLMInferenceTrace_code.csv", ["2023-11-16 18:15:47.1805900,4808,10"])
    w = load_azure_llm([conv, code], slo_s={"conv": 2.0, "code": 5.0})
    assert w.model_names == ("conv", "code")
    np.testing.assert_allclose(w.arrival_s, [0.0, 0.5, 4.314579], atol=1e-9)
    np.testing.assert_array_equal(w.model_id, [0, 1, 0])
    np.testing.assert_array_equal(w.size, [374, 4808, 396])
    np.testing.assert_array_equal(w.output_size, [44, 10, 109])
    np.testing.assert_array_equal(w.slo_s, [2.0, 5.0, 2.0])
    assert w.meta["origin"].startswith("2023-11-16T18:15:46.68059")


def test_window_and_compression(tmp_path):
    p = _write(tmp_path / "t.csv", [f"2023-11-16 18:00:{s:02d}.0000000,{10 * s},1" for s in range(10)])
    w = load_azure_llm([p], start_s=2.0, end_s=6.0, time_compression=2.0)
    np.testing.assert_allclose(w.arrival_s, [0.0, 0.5, 1.0, 1.5])
    np.testing.assert_array_equal(w.size, [20, 30, 40, 50])
    assert w.model_names == ("t",) and w.meta["span_s"] == 2.0


def test_token_buckets(tmp_path):
    p = _write(tmp_path / "t.csv", [f"2023-11-16 18:00:{s:02d}.0,{tok},1" for s, tok in enumerate([5, 50, 500, 7, 70, 700])])
    w = load_azure_llm([p], models="token_buckets", bucket_edges=[10, 100])
    assert w.model_names == ("tokens-0-9", "tokens-10-99", "tokens-100+")
    np.testing.assert_array_equal(w.model_id, [0, 1, 2, 0, 1, 2])
    q = load_azure_llm([p], models="token_buckets", num_buckets=2)
    np.testing.assert_array_equal(np.bincount(q.model_id), [3, 3])


@pytest.mark.parametrize("row, match", [
    ("2023-11-16 18:00:01.0,12", r"t\.csv line 3: expected 3 columns, found 2"),
    ("yesterday,12,3", r"t\.csv line 3: expected a TIMESTAMP like .*, found 'yesterday'"),
    ("2023-11-16 18:00:01.0,12.5,3", r"line 3: column 'ContextTokens' expected an integer, found '12.5'"),
    ("2023-11-16 18:00:01.0,-4,3", r"line 3: expected token counts >= 0"),
])
def test_malformed_rows(tmp_path, row, match):
    p = _write(tmp_path / "t.csv", ["2023-11-16 18:00:00.0,10,1", row])
    with pytest.raises(TraceFormatError, match=match):
        read_llm_csv(p)
    assert read_llm_csv(p, skip_bad_rows=True).bad_rows == 1


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data not present")
def test_real_files():
    conv = read_llm_csv(SHARED / "AzureLLMInferenceTrace_conv.csv")
    assert len(conv.timestamp_ns) == 19366 and conv.bad_rows == 0
    np.testing.assert_array_equal(conv.context_tokens[:4], [374, 396, 879, 91])
    np.testing.assert_array_equal(conv.generated_tokens[:4], [44, 109, 55, 16])
    assert str(np.datetime64(int(conv.timestamp_ns[0]), "ns")) == "2023-11-16T18:15:46.680590000"
    w = load_azure_llm([SHARED / "AzureLLMInferenceTrace_conv.csv", SHARED / "AzureLLMInferenceTrace_code.csv"])
    counts = np.bincount(w.model_id)
    assert counts[0] == 19366 and counts[1] > 0 and len(w) == counts.sum()
    assert np.all(np.diff(w.arrival_s) >= 0) and w.arrival_s[0] == 0.0
    np.testing.assert_allclose(w.arrival_s[:4], [0.0, 4.314579, 4.541877, 4.710427], atol=1e-6)

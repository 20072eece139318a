"""Trace CSVs as other tools save them: a UTF-8 byte-order mark before the header (Excel's
"CSV UTF-8") is read, not refused as a header named '\\ufeffTIMESTAMP'; LLM timestamps with time
zone offsets, mixed or not, are read on one UTC clock instead of failing with pandas' "Mixed
timezones detected" without the file's name."""
from __future__ import annotations

import numpy as np

from alpa_serve_like.trace.azure_llm import read_llm_csv
from alpa_serve_like.trace.maf2 import read_maf2

HEADER = "TIMESTAMP,ContextTokens,GeneratedTokens\r\n"


def test_llm_csv_with_a_byte_order_mark(tmp_path):
    path = tmp_path / "AzureLLMInferenceTrace_conv.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER + "2023-11-16 18:15:46.5,374,44\r\n2023-11-16 18:15:47,5,6\r\n").encode())
    r = read_llm_csv(path)
    assert r.context_tokens.tolist() == [374, 5] and np.diff(r.timestamp_ns).tolist() == [500_000_000]


def test_maf2_with_a_byte_order_mark(tmp_path):
    path = tmp_path / "maf2.txt"
    path.write_bytes(b"\xef\xbb\xbfapp,func,end_timestamp,duration\n" + b"a,f,2.0,0.5\n")
    assert read_maf2(path).arrival_s.tolist() == [1.5]


def test_llm_timestamps_with_time_zones_share_one_clock(tmp_path):
    path = tmp_path / "AzureLLMInferenceTrace_tz.csv"
    path.write_text(HEADER + "2023-11-16T18:15:47Z,1,1\n2023-11-16 19:15:48+01:00,2,2\n2023-11-16 18:15:49,3,3\n")
    r = read_llm_csv(path)
    # 19:15:48+01:00 is 18:15:48 UTC; a timestamp without an offset is taken as UTC
    assert np.diff(r.timestamp_ns).tolist() == [1_000_000_000, 1_000_000_000]

"""Import of Alpa's tab-separated inference benchmark results."""
import pytest

from alpa_serve_like import ParallelConfig
from alpa_serve_like.profiling.benchmark_tsv import COLUMNS, import_benchmark_tsv, parse_benchmark_tsv
from alpa_serve_like.profiling.database import DatabaseError, ProfilingDatabase

HEADER = "\t".join(COLUMNS)


def row(model="bert-1.3b", bs=1, dp=1, op=1, pp=1, weights="[100]", peaks="[150]", lat="[0.5]", gpus=None):
    cells = [model, str(bs), "1", str(dp), str(op), str(pp), str(gpus or dp * op * pp), "0.5", "0.001", "12.5",
             weights, peaks, lat]
    return "\t".join(cells)


def write(tmp_path, *lines, name="bench.tsv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_rows_become_profiles(tmp_path):
    path = write(
        tmp_path, HEADER,
        row(bs=1, pp=2, weights="[1.3e9, 1.2e9]", peaks="[1.5e9, 1.3e9]", lat="[0.051, 0.052]"),
        # numpy's print style (spaces, no commas), as AlpaServe's files have
        row(bs=4, pp=2, weights="[1.3e+09 1.2e+09]", peaks="[1.9e+09  1.1e+09]", lat="[0.101 0.102]"),
        row(bs=1, op=4, weights="[6.5e8]", peaks="[7e8]", lat="[0.03]"),
        row(model="moe-1.3b", bs=2, lat="[0.07]"),
    )
    db = import_benchmark_tsv(path, device="v100-16gb")

    assert db.models("v100-16gb") == ["bert-1.3b", "moe-1.3b"]
    bert = db.get("bert-1.3b")
    assert bert.source == "benchmark-tsv" and bert.spec is None
    pipe = bert.configs[ParallelConfig(1, 1, 2)]
    assert pipe.stage_latency_s == {1: (0.051, 0.052), 4: (0.101, 0.102)}
    assert pipe.weight_bytes == (1_300_000_000, 1_200_000_000)
    assert pipe.act_bytes[1] == (200_000_000, 100_000_000)
    assert pipe.act_bytes[4] == (600_000_000, 0)  # peak below weights is clipped to 0
    assert bert.configs[ParallelConfig(1, 4, 1)].act_bytes == {1: (50_000_000,)}
    assert db.get("moe-1.3b").configs[ParallelConfig()].stage_latency_s == {2: (0.07,)}


def test_headerless_file_uses_the_standard_column_order():
    (profile,) = parse_benchmark_tsv(row(pp=1, lat="[0.25]") + "\n", device="a100-80gb")
    assert profile.device == "a100-80gb"
    assert profile.configs[ParallelConfig()].stage_latency_s == {1: (0.25,)}


def test_header_may_reorder_add_columns_and_repeat():
    header = "Extra\tStageLatencies(s)\tModelName\tBS\tDP\tOP\tPP\tStageWeights(B)\tStagePeakMem(B)\tMetadata"
    text = "\n".join([
        header,
        "x\t[0.1, 0.2]\tgpt\t1\t1\t1\t2\t[10, 10]\t[20, 30]\t{'k': 1}",
        header,  # appended runs repeat the header
        "y\t[0.3 0.4]\tgpt\t2\t1\t1\t2\t[10 10]\t[50 60]\t{}",
        "",
    ])
    (profile,) = parse_benchmark_tsv(text, device="v100-16gb", where="b.tsv")
    entry = profile.configs[ParallelConfig(1, 1, 2)]
    assert entry.stage_latency_s == {1: (0.1, 0.2), 2: (0.3, 0.4)}
    assert entry.act_bytes == {1: (10, 20), 2: (40, 50)}


def test_repeated_row_replaces_and_weights_come_from_the_first_row():
    text = "\n".join([
        row(bs=1, weights="[100]", lat="[0.5]"),
        row(bs=1, weights="[999]", peaks="[1000]", lat="[0.4]"),
    ])
    (profile,) = parse_benchmark_tsv(text, device="d")
    entry = profile.configs[ParallelConfig()]
    assert entry.stage_latency_s == {1: (0.4,)}
    assert entry.weight_bytes == (100,)
    assert entry.act_bytes == {1: (1,)}


@pytest.mark.parametrize("bad_line, expected", [
    ("bert\t1\t1", "bench.tsv line 3: expected 13 columns, found 3"),
    (row(pp="x"), "bench.tsv line 3 column PP: expected int, got 'x'"),
    (row(bs="1.5"), "bench.tsv line 3 column BS: expected int, got '1.5'"),
    (row(op=0), "bench.tsv line 3 column OP: expected a positive int, got 0"),
    (row(pp=2, weights="[1, 1]", peaks="[2, 2]", lat="[0.1, 0.1, 0.1]"),
     r"bench.tsv line 3 column StageLatencies\(s\): 3 stage values but PP=2"),
    (row(pp=2, weights="[1]", peaks="[2, 2]", lat="[0.1, 0.1]"),
     r"bench.tsv line 3 column StageWeights\(B\): 1 stage values but PP=2"),
    (row(lat="[nan]"), r"column StageLatencies\(s\): expected finite values >= 0, got 'nan'"),
    (row(lat="[-0.1]"), r"column StageLatencies\(s\): expected finite values >= 0, got '-0.1'"),
    (row(peaks="[inf]"), r"column StagePeakMem\(B\): expected finite values >= 0, got 'inf'"),
    (row(lat="[0.1; 0.2]"), r"column StageLatencies\(s\): expected a list of numbers, got '\[0.1; 0.2\]'"),
    (row(model=" "), "column ModelName: empty model name"),
])
def test_broken_rows_name_file_line_and_column(tmp_path, bad_line, expected):
    path = write(tmp_path, HEADER, row(), bad_line)
    with pytest.raises(DatabaseError, match=expected):
        import_benchmark_tsv(path, device="v100-16gb")


def test_cells_are_never_evaluated(tmp_path):
    marker = tmp_path / "pwned"
    path = write(tmp_path, row(lat=f"__import__('os').system('touch {marker}')"))
    with pytest.raises(DatabaseError, match="expected a list of numbers"):
        import_benchmark_tsv(path, device="v100-16gb")
    assert not marker.exists()


def test_header_missing_a_column_lists_what_it_has(tmp_path):
    path = write(tmp_path, "ModelName\tBS\tDP\tOP\tPP", "m\t1\t1\t1\t1")
    with pytest.raises(DatabaseError, match=r"bench.tsv line 1: header lacks column\(s\) StageWeights\(B\), "
                                            r"StagePeakMem\(B\), StageLatencies\(s\) \(has: ModelName, BS"):
        import_benchmark_tsv(path, device="v100-16gb")


def test_empty_missing_and_binary_files(tmp_path):
    with pytest.raises(DatabaseError, match="no benchmark rows found"):
        import_benchmark_tsv(write(tmp_path, HEADER), device="d")
    with pytest.raises(DatabaseError, match="does not exist"):
        import_benchmark_tsv(tmp_path / "none.tsv", device="d")
    binary = tmp_path / "bin.tsv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DatabaseError, match="not a UTF-8 text file"):
        import_benchmark_tsv(binary, device="d")


def test_imported_tsv_saves_and_loads(tmp_path):
    db = import_benchmark_tsv(write(tmp_path, HEADER, row(), row(bs=2, lat="[0.9]")), device="v100-16gb")
    db.save(tmp_path / "db.pkl")
    loaded = ProfilingDatabase.load(tmp_path / "db.pkl")
    assert loaded.profiles == db.profiles
    assert loaded.get("bert-1.3b").configs[ParallelConfig()].batch_sizes == (1, 2)

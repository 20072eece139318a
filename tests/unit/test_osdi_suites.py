"""osdi_artifact: the stand-in traces, the suites as data, and the results TSV (no simulation)."""
import numpy as np
import pytest

from alpa_serve_like.osdi_artifact import results, suites
from alpa_serve_like.osdi_artifact.standin import STAND_INS, StandInSpec, stand_in_fits, stand_in_workload


def test_stand_in_structure_is_prefix_stable_and_normalised():
    spec = STAND_INS["maf1"]
    short, long = stand_in_fits(spec, 12, 5), stand_in_fits(spec, 12, 40)
    np.testing.assert_array_equal(short.rate, long.rate[:, :5])
    np.testing.assert_array_equal(short.cv, long.cv)
    # shares sum to 1 in expectation: the drift multiplier has mean 1
    assert abs(long.rate.sum(axis=0).mean() - 1.0) < 0.15
    assert len(np.unique(np.round(long.cv, 6))) == 12, "every model has its own CV"


def test_stand_in_workload_rate_and_scales():
    spec = StandInSpec("maf1", alpha=0.0, cv_median=1.0, cv_sigma=0.0, drift_sigma=0.0, drift_phi=0.0)
    names = [f"m-{i}" for i in range(4)]
    slo = np.ones(4)
    w = stand_in_workload(spec, names, 40.0, 0.0, 600.0, np.random.default_rng(0), slo)
    assert abs(len(w) / 600.0 - 40.0) < 2.0
    w2 = stand_in_workload(spec, names, 40.0, 0.0, 600.0, np.random.default_rng(0), slo, rate_scale=2.0)
    assert abs(len(w2) / 600.0 - 80.0) < 3.0
    bursty = stand_in_workload(spec, names, 40.0, 0.0, 600.0, np.random.default_rng(1), slo, cv_scale=4.0)
    gaps = lambda wl: np.diff(wl.arrival_s[wl.model_id == 0])
    cv = lambda g: g.std() / g.mean()
    assert cv(gaps(w)) == pytest.approx(1.0, abs=0.15)
    assert cv(gaps(bursty)) > 2.5
    later = stand_in_workload(spec, names, 40.0, 1200.0, 60.0, np.random.default_rng(0), slo)
    assert later.arrival_s.min() >= 0 and later.arrival_s.max() < 60.0


def test_points_expand_every_sweep_with_unique_keys():
    for name, make in suites.SUITES.items():
        for quick in (False, True):
            suite = make(quick=quick)
            pts = suites.points(suite)
            per_base = sum(len(s.values) for s in suite.sweeps) * len(suite.policies)
            assert len(pts) == per_base * len(suite.base_cases), name
            assert len({p.key for p in pts}) == len(pts), name


def test_relative_device_sweep_rounds_to_whole_nodes():
    base = suites.Case("e2e", "S2", "maf1", 96, 10.0, 60.0)
    suite = suites.Suite("t", (base,), (suites.Sweep("num_devices", (0.25, 0.33, 2.0), relative=True),),
                         (suites.ALPASERVE,))
    assert [p.case.num_devices for p in suites.points(suite)] == [24, 32, 192]
    with pytest.raises(ValueError, match="not sweepable"):
        suites.Sweep("duration_s", (1.0,))


def test_filters_by_model_set_and_trace():
    pts = suites.points(suites.e2e_suite(), model_sets=["S3"], traces=["maf2"])
    assert pts and {(p.case.model_set, p.case.trace) for p in pts} == {("S3", "maf2")}


def test_results_file_with_other_columns_is_refused(tmp_path):
    bad = tmp_path / "x.tsv"
    bad.write_text("key\tpolicy\tattainment\n1\tp\t0.5\n")
    with pytest.raises(results.ResultsFileError, match="other columns"):
        results.read_rows(bad)
    other = tmp_path / "y.tsv"
    other.write_text("a\tb\n1\t2\n")
    with pytest.raises(results.ResultsFileError, match="not a results TSV"):
        results.read_rows(other)


def test_real_trace_files_replace_the_stand_in(tmp_path):
    """Tiny MAF1 and MAF2 files in the real formats: the case's traffic comes from them, scaled to
    the suite's total rate, and the evaluation draw differs from the training draw."""
    from builders import write_maf1_day, write_maf2

    from alpa_serve_like.osdi_artifact.workloads import REAL_TRACE_START_S, TraceSources, build_case

    rng = np.random.default_rng(0)
    start = REAL_TRACE_START_S["maf2"]
    rows = [(f"app{f}", "f", float(start + t + 0.01), 0.01)
            for f in range(60) for t in np.sort(rng.uniform(0, 120, 20 + f))]
    maf2 = write_maf2(tmp_path / "maf2.txt", rows)
    minute0 = int(REAL_TRACE_START_S["maf1"] // 60) + 1
    maf1_dir = tmp_path / "maf1"
    maf1_dir.mkdir()
    write_maf1_day(maf1_dir, 1, [(f"o{f}", "a", "f", "http", {minute0: 5 + f, minute0 + 1: 3 + f}) for f in range(60)])
    sources = TraceSources(str(maf1_dir), str(maf2), str(tmp_path / "cache"))
    for trace in ("maf1", "maf2"):
        case = suites.Case("t", "S1", trace, 16, 40.0, 120.0)
        _, models, _, train, test = build_case(case, sources)
        assert train.meta["source"].startswith(f"real {trace.upper()}")
        assert train.model_names == tuple(models)
        assert abs(len(train) / 120.0 - 40.0) < 8.0, "rate normalised to the case's total rate"
        assert not np.array_equal(train.arrival_s[:10], test.arrival_s[:10])
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 2, "raw files converted once to caches"


def test_resuming_counts_only_rows_of_the_same_rule_set_and_scoring(tmp_path):
    from alpa_serve_like.osdi_artifact.runner import run_points

    base = suites.Case("test", "S1", "maf1", 8, 40.0, 30.0)
    (pt,) = suites.points(suites.Suite("t", (base,), (suites.Sweep("num_devices", (8,)),), (suites.ALPASERVE,)))
    out = tmp_path / "r.tsv"
    with results.RowWriter(out) as w:  # a finished row: held-out, default rules
        w.write({"trace": "maf1", "rules": "default", "in_sample": 0, "trace_source": "synthetic stand-in for MAF1",
                 "key": pt.row_key("default", False, "synthetic stand-in for MAF1"), "attainment": "0.5"})
    src = "synthetic stand-in for MAF1"
    assert pt.row_key("default", False, src) not in (pt.row_key("alpaserve", False, src), pt.row_key("default", True, src))
    for rules, in_sample, said in (("alpaserve", False, "rules default held-out; this run is rules alpaserve held-out"),
                                   ("default", True, "rules default held-out; this run is rules default in-sample")):
        with pytest.raises(results.ResultsFileError, match=said):
            run_points([pt], str(out), jobs=1, progress=False, rules=rules, in_sample=in_sample)
    stats = run_points([pt], str(out), jobs=1, progress=False, rules="default")
    assert (stats["done_before"], stats["ran"]) == (1, 0)


def test_rows_of_another_trace_source_are_never_resumed_as_this_one(tmp_path):
    """A file computed on the MAF1 stand-in, rerun with --maf1-dir: its rows are not "already there"
    (the key names the source); the run is refused, naming both sources, rather than mixing them."""
    from alpa_serve_like.osdi_artifact.runner import run_points
    from alpa_serve_like.osdi_artifact.workloads import TraceSources

    base = suites.Case("test", "S1", "maf1", 8, 40.0, 30.0)
    (pt,) = suites.points(suites.Suite("t", (base,), (suites.Sweep("num_devices", (8,)),), (suites.ALPASERVE,)))
    standin, real = TraceSources(), TraceSources(maf1=str(tmp_path / "maf1"))
    assert pt.row_key("default", False, standin.source_of("maf1")) != pt.row_key("default", False, real.source_of("maf1"))
    out = tmp_path / "r.tsv"
    with results.RowWriter(out) as w:  # a finished stand-in row
        w.write({"trace": "maf1", "rules": "default", "in_sample": 0, "trace_source": standin.source_of("maf1"),
                 "key": pt.row_key("default", False, standin.source_of("maf1")), "attainment": "0.5"})
    with pytest.raises(results.ResultsFileError, match="1 row computed on synthetic stand-in for MAF1; this run "
                                                       "uses real MAF1"):
        run_points([pt], str(out), jobs=1, progress=False, sources=real)
    stats = run_points([pt], str(out), jobs=1, progress=False, sources=standin)
    assert (stats["done_before"], stats["ran"]) == (1, 0)


def test_rows_written_before_keys_named_their_source_resume_by_their_trace_source_column(tmp_path):
    from alpa_serve_like.osdi_artifact.runner import run_points

    base = suites.Case("test", "S1", "maf1", 8, 40.0, 30.0)
    (pt,) = suites.points(suites.Suite("t", (base,), (suites.Sweep("num_devices", (8,)),), (suites.ALPASERVE,)))
    out = tmp_path / "r.tsv"
    with results.RowWriter(out) as w:  # the old key: case, policy, rules, scoring
        w.write({"trace": "maf1", "rules": "default", "in_sample": 0, "trace_source": "synthetic stand-in for MAF1",
                 "key": f"{pt.key}|rules=default|in_sample=0", "attainment": "0.5"})
    stats = run_points([pt], str(out), jobs=1, progress=False)
    assert (stats["done_before"], stats["ran"]) == (1, 0)
    (row,) = results.read_rows(out)
    assert row["key"].endswith("|source=synthetic stand-in for MAF1")


def test_the_trace_cache_follows_the_trace_files(tmp_path):
    """Files of the --maf1-dir replaced (a fuller download): the cache of the old ones was used."""
    import os

    from builders import write_maf1_day

    from alpa_serve_like.osdi_artifact import workloads

    maf1 = tmp_path / "maf1"
    maf1.mkdir()
    minute0 = int(workloads.REAL_TRACE_START_S["maf1"] // 60) + 1
    path = write_maf1_day(maf1, 1, [(f"o{f}", "a", "f", "http", {minute0: 5}) for f in range(3)])
    cache = str(tmp_path / "cache")
    workloads._load_real.cache_clear()
    assert workloads._load_real("maf1", str(maf1), cache).num_functions == 3
    path = write_maf1_day(maf1, 1, [(f"o{f}", "a", "f", "http", {minute0: 5}) for f in range(5)])
    os.utime(path, ns=(1, 1))  # a size and time of its own, whatever the clock's resolution
    workloads._load_real.cache_clear()
    assert workloads._load_real("maf1", str(maf1), cache).num_functions == 5
    workloads._load_real.cache_clear()

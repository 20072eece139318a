"""The place / compare-policies commands: argument handling and errors for infeasible inputs."""
import pytest

from alpa_serve_like.cli.main import main
from alpa_serve_like.core.hardware import GiB
from alpa_serve_like.profiling.database import ProfilingDatabase
from builders import make_profile


@pytest.fixture
def tiny_db(tmp_path):
    db = ProfilingDatabase()
    db.add(make_profile("small", device="v100-16gb", weight_bytes=2 * GiB))
    db.add(make_profile("huge", device="v100-16gb", weight_bytes=80 * GiB))  # 20 GiB even on 4 stages
    path = tmp_path / "db.pkl"
    db.save(path)
    return path


def test_a_model_that_fits_nowhere_is_named_with_its_need_and_the_budget(tiny_db, tmp_path, capsys):
    code = main(["place", "--policy", "mp-search", "--cluster", "4", "--db", str(tiny_db),
                 "--models", "small:2,huge:1", "--out", str(tmp_path / "p.json")])
    err = capsys.readouterr().err
    assert code == 2
    assert "'huge-0' fits no group" in err and "20.00 GiB" in err and "13.00 GiB" in err
    assert not (tmp_path / "p.json").exists()


def test_unknown_model_and_policy_are_clear_errors(tiny_db, tmp_path, capsys):
    assert main(["place", "--policy", "mp-search", "--cluster", "4", "--db", str(tiny_db),
                 "--models", "bert-9b:2", "--out", str(tmp_path / "p.json")]) == 2
    assert "'bert-9b' is not in the profiling database (known: huge, small)" in capsys.readouterr().err
    assert main(["compare-policies", "--policies", "mp-search,nope", "--cluster", "4", "--db", str(tiny_db),
                 "--models", "small:2", "--workload", str(tmp_path / "missing.npz")]) == 2
    assert "unknown placement policy 'nope'" in capsys.readouterr().err

"""``serve``'s HTTP options are checked before Ray starts: a bad --request-timeout-s was refused
only after ``ray.init`` (leaving a Ray started for nothing), and a --port outside 1-65535 was not
refused at all. (Unit tests cannot start Ray: reaching ``ray.init`` fails the test.)"""
from __future__ import annotations

from pathlib import Path

import pytest

from alpa_serve_like.cli.main import main

PLAN = str(Path(__file__).resolve().parents[2] / "examples" / "placement_tiny.json")


@pytest.mark.parametrize("flags, named", [(["--request-timeout-s", "0"], "--request-timeout-s"),
                                          (["--keep-alive-timeout-s", "0"], "--keep-alive-timeout-s"),
                                          (["--port", "70000"], "--port"), (["--port", "0"], "--port")])
def test_bad_http_option_is_refused_before_ray_starts(flags, named):
    with pytest.raises(SystemExit, match=named):
        main(["serve", "--placement", PLAN, *flags])

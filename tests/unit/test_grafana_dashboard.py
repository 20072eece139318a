"""The sample Grafana dashboard queries only metrics the runtime exports, under their exported names."""
import json
import re
import types
from pathlib import Path

from alpa_serve_like.runtime import metrics as metrics_module

DASHBOARD = Path(__file__).resolve().parents[2] / "configs" / "grafana_dashboard.json"


class _Named:
    def __init__(self, name, description="", tag_keys=(), boundaries=None):
        self.name = name

    def set(self, value, tags): ...


def _exported_names(monkeypatch) -> set[str]:
    """Prometheus names as Ray exports them: ``ray_`` prefix, counters ``_total``, histograms ``_bucket``."""
    kinds = {}

    def factory(kind):
        def make(name, **kwargs):
            kinds[name] = kind
            return _Named(name, **kwargs)
        return make

    fake = types.SimpleNamespace(Counter=factory("counter"), Gauge=factory("gauge"), Histogram=factory("histogram"))
    monkeypatch.setattr(metrics_module, "metrics", fake)
    metrics_module.ServeMetrics(1)
    suffix = {"counter": ["_total"], "gauge": [""], "histogram": ["_bucket", "_sum", "_count"]}
    return {f"ray_{name}{s}" for name, kind in kinds.items() for s in suffix[kind]}


def test_every_query_names_an_exported_metric_and_every_metric_has_a_panel(monkeypatch):
    exported = _exported_names(monkeypatch)
    dashboard = json.loads(DASHBOARD.read_text())
    queried = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            queried |= set(re.findall(r"ray_alpa_serve_like_\w+", target["expr"]))
    assert queried <= exported, queried - exported
    bases = {re.sub(r"_(bucket|sum|count)$", "", n) for n in queried}
    assert bases == {re.sub(r"_(bucket|sum|count)$", "", n) for n in exported}

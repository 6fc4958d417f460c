"""Every Prometheus metric Pulse defines is documented in docs/metrics.md, the page names none
the code no longer has, and the Grafana dashboard asks only for metrics that exist.

The code's metrics are read from its source: every call of ``counter``/``gauge``/``histogram``
(``pulse_runtime.telemetry``) or of prometheus_client's ``Counter``/``Gauge``/``Histogram`` whose
first argument is a literal ``pulse_*`` name. A metric named any other way would escape this
test, so that is refused too.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "libs" / "src", *sorted((ROOT / "services").glob("*/src"))]
METRICS_PAGE = ROOT / "docs" / "metrics.md"
DASHBOARD = ROOT / "deploy" / "grafana" / "pulse.json"
MAKERS = {"counter", "gauge", "histogram", "Counter", "Gauge", "Histogram"}
FASTSTREAM = re.compile(r"\bfaststream_[a-z_]+\b")
SERIES_SUFFIXES = ("_bucket", "_sum", "_count", "_created")


def _maker_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def defined_metrics() -> dict[str, Path]:
    """Each metric name the code defines, with the file that defines it."""
    found: dict[str, Path] = {}
    unnamed: list[str] = []
    for source in SOURCES:
        for path in sorted(source.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call) or _maker_name(node) not in MAKERS:
                    continue
                literals = [
                    arg.value
                    for arg in node.args
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                ]
                if literals and literals[0].startswith("pulse_"):
                    found[literals[0]] = path
                elif _maker_name(node) in {"counter", "gauge", "histogram"}:
                    unnamed.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not unnamed, f"metrics without a literal pulse_* name: {unnamed}"
    return found


def documented_metrics() -> set[str]:
    text = METRICS_PAGE.read_text(encoding="utf-8")
    return set(re.findall(r"^\| `(pulse_[a-z0-9_]+)` \|", text, flags=re.MULTILINE))


def test_the_scan_sees_the_metrics_of_every_layer() -> None:
    """A scan that found nothing would make the other tests pass on nothing."""
    defined = defined_metrics()
    for prefix in ("pulse_audit_", "pulse_gateway_", "pulse_ingest_", "pulse_persistence_"):
        assert any(name.startswith(prefix) for name in defined), prefix


def test_every_metric_is_documented() -> None:
    missing = sorted(set(defined_metrics()) - documented_metrics())
    assert not missing, f"add these to docs/metrics.md: {missing}"


def test_the_page_documents_no_metric_the_code_lacks() -> None:
    stale = sorted(documented_metrics() - set(defined_metrics()))
    assert not stale, f"docs/metrics.md names metrics the code no longer defines: {stale}"


def _panels(dashboard: dict[str, object]) -> list[dict[str, object]]:
    panels: list[dict[str, object]] = []
    top = dashboard.get("panels", [])
    assert isinstance(top, list)
    for panel in top:
        assert isinstance(panel, dict)
        panels.append(panel)
        panels.extend(p for p in panel.get("panels", []) if isinstance(p, dict))
    return panels


def test_the_grafana_dashboard_asks_for_documented_metrics_only() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    known = documented_metrics()
    graphs = [panel for panel in _panels(dashboard) if panel.get("type") != "row"]
    assert len(graphs) >= 10
    asked: set[str] = set()
    for panel in graphs:
        targets = panel.get("targets")
        assert isinstance(targets, list), panel.get("title")
        assert targets, panel.get("title")
        for target in targets:
            expr = target["expr"]
            assert expr.strip(), panel.get("title")
            for name in re.findall(r"\bpulse_[a-z0-9_]+\b", expr):
                base = next(
                    (name.removesuffix(s) for s in SERIES_SUFFIXES if name.endswith(s)), name
                )
                assert name in known or base in known, (panel.get("title"), name)
                asked.add(base if base in known else name)
            asked.update(FASTSTREAM.findall(expr))
    # The five: ingest rate, persistence lag, sockets, request latency, dropped records.
    for needed in (
        "pulse_ingest_points_accepted_total",
        "pulse_persistence_lag_seconds",
        "pulse_gateway_ws_sockets",
        "pulse_http_request_duration_seconds",
        "pulse_audit_records_dropped_total",
    ):
        assert needed in asked, needed

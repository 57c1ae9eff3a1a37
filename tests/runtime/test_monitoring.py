"""monitoring/: the Grafana dashboard and the Prometheus rules that ship with the daemon.

promtool (Debian's prometheus package, unpacked by ``scripts/ensure-promtool``)
checks the rules, runs their unit tests, and lints a real scrape of a running
daemon; every metric the dashboard and the rules query must be one that scrape
exports.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator

import pytest
import yaml
from tests.helpers.daemon_process import REPO, DaemonProcess
from tests.helpers.environment import free_port
from tests.helpers.admin_api import drop_namespace, module_env

MONITORING = REPO / "monitoring"
DASHBOARD = MONITORING / "grafana" / "theset-daemon.json"
RULES = MONITORING / "prometheus" / "theset-daemon.rules.yml"
RULE_TESTS = MONITORING / "prometheus" / "theset-daemon.rules.test.yml"

#: Series Prometheus makes itself, not the daemon.
PROMETHEUS_SERIES = {"up"}

_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
             "offset", "inf", "nan", "le"}


def promtool() -> str:
    found = shutil.which("promtool") or (str(REPO / ".tools/bin/promtool")
                                         if (REPO / ".tools/bin/promtool").exists() else None)
    if found is None:
        pytest.skip("promtool missing (scripts/ensure-promtool unpacks it from Debian's prometheus package)")
    return found


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (roughly: identifiers that are not functions,
    keywords, label names, label values, durations or Grafana variables)."""
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)  # label values and strings
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\$\{?\w+\}?", " ", text)  # Grafana variables
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        rest = text[match.end():].lstrip()
        name = match.group()
        if rest.startswith("(") or name.lower() in _KEYWORDS:
            continue
        if re.fullmatch(r"\d+[smhdwy]", name):
            continue
        names.add(name)
    return names


def dashboard_exprs(board: dict) -> list[str]:
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    for var in board["templating"]["list"]:
        if var["type"] == "query":
            query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            exprs.append(re.sub(r"^label_values\((.*),\s*\w+\)$", r"\1", query))
    return exprs


def rule_exprs() -> list[str]:
    return [r["expr"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def test_metric_names_parses_promql_roughly():
    assert metric_names('histogram_quantile(0.95, sum by (le, queue) (rate(a_bucket{queue=~"$queue", x="y z"}[5m])))') \
        == {"a_bucket"}
    assert metric_names("(max by (queue) (b{state=\"waiting\"}) > 0) unless on (queue) (c == 1)") == {"b", "c"}
    assert metric_names("min by (provider) (d{job=~\"$job\"}) - time()") == {"d"}


def test_the_rules_pass_promtool_check_and_their_unit_tests():
    tool = promtool()
    checked = subprocess.run([tool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run([tool, "test", "rules", str(RULE_TESTS)], capture_output=True, text=True, check=False,
                            cwd=RULE_TESTS.parent)
    assert tested.returncode == 0 and "SUCCESS" in tested.stdout, tested.stdout + tested.stderr
    alerts = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}
    tested_alerts = {t["alertname"] for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]
                     for t in case["alert_rule_test"]}
    assert alerts == tested_alerts, "every alert has a promtool unit test"


def test_the_dashboard_has_grafanas_essentials():
    board = json.loads(DASHBOARD.read_text())
    assert board["uid"] == "theset-daemon" and board["title"] and isinstance(board["schemaVersion"], int)
    assert board["schemaVersion"] >= 36
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    ids, cells = set(), set()
    for panel in board["panels"]:
        assert panel["id"] not in ids and isinstance(panel["id"], int)
        ids.add(panel["id"])
        grid = panel["gridPos"]
        assert all(isinstance(grid[k], int) for k in ("h", "w", "x", "y")) and grid["x"] + grid["w"] <= 24
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"panel {panel['title']!r} overlaps another"
                cells.add((x, y))
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"} and panel["title"]
        assert panel["targets"] and len({t["refId"] for t in panel["targets"]}) == len(panel["targets"])
        for target in panel["targets"]:
            assert target["expr"].strip()
            used = set(re.findall(r"\$\{?(\w+)", target["expr"]))
            assert used <= set(variables), (panel["title"], used)
    sections = [p["title"] for p in board["panels"] if p["type"] == "row"]
    assert sections == ["Queues", "Imports", "Providers", "Daemons"]
    assert "max()" in board["panels"][0]["description"], "the cluster-gauge rule is documented on the dashboard"


@pytest.fixture(scope="module")
def scrapes(redis_url, database_url) -> Iterator[list[str]]:
    """One real scrape of each of two daemons sharing a namespace, one after the other (fresh daemons:
    labelled series without samples show as families only)."""
    env, namespace = module_env(redis_url, database_url)
    daemons = [DaemonProcess({**env, "THESET_HOST_ID": "mon-a"}),
               DaemonProcess({**env, "THESET_HOST_ID": "mon-b", "THESET_HTTP_PORT": str(free_port())})]
    try:
        for daemon in daemons:
            daemon.start()
        texts = []
        for daemon in daemons:
            daemon.wait_ready()
            with urllib.request.urlopen(f"{daemon.url}/metrics", timeout=10) as reply:
                texts.append(reply.read().decode())
        yield texts
    finally:
        for daemon in daemons:
            daemon.stop()
        drop_namespace(redis_url, namespace)


@pytest.fixture(scope="module")
def scrape(scrapes) -> str:
    return scrapes[0]


def exported(scrape_text: str) -> set[str]:
    """The sample names the scrape's families may have (a family with no sample yet counts too)."""
    names = set()
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count", ""),
                "gauge": ("",), "untyped": ("",), "info": ("_info",)}
    for family, kind in re.findall(r"^# TYPE (\S+) (\S+)$", scrape_text, re.M):
        family = family.removesuffix("_total") if kind == "counter" else family  # the text format's counter TYPE
        names |= {family + s for s in suffixes[kind]}
    return names


def test_a_real_scrape_passes_promtool_check_metrics(scrape):
    checked = subprocess.run([promtool(), "check", "metrics"], input=scrape, capture_output=True, text=True,
                             check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "_created" not in scrape, "prometheus_client's *_created series are off"
    assert "theset_provider_429" not in scrape, "429s are theset_provider_requests_total{status=\"429\"}"
    for family in ("theset_job_queue_wait_seconds", "theset_queue_served", "theset_cluster_metrics_leader",
                   "theset_daemon_ready", "theset_event_loop_lag_max_seconds", "process_resident_memory_bytes"):
        assert f"# TYPE {family} " in scrape, family
    assert re.search(r'^theset_queue_served\{queue="artist_import"\} 1\.0$', scrape, re.M)
    assert re.search(r"^theset_daemon_ready 1\.0$", scrape, re.M)


def test_the_cluster_gauges_come_from_one_daemon_only(scrapes):
    leader, other = scrapes
    assert re.search(r"^theset_cluster_metrics_leader 1\.0$", leader, re.M)
    assert re.search(r"^theset_cluster_metrics_leader 0\.0$", other, re.M)
    for family in ("theset_queue_depth", "theset_queue_waiting", "theset_queue_oldest_active_seconds",
                   "theset_redis_memory_bytes", "theset_provider_quota_used", "theset_provider_quota_limit"):
        assert re.search(rf"^{family}\{{", leader, re.M), family
        assert not re.search(rf"^{family}\{{", other, re.M), f"{family} exported twice"
    for family in ("theset_queue_served", "theset_jobs_in_progress"):  # per daemon: both export it
        assert re.search(rf"^{family}\{{", leader, re.M) and re.search(rf"^{family}\{{", other, re.M)


def test_every_metric_the_dashboard_and_rules_query_is_exported(scrape):
    board = json.loads(DASHBOARD.read_text())
    queried = set().union(*(metric_names(e) for e in dashboard_exprs(board) + rule_exprs()))
    assert {"theset_queue_depth", "theset_job_queue_wait_seconds_bucket", "up"} <= queried
    missing = queried - exported(scrape) - PROMETHEUS_SERIES
    assert not missing, f"queried but not exported by the daemon: {sorted(missing)}"

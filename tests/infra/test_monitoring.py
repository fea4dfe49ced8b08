"""infra/app/monitoring.bicep checked without bicep: the alert rules exist with their thresholds and notify
the action group, and each rule reads what the app really writes (its log lines, its functions' names, its
metrics), checked against the code; the workbook's queries too; docs/operations.md has a runbook entry per
alert."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys

import pytest

from shared.platform import metrics
from tests.infra.test_infra import INFRA, MAIN, ROOT, block, literal, module_body, parameters_file, params_of
from tests.recorded_metrics import Recorded, reader

MONITORING = INFRA / "app" / "monitoring.bicep"
QUERIES = INFRA / "app" / "monitoring"
RUNBOOK = ROOT / "docs" / "operations.md"
LOG_ALERTS = {"renewals-failing", "schedules-failing", "health-failing"}
METRIC_ALERTS = {"schedule-failed-for-good", "watch-disabled", "graph-throttled"}
ALERTS = LOG_ALERTS | METRIC_ALERTS
KQL_STRING = r'"((?:[^"\\]|\\.)*)"'


def log_alerts() -> dict[str, dict[str, str]]:
    """The entries of `var logAlerts = [...]`, each as {property: Bicep expression}."""
    return alert_entries("logAlerts")


def metric_alerts() -> dict[str, dict[str, str]]:
    """The entries of `var metricAlerts = [...]`, each as {property: Bicep expression}."""
    return alert_entries("metricAlerts")


def metric_names() -> dict[str, str]:
    """The metrics shared/platform/metrics.py creates: name -> counter or histogram."""
    source = (ROOT / "shared" / "platform" / "metrics.py").read_text()
    return {name: kind for kind, name in re.findall(r'create_(counter|histogram)\(\s*"([^"]+)"', source)}


def alert_entries(variable: str) -> dict[str, dict[str, str]]:
    text = MONITORING.read_text()
    body = block(text, text.index(f"var {variable} = ["))
    entries = re.findall(r"^  \{\n(.*?)^  \}", body, re.M | re.S)
    return {
        (props := dict(re.findall(r"^    (\w+): (.+)$", entry, re.M)))["name"].strip("'"): props
        for entry in entries
    }


def query_of(alert: dict[str, str]) -> str:
    m = re.fullmatch(r"loadTextContent\('(monitoring/[\w-]+\.kql)'\)", alert["query"])
    assert m, alert["query"]
    return (INFRA / "app" / m[1]).read_text()


def workbook_queries() -> list[str]:
    data = json.loads((QUERIES / "workbook.json").read_text())
    assert data["version"] == "Notebook/1.0"
    return [item["content"]["query"] for item in data["items"] if item["type"] == 3]


def function_names() -> set[str]:
    """The functions the app registers, as the host names them (requests.name, operation_Name)."""
    code = "import function_app; print(*(f.get_function_name() for f in function_app.app.get_functions()))"
    env = {**os.environ, "TABLES_CONNECTION_STRING": "UseDevelopmentStorage=true", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return set(out.stdout.split())


def log_formats() -> set[str]:
    """Every format string the deployed code passes to a logger."""
    found = set()
    for path in [*(ROOT / "shared").rglob("*.py"), *(ROOT / "functions").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"debug", "info", "warning", "error", "exception", "critical"}
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value)
    return found


def names_compared(query: str) -> set[str]:
    """Function names a query filters on: `name == "x"`, `operation_Name == "x"`, `name in ("x", ...)`."""
    names = set(re.findall(rf"\b(?:name|operation_Name) == {KQL_STRING}", query))
    for group in re.findall(r"\bname in \(([^)]*)\)", query):
        names |= set(re.findall(KQL_STRING, group))
    return names


def message_prefixes(query: str) -> set[str]:
    return set(re.findall(rf"\bmessage startswith {KQL_STRING}", query))


# ---- the rules ---------------------------------------------------------------------------------------


def test_every_alert_the_issue_names_is_a_rule():
    assert set(log_alerts()) == LOG_ALERTS
    assert set(metric_alerts()) == METRIC_ALERTS
    text = MONITORING.read_text()
    assert "resource logAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [" in text
    assert "for alert in logAlerts:" in text
    assert "resource metricAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = [" in text
    assert "for alert in metricAlerts:" in text


@pytest.mark.parametrize("name", sorted(LOG_ALERTS))
def test_each_rule_sums_its_events_and_has_a_window_and_threshold(name):
    alert = log_alerts()[name]
    query = query_of(alert)
    # sampling keeps one record for itemCount of them: sum them, never count rows
    assert query.rstrip().endswith("| summarize events = sum(itemCount)")
    assert re.fullmatch(r"'PT\d+[MH]'", alert["windowSize"])
    assert re.fullmatch(r"'PT\d+M'", alert["evaluationFrequency"])
    assert int(alert["severity"]) in range(0, 5)
    assert alert["threshold"].isdigit() or alert["threshold"] == "graphThrottleAlertThreshold"


def test_the_rules_measure_events_and_notify_the_action_group():
    rule = block(MONITORING.read_text(), MONITORING.read_text().index("resource logAlert "))
    assert "kind: 'LogAlert'" in rule
    assert "timeAggregation: 'Total'" in rule
    assert "metricMeasureColumn: 'events'" in rule
    assert "operator: 'GreaterThanOrEqual'" in rule
    assert "threshold: alert.threshold" in rule
    assert re.search(r"scopes: \[\s*applicationInsights\.id\s*\]", rule)
    assert re.search(r"actionGroups: \[\s*actionGroup\.id\s*\]", rule)
    assert "autoMitigate: true" in rule


@pytest.mark.parametrize("name", sorted(METRIC_ALERTS))
def test_each_metric_rule_totals_a_counter_the_app_creates(name):
    alert = metric_alerts()[name]
    metric = alert["metric"].strip("'")
    assert metric_names().get(metric) == "counter", metric
    assert re.fullmatch(r"'PT(1|5|15|30)M'|'PT1H'", alert["evaluationFrequency"])
    assert re.fullmatch(r"'PT(1|5|15|30)M'|'PT(1|6|12|24)H'", alert["windowSize"])
    assert int(alert["severity"]) in range(0, 5)
    assert alert["threshold"].isdigit() or alert["threshold"] == "graphThrottleAlertThreshold"


def test_the_metric_rules_read_application_insights_custom_metrics_and_notify_the_action_group():
    text = MONITORING.read_text()
    rule = block(text, text.index("resource metricAlert "))
    assert "'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'" in rule
    assert "metricNamespace: 'azure.applicationinsights'" in rule
    assert "metricName: alert.metric" in rule
    assert "timeAggregation: 'Total'" in rule
    assert "operator: 'GreaterThanOrEqual'" in rule
    assert "threshold: alert.threshold" in rule
    assert "skipMetricValidation: true" in rule  # the metric exists once the app has sent it
    assert re.search(r"scopes: \[\s*applicationInsights\.id\s*\]", rule)
    assert "actionGroupId: actionGroup.id" in rule
    assert "autoMitigate: true" in rule


def rule_metric(name: str) -> str:
    return metric_alerts()[name]["metric"].strip("'")


@pytest.mark.parametrize(
    ("name", "fires", "does_not"),
    [
        (
            "graph-throttled",
            lambda: metrics.graph_call("setPresence", "429"),
            lambda: metrics.graph_call("setPresence", "503"),
        ),
        (
            "schedule-failed-for-good",
            lambda: metrics.schedule_failed("start", "graphError", for_good=True),
            lambda: metrics.schedule_failed("start", "graphError", for_good=False),
        ),
        ("watch-disabled", metrics.watch_disabled, lambda: metrics.watch_delivery("failed")),
    ],
)
def test_each_metric_rule_moves_with_its_event_only(name, fires, does_not):
    reader()
    recorded = Recorded()
    does_not()
    assert recorded.total(rule_metric(name)) == 0
    fires()
    assert recorded.total(rule_metric(name)) == 1


def test_the_action_group_mails_the_given_address_only_when_there_is_one():
    text = MONITORING.read_text()
    group = block(text, text.index("resource actionGroup "))
    assert "location: 'Global'" in group
    assert len(re.search(r"groupShortName: '([^']*)'", group)[1]) <= 12  # Azure's limit
    assert re.search(r"emailReceivers: empty\(alertEmail\)\s*\? \[\]", group)
    assert "emailAddress: alertEmail" in group
    assert "alertEmail: alertEmail" in module_body(MAIN, "alerts")
    assert parameters_file()["alertEmail"]["value"] == "${ALERT_EMAIL}"
    assert literal(params_of(MAIN)["alertEmail"].default) == ""


def test_the_throttling_threshold_is_a_parameter():
    assert parameters_file()["graphThrottleAlertThreshold"]["value"] == "${GRAPH_THROTTLE_ALERT_THRESHOLD=10}"
    assert metric_alerts()["graph-throttled"]["threshold"] == "graphThrottleAlertThreshold"
    assert "graphThrottleAlertThreshold: graphThrottleAlertThreshold" in module_body(MAIN, "alerts")


def test_health_is_tested_from_outside_and_alerts_when_two_regions_fail():
    text = MONITORING.read_text()
    webtest = block(text, text.index("resource healthTest "))
    assert "kind: 'standard'" in webtest
    assert "'hidden-link:${applicationInsights.id}': 'Resource'" in webtest
    assert "RequestUrl: healthUrl" in webtest
    assert "ExpectedHttpStatusCode: 200" in webtest
    assert len(re.findall(r"\{ Id: '[a-z0-9-]+-azr' \}", webtest)) == 5
    assert "healthUrl: '${api.outputs.SERVICE_API_URI}/api/health'" in module_body(MAIN, "alerts")
    alert = block(text, text.index("resource healthAvailabilityAlert "))
    assert "'odata.type': 'Microsoft.Azure.Monitor.WebtestLocationAvailabilityCriteria'" in alert
    assert "webTestId: healthTest.id" in alert
    assert "failedLocationCount: 2" in alert
    assert "actionGroupId: actionGroup.id" in alert


# ---- the queries read what the app writes ----------------------------------------------------------


@pytest.fixture(scope="module")
def functions() -> set[str]:
    names = function_names()
    assert {"health", "renew_sessions", "apply_schedules", "poll_watches", "purge_history"} <= names
    return names


def test_the_queries_name_functions_the_app_registers(functions):
    logs = [q for q in workbook_queries() if not q.startswith("customMetrics")]  # there `name` is a metric's
    queries = [query_of(alert) for alert in log_alerts().values()] + logs
    named = set().union(*(names_compared(q) for q in queries))
    assert named
    assert named - functions == set()
    assert names_compared(query_of(log_alerts()["renewals-failing"])) == {"renew_sessions"}
    assert names_compared(query_of(log_alerts()["schedules-failing"])) == {"apply_schedules"}
    assert names_compared(query_of(log_alerts()["health-failing"])) == {"health"}


def renderings(fmt: str, prefix: str) -> set[str]:
    """`fmt` with every placeholder filled by one of the prefix's words (or a number): whatever line a
    filter that runs into a value (e.g. "Graph answered 429 ") could be the start of."""
    candidates = {*prefix.split(), "7"}
    return {re.sub(r"%[-#0 +]*\d*(?:\.\d+)?[sdfr]", lambda _m, c=c: c, fmt) for c in candidates}


def test_the_message_filters_are_the_starts_of_lines_the_app_logs():
    formats = log_formats()
    queries = [query_of(alert) for alert in log_alerts().values()] + workbook_queries()
    prefixes = set().union(*(message_prefixes(q) for q in queries))
    for prefix in prefixes:
        assert any(line.startswith(prefix) for fmt in formats for line in renderings(fmt, prefix)), prefix


def test_the_workbook_reads_metrics_the_app_creates_by_their_attributes():
    queries = [q for q in workbook_queries() if q.startswith("customMetrics")]
    assert len(queries) >= 5
    source = (ROOT / "shared" / "platform" / "metrics.py").read_text()
    for query in queries:
        named = set(re.findall(rf"\bname == {KQL_STRING}", query))
        for group in re.findall(r"\bname in \(([^)]*)\)", query):
            named |= set(re.findall(KQL_STRING, group))
        assert named, query
        assert named <= set(metric_names()), named - set(metric_names())
        for dimension in re.findall(r"customDimensions\.(\w+)", query):
            assert f'"{dimension}"' in source, dimension  # an attribute the app records


def test_the_workbook_reads_the_timers_summary_lines():
    timers = (ROOT / "functions" / "timers.py").read_text()
    lines = [fmt.replace("%d", "7") for fmt in log_formats() if fmt.split(":")[0] in timers and "%d" in fmt]
    [timer_query] = [q for q in workbook_queries() if "holds acted on" in q]
    regex = re.search(r'matches regex @"([^"]+)"', timer_query)[1]
    matched = {line.split(":")[0] for line in lines if re.match(regex, line)}
    assert matched == {"renew_sessions", "apply_schedules"}
    [watch_query] = [q for q in workbook_queries() if "delivered" in q]
    poll = next(line for line in lines if line.startswith("poll_watches: 7 watches"))
    for pattern in re.findall(r'@"([^"]+)"', watch_query):
        assert re.search(pattern, poll), pattern


# ---- the runbook -----------------------------------------------------------------------------------


def test_the_runbook_says_what_each_alert_means_and_what_to_do():
    text = RUNBOOK.read_text()
    for name in [*sorted(ALERTS)]:
        section = re.search(rf"^### `{name}`.*?(?=^### |\Z)", text, re.M | re.S)
        assert section, f"docs/operations.md: no section for {name}"
        assert "**What it means**" in section[0]
        assert "**What to do**" in section[0]
    assert "docs/operations.md" in MONITORING.read_text()

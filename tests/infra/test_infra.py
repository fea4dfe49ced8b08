"""The `azd up` template (infra/, azure.yaml, .funcignore) checked without bicep, which this machine cannot
run (no registry it reaches ships the Bicep CLI): parameters against declarations, app settings against
what shared/platform/config.py reads, role ids against the documented built-in roles, local modules' params
and outputs against their callers, and what gets deployed against what the app imports."""

from __future__ import annotations

import ast
import fnmatch
import json
import re
import sys
from dataclasses import dataclass, field
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from shared.api.operations import CATALOG
from shared.platform.config import Settings

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MAIN = INFRA / "main.bicep"
API = INFRA / "app" / "api.bicep"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))

# Azure built-in roles, name -> id, as listed in "Azure built-in roles"
# (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles, Storage and Monitor).
BUILT_IN_ROLES = {
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Storage Table Data Contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "Monitoring Metrics Publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
}

# Settings the code reads that the template deliberately leaves unset.
NOT_SET = {
    "GRAPH_BASE_URL",  # the default (https://graph.microsoft.com/v1.0) is the real Graph
    "TABLES_CONNECTION_STRING",  # no keys: TABLES_ENDPOINT with the managed identity instead
    "WEBSITE_AUTH_ENABLED",  # App Service sets it when its Authentication is on
    "SDK_LOG_LEVEL",  # WARNING by default; set in the portal only while debugging
    "METRICS_CONSOLE",  # the local stack's console exporter; Azure has Application Insights
    "WEBSITE_HOSTNAME",  # App Service sets it: the app's own public host name
}

# Settings the template sets for the Functions host and Application Insights, not for the code.
HOST_SETTINGS = {
    "AzureWebJobsStorage__blobServiceUri",  # identity-based host storage: blobs only (timer leases, keys)
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",  # ... with the user-assigned identity
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",  # Entra auth to App Insights (local auth is off)
}

# AVM modules, pinned to the versions the Azure-Samples Flex Consumption quickstarts pin.
AVM_PINS = {
    "avm/res/web/serverfarm": "0.1.1",
    "avm/res/web/site": "0.15.1",
    "avm/res/storage/storage-account": "0.8.3",
    "avm/res/operational-insights/workspace": "0.7.0",
    "avm/res/insights/component": "0.4.1",
    "avm/res/managed-identity/user-assigned-identity": "0.4.1",
}

# What the Function App needs at run time; everything else at the root must be in .funcignore.
DEPLOYED = {"function_app.py", "functions", "shared", "host.json", "requirements.txt"}
DEV_TOOLS = {"pytest", "pytest-asyncio", "hypothesis", "ruff", "mypy", "black", "coverage", "pytest-cov"}

GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
PARAM = re.compile(r"^param\s+(\w+)\s+(\w+)(?:\s*=\s*(.+?))?\s*$")
OBJECT_KEY = re.compile(r"^\s*(\w+)\s*:")
AZD_VAR = re.compile(r"^\$\{([A-Z_][A-Z0-9_]*)(?:=([^}]*))?\}$")


@dataclass
class Param:
    name: str
    type: str
    default: str | None  # the Bicep expression, or None when the parameter is required
    bounds: dict[str, int] = field(default_factory=dict)  # minValue, maxValue, minLength, maxLength


def code_of(line: str) -> str:
    """The line without its // comment (a // inside a '...' string is not one)."""
    in_string = False
    for i, ch in enumerate(line):
        if ch == "'":
            in_string = not in_string
        elif not in_string and line.startswith("//", i):
            return line[:i].rstrip()
    return line.rstrip()


def params_of(path: Path) -> dict[str, Param]:
    found: dict[str, Param] = {}
    bounds: dict[str, int] = {}
    for line in path.read_text().splitlines():
        if m := re.match(r"^@(minValue|maxValue|minLength|maxLength)\((-?\d+)\)", line):
            bounds[m[1]] = int(m[2])
        elif m := PARAM.match(code_of(line)):
            found[m[1]] = Param(m[1], m[2], m[3], bounds)
            bounds = {}
    return found


def literal(expression: str | None) -> object:
    """A Bicep literal default as Python: 'text', 12, true/false; anything else stays an expression."""
    if expression is None:
        return None
    if re.fullmatch(r"'[^']*'", expression):
        return expression[1:-1]
    if re.fullmatch(r"-?\d+", expression):
        return int(expression)
    if expression in {"true", "false"}:
        return expression == "true"
    return expression


def outputs_of(path: Path) -> set[str]:
    return set(re.findall(r"^output\s+(\w+)\s", path.read_text(), re.MULTILINE))


def block_span(text: str, start: int) -> tuple[int, int]:
    """Where the `{ ... }` or `[ ... ]` opening at or after `start` begins and ends (brackets in '...'
    strings skipped)."""
    open_at = re.compile(r"[{\[]").search(text, start).start()
    depth, i, in_string = 0, open_at, False
    while i < len(text):
        ch = text[i]
        if in_string:
            if ch == "\\":
                i += 1
            elif ch == "'":
                in_string = False
        elif ch == "'":
            in_string = True
        elif ch in "{[(":
            depth += 1
        elif ch in "}])":
            depth -= 1
            if depth == 0:
                return open_at, i
        i += 1
    raise AssertionError(f"unbalanced brackets after offset {start}")


def block(text: str, start: int) -> str:
    """The text inside the `{ ... }` or `[ ... ]` opening at or after `start`."""
    open_at, close_at = block_span(text, start)
    return text[open_at + 1 : close_at]


def top_level_keys(body: str) -> set[str]:
    """Keys of an object literal's body, not of the objects nested in it."""
    keys: set[str] = set()
    depth = 0
    for line in body.splitlines():
        if depth == 0 and (m := OBJECT_KEY.match(line)):
            keys.add(m[1])
        code = re.sub(r"'(?:\\.|[^'\\])*'", "''", code_of(line))
        depth += sum(code.count(c) for c in "{[(") - sum(code.count(c) for c in "}])")
    return keys


def is_app_setting(key: str) -> bool:
    return bool(re.fullmatch(r"[A-Z][A-Z0-9_]*", key)) or "__" in key or key.startswith("AzureWebJobs")


def template_app_settings() -> set[str]:
    keys = set()
    for path in BICEP_FILES:
        for line in path.read_text().splitlines():
            if (m := OBJECT_KEY.match(line)) and is_app_setting(m[1]):
                keys.add(m[1])
    return keys


def code_settings() -> set[str]:
    return {f.alias for f in Settings.model_fields.values() if f.alias}


# ---- main.parameters.json ------------------------------------------------------------------------


def parameters_file() -> dict[str, dict[str, object]]:
    data = json.loads((INFRA / "main.parameters.json").read_text())
    assert data["$schema"].endswith("/deploymentParameters.json#")
    assert data["contentVersion"] == "1.0.0.0"
    assert set(data) == {"$schema", "contentVersion", "parameters"}
    return data["parameters"]


def test_parameters_file_follows_the_deployment_parameters_schema():
    params = parameters_file()
    assert params
    for name, entry in params.items():
        assert set(entry) == {"value"}, name
        value = entry["value"]
        if isinstance(value, str) and "${" in value:
            assert AZD_VAR.match(value), f"{name}: {value} is not an azd ${{VAR}} or ${{VAR=default}}"


def test_every_parameter_set_is_declared_and_every_required_one_is_set():
    declared = params_of(MAIN)
    given = parameters_file()
    assert set(given) - set(declared) == set()
    required = {name for name, p in declared.items() if p.default is None}
    assert required == {"environmentName", "location"}
    assert required - set(given) == set()
    assert given["environmentName"]["value"] == "${AZURE_ENV_NAME}"
    assert given["location"]["value"] == "${AZURE_LOCATION}"


def test_azd_defaults_in_the_parameters_file_are_the_bicep_defaults():
    declared = params_of(MAIN)
    for name, entry in parameters_file().items():
        m = AZD_VAR.match(str(entry["value"]))
        if m and m[2] is not None:
            default = literal(declared[name].default)
            expected = str(default).lower() if isinstance(default, bool) else str(default)
            assert m[2] == expected, name


# ---- app settings ----------------------------------------------------------------------------------


def test_the_allow_lists_name_settings_that_exist():
    assert code_settings() >= NOT_SET
    assert not (code_settings() & HOST_SETTINGS)


def test_every_setting_the_code_reads_is_set_by_the_template():
    missing = code_settings() - NOT_SET - template_app_settings()
    assert missing == set(), f"set these in infra/ or explain them in NOT_SET: {sorted(missing)}"
    assert template_app_settings() & NOT_SET == set()


def test_the_template_sets_no_setting_that_nobody_reads():
    extra = template_app_settings() - code_settings()
    assert extra == HOST_SETTINGS


def test_flex_consumption_settings_the_platform_owns_are_not_set():
    # Flex Consumption takes the runtime from functionAppConfig and rejects these as app settings.
    owned = {"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "WEBSITE_RUN_FROM_PACKAGE"}
    assert template_app_settings() & owned == set()


def test_tables_endpoint_is_the_storage_accounts_table_endpoint():
    text = API.read_text()
    assert re.search(r"^\s*TABLES_ENDPOINT: stg\.properties\.primaryEndpoints\.table$", text, re.M)
    assert re.search(
        r"^\s*AzureWebJobsStorage__blobServiceUri: stg\.properties\.primaryEndpoints\.blob$", text, re.M
    )
    assert re.search(r"^\s*AzureWebJobsStorage__credential: 'managedidentity'$", text, re.M)
    assert "queueServiceUri" not in text  # no queue: no queue role either


def tunables() -> dict[str, str]:
    """App setting -> the main.bicep parameter that feeds it (`NAME: param` or `NAME: string(param)`)."""
    declared = params_of(MAIN)
    found = {}
    for line in MAIN.read_text().splitlines():
        m = re.match(r"^\s*([A-Z][A-Z0-9_]*): (?:string\((\w+)\)|(\w+))$", line)
        if m and (m[2] or m[3]) in declared:
            found[m[1]] = m[2] or m[3]
    return found


def test_each_tunable_has_a_parameter_with_the_codes_default_and_bounds():
    declared = params_of(MAIN)
    fields = {f.alias: f for f in Settings.model_fields.values()}
    expected = {
        "TABLE_PREFIX",
        "SCHEDULE_TICK",
        "RENEW_TICK",
        "WATCH_TICK",
        "WATCH_GROUP_REFRESH_MINUTES",
        "WATCH_DISABLE_AFTER_HOURS",
        "GRAPH_CONCURRENCY",
        "GRAPH_BUDGET_PER_30S",
        "GRAPH_BUDGET_WAIT_SECONDS",
        "TICK_TIME_LIMIT_SECONDS",
        "MAX_ATTEMPTS",
        "MAX_HOLD_DAYS",
        "SCHEDULE_MIN_GAP_MINUTES",
        "SCHEDULE_MAX_PER_DAY",
        "RETENTION_DAYS",
        "USER_CACHE_HOURS",
        "USER_CACHE_MISS_MINUTES",
        "MAX_SCHEDULES_PER_USER",
        "MAX_WATCHES_PER_USER",
        "HEALTH_CHECK_SECONDS",
        "PRESENCE_SESSION_ID",
    }
    assert set(tunables()) == expected
    for setting, name in tunables().items():
        param, code = declared[name], fields[setting]
        default = literal(param.default)
        assert default == (code.default if code.default is not None else ""), setting
        for constraint in code.metadata:
            if (ge := getattr(constraint, "ge", None)) is not None:
                assert param.bounds.get("minValue") == ge, setting
            if (le := getattr(constraint, "le", None)) is not None:
                assert param.bounds.get("maxValue") == le, setting


def test_presence_session_id_is_set_only_when_given():
    text = MAIN.read_text()
    assert re.search(r"sessionSettings = !empty\(presenceSessionId\)", text)


# ---- identity, storage, roles ------------------------------------------------------------------------


def test_storage_has_no_shared_keys():
    text = "\n".join(p.read_text() for p in BICEP_FILES)
    assert re.search(r"^\s*allowSharedKeyAccess: false\b", text, re.M)
    assert "allowSharedKeyAccess: true" not in text
    assert "listKeys(" not in text
    assert "AccountKey=" not in text
    assert "AzureWebJobsStorage" not in template_app_settings()  # the connection-string form


def module_body(path: Path, symbol: str) -> str:
    text = path.read_text()
    return block(text, text.index(f"module {symbol} "))


def test_the_app_runs_as_a_user_assigned_identity_created_before_it():
    main, api = MAIN.read_text(), API.read_text()
    identity = module_body(MAIN, "apiUserAssignedIdentity")
    assert "'br/public:avm/res/managed-identity/user-assigned-identity:" in main
    assert (
        "name: !empty(apiUserAssignedIdentityName) ? apiUserAssignedIdentityName : 'id-api-${resourceToken}'"
        in (identity)
    )
    app = module_body(MAIN, "api")
    assert "identityId: apiUserAssignedIdentity.outputs.resourceId" in app
    assert "identityClientId: apiUserAssignedIdentity.outputs.clientId" in app
    # the roles exist before the app starts and before azd uploads the package (the first deploy's 403)
    assert re.search(r"^  dependsOn: \[\n    rbac\n  \]$", app, re.M)
    identities = block(api, api.index("managedIdentities:"))
    assert top_level_keys(identities) == {"userAssignedResourceIds"}
    assert re.fullmatch(r"\s*identityId\s*", block(identities, identities.index("userAssignedResourceIds:")))
    assert "systemAssigned" not in api
    assert "SystemAssignedIdentity" not in api


def test_storage_the_package_insights_and_graph_all_use_that_identity():
    api = API.read_text()
    package = block(api, api.index("authentication:"))
    assert top_level_keys(package) == {"type", "userAssignedIdentityResourceId"}
    assert "type: 'UserAssignedIdentity'" in package
    assert "userAssignedIdentityResourceId: identityId" in package
    settings = block(api, api.index("var baseAppSettings = "))
    assert "AzureWebJobsStorage__clientId: identityClientId" in settings
    assert (
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'"
        in settings
    )
    # the app's own calls (Table storage, Graph) pick it through AZURE_CLIENT_ID
    assert "AZURE_CLIENT_ID: identityClientId" in settings
    assert "AZURE_CLIENT_ID" in code_settings()


def test_the_apps_credential_picks_the_user_assigned_identity_by_its_client_id(monkeypatch):
    from shared.platform.identity import make_credential, storage_credential

    client_id = "0f1e2d3c-4b5a-4978-8877-665544332211"
    settings = Settings.from_env(
        {"TABLES_ENDPOINT": "https://st.table.core.windows.net", "AZURE_CLIENT_ID": client_id}
    )
    seen = []
    monkeypatch.setattr(
        "shared.platform.identity.DefaultAzureCredential",
        lambda **kwargs: seen.append(kwargs) or object(),
    )
    make_credential(settings)  # Graph
    storage_credential(settings)  # Table storage
    assert seen == [{"managed_identity_client_id": client_id}] * 2


def test_role_ids_are_the_documented_built_in_roles():
    used = set()
    for path in BICEP_FILES:
        for line in path.read_text().splitlines():
            for guid in GUID.findall(line):
                names = [name for name, role in BUILT_IN_ROLES.items() if role == guid.lower()]
                assert names, f"{path.name}: {guid} is not a documented built-in role id"
                assert names[0] in line, f"{path.name}: {guid} is {names[0]}, say so on its line"
                used.add(names[0])
    assert used == set(BUILT_IN_ROLES)


def test_no_queue_role_the_app_does_not_need():
    text = (INFRA / "app" / "rbac.bicep").read_text()
    assert "974c5e8b-45b9-4653-ba55-5f855dd0fb88" not in text  # Storage Queue Data Contributor
    assert "Queue Data" not in text


def test_role_assignments_go_to_the_apps_identity():
    text = (INFRA / "app" / "rbac.bicep").read_text()
    assignments = re.findall(
        r"^resource \w+ 'Microsoft\.Authorization/roleAssignments@[\d-]+' = \{", text, re.M
    )
    assert len(assignments) == len(BUILT_IN_ROLES)
    assert text.count("principalId: managedIdentityPrincipalId") == len(BUILT_IN_ROLES)
    assert text.count("principalType: 'ServicePrincipal'") == len(BUILT_IN_ROLES)
    rbac = module_body(MAIN, "rbac")
    assert "managedIdentityPrincipalId: apiUserAssignedIdentity.outputs.principalId" in rbac
    assert "api.outputs" not in rbac  # nothing of the app: the roles come first


# ---- hosting, monitoring, modules --------------------------------------------------------------------


def test_flex_consumption_python_3_11():
    main = MAIN.read_text()
    assert "name: 'FC1'" in main
    assert "tier: 'FlexConsumption'" in main
    assert "runtimeName: 'python'" in main
    assert "runtimeVersion: '3.11'" in main
    assert "kind = 'functionapp,linux'" in API.read_text()


def test_application_insights_with_a_workspace_and_entra_auth():
    main = MAIN.read_text()
    insights = block(main, main.index("module monitoring "))
    assert "workspaceResourceId: logAnalytics.outputs.resourceId" in insights
    assert "disableLocalAuth: true" in insights
    assert "Authorization=AAD'" in API.read_text()


def test_avm_modules_are_pinned_as_the_official_template_pins_them():
    pinned = {}
    for path in BICEP_FILES:
        for module, version in re.findall(r"'br/public:(avm/[\w/-]+):([^']+)'", path.read_text()):
            pinned[module] = version
    assert pinned == AVM_PINS


@pytest.mark.parametrize("caller", BICEP_FILES, ids=lambda p: p.name)
def test_local_modules_get_the_params_they_declare_and_give_the_outputs_used(caller: Path):
    text = caller.read_text()
    for m in re.finditer(r"^module (\w+) '(\.{0,2}/?[\w./-]+\.bicep)' = ", text, re.M):
        symbol, target = m[1], (caller.parent / m[2]).resolve()
        assert target.is_file(), m[2]
        body = block(text, m.end())
        passed = top_level_keys(block(body, body.index("params:")))
        declared = params_of(target)
        assert passed - set(declared) == set(), f"{symbol}: undeclared params"
        required = {name for name, p in declared.items() if p.default is None}
        assert required - passed == set(), f"{symbol}: required params not passed"
        used = set(re.findall(rf"\b{symbol}\.outputs\.\??(\w+)", text))
        assert used - outputs_of(target) == set(), f"{symbol}: outputs it does not have"


def test_main_outputs_what_the_graph_grant_and_the_caller_need():
    outputs = outputs_of(MAIN)
    assert {"AZURE_FUNCTION_PRINCIPAL_ID", "AZURE_FUNCTION_NAME", "AZURE_FUNCTION_URL"} <= outputs
    # scripts/grant-graph-permissions grants the roles to the user-assigned identity's service principal
    main = MAIN.read_text()
    assert "output AZURE_FUNCTION_PRINCIPAL_ID string = apiUserAssignedIdentity.outputs.principalId" in main
    assert "output AZURE_FUNCTION_IDENTITY_NAME string = apiUserAssignedIdentity.outputs.name" in main


# ---- callers: function keys or App Service Authentication --------------------------------------------


def test_entra_auth_is_an_option_with_its_parameters():
    declared = params_of(MAIN)
    assert (declared["enableEntraAuth"].type, declared["enableEntraAuth"].default) == ("bool", "false")
    assert declared["entraClientId"].type == "string"
    assert declared["entraTenantId"].default == "tenant().tenantId"
    assert declared["entraAudiences"].type == "string"


def test_caller_auth_follows_enable_entra_auth():
    main = MAIN.read_text()
    start = main.index("var callerSettings = enableEntraAuth")
    on_start, on_end = block_span(main, start)
    off_start, off_end = block_span(main, on_end + 1)
    on, off = main[on_start + 1 : on_end], main[off_start + 1 : off_end]
    assert main[on_end + 1 : off_start].strip() == ":"
    assert top_level_keys(on) == {"CALLER_AUTH", "ENTRA_TENANT_ID", "ENTRA_AUDIENCES"}
    assert "CALLER_AUTH: 'entra'" in on
    assert top_level_keys(off) == {"CALLER_AUTH"}
    assert "CALLER_AUTH: 'function-key'" in off


GUARD = re.compile(
    r"^var apiClientId = (?P<refuse>.+)\n"
    r"  \? fail\('(?P<message>(?:\\'|[^'])*)'\)\n"
    r"  : trim\(entraClientId\)$",
    re.M,
)


def bicep_condition(expression: str) -> str:
    """The few Bicep operators and functions the guard uses, as Python."""
    python = re.sub(r"\bempty\((\w+(?:\(\w+\))?)\)", r"(len(\1) == 0)", expression)
    python = re.sub(r"\btrim\((\w+)\)", r"\1.strip()", python)
    python = python.replace("&&", " and ").replace("||", " or ")
    python = re.sub(r"!(?!=)", " not ", python)
    assert re.fullmatch(r"[\w\s().=]+", python), f"not a guard this test can read: {expression}"
    return python


@pytest.mark.parametrize(
    ("enable", "client_id", "refused"),
    [
        (True, "", True),
        (True, "   ", True),
        (True, "0f1e2d3c-4b5a-4978-8877-665544332211", False),
        (False, "", False),
    ],
)
def test_entra_auth_without_a_client_id_is_refused_at_provisioning(enable, client_id, refused):
    m = GUARD.search(MAIN.read_text())
    assert m, "main.bicep: var apiClientId = <condition> ? fail('...') : trim(entraClientId)"
    condition = bicep_condition(m["refuse"])
    assert eval(
        condition, {"__builtins__": {"len": len}}, {"enableEntraAuth": enable, "entraClientId": client_id}
    ) is (refused)
    assert "ENABLE_ENTRA_AUTH=true needs ENTRA_CLIENT_ID" in m["message"]
    assert "azd env set ENTRA_CLIENT_ID" in m["message"]


def test_every_use_of_the_client_id_goes_through_the_guard():
    main = MAIN.read_text()
    outside = GUARD.sub("", main)
    code = [code_of(line) for line in outside.splitlines() if not line.lstrip().startswith("@")]
    uses = [line.strip() for line in code if re.search(r"\bentraClientId\b(?!:)", line)]
    assert uses == ["param entraClientId string = ''"]  # the declaration only
    assert "entraClientId: apiClientId" in module_body(MAIN, "api")
    assert "'api://${apiClientId},${apiClientId}'" in main
    assert parameters_file()["entraClientId"]["value"] == "${ENTRA_CLIENT_ID}"


def test_app_service_authentication_returns_401_with_the_microsoft_provider():
    text = API.read_text()
    start = text.index("resource authSettings 'Microsoft.Web/sites/config@")
    assert text[start : text.index("{", start)].rstrip().endswith("= if (enableEntraAuth)")
    auth = block(text, start)
    assert "name: 'authsettingsV2'" in auth
    assert "unauthenticatedClientAction: 'Return401'" in auth
    assert "requireAuthentication: true" in auth
    assert "azureActiveDirectory: {" in auth
    assert "clientId: entraClientId" in auth
    assert "openIdIssuer: '${environment().authentication.loginEndpoint}${entraTenantId}/v2.0'" in auth
    assert "allowedAudiences:" in auth


def test_only_the_codes_anonymous_routes_skip_app_service_authentication():
    prefix = json.loads((ROOT / "host.json").read_text())["extensions"]["http"]["routePrefix"]
    anonymous = {f"/{prefix}/{op.route}" for op in CATALOG if op.anonymous}
    auth = block(API.read_text(), API.read_text().index("resource authSettings "))
    excluded = set(re.findall(r"'(/[^']*)'", block(auth, auth.index("excludedPaths:"))))
    assert excluded == anonymous == {"/api/health", "/api/openapi.json"}


# ---- azure.yaml, .funcignore, requirements -----------------------------------------------------------


def test_azure_yaml_names_the_function_app_service():
    lines = [ln for ln in (ROOT / "azure.yaml").read_text().splitlines() if ln.strip() and ln[0] != "#"]
    assert lines[0] == "name: presence-automation"
    start = lines.index("services:")
    services = [ln for ln in lines[start + 1 :] if re.match(r"^  \w[\w-]*:$", ln)]
    assert services == ["  api:"]
    assert lines[start + 2 :] == ["    project: .", "    language: python", "    host: function"]
    # azd finds the app by this tag, set by api.bicep from serviceName
    assert literal(params_of(API)["serviceName"].default) == "api"
    assert "'azd-service-name': serviceName" in API.read_text()


def funcignore() -> list[str]:
    lines = (ROOT / ".funcignore").read_text().splitlines()
    return [ln.strip().rstrip("/") for ln in lines if ln.strip() and not ln.startswith("#")]


def ignored(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in funcignore())


def test_funcignore_leaves_only_the_app_to_deploy():
    deployed = {entry.name for entry in ROOT.iterdir() if not ignored(entry.name)}
    assert deployed == DEPLOYED, "add the new entry to .funcignore, or to DEPLOYED if the app needs it"


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def deployed_imports() -> set[str]:
    files = [ROOT / "function_app.py", *(ROOT / "functions").rglob("*.py"), *(ROOT / "shared").rglob("*.py")]
    return {name for path in files for name in imports_of(path)}


def test_deployed_code_imports_nothing_left_behind():
    local = {p.stem if p.suffix == ".py" else p.name for p in ROOT.iterdir() if not p.name.startswith(".")}
    left_behind = {
        name for name in deployed_imports() if name.split(".")[0] in local and ignored(name.split(".")[0])
    }
    assert left_behind == set()


def requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            names.add(normalize(re.split(r"[\s<>=!~;\[]", line)[0]))
    return names


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_runtime_requirements_have_no_dev_packages():
    runtime = requirement_names(ROOT / "requirements.txt")
    dev_only = requirement_names(ROOT / "requirements-dev.txt")
    assert runtime & (dev_only | DEV_TOOLS) == set()
    assert all(not ln.startswith("-") for ln in (ROOT / "requirements.txt").read_text().splitlines())


def test_runtime_requirements_install_what_the_deployed_code_imports():
    runtime = requirement_names(ROOT / "requirements.txt")
    local = {p.stem if p.suffix == ".py" else p.name for p in ROOT.iterdir()}
    distributions = packages_distributions()
    for name in sorted(deployed_imports()):
        top = name.split(".")[0]
        if top in sys.stdlib_module_names or top in local or top == "__future__":
            continue
        # for a namespace package (azure) any of the distributions that share it counts
        candidates = {normalize(d) for d in distributions.get(top, [])}
        assert candidates & runtime, f"{name}: none of {sorted(candidates)} is in requirements.txt"

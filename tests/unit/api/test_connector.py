"""connector/: the custom connector Power Automate imports. Its definition is what the app serves (for a
placeholder host), validates against the Power Platform schemas and as Swagger 2.0, and reads well in a
flow designer (labels, drop-downs, advanced fields, summaries); and what certification asks of it (paging,
a connection test, pickers, the publisher's own links, an icon, the readme's sections)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, get_args

import pytest
from jsonschema import Draft4Validator, Draft7Validator
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV2SpecValidator
from PIL import Image

from scripts.generate_connector import ICON_SIZE
from scripts.generate_connector import main as generate
from shared.api.http import page_size
from shared.api.models import PresencePair, Schedule, ScheduleStatus, Watch
from shared.api.openapi import (
    CONNECTOR_HOST,
    DEFAULT_MAX_HOLD_DAYS,
    EntraApp,
    Publisher,
    api_properties,
    connector_definition,
    swagger,
    title_case,
    walk,
)
from shared.api.operations import PAGE_SIZE_MAX, PAGE_SIZE_MIN
from shared.platform.config import Settings
from shared.platform.errors import ServiceError
from shared.platform.timezones import resolve_zone, zone_choices
from shared.presence.rules import (
    MESSAGE_MAX_CHARS,
    PREFERRED_PAIRS,
    SESSION_PAIRS,
    check_message,
    hold_end,
    settable_activities,
)

ROOT = Path(__file__).resolve().parents[3]
CONNECTOR = ROOT / "connector"
# A copy of ../shared/vendor/powerplatform-connectors, so a clone anywhere validates offline; the copy is
# checked against the shared one where that exists.
VENDOR = ROOT / "tests" / "vendor" / "powerplatform-connectors"
SHARED_VENDOR = ROOT.parent / "shared" / "vendor" / "powerplatform-connectors"
SCHEMAS = ("apiDefinition.swagger.schema.json", "paconn-apiProperties.schema.json")


def load_commented(path: Path) -> Any:
    """The vendored schemas carry `//` comment lines (and trailing `// ...` after values)."""
    lines = [re.sub(r"\s//[^\"]*$", "", line) for line in path.read_text().splitlines()]
    return json.loads("\n".join(line for line in lines if not line.lstrip().startswith("//")))


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    return json.loads((CONNECTOR / "apiDefinition.swagger.json").read_text())


def test_the_checked_in_definition_is_what_the_app_serves(definition):
    assert (CONNECTOR / "apiDefinition.swagger.json").read_text() == connector_definition(), (
        "connector/apiDefinition.swagger.json is stale: run scripts/generate-connector"
    )
    assert definition == swagger(CONNECTOR_HOST)


def test_it_validates_against_the_power_platform_swagger_schema(definition):
    validator = Draft4Validator(load_commented(VENDOR / "apiDefinition.swagger.schema.json"))
    errors = sorted(validator.iter_errors(definition), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


def test_it_is_valid_swagger_2(definition):
    validate(definition, cls=OpenAPIV2SpecValidator)


def test_api_properties_validate_and_match_the_security_definition(definition):
    properties = json.loads((CONNECTOR / "apiProperties.json").read_text())
    schema = load_commented(VENDOR / "paconn-apiProperties.schema.json")
    errors = list(Draft7Validator(schema).iter_errors(properties))
    assert not errors, [e.message for e in errors[:5]]
    parameter = properties["properties"]["connectionParameters"]["api_key"]
    assert parameter["type"] == "securestring"  # the key is never shown back to makers
    assert definition["securityDefinitions"] == {
        "apiKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"}
    }


def resolve(definition: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = definition["definitions"][node["$ref"].rsplit("/", 1)[1]]
    return node


def operations(definition: dict[str, Any]):
    for path, methods in definition["paths"].items():
        for method, operation in methods.items():
            if not method.startswith("x-"):  # path-level extensions, e.g. x-ms-notification-content
                yield f"{method.upper()} {path}", operation


def test_the_watch_trigger_is_a_power_automate_webhook_trigger(definition):
    """Power Automate: POST subscribes with the flow's URL in the x-ms-notification-url field, the 201's
    Location is what it DELETEs when the flow is turned off (an internal operation on that path), and
    x-ms-notification-content describes what each notification carries."""
    item = definition["paths"]["/watches"]
    trigger = item["post"]
    assert trigger["x-ms-trigger"] == "single"
    assert trigger["summary"] == "When a user's presence changes"
    assert trigger["responses"]["201"]["headers"]["Location"]["type"] == "string"
    [body] = [p for p in trigger["parameters"] if p["in"] == "body"]
    model = definition["definitions"][body["schema"]["$ref"].rsplit("/", 1)[1]]
    callback = model["properties"]["callbackUrl"]
    assert callback["x-ms-notification-url"] is True
    assert callback["x-ms-visibility"] == "internal"
    assert "callbackUrl" in model["required"]
    stop = definition["paths"]["/watches/{id}"]["delete"]
    assert stop["x-ms-visibility"] == "internal"
    content = item["x-ms-notification-content"]["schema"]["$ref"].rsplit("/", 1)[1]
    fields = definition["definitions"][content]["properties"]
    assert {"user", "userId", "previous", "current", "changedAt", "causedBy", "scheduleId"} <= set(fields)


def test_summaries_are_short_sentence_case_without_trailing_punctuation(definition):
    for name, operation in operations(definition):
        summary = operation["summary"]
        assert len(summary) <= 80, name
        assert summary[0].isupper(), name
        assert summary == summary[0] + summary[1:].lower() or "OpenAPI" in summary, name
        assert not summary.endswith((".", "!", "?", ":")), name
        assert re.fullmatch(r"[A-Z][A-Za-z]+", operation["operationId"]), name
        assert operation["description"], name


def test_every_parameter_and_field_has_a_label(definition):
    for name, operation in operations(definition):
        for parameter in operation["parameters"]:
            assert parameter.get("x-ms-summary"), f"{name} {parameter['name']}"
    for model, schema in definition["definitions"].items():
        for field, prop in schema.get("properties", {}).items():
            assert "$ref" in prop or prop.get("x-ms-summary"), f"{model}.{field}"


@pytest.mark.parametrize(
    ("model", "availability_at", "kind", "pairs"),
    [
        ("SessionRequest", "body/availability", "session", SESSION_PAIRS),
        ("PreferredRequest", "body/availability", "preferred", PREFERRED_PAIRS),
        ("PresencePair", "body/presence/availability", "session", SESSION_PAIRS),
        ("PreferredPair", "body/preferredPresence/availability", "preferred", PREFERRED_PAIRS),
    ],
)
def test_an_impossible_presence_pair_cannot_be_picked(definition, model, availability_at, kind, pairs):
    """The availability is a drop-down of readable names; the activity list is read for the availability
    chosen (x-ms-dynamic-list reaches into the body, x-ms-dynamic-values names the sibling), and the
    route answers exactly the settable pairs' activities (the one table in shared/presence_rules)."""
    fields = definition["definitions"][model]["properties"]
    availability, activity = fields["availability"], fields["activity"]
    assert set(availability["enum"]) == {a for a, _ in pairs}
    names = {v["value"]: v["displayName"] for v in availability["x-ms-enum-values"]}
    assert names.keys() == set(availability["enum"])
    assert "enum" not in activity  # not every activity: only the list for the availability chosen
    listed = activity["x-ms-dynamic-list"]
    assert listed["operationId"] == "ListPresenceActivities"
    assert listed["parameters"] == {
        "kind": {"value": kind},
        "availability": {"parameterReference": availability_at},
    }
    assert activity["x-ms-dynamic-values"]["parameters"]["availability"] == {"parameter": "availability"}
    offered = {(a, b) for a in availability["enum"] for b in settable_activities(kind, a)}
    assert offered == pairs
    if model.endswith("Request"):
        assert names["DoNotDisturb"] == "Do not disturb"


def test_the_designer_can_follow_every_pickers_path(definition):
    """Every x-ms-dynamic-values / x-ms-dynamic-list names an operation of the connector, arguments it
    takes, and a list (value) whose items carry the value and title paths."""
    by_id = {operation["operationId"]: operation for _, operation in operations(definition)}
    pickers = [node for node in walk(definition) if "x-ms-dynamic-values" in node]
    assert len(pickers) >= 10
    for node in pickers:
        values = node["x-ms-dynamic-values"]
        target = by_id[values["operationId"]]
        assert target.get("x-ms-visibility") == "internal" or target["operationId"].startswith("List")
        takes = {p["name"] for p in target["parameters"]}
        assert set(values.get("parameters", {})) <= takes
        assert {p["name"] for p in target["parameters"] if p["required"]} <= set(values.get("parameters", {}))
        listed = definition["definitions"][target["responses"]["200"]["schema"]["$ref"].rsplit("/", 1)[1]]
        item = resolve(definition, listed["properties"][values["value-collection"]]["items"])
        assert {values["value-path"], values["value-title"]} <= set(item["properties"])
        if "x-ms-dynamic-list" in node:
            assert set(node["x-ms-dynamic-list"]["parameters"]) == set(values["parameters"])


def test_schedule_and_watch_ids_are_picked_from_the_callers_own_lists(definition):
    for path, lister in (("/schedules/{id}", "ListSchedules"), ("/watches/{id}", "ListWatches")):
        for method, operation in definition["paths"][path].items():
            [identifier] = [p for p in operation["parameters"] if p["name"] == "id"]
            picker = identifier["x-ms-dynamic-values"]
            assert (picker["operationId"], picker["value-path"], picker["value-title"]) == (
                lister,
                "id",
                "name",
            )
            assert picker["parameters"] == {"top": {"value": PAGE_SIZE_MAX}}, method


def test_time_zones_are_picked_from_a_list_the_service_accepts(definition):
    inputs = ("SessionRequest", "PreferredRequest", "StatusMessageRequest", "ScheduleFields", "ScheduleInput")
    zones = [definition["definitions"][model]["properties"]["timeZone"] for model in inputs]
    for node in zones:
        assert node["x-ms-dynamic-values"]["operationId"] == "ListTimeZones"
    choices = zone_choices()
    assert len(choices) > 100
    for name, iana in choices:
        assert resolve_zone(name) == resolve_zone(iana)


def test_paged_lists_are_pageable_with_their_cursor(definition):
    properties = json.loads((CONNECTOR / "apiProperties.json").read_text())["properties"]
    [next_link] = [p for p in properties["policyTemplateInstances"] if p["templateId"] == "updatenextlink"]
    paged = []
    for name, operation in operations(definition):
        response = operation["responses"].get("200", {}).get("schema", {}).get("$ref", "")
        fields = definition["definitions"].get(response.rsplit("/", 1)[-1], {}).get("properties", {})
        if "nextLink" in fields:
            paged.append(operation["operationId"])
            assert operation["x-ms-pageable"] == {"nextLinkName": "nextLink"}, name
            assert "after" in {p["name"] for p in operation["parameters"] if p["in"] == "query"}, name
        else:
            assert "x-ms-pageable" not in operation, name
    assert sorted(paged) == ["ListAuditEntries", "ListSchedules", "ListWatches"]
    assert next_link["parameters"]["x-ms-apimTemplate-operationName"] == paged


def test_list_inputs_are_typed_for_the_designer(definition):
    tops = [p for _, op in operations(definition) for p in op["parameters"] if p["name"] == "top"]
    assert len(tops) == 3
    for top in tops:
        assert (top["type"], top["minimum"], top["maximum"]) == ("integer", PAGE_SIZE_MIN, PAGE_SIZE_MAX)
    assert page_size(str(PAGE_SIZE_MAX)) == PAGE_SIZE_MAX  # the range described is the range accepted
    for outside in (PAGE_SIZE_MIN - 1, PAGE_SIZE_MAX + 1):
        with pytest.raises(ServiceError):
            page_size(str(outside))
    [status] = [p for p in definition["paths"]["/schedules"]["get"]["parameters"] if p["name"] == "status"]
    assert set(status["enum"]) == set(get_args(ScheduleStatus))
    audit = {p["name"]: p for p in definition["paths"]["/audit"]["get"]["parameters"]}
    assert audit["from"]["format"] == audit["to"]["format"] == "date-time"


def test_the_connection_test_is_a_cheap_authenticated_call(definition):
    test = definition["x-ms-capabilities"]["testConnection"]
    [operation] = [op for _, op in operations(definition) if op["operationId"] == test["operationId"]]
    [(path, method)] = [
        (p, m) for p, m_ops in definition["paths"].items() for m, o in m_ops.items() if o is operation
    ]
    assert method == "get"
    assert operation["security"] == [{"apiKey": []}]
    assert not [p for p in operation["parameters"] if p["required"]]
    assert path == "/timezones"  # a list in code: no Graph call, no storage read (tests/e2e/test_meta_api)


def test_errors_are_described_as_problem_json(definition):
    for name, operation in operations(definition):
        assert operation["responses"]["default"]["schema"] == {"$ref": "#/definitions/Problem"}, name
    assert {"type", "title", "status", "detail", "code"} <= set(
        definition["definitions"]["Problem"]["required"]
    )


def test_the_readme_has_an_example_for_every_operation(definition):
    readme = (CONNECTOR / "readme.md").read_text()
    ids = [operation["operationId"] for _, operation in operations(definition)]
    missing = [operation_id for operation_id in ids if f"`{operation_id}`" not in readme]
    assert not missing


def test_the_vendored_schemas_are_the_shared_ones():
    if not SHARED_VENDOR.is_dir():
        pytest.skip(f"{SHARED_VENDOR} is not next to this clone: nothing to compare the copy with")
    for name in SCHEMAS:
        assert (VENDOR / name).read_bytes() == (SHARED_VENDOR / name).read_bytes(), name


def test_in_entra_mode_the_document_asks_for_an_entra_token_and_still_validates():
    """CALLER_AUTH=entra serves the same operations with Power Automate's "Azure Active Directory" OAuth
    security, so a connector imported from that app's /api/openapi.json signs makers in."""
    document = swagger(CONNECTOR_HOST, caller_auth="entra")
    assert list(document["securityDefinitions"]) == ["oauth2"]
    assert document["securityDefinitions"]["oauth2"]["flow"] == "accessCode"
    for name, operation in operations(document):
        anonymous = operation["operationId"] in {"GetHealth", "GetOpenApi"}
        assert operation["security"] == ([] if anonymous else [{"oauth2": []}]), name
        if not anonymous:
            assert operation["responses"]["401"]["schema"] == {"$ref": "#/definitions/Problem"}, name
    validator = Draft4Validator(load_commented(VENDOR / "apiDefinition.swagger.schema.json"))
    assert not [e.message for e in validator.iter_errors(document)][:5]
    validate(document, cls=OpenAPIV2SpecValidator)


def labelled(definition: dict[str, Any]):
    """(where, node) for every parameter and schema property a maker sees with a label."""
    for name, operation in operations(definition):
        for parameter in operation["parameters"]:
            yield f"{name} {parameter['name']}", parameter
    for model, schema in definition["definitions"].items():
        for field, prop in schema.get("properties", {}).items():
            if "$ref" not in prop:
                yield f"{model}.{field}", prop


def test_labels_are_title_case(definition):
    small = {"a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to", "with"}
    for where, node in labelled(definition):
        label = node["x-ms-summary"]
        assert title_case(label) == label, where
        words = [w.strip("()") for w in label.split(" ")]
        assert all(w[:1].isupper() or (i and w in small) for i, w in enumerate(words)), where
    assert title_case("Duration (minutes)") == "Duration (Minutes)"
    assert title_case("User id of a schedule") == "User ID of a Schedule"


def test_descriptions_add_something_to_their_label(definition):
    def bare(text: str) -> str:
        return re.sub(r"[^a-z]", "", text.lower())

    for where, node in labelled(definition):
        assert node.get("description"), where
        assert bare(node["description"]) != bare(node["x-ms-summary"]), where


def test_texts_name_no_setting_path_verb_or_hmac(definition):
    settings = {field.alias for field in Settings.model_fields.values() if field.alias}
    banned = re.compile(
        r"\b(GET|POST|PUT|PATCH|DELETE|POSTs|POSTed)\b|HMAC|shared/|functions/|\.py\b|"
        + "|".join(re.escape(s) for s in sorted(settings))
    )
    texts = [definition["info"]["title"], definition["info"]["description"]]
    for node in walk(definition):
        texts += [node[k] for k in ("summary", "description", "x-ms-summary") if isinstance(node.get(k), str)]
    offending = [text for text in texts if banned.search(text)]
    assert not offending


def test_the_trigger_reads_as_a_trigger_and_shows_whom_it_watches(definition):
    trigger = definition["paths"]["/watches"]["post"]
    assert trigger["description"].startswith("This operation triggers when ")
    fields = definition["definitions"]["WatchInput"]["properties"]
    assert fields["users"]["x-ms-visibility"] == fields["group"]["x-ms-visibility"] == "important"


def test_a_holds_longest_duration_is_the_real_limit(definition):
    now = datetime(2026, 1, 5, 9, tzinfo=UTC)
    for days, document in ((DEFAULT_MAX_HOLD_DAYS, definition), (3, swagger(None, max_hold_days=3))):
        for model in ("SessionRequest", "PreferredRequest"):
            duration = document["definitions"][model]["properties"]["durationMinutes"]
            assert duration["maximum"] == days * 24 * 60, model
            assert f"At most {days} days" in duration["description"]
        most = duration["maximum"]
        window = {"until": None, "time_zone": None, "max_days": days}
        assert hold_end(now, duration_minutes=most, **window) == now + timedelta(minutes=most)
        with pytest.raises(ServiceError):
            hold_end(now, duration_minutes=most + 1, **window)


def test_the_message_limit_is_stated_once_and_is_the_real_one(definition):
    messages = [
        definition["definitions"]["StatusMessageRequest"]["properties"]["message"],
        definition["definitions"]["ScheduleFields"]["properties"]["statusMessage"],
        definition["definitions"]["ScheduleInput"]["properties"]["statusMessage"],
    ]
    for field in messages:
        assert field["maxLength"] == MESSAGE_MAX_CHARS
        assert field["description"].count(str(MESSAGE_MAX_CHARS)) == 1
    stated = [n for n in walk(definition) if str(MESSAGE_MAX_CHARS) in str(n.get("description", ""))]
    assert len(stated) == len(messages)  # nowhere else, e.g. not again in the operation's description
    assert check_message("x" * MESSAGE_MAX_CHARS)
    with pytest.raises(ServiceError):
        check_message("x" * (MESSAGE_MAX_CHARS + 1))


def test_the_title_leads_with_its_own_name_and_the_publisher_is_its_own(definition):
    info = definition["info"]
    assert len(info["title"]) <= 30
    others = ("Microsoft", "Teams", "Graph", "Azure", "Power", "Outlook", "Office")
    assert not info["title"].startswith(others)
    assert not info["description"].startswith(others)
    assert info["description"] != info["title"]
    publisher = Publisher()
    assert info["contact"] == {"name": publisher.name, "url": publisher.website, "email": publisher.email}
    metadata = {m["propertyName"]: m["propertyValue"] for m in definition["x-ms-connector-metadata"]}
    assert (metadata["Website"], metadata["Privacy policy"]) == (publisher.website, publisher.privacy)
    properties = json.loads((CONNECTOR / "apiProperties.json").read_text())["properties"]
    assert properties["publisher"] == properties["stackOwner"] == publisher.name
    assert "microsoft" not in (metadata["Website"] + metadata["Privacy policy"]).lower()


def test_the_generator_puts_a_deployments_own_values_in_place_of_the_placeholders(tmp_path):
    own = ["--publisher", "Contoso IT", "--website", "https://it.contoso.com/", "--privacy",
           "https://it.contoso.com/privacy", "--email", "it@contoso.com", "--tenant",
           "11111111-2222-3333-4444-555555555555", "--resource", "api://contoso-presence", "--client-id",
           "66666666-7777-8888-9999-000000000000"]  # fmt: skip
    assert generate(["--out", str(tmp_path), *own]) == 0
    written = "".join(p.read_text() for p in tmp_path.rglob("*.json"))
    placeholders = Publisher()
    for placeholder in (
        placeholders.name,
        placeholders.website,
        placeholders.email,
        "api://presence-automation",
    ):
        assert placeholder not in written
    for value in own[1::2]:
        assert value in written
    assert Image.open(tmp_path / "icon.png").size == (ICON_SIZE, ICON_SIZE)


def flattened_labels(definition: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """The labels a designer lists for one output: its fields and its nested objects' (not lists' items)."""
    labels = []
    for prop in resolve(definition, schema).get("properties", {}).values():
        if "$ref" in prop:
            labels += flattened_labels(definition, prop)
        else:
            labels.append(prop["x-ms-summary"])
    return labels


def test_no_output_shows_the_same_label_twice(definition):
    outputs = [
        (name, operation["responses"][status]["schema"])
        for name, operation in operations(definition)
        for status in ("200", "201")
        if "schema" in operation["responses"].get(status, {})
        and "$ref" in operation["responses"][status]["schema"]
    ]
    outputs.append(("trigger", definition["paths"]["/watches"]["x-ms-notification-content"]["schema"]))
    for name, schema in outputs:
        labels = flattened_labels(definition, schema)
        assert len(labels) == len(set(labels)), (
            name,
            sorted(label for label in labels if labels.count(label) > 1),
        )
    change = flattened_labels(definition, outputs[-1][1])
    assert {"Previous Availability", "Current Availability"} <= set(change)
    holds = flattened_labels(definition, {"$ref": "#/definitions/Holds"})
    assert {"Session Until", "Preferred Until", "Status Message Until"} <= set(holds)


def test_the_openapi_operation_is_hidden_from_makers(definition):
    assert definition["paths"]["/openapi.json"]["get"]["x-ms-visibility"] == "internal"


def test_importing_needs_no_file_editing(definition):
    """The host is a connection parameter that the dynamichosturl policy puts in place of the placeholder
    host; both capabilities are declared."""
    properties = json.loads((CONNECTOR / "apiProperties.json").read_text())
    assert (CONNECTOR / "apiProperties.json").read_text() == api_properties()
    inner = properties["properties"]
    assert inner["capabilities"] == ["actions", "triggers"]
    assert inner["connectionParameters"]["host"]["type"] == "string"
    [policy] = [p for p in inner["policyTemplateInstances"] if p["templateId"] == "dynamichosturl"]
    template = policy["parameters"]["x-ms-apimTemplateParameter.urlTemplate"]
    assert template == f"https://@connectionParameters('host'){definition['basePath']}"
    assert definition["host"] == CONNECTOR_HOST


def test_the_entra_variant_signs_in_with_the_aad_provider_consistently():
    folder = CONNECTOR / "entra"
    document = json.loads((folder / "apiDefinition.swagger.json").read_text())
    assert (folder / "apiDefinition.swagger.json").read_text() == connector_definition("entra")
    assert (folder / "apiProperties.json").read_text() == api_properties("entra")
    properties = json.loads((folder / "apiProperties.json").read_text())
    errors = list(
        Draft7Validator(load_commented(VENDOR / "paconn-apiProperties.schema.json")).iter_errors(properties)
    )
    assert not [e.message for e in errors[:5]]
    settings = properties["properties"]["connectionParameters"]["token"]["oAuthSettings"]
    custom = {k: v["value"] for k, v in settings["customParameters"].items()}
    assert settings["identityProvider"] == "aad"
    assert custom["resourceUri"] == EntraApp().resource
    security = document["securityDefinitions"]["oauth2"]
    authority = f"{custom['loginUri']}/{custom['tenantId']}/oauth2"
    assert (security["authorizationUrl"], security["tokenUrl"]) == (
        f"{authority}/authorize",
        f"{authority}/token",
    )
    assert settings["scopes"] == [f"{custom['resourceUri']}/user_impersonation"]
    tenant = "11111111-2222-3333-4444-555555555555"
    served = swagger(CONNECTOR_HOST, caller_auth="entra", tenant=tenant)["securityDefinitions"]["oauth2"]
    assert served["tokenUrl"] == f"{custom['loginUri']}/{tenant}/oauth2/token"


def test_the_icon_is_230_square_on_a_colour():
    icon = Image.open(CONNECTOR / "icon.png").convert("RGB")
    assert icon.size == (230, 230)
    corner = icon.getpixel((0, 0))
    assert corner != (255, 255, 255)
    assert min(corner) < 200
    brand = json.loads((CONNECTOR / "apiProperties.json").read_text())["properties"]["iconBrandColor"]
    assert corner == tuple(int(brand[i : i + 2], 16) for i in (1, 3, 5))


def test_the_readme_has_the_certification_sections_and_a_walk_through():
    readme = (CONNECTOR / "readme.md").read_text()
    headings = {line.lstrip("#").strip().lower() for line in readme.splitlines() if line.startswith("#")}
    for section in (
        "publisher",
        "prerequisites",
        "obtaining credentials",
        "supported operations",
        "known issues and limitations",
        "import",
        "test the connection",
        "one flow per operation",
    ):
        assert any(h.startswith(section) for h in headings), section
    assert "Test connection" in readme
    intro = (CONNECTOR / "intro.md").read_text()
    for section in ("## Prerequisites", "## How to get credentials", "## Known issues and limitations"):
        assert section in intro


def test_picker_titles_say_what_each_schedule_and_watch_is():
    at = datetime(2026, 1, 5, 9, tzinfo=UTC)
    made = {"created_at": at, "created_by": "function-key", "user_id": "0" * 8}
    schedule = Schedule(
        id="s1", user="alice@contoso.test", start="2026-01-06T12:00:00", end="2026-01-06T13:00:00",
        status_message="Lunch", presence=PresencePair(availability="Busy", activity="InACall"),
        restore_previous=True, status="scheduled", updated_at=at, **made,
    )  # fmt: skip
    assert (
        schedule.name == 'alice@contoso.test: "Lunch", Busy (in a call) from 2026-01-06T12:00:00 (scheduled)'
    )
    assert schedule.model_dump(by_alias=True)["name"] == schedule.name  # what ListSchedules answers
    users = [f"u{i}@contoso.test" for i in range(5)]
    watch = Watch(
        id="w1", users=users, member_count=5, callback_url="https://flow.example/", include_own_changes=False,
        status="disabled", created_at=at, created_by="function-key",
    )  # fmt: skip
    assert watch.name == "u0@contoso.test, u1@contoso.test, u2@contoso.test and 2 more (disabled)"

"""connector/: the custom connector Power Automate imports. Its definition is what the app serves (for a
placeholder host), validates against the Power Platform schemas and as Swagger 2.0, and reads well in a
flow designer (labels, drop-downs, advanced fields, summaries)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator, Draft7Validator
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV2SpecValidator

from shared.openapi import CONNECTOR_HOST, connector_definition, swagger
from shared.presence_rules import PREFERRED_PAIRS, SESSION_PAIRS

ROOT = Path(__file__).resolve().parents[2]
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


def test_presence_fields_are_drop_downs_of_what_graph_accepts(definition):
    defs = definition["definitions"]
    assert set(defs["SessionRequest"]["properties"]["availability"]["enum"]) == {a for a, _ in SESSION_PAIRS}
    assert set(defs["SessionRequest"]["properties"]["activity"]["enum"]) == {b for _, b in SESSION_PAIRS}
    preferred = defs["PreferredRequest"]["properties"]
    assert set(preferred["availability"]["enum"]) == {a for a, _ in PREFERRED_PAIRS}
    assert set(preferred["activity"]["enum"]) == {b for _, b in PREFERRED_PAIRS}
    assert preferred["keepSessionAlive"]["x-ms-visibility"] == "advanced"


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

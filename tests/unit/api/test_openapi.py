import json
import re

from shared.api.openapi import swagger, walk
from shared.api.operations import CATALOG


def test_every_catalog_operation_is_described_once_with_a_pascal_case_id():
    doc = swagger("presence.example.net")
    ops = [
        (path, method, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if not method.startswith("x-")
    ]
    assert sorted((p, m) for p, m, _ in ops) == sorted((f"/{o.route}", o.method.lower()) for o in CATALOG)
    ids = [op["operationId"] for _, _, op in ops]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[A-Z][A-Za-z0-9]+", i) for i in ids)


def test_it_is_swagger_2_with_the_function_key_scheme():
    doc = swagger("presence.example.net")
    assert doc["swagger"] == "2.0"
    assert doc["host"] == "presence.example.net"
    assert doc["basePath"] == "/api"
    assert doc["securityDefinitions"]["apiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "x-functions-key",
    }
    secured = {
        op["operationId"]: op["security"]
        for item in doc["paths"].values()
        for method, op in item.items()
        if not method.startswith("x-")
    }
    assert secured["GetPresence"] == [{"apiKey": []}]
    assert secured["GetHealth"] == []


def test_only_swagger_2_constructs_and_resolvable_refs():
    doc = swagger(None)
    text = json.dumps(doc)
    for construct in ("$defs", '"anyOf"', '"const"'):
        assert construct not in text
    for node in walk(doc):
        if "$ref" in node:
            assert set(node) == {"$ref"}
            assert node["$ref"].removeprefix("#/definitions/") in doc["definitions"]


def test_fields_and_parameters_carry_power_automate_summaries():
    doc = swagger(None)
    presence = doc["definitions"]["Presence"]["properties"]
    assert presence["statusMessage"]["x-ms-summary"] == "Status Message"
    assert presence["statusMessage"]["x-nullable"] is True
    assert "userId" in doc["definitions"]["Presence"]["required"]
    user = doc["paths"]["/users/{user}/presence"]["get"]["parameters"][0]
    assert (user["in"], user["x-ms-summary"]) == ("path", "User")

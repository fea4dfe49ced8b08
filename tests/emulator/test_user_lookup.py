"""GET /users?$filter= on mail and proxyAddresses: the demo alias, case-insensitive matches, no advanced
query parameters needed (Graph serves `eq` on both by default), Graph's 400 naming them for an operator it
serves only in an advanced query, and Request_UnsupportedQuery for any filter the emulator does not serve."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from localdev.graph import ALICE_ID


def by_address(address: str) -> str:
    query = f"mail eq '{address}' or proxyAddresses/any(x:x eq 'smtp:{address}')"
    return f"/users?$filter={quote(query)}&$select=id"


@pytest.mark.parametrize("address", ["alice@contoso.test", "Alice.Adams@CONTOSO.test"])
async def test_a_user_is_found_by_mail_or_alias(graph, address):
    response = await graph.get(by_address(address))
    assert response.status == 200, await graph.json(response)
    assert (await graph.json(response))["value"] == [{"id": ALICE_ID}]


async def test_an_unknown_address_finds_nobody(graph):
    response = await graph.get(by_address("nobody@contoso.test"))
    assert (response.status, (await graph.json(response))["value"]) == (200, [])


@pytest.mark.parametrize(
    "query",
    [
        "startswith(mail,'alice')",
        "mail eq 'alice@contoso.test' and proxyAddresses/any(x:x eq 'smtp:alice@contoso.test')",
        "proxyAddresses/any(x:y eq 'smtp:alice@contoso.test')",
        "displayName eq 'Alice Adams'",
    ],
)
async def test_filters_the_emulator_does_not_serve_are_refused_with_graphs_code(graph, query):
    response = await graph.get(f"/users?$filter={quote(query)}")
    assert response.status == 400
    assert (await graph.json(response))["error"]["code"] == "Request_UnsupportedQuery"


async def test_a_list_without_a_filter_is_refused(graph):
    assert (await graph.get("/users")).status == 400


@pytest.mark.parametrize(
    "query",
    [
        "endsWith(mail,'@contoso.test')",
        "proxyAddresses/any(x:endsWith(x,'@contoso.test'))",
        "mail ne 'alice@contoso.test'",
        "not(mail eq 'alice@contoso.test')",
    ],
)
async def test_an_advanced_only_operator_without_the_advanced_parameters_is_graphs_400(graph, query):
    response = await graph.get(f"/users?$filter={quote(query)}")
    error = (await graph.json(response))["error"]
    assert (response.status, error["code"]) == (400, "Request_UnsupportedQuery")
    assert "ConsistencyLevel:eventual" in error["message"]
    counted = await graph.get(f"/users?$filter={quote(query)}&$count=true")  # the header is missing still
    assert "ConsistencyLevel:eventual" in (await graph.json(counted))["error"]["message"]
    advanced = await graph.get(
        f"/users?$filter={quote(query)}&$count=true", headers={"ConsistencyLevel": "eventual"}
    )
    error = (await graph.json(advanced))["error"]  # Graph would serve it; the emulator does not
    assert (advanced.status, error["code"]) == (400, "Request_UnsupportedQuery")
    assert "ConsistencyLevel" not in error["message"]


async def test_count_is_ignored_without_consistency_level_and_counted_with_it(graph):
    plain = await graph.json(await graph.get(by_address("alice@contoso.test") + "&$count=true"))
    assert "@odata.count" not in plain
    assert plain["value"] == [{"id": ALICE_ID}]
    eventual = await graph.get(
        by_address("alice@contoso.test") + "&$count=true", headers={"ConsistencyLevel": "eventual"}
    )
    assert (await graph.json(eventual))["@odata.count"] == 1

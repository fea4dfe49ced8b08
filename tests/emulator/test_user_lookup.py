"""GET /users?$filter= on mail and proxyAddresses: the demo alias, case-insensitive matches, and Graph's
400 for any filter the emulator does not serve (strict)."""

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
async def test_other_filters_are_refused_like_graph(graph, query):
    response = await graph.get(f"/users?$filter={quote(query)}")
    assert response.status == 400
    assert (await graph.json(response))["error"]["code"] == "Request_UnsupportedQuery"


async def test_a_list_without_a_filter_is_refused(graph):
    assert (await graph.get("/users")).status == 400

"""An HTTP caller who finds the tenant's Graph budget spent gets a 429 `graphBudgetExhausted` problem with
Retry-After at once, and Graph is not called for it: a host whose budget is the smallest allowed (33 per
30 s: one read a second) and that makes callers wait for none of it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from localdev.graph.demo import ALICE_ID
from localdev.stack import Stack
from tests.e2e.conftest import Api, another_host


@pytest.fixture
async def small_budget_host(stack: Stack) -> AsyncIterator[Api]:
    env = {"GRAPH_BUDGET_PER_30S": "33", "GRAPH_BUDGET_WAIT_SECONDS": "0", "TABLE_PREFIX": "smallbudget"}
    async with another_host(stack, "host-budget.log", **env) as host:  # its own budget rows
        yield host


async def test_a_read_past_the_budget_is_a_429_with_retry_after_and_no_graph_call(small_budget_host, graph):
    await graph.clear_journal()
    replies = await asyncio.gather(
        *(small_budget_host.get(f"/api/users/{ALICE_ID}/presence") for _ in range(6))
    )
    answered = [r for r in replies if r.status == 200]
    refused = [r for r in replies if r.status != 200]
    assert answered  # one read a second: six at once cannot all go
    assert refused
    for reply in refused:
        assert reply.status == 429
        assert reply.content_type == "application/problem+json"
        assert reply.body["code"] == "graphBudgetExhausted"
        assert reply.headers["Retry-After"].isdigit()
    reads = [e for e in await graph.journal(path="/presence") if e.method == "GET"]
    assert len(reads) == len(answered)  # a refused caller cost Graph nothing

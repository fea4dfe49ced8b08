"""Azurite as the local stack runs it: real Table storage that answers, stops and comes back with its data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from azure.core.exceptions import ServiceRequestError
from azure.data.tables.aio import TableServiceClient

from localdev.azurite import Azurite, AzuriteError
from localdev.ports import port_answers


async def write_entity(connection_string: str, table: str, row: str) -> None:
    async with TableServiceClient.from_connection_string(connection_string) as service:
        await service.create_table_if_not_exists(table)
        await service.get_table_client(table).create_entity({"PartitionKey": "p", "RowKey": row, "value": 42})


async def read_entity(connection_string: str, table: str, row: str) -> dict[str, object]:
    async with TableServiceClient.from_connection_string(connection_string, retry_total=0) as service:
        return dict(await service.get_table_client(table).get_entity("p", row))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0): read its state
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


async def test_start_answer_stop_restart_keeps_data(tmp_path: Path) -> None:
    azurite = Azurite(tmp_path / "data")
    with azurite:
        assert azurite.table_endpoint == f"http://127.0.0.1:{azurite.port}/devstoreaccount1"
        assert f"TableEndpoint={azurite.table_endpoint};" in azurite.connection_string
        await write_entity(azurite.connection_string, "things", "r1")
        port, pid = azurite.port, azurite.pid
        assert pid is not None

        azurite.restart()
        assert azurite.port == port
        assert azurite.pid != pid
        assert not pid_alive(pid)
        assert (await read_entity(azurite.connection_string, "things", "r1"))["value"] == 42

        azurite.stop()
        assert not port_answers(port)
        with pytest.raises(ServiceRequestError):
            await read_entity(azurite.connection_string, "things", "r1")
        azurite.start()
        assert (await read_entity(azurite.connection_string, "things", "r1"))["value"] == 42
        last_pid = azurite.pid
    assert last_pid is not None
    assert not pid_alive(last_pid)
    assert (tmp_path / "data").is_dir()  # a given data directory is kept
    log = (tmp_path / "data" / "azurite.log").read_text()
    assert log.count("successfully started") == 3


def test_kill_is_a_crash_and_a_temporary_dir_goes_away_with_the_context() -> None:
    with Azurite() as azurite:
        data_dir, pid = azurite.data_dir, azurite.pid
        assert pid is not None
        assert data_dir.is_dir()
        azurite.kill()
        assert not azurite.running
        assert not pid_alive(pid)
    assert not data_dir.exists()


def test_missing_node_modules_says_run_scripts_setup(tmp_path: Path) -> None:
    with pytest.raises(AzuriteError, match="run scripts/setup"):
        Azurite(tmp_path / "data", repo_root=tmp_path).start()

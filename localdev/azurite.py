"""One Azurite Table storage process (the npm package pinned in package.json) on loopback, for the local
stack and the tests: real Table storage with the well-known development account."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from localdev.ports import LOOPBACK, free_port, log_tail, popen_child, port_answers

REPO_ROOT = Path(__file__).resolve().parents[1]
ACCOUNT_NAME = "devstoreaccount1"
# The development account's well-known key, published with the Azure storage emulators; not a secret.
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class AzuriteError(RuntimeError):
    """Azurite is missing, would not start, or died."""


class Azurite:
    """`azurite-table` on 127.0.0.1:`port` with its data (and its log, `azurite.log`) in `data_dir`; with
    `blob_port` and `queue_port`, `azurite` serving blobs and queues too (what the Functions host itself
    needs for timers under Core Tools).

    `stop()` asks Azurite to close (SIGINT: it saves its database and exits) and keeps the data, so
    `start()` or `restart()` bring the same tables back on the same port. `kill()` is a crash (SIGKILL:
    up to Azurite's 5-second autosave may be lost). Leaving the context manager also removes a data
    directory that Azurite created itself (none was given)."""

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        port: int | None = None,
        blob_port: int | None = None,
        queue_port: int | None = None,
        repo_root: Path = REPO_ROOT,
        startup_timeout: float = 20.0,
    ) -> None:
        self._owns_dir = data_dir is None
        self.data_dir = Path(tempfile.mkdtemp(prefix="azurite-")) if data_dir is None else Path(data_dir)
        self._port = port
        self.blob_port, self.queue_port = blob_port, queue_port
        self.host_storage = blob_port is not None and queue_port is not None
        executable = "azurite" if self.host_storage else "azurite-table"
        self.executable = repo_root / "node_modules" / ".bin" / executable
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        if self._port is None:
            self._port = free_port()
        return self._port

    @property
    def table_endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/{ACCOUNT_NAME}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
            f"TableEndpoint={self.table_endpoint};"
        )

    @property
    def host_connection_string(self) -> str:
        """AzureWebJobsStorage for the Functions host: blob, queue and table endpoints (host storage only)."""
        if not self.host_storage:
            raise AzuriteError("this Azurite serves tables only: give it blob_port and queue_port")
        return (
            f"{self.connection_string}BlobEndpoint=http://{LOOPBACK}:{self.blob_port}/{ACCOUNT_NAME};"
            f"QueueEndpoint=http://{LOOPBACK}:{self.queue_port}/{ACCOUNT_NAME};"
        )

    @property
    def log_path(self) -> Path:
        return self.data_dir / "azurite.log"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # ------------------------------------------------------------------------------ lifecycle

    def start(self) -> Azurite:
        if self.running:
            return self
        if not os.access(self.executable, os.X_OK):
            raise AzuriteError(f"Azurite is not installed ({self.executable} is missing): run scripts/setup")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        services = ["--tableHost", LOOPBACK, "--tablePort", str(self.port)]
        if self.host_storage:
            services += ["--blobHost", LOOPBACK, "--blobPort", str(self.blob_port)]
            services += ["--queueHost", LOOPBACK, "--queuePort", str(self.queue_port)]
        argv = [
            str(self.executable),
            *services,
            "--location", str(self.data_dir),
            "--skipApiVersionCheck",
            "--disableProductStyleUrl",
            "--disableTelemetry",
            "--silent",
        ]  # fmt: skip
        self._proc = popen_child(argv, log_path=self.log_path, cwd=self.data_dir)
        deadline = time.monotonic() + self.startup_timeout
        ports = [self.port, *(p for p in (self.blob_port, self.queue_port) if p is not None)]
        while not all(port_answers(port) for port in ports):
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._proc = None
                raise AzuriteError(
                    f"Azurite exited with code {code} before listening on port {self.port}; "
                    f"{self.log_path}:\n{log_tail(self.log_path)}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise AzuriteError(
                    f"Azurite did not listen on ports {ports} within {self.startup_timeout:g} s; "
                    f"{self.log_path}:\n{log_tail(self.log_path)}"
                )
            time.sleep(0.05)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Close gracefully (Azurite saves its data on SIGINT, not on SIGTERM); SIGKILL after `timeout`."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """A crash: SIGKILL, no save."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.kill()
        proc.wait()

    def restart(self) -> Azurite:
        """Stop and start again on the same port with the same data."""
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop, and remove the data directory if this object created it."""
        self.stop()
        if self._owns_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

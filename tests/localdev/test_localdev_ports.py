"""Loopback ports: a free one, and waiting for a child to answer without waiting forever."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from localdev.ports import free_port, http_status, port_answers, port_is_free, wait_for_http, wait_for_port


class _Teapot(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(418 if self.path == "/teapot" else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_free_port_then_waits_that_answer_or_give_up() -> None:
    port = free_port()
    assert port_is_free(port)
    assert not port_answers(port)
    with pytest.raises(TimeoutError, match=rf"127\.0\.0\.1:{port}"):
        wait_for_port(port, timeout=0.2)
    with pytest.raises(RuntimeError, match="exited"):
        wait_for_port(port, timeout=5, alive=lambda: False)
    assert http_status(f"http://127.0.0.1:{port}/") is None

    server = ThreadingHTTPServer(("127.0.0.1", port), _Teapot)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert not port_is_free(port)
        wait_for_port(port, timeout=2)
        assert wait_for_http(f"http://127.0.0.1:{port}/teapot", timeout=2) == 418
        with pytest.raises(TimeoutError, match="last status: 503"):
            wait_for_http(f"http://127.0.0.1:{port}/other", timeout=0.2)
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(ValueError, match=r"only http://127\.0\.0\.1"):
        http_status("http://example.com/")

"""A small static HTTP server for the apt repository, bound to one address and port."""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass  # apt fetches a handful of files; no per-request log lines


class FileServer:
    """Serves `root` read-only over plain HTTP on address:port, from a daemon thread."""

    def __init__(self, root: Path, address: str, port: int) -> None:
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.httpd = ThreadingHTTPServer((address, port), handler)
        self.httpd.daemon_threads = True
        self.address = address
        self.port = int(self.httpd.server_address[1])
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="apt-http", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def start(self) -> FileServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

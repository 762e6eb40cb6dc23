"""Airflow's REST API as far as hubctl's listener uses it, on a loopback port, recording requests.

It answers the login (`POST /auth/token`), the DAG list (one DAG per file in ``files``, each file's
parse token `token-<file>`, paged like Airflow) and parse requests (`PUT
/api/v2/parseDagFile/<token>`: 201, or 409 with ``conflict``, Airflow's answer while a request
for the file is already pending). A real Airflow stack is what tests/e2e uses; this one lets a
test see exactly which files the listener asked for.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from hubctl.airflow_api import AirflowApi, AirflowApiConfig

TOKEN_PREFIX = "token-"


@dataclass
class AirflowStandIn:
    files: list[str]
    conflict: bool = False
    url: str = ""
    # Every request as "METHOD path" (no query), in order.
    requests: list[str] = field(default_factory=list)

    @property
    def parse_requests(self) -> list[str]:
        """The files asked to be re-parsed, in order."""
        marker = "PUT /api/v2/parseDagFile/" + TOKEN_PREFIX
        return [line.removeprefix(marker) for line in self.requests if line.startswith(marker)]

    def api(self) -> AirflowApi:
        return AirflowApi(AirflowApiConfig(self.url, "admin", "admin"))

    def answer(self, method: str, target: str) -> tuple[int, object]:
        path, _, query = target.partition("?")
        self.requests.append(f"{method} {path}")
        if (method, path) == ("POST", "/auth/token"):
            return HTTPStatus.CREATED, {"access_token": "stand-in"}
        if (method, path) == ("GET", "/api/v2/dags"):
            offset = int(urllib.parse.parse_qs(query).get("offset", ["0"])[0])
            dags = [
                {"dag_id": f"dag_of_{name}", "fileloc": f"/dags/{name}",
                 "file_token": TOKEN_PREFIX + name}
                for name in self.files
            ]  # fmt: skip
            return HTTPStatus.OK, {"dags": dags[offset:], "total_entries": len(dags)}
        if method == "PUT" and path.startswith("/api/v2/parseDagFile/"):
            return (HTTPStatus.CONFLICT if self.conflict else HTTPStatus.CREATED), None
        return HTTPStatus.NOT_FOUND, {"detail": "not part of the stand-in"}


@contextmanager
def airflow_stand_in(files: list[str], *, conflict: bool = False) -> Iterator[AirflowStandIn]:
    stand_in = AirflowStandIn(files, conflict)

    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            status, body = stand_in.answer(self.command, self.path)
            payload = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = _reply

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: the test reads ``requests``

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stand_in.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stand_in
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

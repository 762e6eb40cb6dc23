"""A database endpoint that completes the login and then never answers.

PgBouncer does this in front of a hung server (until its query_wait_timeout, 120 s by default).
``SilentEndpoint`` is a TCP proxy on 127.0.0.1 in front of a real PostgreSQL: it forwards each
connection's login, and from the server's first ReadyForQuery on it forwards nothing more, in
either direction. While ``silent`` is False it is a plain proxy, so a test can let a process
connect normally first and then make the endpoint hang under it.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa


class SilentEndpoint:
    def __init__(self, server_url: str) -> None:
        url = sa.make_url(server_url)
        host = url.query.get("host") or url.host or "127.0.0.1"
        port = url.port or int(url.query.get("port", 5432))
        self._upstream = (
            (socket.AF_UNIX, f"{host}/.s.PGSQL.{port}")
            if str(host).startswith("/")
            else (socket.AF_INET, (host, port))
        )
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = url.set(host="127.0.0.1", port=self.port, query={}).render_as_string(
            hide_password=False
        )
        self.silent = True
        self.logins = 0
        self._stopped = threading.Event()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._stopped.set()
        self._listener.close()
        for sock in self._sockets:
            sock.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            family, address = self._upstream
            server = socket.socket(family, socket.SOCK_STREAM)
            server.connect(address)
            self._sockets += [client, server]
            threading.Thread(target=self._relay, args=(client, server), daemon=True).start()

    def _relay(self, client: socket.socket, server: socket.socket) -> None:
        """Forward both ways; once the login is done and the endpoint is silent, forward nothing."""
        from_server = bytearray()
        logged_in = False
        while not self._stopped.is_set():
            try:
                ready, _, _ = select.select([client, server], [], [], 0.2)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if logged_in and self.silent:
                        continue  # swallowed: the endpoint has gone quiet
                    (server if sock is client else client).sendall(data)
                    if sock is server and not logged_in:
                        from_server += data
                        logged_in = _has_ready_for_query(from_server)
                        self.logins += logged_in
            except OSError:
                return


def _has_ready_for_query(stream: bytes) -> bool:
    """Whether the server's messages so far include ReadyForQuery ('Z'): the login is complete.

    The one-byte 'N's first are the server's "no" to libpq's SSL and GSS encryption requests.
    """
    at = len(stream) - len(stream.lstrip(b"N"))
    while at + 5 <= len(stream):
        kind, length = stream[at : at + 1], struct.unpack("!I", stream[at + 1 : at + 5])[0]
        if kind == b"Z":
            return True
        at += 1 + length
    return False


@contextmanager
def silent_endpoint(server_url: str) -> Iterator[SilentEndpoint]:
    endpoint = SilentEndpoint(server_url)
    try:
        yield endpoint
    finally:
        endpoint.close()

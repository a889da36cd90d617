"""One HTTP/1.1 keep-alive connection that fails a test if the server ever closes it.

``http.client`` opens a new socket on its own when the server said
``Connection: close``; ``KeepAlive`` checks after every answer that the
server did not, and that the socket is still the first one.
"""

from __future__ import annotations

import http.client
import json
import socket
from dataclasses import dataclass
from typing import Any


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


class KeepAlive:
    def __init__(self, addr: str, timeout: float = 60.0) -> None:
        host, _, port = addr.rpartition(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        self.conn.connect()
        self.sock: socket.socket | None = self.conn.sock
        self.answers = 0

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        self.conn.request(method, path, body=body, headers=hdrs)
        r = self.conn.getresponse()
        data = r.read()
        self.answers += 1
        assert not r.will_close, f"{method} {path} closed the connection (HTTP {r.status})"
        assert self.conn.sock is self.sock, f"{method} {path}: the connection was replaced"
        return Answer(r.status, data, {k.lower(): v for k, v in r.getheaders()})

    def post(self, path: str, body: bytes | str | Any) -> Answer:
        if not isinstance(body, bytes | str):
            body = json.dumps(body)
        raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
        return self.request("POST", path, raw)

    def get(self, path: str) -> Answer:
        return self.request("GET", path)

    def close(self) -> None:
        self.conn.close()

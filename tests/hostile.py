"""Backends that attack the client: trickle bytes, answer huge, or answer with another page.

`HostileServer(handler)` serves every request on a loopback port with `handler(path, wfile)`,
which writes the raw HTTP answer itself, so a test can send the headers and then one byte
every few seconds, or stream hundreds of megabytes without holding them in memory.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import BinaryIO

Handler = Callable[[str, BinaryIO], None]


class HostileServer:
    def __init__(self, handler: Handler) -> None:
        outer = self
        self.handler = handler
        self.requests: list[str] = []

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                outer.requests.append(self.path)
                with contextlib.suppress(OSError):  # the client gave up, as the tests want
                    outer.handler(self.path, self.wfile)
                self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def trickle_body(every_s: float, total_s: float = 120.0) -> Handler:
    """Headers at once, then one byte of a JSON body every `every_s` seconds."""

    def handler(path: str, w: BinaryIO) -> None:
        w.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
        )
        w.flush()
        end = time.monotonic() + total_s
        w.write(b"{")
        while time.monotonic() < end:
            time.sleep(every_s)
            w.write(b" ")
            w.flush()

    return handler


def trickle_headers(every_s: float, total_s: float = 120.0) -> Handler:
    """The status line, then one byte of a header every `every_s` seconds, never the blank line."""

    def handler(path: str, w: BinaryIO) -> None:
        w.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        w.flush()
        end = time.monotonic() + total_s
        while time.monotonic() < end:
            time.sleep(every_s)
            w.write(b"a")
            w.flush()

    return handler


def hang() -> Handler:
    """Accept, read the request, say nothing for two minutes."""

    def handler(path: str, w: BinaryIO) -> None:
        time.sleep(120)

    return handler


def body(data: bytes, content_type: str = "application/json", status: int = 200) -> Handler:
    def handler(path: str, w: BinaryIO) -> None:
        head = (
            f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
        )
        w.write(head.encode() + data)
        w.flush()

    return handler


def chunked(parts: Callable[[], Iterator[bytes]]) -> Handler:
    """A chunked answer without Content-Length (so the size is only known by reading it)."""

    def handler(path: str, w: BinaryIO) -> None:
        w.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        for part in parts():
            if part:
                w.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        w.write(b"0\r\n\r\n")
        w.flush()

    return handler


def many_series_vector(count: int, labels: int = 1) -> Iterator[bytes]:
    """A Prometheus instant-vector answer of `count` series, produced piece by piece. Each series
    reads as a valid row of every graph query (request, latency bucket, TCP), so only its size
    can be what a refresh refuses."""
    yield b'{"status":"success","data":{"resultType":"vector","result":['
    valid = '"reporter":"source","direction":"sent","le":"+Inf"'
    for i in range(count):
        extra = "".join(f',"l{k}":"v{i}"' for k in range(labels - 1))
        sep = "," if i else ""
        yield (
            f'{sep}{{"metric":{{"destination_service_name":"s{i}",{valid}{extra}}},'
            f'"value":[1767225600,"1"]}}'
        ).encode()
    yield b"]}}"

"""HTTP sessions for the backends: credentials, extra headers and TLS, from the settings.

Real clusters put Prometheus and Jaeger behind TLS, basic auth, a bearer token (often a
Kubernetes service-account token that the kubelet rotates on disk) or a multi-tenant gateway
(Thanos, Mimir, Cortex) that wants an `X-Scope-OrgID` header. All of that is configured once
here, on the requests.Session each collector is given, so the collectors stay about their wire
format. The URL (with any path prefix such as `/prometheus`) is the collector's business: they
append their API paths to it.

Every request through a session built here has a whole-request deadline (Deadline below): the
timeout covers connecting, the headers and the whole body, however slowly the server trickles
them, because a socket timeout alone restarts at every byte received. Every answer is read
under a size cap in bytes (after decompression), so one huge answer cannot take the process's
memory; past it the call fails with a 502 naming the limit and the setting that raises it.

Secrets stay in SecretStr until the moment a request is signed; nothing here logs, formats or
raises them. A 401/403 becomes BackendAuthError naming the backend and "authentication
refused", never echoing what was sent.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import requests
from pydantic import SecretStr
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase, HTTPBasicAuth
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from mesh.errors import BackendAuthError, BackendDataError

log = logging.getLogger("meshdash.backends")

Backend = Literal["prometheus", "jaeger"]
BACKENDS: tuple[Backend, ...] = ("prometheus", "jaeger")


# ---------------------------------------------------------------------------------------------
# What one backend's connection needs, read from the settings


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """One backend's connection options; secrets are SecretStr so repr() never shows them."""

    backend: str
    url: str | None = None
    bearer_token: SecretStr | None = None
    bearer_token_file: Path | None = None
    basic_auth_user: str | None = None
    basic_auth_password: SecretStr | None = None
    headers: Mapping[str, SecretStr] = field(default_factory=dict)
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure_skip_verify: bool = False


def connection_settings(settings: Any, backend: Backend) -> ConnectionSettings:
    """The `<backend>_*` fields of the settings, as one object."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")

    def get(name: str) -> Any:
        return getattr(settings, f"{backend}_{name}", None)

    headers = get("headers") or {}
    return ConnectionSettings(
        backend=backend,
        url=get("url"),
        bearer_token=get("bearer_token"),
        bearer_token_file=_path(get("bearer_token_file")),
        basic_auth_user=get("basic_auth_user"),
        basic_auth_password=get("basic_auth_password"),
        headers={str(k): _secret(v) for k, v in headers.items()},
        ca_file=_path(get("ca_file")),
        cert_file=_path(get("cert_file")),
        key_file=_path(get("key_file")),
        insecure_skip_verify=bool(get("insecure_skip_verify")),
    )


def _path(value: Any) -> Path | None:
    return Path(value) if value else None


def _secret(value: Any) -> SecretStr:
    return value if isinstance(value, SecretStr) else SecretStr(str(value))


def check(conn: ConnectionSettings) -> None:
    """Refuse contradictory or unusable options at startup, naming the setting (never a value)."""
    name = conn.backend
    if conn.bearer_token is not None and conn.bearer_token_file is not None:
        raise ValueError(f"{name}: set a bearer token or a bearer token file, not both")
    has_token = conn.bearer_token is not None or conn.bearer_token_file is not None
    has_basic = bool(conn.basic_auth_user) or conn.basic_auth_password is not None
    if has_token and has_basic:
        raise ValueError(f"{name}: set bearer token or basic auth, not both")
    if has_basic and not (conn.basic_auth_user and conn.basic_auth_password is not None):
        raise ValueError(f"{name}: basic auth needs both a user and a password")
    if conn.key_file is not None and conn.cert_file is None:
        raise ValueError(f"{name}: a client key needs its client certificate (cert_file)")
    if conn.insecure_skip_verify and conn.ca_file is not None:
        raise ValueError(f"{name}: insecure_skip_verify and ca_file contradict each other")
    for what, path in (
        ("bearer_token_file", conn.bearer_token_file),
        ("ca_file", conn.ca_file),
        ("cert_file", conn.cert_file),
        ("key_file", conn.key_file),
    ):
        if path is not None and not os.access(path, os.R_OK):
            raise ValueError(f"{name}: {what} {path} does not exist or is not readable")
    for header, value in conn.headers.items():
        if not header or any(c in header for c in ":\r\n \t"):
            raise ValueError(f"{name}: {header!r} is not a valid header name")
        if any(c in value.get_secret_value() for c in "\r\n"):
            raise ValueError(f"{name}: the value of header {header} holds a line break")


# ---------------------------------------------------------------------------------------------
# Bearer tokens


class BearerToken(AuthBase):
    """`Authorization: Bearer <token>` from a token given in the settings."""

    def __init__(self, token: SecretStr) -> None:
        self._token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        return r

    def __repr__(self) -> str:
        return "BearerToken(**********)"


class BearerTokenFile(AuthBase):
    """`Authorization: Bearer <token>` read from a file, re-read whenever the file changes.

    Kubernetes rotates projected service-account tokens on disk (by swapping a symlink), so
    the file's identity (inode, mtime, size) is checked on every request, a stat() each, and
    the token is read again only when it changed. A token read once at startup would expire
    after an hour and every query would then fail with 401.
    """

    def __init__(self, path: Path, backend: str) -> None:
        self.path = Path(path)
        self._backend = backend
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._token: SecretStr | None = None

    def token(self) -> SecretStr:
        try:
            st = os.stat(self.path)
        except OSError as e:
            raise BackendAuthError(
                self._backend, f"cannot read the bearer token file {self.path}: {e.strerror}"
            ) from None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        with self._lock:
            if stamp != self._stamp or self._token is None:
                try:
                    text = self.path.read_text(encoding="utf-8").strip()
                except (OSError, UnicodeDecodeError) as e:
                    reason = getattr(e, "strerror", None) or "not UTF-8 text"
                    raise BackendAuthError(
                        self._backend, f"cannot read the bearer token file {self.path}: {reason}"
                    ) from None
                if not text:
                    raise BackendAuthError(
                        self._backend, f"the bearer token file {self.path} is empty"
                    )
                if self._stamp is not None:
                    log.info("re-read the %s bearer token file %s", self._backend, self.path)
                self._token, self._stamp = SecretStr(text), stamp
            return self._token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.token().get_secret_value()}"
        return r

    def __repr__(self) -> str:
        return f"BearerTokenFile({str(self.path)!r})"


class BasicAuth(HTTPBasicAuth):
    """requests' basic auth with the password kept as a SecretStr until signing."""

    def __init__(self, user: str, password: SecretStr) -> None:
        self.username = user
        self._password = password

    @property
    def password(self) -> str:  # type: ignore[override]
        return self._password.get_secret_value()

    def __repr__(self) -> str:
        return f"BasicAuth({self.username!r}, **********)"


def auth_of(conn: ConnectionSettings) -> AuthBase | None:
    if conn.bearer_token is not None:
        return BearerToken(conn.bearer_token)
    if conn.bearer_token_file is not None:
        return BearerTokenFile(conn.bearer_token_file, conn.backend)
    if conn.basic_auth_user and conn.basic_auth_password is not None:
        return BasicAuth(conn.basic_auth_user, conn.basic_auth_password)
    return None


# ---------------------------------------------------------------------------------------------
# Whole-request deadlines: a watchdog shuts the socket down when the time is up

DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
# A 50,000-span trace is about 87 MB of v1 JSON (80 MB as OTLP): the trace page opens it on its
# virtualized waterfall, at a peak of about 3.7x the answer's bytes (README, Traces).
JAEGER_MAX_RESPONSE_BYTES = 128 * 1024 * 1024
_READ_CHUNK = 64 * 1024
_local = threading.local()


class Deadline:
    """One call's deadline. Sockets used inside it are shut down when it passes, which wakes a
    read blocked on a server that sends one byte every few seconds (a socket timeout would not:
    it restarts with every byte)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self.end = time.monotonic() + self.seconds
        self.expired = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def remaining(self) -> float:
        """Seconds left, never below a millisecond (urllib3 reads 0 as "do not wait")."""
        return max(0.001, self.end - time.monotonic())

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            if self.expired:
                _shut(sock)
                return
            self._socks.append(sock)
            if self._timer is None:
                self._timer = threading.Timer(self.remaining(), self._fire)
                self._timer.daemon = True
                self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            self.expired = True
            socks, self._socks = self._socks, []
        for sock in socks:
            _shut(sock)

    def check(self) -> None:
        if self.expired or time.monotonic() >= self.end:
            self.expired = True
            raise requests.exceptions.ReadTimeout(f"no whole answer within {self.seconds:g}s")

    def close(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._socks = []


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed: nothing left to wake
        sock.shutdown(socket.SHUT_RDWR)


def current_deadline() -> Deadline | None:
    stack = getattr(_local, "deadlines", None)
    return stack[-1] if stack else None


@contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Every request this thread sends through a deadline-aware pool (every session built here,
    and the Kubernetes client once `watch_pools` is applied) ends within `seconds` in all."""
    d = Deadline(seconds)
    stack = getattr(_local, "deadlines", None)
    if stack is None:
        stack = _local.deadlines = []
    stack.append(d)
    try:
        yield d
    finally:
        stack.remove(d)
        d.close()


@contextmanager
def whole_answer_deadline(seconds: float) -> Iterator[Deadline]:
    """`deadline(seconds)` for reading one answer: a request failure once it has passed (the
    watchdog shut the socket mid-read) is the timeout it is, not a broken connection."""
    with deadline(seconds) as d:
        try:
            yield d
        except requests.exceptions.RequestException:
            if d.expired or time.monotonic() >= d.end:
                raise requests.exceptions.ReadTimeout(
                    f"no whole answer within {seconds:g}s"
                ) from None
            raise


class _WatchedMixin:
    """Registers the connection's socket with the thread's deadline before the answer is read:
    from then on the headers and the body are both under it."""

    def getresponse(self):  # type: ignore[no-untyped-def]
        # Every deadline on the thread's stack, not only the innermost: a body streamed after
        # the request returns (collectors/prometheus.py reads the largest answers that way)
        # stays under the call's outer deadline.
        sock = getattr(self, "sock", None)
        for d in list(getattr(_local, "deadlines", None) or ()):
            d.watch(sock)
        return super().getresponse()  # type: ignore[misc]


class _WatchedHTTPConnection(_WatchedMixin, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedMixin, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


def watch_pools(pool_manager: Any) -> Any:
    """Make a urllib3 PoolManager's connections obey `deadline` (used for the Kubernetes client)."""
    pool_manager.pool_classes_by_scheme = dict(WATCHED_POOLS)
    pool_manager.clear()
    return pool_manager


class AnswerTooLarge(BackendDataError):
    """A backend's answer is over the configured size (HTTP 502, naming the setting)."""


def too_large(backend: str, limit: str, setting: str) -> AnswerTooLarge:
    """`limit` in words ("50,000 series"); the message names the setting that raises it."""
    return AnswerTooLarge(
        backend,
        f"the answer is over the limit of {limit}; narrow the query (fewer namespaces or "
        f"services, a shorter range) or raise {setting}",
    )


def _setting_name(backend: str) -> str:
    return f"MESHDASH_{backend.upper()}_MAX_RESPONSE_BYTES"


class LimitedAdapter(HTTPAdapter):
    """requests' adapter with deadline-aware pools, and the body read under a byte cap before
    any hook or collector sees it (requests would otherwise read it all into memory)."""

    def __init__(self, backend: str, max_bytes: int, **kwargs: Any) -> None:
        self.backend = backend
        self.max_bytes = int(max_bytes)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(WATCHED_POOLS)

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):  # type: ignore[no-untyped-def, override]
        d = current_deadline()
        if d is not None:
            left = d.remaining()
            timeout = (left, left)
        response = super().send(
            request, stream=True, timeout=timeout, verify=verify, cert=cert, proxies=proxies
        )
        if stream and response.status_code == 200:
            return response  # the caller reads it through capped_chunks
        try:
            response._content = self._read(response)  # type: ignore[attr-defined]
        finally:
            response.close()
        return response

    def _read(self, response: requests.Response) -> bytes:
        # BytesIO grows one buffer in place and hands it over as the bytes (no copy): a list of
        # chunks joined at the end would hold the answer twice at its peak.
        body = io.BytesIO()
        for chunk in capped_chunks(response, self.backend, self.max_bytes, _READ_CHUNK):
            body.write(chunk)
        return body.getvalue()


def capped_chunks(
    response: requests.Response, backend: str, max_bytes: int, size: int
) -> Iterator[bytes]:
    """The body in chunks, under the byte cap and the thread's deadline (checked between
    chunks; the deadline's watchdog wakes a read blocked inside one)."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large(backend, f"{max_bytes:,} bytes", _setting_name(backend))
    d = current_deadline()
    total = 0
    for chunk in response.iter_content(size):
        if d is not None:
            d.check()
        total += len(chunk)
        if total > max_bytes:
            raise too_large(backend, f"{max_bytes:,} bytes", _setting_name(backend))
        yield chunk
    if d is not None:
        d.check()


def limited_adapter(session: requests.Session, **kwargs: Any) -> LimitedAdapter:
    """A new adapter with the session's backend name and byte cap (a client library that mounts
    its own adapter, as prometheus-api-client does, gets this one mounted over it)."""
    return LimitedAdapter(
        getattr(session, "backend_name", "backend"),
        getattr(session, "max_response_bytes", DEFAULT_MAX_RESPONSE_BYTES),
        **kwargs,
    )


# ---------------------------------------------------------------------------------------------
# The session


def display_url(url: str | None) -> str:
    """scheme://host[:port]/path without user-info, query or fragment: safe in a message."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url or "")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _refused_hook(backend: str):
    """Response hook: 401/403 -> BackendAuthError before any collector reads the body."""

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if response.status_code in (401, 403):
            where = display_url(response.url)
            response.close()
            raise BackendAuthError(
                backend,
                f"authentication refused by {where} (HTTP {response.status_code}); "
                "check the credentials configured for it",
            )

    hook.__name__ = f"refused_{backend}"
    return hook


class BackendSession(requests.Session):
    """A Session whose own `verify` wins over REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE.

    requests lets those environment variables replace session.verify whenever a call passes
    no `verify` of its own (psf/requests#3829), and many containers set them; the configured
    CA bundle (or insecure_skip_verify) would then be silently ignored for such calls.
    """

    backend_name = "backend"
    max_response_bytes = DEFAULT_MAX_RESPONSE_BYTES

    def __init__(
        self, backend: str = "backend", max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    ) -> None:
        super().__init__()
        self.backend_name = backend
        self.max_response_bytes = int(max_response_bytes)
        for prefix in ("http://", "https://"):
            self.mount(prefix, limited_adapter(self))

    def merge_environment_settings(self, url, proxies, stream, verify, cert):  # type: ignore[override]
        if verify is None and self.verify is not True:
            verify = self.verify
        return super().merge_environment_settings(url, proxies, stream, verify, cert)

    def request(self, method, url, *args, timeout=None, **kwargs):  # type: ignore[no-untyped-def, override]
        """The call's timeout is its whole-request deadline (a pair: the larger of the two),
        cut to what is left of an enclosing `deadline` (a call made of several requests)."""
        if timeout is None:
            return super().request(method, url, *args, **kwargs)
        total = max(timeout) if isinstance(timeout, tuple) else float(timeout)
        outer = current_deadline()
        if outer is not None and outer.remaining() < total:
            total = round(outer.remaining(), 3)
            timeout = (total, total)
        with whole_answer_deadline(total) as d:
            response = super().request(method, url, *args, timeout=timeout, **kwargs)
            if d.expired:  # the watchdog cut it: what arrived is not the whole answer
                raise requests.exceptions.ReadTimeout(f"no whole answer within {total:g}s")
            return response


def build_session(settings: Any, backend: Backend) -> requests.Session:
    """A session carrying the backend's auth, headers and TLS options from the settings.

    Raises ValueError naming the setting when options contradict each other or a file is
    missing, so a misconfiguration stops the app at startup rather than at the first query.
    """
    conn = connection_settings(settings, backend)
    check(conn)
    max_bytes = getattr(settings, f"{backend}_max_response_bytes", DEFAULT_MAX_RESPONSE_BYTES)
    session = BackendSession(backend, max_bytes)
    session.auth = auth_of(conn)
    for name, value in conn.headers.items():
        session.headers[name] = value.get_secret_value()
    if conn.ca_file is not None:
        session.verify = str(conn.ca_file)
    if conn.insecure_skip_verify:
        session.verify = False
        log.warning(
            "TLS CERTIFICATE VERIFICATION IS OFF for %s (%s): anyone on the path can read and "
            "change its answers and see the credentials sent to it; set %s_ca_file instead",
            backend,
            display_url(conn.url),
            backend,
        )
    if conn.cert_file is not None:
        session.cert = (
            (str(conn.cert_file), str(conn.key_file))
            if conn.key_file is not None
            else str(conn.cert_file)
        )
    session.hooks["response"] = [_refused_hook(backend)]
    return session

"""HTTP sessions for the backends: credentials, extra headers and TLS, from the settings.

Real clusters put Prometheus and Jaeger behind TLS, basic auth, a bearer token (often a
Kubernetes service-account token that the kubelet rotates on disk) or a multi-tenant gateway
(Thanos, Mimir, Cortex) that wants an `X-Scope-OrgID` header. All of that is configured once
here, on the requests.Session each collector is given, so the collectors stay about their wire
format. The URL (with any path prefix such as `/prometheus`) is the collector's business: they
append their API paths to it.

Secrets stay in SecretStr until the moment a request is signed; nothing here logs, formats or
raises them. A 401/403 becomes BackendAuthError naming the backend and "authentication
refused", never echoing what was sent.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import requests
from pydantic import SecretStr
from requests.auth import AuthBase, HTTPBasicAuth

from mesh.errors import BackendAuthError

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

    def merge_environment_settings(self, url, proxies, stream, verify, cert):  # type: ignore[override]
        if verify is None and self.verify is not True:
            verify = self.verify
        return super().merge_environment_settings(url, proxies, stream, verify, cert)


def build_session(settings: Any, backend: Backend) -> requests.Session:
    """A session carrying the backend's auth, headers and TLS options from the settings.

    Raises ValueError naming the setting when options contradict each other or a file is
    missing, so a misconfiguration stops the app at startup rather than at the first query.
    """
    conn = connection_settings(settings, backend)
    check(conn)
    session = BackendSession()
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

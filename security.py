"""Who is asking, and may they change routes: identity, write permission and CSRF.

Used by the API and by the Dash callbacks that write, so both refuse the same way.
- Writes are off unless `Settings.writes_allowed` (the demo enables them by default).
- Identity comes from a bearer token mapped to a user (`api_tokens`), or from a trusted auth
  proxy's X-Forwarded-User/Email/Groups headers (honoured ONLY with `trusted_proxy`: anyone can
  send those headers to an app that is reachable directly), or in the demo a default user.
- Allowed users/groups (`allowed_users`, `allowed_groups`) limit who may write; when both are
  empty, every identified user may (writes are already an explicit opt-in).
- CSRF: a double-submit cookie `_csrf_token`, echoed in the `X-CSRFToken` header, which is what
  Dash's renderer sends with every callback. With `csrf_secret` set the token is also signed, so
  a cookie planted from a sibling subdomain is refused (set it when several workers or replicas
  serve one site; without it any worker accepts any well-formed token that matches its header).
  Requests authenticated by a bearer token are exempt: a browser never attaches it by itself.
A read-only user still sees everything; a refused write raises Forbidden saying why (403).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, request

from mesh.errors import Forbidden

DEMO_USER = "demo-user"
CSRF_COOKIE = "_csrf_token"
CSRF_HEADER = "X-CSRFToken"
SECRET_KEY = "meshdash.csrf_secret"
USER_HEADER = "X-Forwarded-User"
EMAIL_HEADER = "X-Forwarded-Email"
GROUPS_HEADER = "X-Forwarded-Groups"
_MAX_NAME = 256


@dataclass(frozen=True, slots=True)
class Identity:
    user: str
    email: str = ""
    groups: tuple[str, ...] = ()
    source: str = "proxy"  # "proxy", "token" or "demo"

    @property
    def needs_csrf(self) -> bool:
        """Credentials a browser attaches by itself (proxy session, demo) need the CSRF token."""
        return self.source != "token"


def _clean(value: str | None) -> str:
    value = (value or "").strip()
    if len(value) > _MAX_NAME or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return ""
    return value


def resolve(headers: Mapping[str, str], settings: Any) -> tuple[Identity | None, str]:
    """The caller's identity, or None and the reason there is none."""
    auth = headers.get("Authorization") or ""
    if auth[:7].lower() == "bearer ":
        token = auth[7:].strip().encode()
        for user, secret in (settings.api_tokens or {}).items():
            value = (
                secret.get_secret_value() if hasattr(secret, "get_secret_value") else str(secret)
            )
            if value and hmac.compare_digest(token, value.encode()):
                return Identity(user=user, source="token"), ""
        return None, "the bearer token is not known"
    if settings.trusted_proxy:
        user = _clean(headers.get(USER_HEADER))
        email = _clean(headers.get(EMAIL_HEADER))
        if user or email:
            groups = tuple(
                g for g in (_clean(p) for p in (headers.get(GROUPS_HEADER) or "").split(",")) if g
            )
            return Identity(user=user or email, email=email, groups=groups, source="proxy"), ""
        return None, "the auth proxy sent no X-Forwarded-User or X-Forwarded-Email"
    if settings.demo:
        return Identity(user=DEMO_USER, source="demo"), ""
    return None, "no identity: sign in through the auth proxy or send a bearer token"


def identify(headers: Mapping[str, str], settings: Any) -> Identity | None:
    return resolve(headers, settings)[0]


def write_status(
    identity: Identity | None, settings: Any, why_anonymous: str = ""
) -> tuple[bool, str]:
    """(may write, why not): what the page shows beside disabled buttons."""
    if not settings.writes_allowed:
        return False, (
            "route changes are disabled; start meshdash with --enable-writes "
            "(MESHDASH_WRITE_ENABLED=true) to allow them"
        )
    if identity is None:
        return (
            False,
            why_anonymous or "no identity: sign in through the auth proxy or send a bearer token",
        )
    users, groups = tuple(settings.allowed_users or ()), tuple(settings.allowed_groups or ())
    if identity.source == "demo" or (not users and not groups):
        return True, ""
    if identity.user in users or (identity.email and identity.email in users):
        return True, ""
    if set(identity.groups) & set(groups):
        return True, ""
    return False, f"{identity.user} is not among the users or groups allowed to change routes"


def authorize_write(identity: Identity | None, settings: Any, why_anonymous: str = "") -> Identity:
    """The identity, if it may write; Forbidden with the reason otherwise."""
    allowed, why = write_status(identity, settings, why_anonymous)
    if not allowed or identity is None:
        raise Forbidden(why)
    return identity


# ---------------------------------------------------------------------------------------------
# CSRF: double-submit cookie, signed when a secret is configured

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{24}\.[A-Za-z0-9_-]{0,43}$")


def _sign(secret: bytes | None, nonce: str) -> str:
    if secret is None:
        return ""
    mac = hmac.new(secret, nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def issue_token(secret: bytes | None) -> str:
    nonce = secrets.token_urlsafe(18)
    return f"{nonce}.{_sign(secret, nonce)}"


def token_valid(token: str | None, secret: bytes | None) -> bool:
    """Well formed, and signed by this site when it has a secret."""
    if not token or not _TOKEN.match(token):
        return False
    nonce, sig = token.split(".")
    return hmac.compare_digest(sig, _sign(secret, nonce))


def check_csrf(
    cookies: Mapping[str, str], headers: Mapping[str, str], secret: bytes | None
) -> None:
    cookie, header = cookies.get(CSRF_COOKIE), headers.get(CSRF_HEADER)
    if not cookie or not header:
        raise Forbidden(
            f"missing CSRF token: send the {CSRF_COOKIE} cookie's value in the {CSRF_HEADER} "
            "header (reload the page if it expired)"
        )
    if not hmac.compare_digest(cookie, header) or not token_valid(cookie, secret):
        raise Forbidden("CSRF token mismatch: reload the page and try again")


def install(server: Flask, settings: Any) -> None:
    """Give every browser a CSRF cookie (readable by Dash's renderer, so not HttpOnly)."""
    configured = getattr(settings, "csrf_secret", None)
    secret = configured.get_secret_value().encode() if configured is not None else None
    server.extensions[SECRET_KEY] = secret

    @server.after_request
    def _csrf_cookie(response):
        if not token_valid(request.cookies.get(CSRF_COOKIE), secret):
            response.set_cookie(
                CSRF_COOKIE,
                issue_token(secret),
                samesite="Strict",
                secure=request.is_secure,
                httponly=False,
                path="/",
            )
        return response


def current_identity(settings: Any) -> Identity | None:
    """The identity of the Flask request being served (API view or Dash callback)."""
    return identify(request.headers, settings)


def require_writer(settings: Any) -> Identity:
    """Inside a Flask request: refuse unless writes are on, the caller is known, allowed, and
    (for browser credentials) sent the CSRF token. Call it first in every writing endpoint."""
    identity, why = resolve(request.headers, settings)
    allowed, reason = write_status(identity, settings, why)
    if not allowed or identity is None:
        raise Forbidden(reason)
    if identity.needs_csrf:
        if SECRET_KEY not in current_app.extensions:
            raise Forbidden("CSRF protection is not installed on this server")
        secret = current_app.extensions[SECRET_KEY]
        check_csrf(request.cookies, request.headers, secret)
    return identity

"""Who is asking, and may they change routes: identity, write permission and CSRF.

Used by the API and by the Dash callbacks that write, so both refuse the same way.
- Writes are off unless `Settings.writes_allowed` (the demo enables them by default).
- Identity comes from a bearer token mapped to a user (`api_tokens`), or from a trusted auth
  proxy's X-Forwarded-User/Email/Groups headers, or in the demo a default user. Those headers
  are honoured ONLY with `trusted_proxy`, and only on a request that comes from an address in
  `trusted_proxy_cidrs` or carries the shared secret `trusted_proxy_secret` in
  X-Meshdash-Proxy-Secret: anyone who reaches the pod can send them. An identity header sent
  twice is refused (400): a proxy that appends its own would otherwise let the client's through.
- Allowed users/groups (`allowed_users`, `allowed_groups`) limit who may write; when both are
  empty, every identified user may (writes are already an explicit opt-in).
- CSRF: a double-submit cookie `_csrf_token`, echoed in the `X-CSRFToken` header, which is what
  Dash's renderer sends with every callback. The token is an HMAC bound to a per-browser secret
  held in an HttpOnly cookie (`_meshdash_browser`), so a token copied from another browser or
  from any GET is refused; with `csrf_secret` set it is also keyed by the site, so a pair of
  cookies planted from a sibling subdomain is refused too (set it when several workers or
  replicas serve one site). Requests authenticated by a bearer token are exempt: a browser
  never attaches it by itself. Cookies are Secure when the request is https, or when the trusted
  proxy says so in X-Forwarded-Proto.
A read-only user still sees everything; a refused write raises Forbidden saying why (403).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, jsonify, request

from mesh.errors import Forbidden

DEMO_USER = "demo-user"
CSRF_COOKIE = "_csrf_token"
CSRF_HEADER = "X-CSRFToken"
SECRET_KEY = "meshdash.csrf_secret"
USER_HEADER = "X-Forwarded-User"
EMAIL_HEADER = "X-Forwarded-Email"
GROUPS_HEADER = "X-Forwarded-Groups"
PROTO_HEADER = "X-Forwarded-Proto"
PROXY_SECRET_HEADER = "X-Meshdash-Proxy-Secret"
IDENTITY_HEADERS = (USER_HEADER, EMAIL_HEADER, GROUPS_HEADER)
# Set by the server in front of the app (gunicorn.conf.py's pre_request, app.py's dev server
# handler) to the names of identity headers a request carried more than once: WSGI joins
# repeats into one comma-separated value, which cannot be told from a list afterwards.
REPEATED_ENVIRON = "meshdash.repeated_headers"
REPEATED_HEADER = "X-Meshdash-Repeated-Identity"
BROWSER_COOKIE = "_meshdash_browser"
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


def repeated_identity_headers(names: Iterable[str]) -> list[str]:
    """The identity headers (and the proxy secret) that occur more than once in `names`."""
    watched = {h.lower(): h for h in (*IDENTITY_HEADERS, PROXY_SECRET_HEADER, PROTO_HEADER)}
    counts: dict[str, int] = {}
    for name in names:
        key = name.strip().lower().replace("_", "-")
        if key in watched:
            counts[key] = counts.get(key, 0) + 1
    return [watched[k] for k, n in counts.items() if n > 1]


def _networks(cidrs: Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(c, strict=False) for c in cidrs]


def from_trusted_proxy(headers: Mapping[str, str], remote_addr: str | None, settings: Any) -> bool:
    """Whether this request comes from the auth proxy: its address, or the shared secret."""
    if not getattr(settings, "trusted_proxy", False):
        return False
    configured = getattr(settings, "trusted_proxy_secret", None)
    sent = headers.get(PROXY_SECRET_HEADER)
    if configured is not None and sent:
        expected = configured.get_secret_value().encode()
        return hmac.compare_digest(sent.encode("utf-8", "surrogateescape"), expected)
    try:
        address = ipaddress.ip_address((remote_addr or "").split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    cidrs = getattr(settings, "trusted_proxy_cidrs", ()) or ()
    return any(address in net for net in _networks(cidrs) if net.version == address.version)


def resolve(
    headers: Mapping[str, str], settings: Any, remote_addr: str | None = "127.0.0.1"
) -> tuple[Identity | None, str]:
    """The caller's identity, or None and the reason there is none. Identity headers count only
    from the trusted proxy (from_trusted_proxy); `remote_addr` is the peer's address."""
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
        if not from_trusted_proxy(headers, remote_addr, settings):
            return None, (
                "identity headers are honoured only from the auth proxy; sign in through it "
                "or send a bearer token"
            )
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


def identify(
    headers: Mapping[str, str], settings: Any, remote_addr: str | None = "127.0.0.1"
) -> Identity | None:
    return resolve(headers, settings, remote_addr)[0]


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
    # A guided rollout writes on the authority of the person who started it, checked then.
    if identity.source in ("demo", "rollout") or (not users and not groups):
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
# CSRF: double-submit cookie, bound to a per-browser secret, keyed by the site when configured

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{24}\.[A-Za-z0-9_-]{43}$")
_BROWSER = re.compile(r"^[A-Za-z0-9_-]{43}$")


def _sign(secret: bytes | None, browser: str, nonce: str) -> str:
    key = (secret or b"") + b"|" + browser.encode()
    mac = hmac.new(key, nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def new_browser_secret() -> str:
    return secrets.token_urlsafe(32)


def browser_valid(browser: str | None) -> bool:
    return bool(browser) and _BROWSER.match(browser or "") is not None


def issue_token(secret: bytes | None, browser: str) -> str:
    nonce = secrets.token_urlsafe(18)
    return f"{nonce}.{_sign(secret, browser, nonce)}"


def token_valid(token: str | None, secret: bytes | None, browser: str | None) -> bool:
    """Well formed (ASCII only), and signed for this browser (and this site, with a secret)."""
    if not token or not _TOKEN.match(token) or not browser_valid(browser):
        return False
    nonce, sig = token.split(".")
    return hmac.compare_digest(sig.encode(), _sign(secret, browser or "", nonce).encode())


def check_csrf(
    cookies: Mapping[str, str], headers: Mapping[str, str], secret: bytes | None
) -> None:
    cookie, header = cookies.get(CSRF_COOKIE), headers.get(CSRF_HEADER)
    if not cookie or not header:
        raise Forbidden(
            f"missing CSRF token: send the {CSRF_COOKIE} cookie's value in the {CSRF_HEADER} "
            "header (reload the page if it expired)"
        )
    # Validate the shape first: compare_digest raises TypeError on non-ASCII text (a 500).
    browser = cookies.get(BROWSER_COOKIE)
    if (
        not token_valid(header, secret, browser)
        or not token_valid(cookie, secret, browser)
        or not hmac.compare_digest(cookie.encode(), header.encode())
    ):
        raise Forbidden("CSRF token mismatch: reload the page and try again")


def secure_request(settings: Any) -> bool:
    """https here, or at the trusted proxy that terminated TLS (X-Forwarded-Proto)."""
    if request.is_secure:
        return True
    proto = (request.headers.get(PROTO_HEADER) or "").strip().lower()
    return proto == "https" and from_trusted_proxy(request.headers, request.remote_addr, settings)


def repeated_headers() -> list[str]:
    """Identity headers this request carried more than once (as the server in front saw it)."""
    marked = request.environ.get(REPEATED_ENVIRON) or request.headers.get(REPEATED_HEADER) or ""
    return [h for h in (p.strip() for p in str(marked).split(",")) if h]


def install(server: Flask, settings: Any) -> None:
    """Refuse repeated identity headers; give every browser its secret and a CSRF cookie
    (readable by Dash's renderer, so not HttpOnly; the browser secret is HttpOnly)."""
    configured = getattr(settings, "csrf_secret", None)
    secret = configured.get_secret_value().encode() if configured is not None else None
    server.extensions[SECRET_KEY] = secret

    @server.before_request
    def _one_identity_each():
        repeated = repeated_headers()
        if repeated:
            return jsonify(
                {
                    "error": f"the {repeated[0]} header was sent more than once; "
                    "send each identity header once",
                    "field": repeated[0],
                }
            ), 400
        return None

    @server.after_request
    def _csrf_cookie(response):
        browser = request.cookies.get(BROWSER_COOKIE)
        secure = secure_request(settings)
        fresh = not browser_valid(browser)
        if fresh:
            browser = new_browser_secret()
        if fresh or not token_valid(request.cookies.get(CSRF_COOKIE), secret, browser):
            response.set_cookie(
                CSRF_COOKIE,
                issue_token(secret, browser or ""),
                samesite="Strict",
                secure=secure,
                httponly=False,
                path="/",
            )
        if fresh:
            response.set_cookie(
                BROWSER_COOKIE, browser, samesite="Strict", secure=secure, httponly=True, path="/"
            )
        return response


def current_identity(settings: Any) -> Identity | None:
    """The identity of the Flask request being served (API view or Dash callback)."""
    return identify(request.headers, settings, request.remote_addr)


def require_writer(settings: Any) -> Identity:
    """Inside a Flask request: refuse unless writes are on, the caller is known, allowed, and
    (for browser credentials) sent the CSRF token. Call it first in every writing endpoint."""
    identity, why = resolve(request.headers, settings, request.remote_addr)
    allowed, reason = write_status(identity, settings, why)
    if not allowed or identity is None:
        raise Forbidden(reason)
    if identity.needs_csrf:
        if SECRET_KEY not in current_app.extensions:
            raise Forbidden("CSRF protection is not installed on this server")
        secret = current_app.extensions[SECRET_KEY]
        check_csrf(request.cookies, request.headers, secret)
    return identity

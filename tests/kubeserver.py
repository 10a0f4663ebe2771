"""An in-test Kubernetes API server: enough of it for the official `kubernetes` client.

No Kubernetes API server can be installed here, so the tests run the real client against this:
a threaded HTTP server on loopback (a free port) holding custom objects and Deployments in memory
with the API server's optimistic concurrency:
- every write gets a new, monotonically increasing resourceVersion (one counter, like etcd);
- PUT must carry metadata.resourceVersion, and a stale one answers 409 Conflict;
- `?dryRun=All` validates and answers the would-be object without storing it or bumping the RV;
- POST creates (409 AlreadyExists if the name is taken), DELETE deletes;
- a group version that is not served answers 404, as the real server does, so a client can
  fall back from networking.istio.io/v1 to v1beta1;
- gateway.networking.k8s.io HTTPRoutes (v1 and v1beta1, one storage, as the real server serves
  both versions of an object) with the same rules as the other custom objects and the CRD's
  validation of weights (0..1000000) and list sizes (16 rules, 16 backendRefs);
- core/v1 Services (list, read-only), so per-version Services' labels can be read;
- core/v1 ConfigMaps (list, get, create, update, delete) with the real validation that matters:
  data keys of `[-._a-zA-Z0-9]+`, at most 1 MiB of keys and values answered 422 Invalid,
  `immutable`, and an update without a resourceVersion is unconditional (ConfigMaps allow it).
PATCH answers 405: meshdash must never merge-patch an `http` list. Every request is recorded.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

KINDS = {
    "virtualservices": "VirtualService",
    "destinationrules": "DestinationRule",
    "rollouts": "Rollout",
    "strategies": "Strategy",
    "httproutes": "HTTPRoute",
}
GATEWAY_GROUP = "gateway.networking.k8s.io"
GATEWAY_MAX_RULES = 16  # the HTTPRoute CRD's maxItems for rules and for backendRefs
GATEWAY_MAX_WEIGHT = 1_000_000

CONFIGMAP_MAX_BYTES = 1024 * 1024  # corev1.MaxSecretSize: keys and values of data and binaryData
CONFIGMAP_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

VERSION = {
    "major": "1",
    "minor": "30",
    "gitVersion": "v1.30.0-fake",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.22.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    peer: tuple[str, int] | None = None  # the client's address: tests trace who sent a request


def status(code: int, reason: str, message: str, **details: Any) -> dict:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": details,
        "code": code,
    }


class FakeKube:
    """Custom objects keyed by (group, plural, namespace, name), served at `served` versions."""

    def __init__(
        self,
        served: dict[str, Iterable[str]] | None = None,
        forbidden: Iterable[str] = (),
    ) -> None:
        self.served = {
            g: tuple(v)
            for g, v in (
                {"networking.istio.io": ("v1", "v1beta1"), GATEWAY_GROUP: ("v1", "v1beta1")}
                if served is None
                else served
            ).items()
        }
        # "plural.group" the caller's RBAC does not allow: every request for them is a 403,
        # answered before the resource is looked up, as the API server's authorizer does.
        self.forbidden = set(forbidden)
        self.objects: dict[tuple[str, str, str, str], dict] = {}
        self.deployments: dict[str, list[dict]] = {}
        self.services: dict[str, list[dict]] = {}  # core/v1 Services, by namespace
        self.configmaps: dict[tuple[str, str], dict] = {}  # (namespace, name) -> object
        self.namespaces: dict[str, dict] = {}  # core/v1 Namespaces, by name
        self.leases: dict[tuple[str, str], dict] = {}  # coordination.k8s.io/v1, (namespace, name)
        self.requests: list[Request] = []
        self.answers: list[tuple[Request, int]] = []  # every request with the status it got
        self.before_write: Callable[[Request], None] | None = None
        self.lock = threading.RLock()
        self._rv = 1000
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> str:
        handler = _handler(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeKube:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- state helpers for tests --------------------------------------------------------------
    def next_rv(self) -> str:
        with self.lock:
            self._rv += 1
            return str(self._rv)

    def add(self, obj: dict, namespace: str = "bookinfo") -> dict:
        """Store an object as `kubectl create` would (apiVersion group decides where)."""
        group = obj["apiVersion"].split("/")[0]
        plural = {v: k for k, v in KINDS.items()}[obj["kind"]]
        stored = copy.deepcopy(obj)
        meta = stored.setdefault("metadata", {})
        meta["namespace"] = namespace
        meta["resourceVersion"] = self.next_rv()
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("generation", 1)
        meta.setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
        with self.lock:
            self.objects[(group, plural, namespace, meta["name"])] = stored
        return copy.deepcopy(stored)

    def add_deployment(self, obj: dict, namespace: str = "bookinfo") -> None:
        stored = copy.deepcopy(obj)
        stored.setdefault("metadata", {})["namespace"] = namespace
        stored["metadata"].setdefault("resourceVersion", self.next_rv())
        with self.lock:
            self.deployments.setdefault(namespace, []).append(stored)

    def add_service(self, obj: dict, namespace: str = "bookinfo") -> dict:
        """Store a core/v1 Service as `kubectl create` would."""
        stored = copy.deepcopy(obj)
        meta = stored.setdefault("metadata", {})
        meta["namespace"] = namespace
        meta["resourceVersion"] = self.next_rv()
        meta.setdefault("uid", str(uuid.uuid4()))
        with self.lock:
            self.services.setdefault(namespace, []).append(stored)
        return copy.deepcopy(stored)

    def add_namespace(self, name: str) -> dict:
        """Create a core/v1 Namespace as `kubectl create namespace` would."""
        with self.lock:
            stored = {
                "metadata": {
                    "name": name,
                    "resourceVersion": self.next_rv(),
                    "uid": str(uuid.uuid4()),
                    "creationTimestamp": "2026-01-01T00:00:00Z",
                },
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }
            self.namespaces[name] = stored
            return copy.deepcopy(stored)

    def get(
        self,
        plural: str,
        name: str,
        namespace: str = "bookinfo",
        group: str = "networking.istio.io",
    ) -> dict | None:
        with self.lock:
            obj = self.objects.get((group, plural, namespace, name))
            return copy.deepcopy(obj) if obj else None

    def replace(
        self,
        plural: str,
        obj: dict,
        namespace: str = "bookinfo",
        group: str = "networking.istio.io",
    ) -> dict:
        """A change made by "someone else", bumping the resourceVersion."""
        with self.lock:
            stored = copy.deepcopy(obj)
            stored["metadata"]["resourceVersion"] = self.next_rv()
            self.objects[(group, plural, namespace, obj["metadata"]["name"])] = stored
            return copy.deepcopy(stored)

    def configmap(self, name: str, namespace: str) -> dict | None:
        with self.lock:
            obj = self.configmaps.get((namespace, name))
            return copy.deepcopy(obj) if obj else None

    def answered(self, method: str, *, dry_run: bool) -> list[int]:
        """Status codes of the writes with `method`, dry runs or real ones."""
        with self.lock:
            return [
                code
                for r, code in self.answers
                if r.method == method and ("dryRun" in r.query) == dry_run
            ]

    def writes(self, method: str | None = None) -> list[Request]:
        return [
            r
            for r in self.requests
            if r.method in ("PUT", "POST", "PATCH", "DELETE")
            and (method is None or r.method == method)
        ]

    # -- the API ------------------------------------------------------------------------------
    def handle(self, req: Request) -> tuple[int, dict]:
        with self.lock:
            self.requests.append(req)
        parts = [p for p in req.path.split("/") if p]
        if parts == ["version"]:  # what `kubectl version` and readiness checks read
            return 200, dict(VERSION)
        if parts[:3] == ["api", "v1", "namespaces"] and len(parts) <= 4:
            return self._namespaces(req, parts[3] if len(parts) == 4 else None)
        if parts[:3] == ["apis", "apps", "v1"] and len(parts) == 6 and parts[5] == "deployments":
            if req.method != "GET":
                return 405, status(405, "MethodNotAllowed", "deployments are read-only here")
            with self.lock:
                items = copy.deepcopy(self.deployments.get(parts[4], []))
            return 200, {
                "kind": "DeploymentList",
                "apiVersion": "apps/v1",
                "metadata": {"resourceVersion": str(self._rv)},
                "items": items,
            }
        if parts[:3] == ["api", "v1", "namespaces"] and parts[4:] == ["services"]:
            if req.method != "GET":
                return 405, status(405, "MethodNotAllowed", "services are read-only here")
            with self.lock:
                items = copy.deepcopy(self.services.get(parts[3], []))
            return 200, {
                "kind": "ServiceList",
                "apiVersion": "v1",
                "metadata": {"resourceVersion": str(self._rv)},
                "items": items,
            }
        if parts == ["api", "v1", "configmaps"] and req.method == "GET":
            return self._all_configmaps(req)
        if (
            parts[:3] == ["apis", "coordination.k8s.io", "v1"]
            and parts[3:4] == ["namespaces"]
            and parts[5:6] == ["leases"]
            and len(parts) < 8
        ):
            return self._leases(req, parts[4], parts[6] if len(parts) == 7 else None)
        if (
            parts[:3] == ["api", "v1", "namespaces"]
            and parts[4:5] == ["configmaps"]
            and len(parts) < 7
        ):
            return self._configmaps(req, parts[3], parts[5] if len(parts) == 6 else None)
        if len(parts) < 6 or parts[0] != "apis" or parts[3] != "namespaces":
            return 404, status(404, "NotFound", "the server could not find the requested resource")
        group, version, namespace, plural = parts[1], parts[2], parts[4], parts[5]
        name = parts[6] if len(parts) > 6 else None
        if f"{plural}.{group}" in self.forbidden:
            verb = {"GET": "list" if name is None else "get", "PUT": "update"}.get(req.method, "")
            return 403, status(
                403,
                "Forbidden",
                f'{plural}.{group} is forbidden: User "system:serviceaccount:meshdash:meshdash" '
                f'cannot {verb or req.method.lower()} resource "{plural}" in API group '
                f'"{group}" in the namespace "{namespace}"',
                group=group,
                kind=plural,
            )
        if version not in self.served.get(group, ()) or plural not in KINDS:
            return 404, status(404, "NotFound", "the server could not find the requested resource")
        dry_run = req.query.get("dryRun", [None])[0]
        if dry_run not in (None, "All"):
            return 400, status(400, "BadRequest", f"invalid dryRun {dry_run!r}")
        key = (group, plural, namespace, name)
        gv = f"{group}/{version}"
        if req.method in ("PUT", "POST", "DELETE") and self.before_write is not None:
            self.before_write(req)
        with self.lock:
            if req.method == "GET" and name is None:
                items = [
                    self._as(o, gv)
                    for (g, p, ns, _n), o in sorted(self.objects.items())
                    if (g, p, ns) == (group, plural, namespace)
                ]
                return 200, {
                    "apiVersion": gv,
                    "kind": KINDS[plural] + "List",
                    "metadata": {"resourceVersion": str(self._rv)},
                    "items": items,
                }
            if req.method == "GET":
                if key not in self.objects:
                    return 404, self._not_found(plural, group, name)
                return 200, self._as(self.objects[key], gv)
            if req.method == "DELETE" and name:
                if key not in self.objects:
                    return 404, self._not_found(plural, group, name)
                if dry_run is None:
                    del self.objects[key]
                return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 200}
            if req.method == "POST" and name is None:
                return self._create(group, plural, namespace, gv, req.body, dry_run == "All")
            if req.method == "PUT" and name:
                return self._replace(key, gv, req.body, dry_run == "All")
            return 405, status(405, "MethodNotAllowed", f"{req.method} is not supported here")

    # -- coordination.k8s.io/v1 Leases ---------------------------------------------------------
    def _leases(self, req: Request, namespace: str, name: str | None) -> tuple[int, dict]:
        """Create (409 AlreadyExists), get, replace (409 when the resourceVersion sent is not the
        current one; none sent is an unconditional update, as for any object) and delete."""
        if req.method in ("PUT", "POST", "DELETE") and self.before_write is not None:
            self.before_write(req)
        with self.lock:
            if req.method == "POST" and name is None:
                body = req.body
                if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict):
                    return 422, status(422, "Invalid", "Lease is invalid: metadata: Required value")
                lname = body["metadata"].get("name")
                if not isinstance(lname, str) or not DNS_SUBDOMAIN.match(lname):
                    return 422, status(422, "Invalid", f"Lease {lname!r} is invalid: metadata.name")
                if (namespace, lname) in self.leases:
                    return 409, status(
                        409, "AlreadyExists", f'leases.coordination.k8s.io "{lname}" already exists'
                    )
                obj = copy.deepcopy(body)
                obj.update(kind="Lease", apiVersion="coordination.k8s.io/v1")
                obj["metadata"].update(
                    namespace=namespace, uid=str(uuid.uuid4()), resourceVersion=self.next_rv()
                )
                self.leases[(namespace, lname)] = obj
                return 201, copy.deepcopy(obj)
            if name is None:
                return 405, status(405, "MethodNotAllowed", f"{req.method} is not supported here")
            current = self.leases.get((namespace, name))
            if current is None:
                return 404, self._not_found("leases", "coordination.k8s.io", name)
            if req.method == "GET":
                return 200, copy.deepcopy(current)
            if req.method == "DELETE":
                del self.leases[(namespace, name)]
                return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 200}
            if req.method == "PUT":
                body = req.body if isinstance(req.body, dict) else {}
                rv = (body.get("metadata") or {}).get("resourceVersion")
                if rv and rv != current["metadata"]["resourceVersion"]:
                    return 409, status(
                        409,
                        "Conflict",
                        f'Operation cannot be fulfilled on leases.coordination.k8s.io "{name}": '
                        "the object has been modified; please apply your changes to the latest "
                        "version and try again",
                        name=name,
                        kind="leases",
                    )
                obj = copy.deepcopy(body)
                obj.update(kind="Lease", apiVersion="coordination.k8s.io/v1")
                meta = obj.setdefault("metadata", {})
                for kept in ("uid", "namespace", "name"):
                    meta[kept] = current["metadata"].get(kept)
                meta["resourceVersion"] = self.next_rv()
                self.leases[(namespace, name)] = obj
                return 200, copy.deepcopy(obj)
            return 405, status(405, "MethodNotAllowed", f"{req.method} is not supported here")

    def _all_configmaps(self, req: Request) -> tuple[int, dict]:
        """GET /api/v1/configmaps, honouring an equality labelSelector (a=b,c=d)."""
        selector = req.query.get("labelSelector", [""])[0]
        wanted = dict(term.split("=", 1) for term in selector.split(",") if "=" in term)
        with self.lock:
            items = [
                copy.deepcopy(o)
                for _k, o in sorted(self.configmaps.items())
                if all((o["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())
            ]
            return 200, {
                "kind": "ConfigMapList",
                "apiVersion": "v1",
                "metadata": {"resourceVersion": str(self._rv)},
                "items": items,
            }

    # -- core/v1 ConfigMaps ---------------------------------------------------------------------
    def _configmaps(self, req: Request, namespace: str, name: str | None) -> tuple[int, dict]:
        dry_run = req.query.get("dryRun", [None])[0]
        if dry_run not in (None, "All"):
            return 400, status(400, "BadRequest", f"invalid dryRun {dry_run!r}")
        dry = dry_run == "All"
        if req.method in ("PUT", "POST", "DELETE") and self.before_write is not None:
            self.before_write(req)
        with self.lock:
            key = (namespace, name or "")
            if req.method == "GET" and name is None:
                return 200, {
                    "kind": "ConfigMapList",
                    "apiVersion": "v1",
                    "metadata": {"resourceVersion": str(self._rv)},
                    "items": [
                        copy.deepcopy(o)
                        for (ns, _n), o in sorted(self.configmaps.items())
                        if ns == namespace
                    ],
                }
            if req.method == "POST" and name is None:
                return self._create_configmap(namespace, req.body, dry)
            if name is None:
                return 405, status(405, "MethodNotAllowed", f"{req.method} is not supported here")
            current = self.configmaps.get(key)
            if current is None and req.method in ("GET", "PUT", "DELETE"):
                return 404, self._not_found("configmaps", "", name)
            if req.method == "GET":
                return 200, copy.deepcopy(current)
            if req.method == "DELETE":
                if not dry:
                    del self.configmaps[key]
                return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success", "code": 200}
            if req.method == "PUT":
                return self._update_configmap(key, current, req.body, dry)
            return 405, status(405, "MethodNotAllowed", f"{req.method} is not supported here")

    @staticmethod
    def _configmap_invalid(body: Any, name: str | None) -> tuple[str, str]:
        """(field, problem) as ValidateConfigMap reports them; ("", "") when valid."""
        if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict):
            return "metadata", "Required value"
        if body.get("kind") not in (None, "ConfigMap"):
            return "kind", "must be ConfigMap"
        meta_name = body["metadata"].get("name")
        if not isinstance(meta_name, str) or not DNS_SUBDOMAIN.match(meta_name):
            return "metadata.name", f"Invalid value: {meta_name!r}: a lowercase RFC 1123 subdomain"
        if name is not None and meta_name != name:
            return "metadata.name", "Invalid value: must match the name in the URL"
        total = 0
        for field in ("data", "binaryData"):
            values = body.get(field) or {}
            if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
                return field, "Invalid value: must map keys to strings"
            for k, v in values.items():
                if not CONFIGMAP_KEY.match(k):
                    return f"{field}[{k}]", "Invalid value: a valid config key must consist of "
                try:
                    size = len(v.encode()) if field == "data" else len(base64.b64decode(v))
                except ValueError:
                    return f"{field}[{k}]", "Invalid value: not base64"
                total += len(k) + size
        if total > CONFIGMAP_MAX_BYTES:
            return "", f"Too long: must have at most {CONFIGMAP_MAX_BYTES} bytes"
        return "", ""

    def _refuse_configmap(self, name: Any, field: str, problem: str) -> tuple[int, dict]:
        return 422, status(
            422,
            "Invalid",
            f'ConfigMap "{name}" is invalid: {field or "[]"}: {problem}',
            name=name,
            kind="ConfigMap",
            causes=[{"reason": "FieldValueInvalid", "message": problem, "field": field or "[]"}],
        )

    def _create_configmap(self, namespace: str, body: Any, dry: bool) -> tuple[int, dict]:
        field, problem = self._configmap_invalid(body, None)
        if problem:
            name = body.get("metadata", {}).get("name") if isinstance(body, dict) else None
            return self._refuse_configmap(name, field, problem)
        name = body["metadata"]["name"]
        if (namespace, name) in self.configmaps:
            return 409, status(
                409, "AlreadyExists", f'configmaps "{name}" already exists', name=name
            )
        obj = copy.deepcopy(body)
        obj.update(kind="ConfigMap", apiVersion="v1")
        meta = obj["metadata"]
        meta.update(namespace=namespace, uid=str(uuid.uuid4()))
        meta["creationTimestamp"] = "2026-01-01T00:00:00Z"
        meta.pop("resourceVersion", None)
        if dry:
            return 201, obj
        meta["resourceVersion"] = self.next_rv()
        self.configmaps[(namespace, name)] = obj
        return 201, copy.deepcopy(obj)

    def _update_configmap(
        self, key: tuple[str, str], current: dict, body: Any, dry: bool
    ) -> tuple[int, dict]:
        field, problem = self._configmap_invalid(body, key[1])
        if problem:
            return self._refuse_configmap(key[1], field, problem)
        rv = body["metadata"].get("resourceVersion")
        if rv and rv != current["metadata"]["resourceVersion"]:
            return 409, status(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on configmaps "{key[1]}": the object has been '
                "modified; please apply your changes to the latest version and try again",
                name=key[1],
                kind="configmaps",
            )
        if current.get("immutable") and any(
            body.get(f) != current.get(f) for f in ("data", "binaryData", "immutable")
        ):
            return self._refuse_configmap(
                key[1], "data", "Forbidden: field is immutable when `immutable` is set"
            )
        obj = copy.deepcopy(body)
        obj.update(kind="ConfigMap", apiVersion="v1")
        meta = obj["metadata"]
        for kept in ("uid", "creationTimestamp", "namespace"):
            meta[kept] = current["metadata"].get(kept)
        meta["resourceVersion"] = current["metadata"]["resourceVersion"]
        if dry:
            return 200, obj
        meta["resourceVersion"] = self.next_rv()
        self.configmaps[key] = obj
        return 200, copy.deepcopy(obj)

    def _namespaces(self, req: Request, name: str | None) -> tuple[int, dict]:
        if req.method != "GET":
            return 405, status(405, "MethodNotAllowed", "namespaces are read-only here")
        with self.lock:
            if name is not None:
                if name not in self.namespaces:
                    return 404, status(
                        404,
                        "NotFound",
                        f'namespaces "{name}" not found',
                        name=name,
                        kind="namespaces",
                    )
                return 200, {"kind": "Namespace", "apiVersion": "v1", **self.namespaces[name]}
            items = [
                {"kind": "Namespace", "apiVersion": "v1", **copy.deepcopy(ns)}
                for _, ns in sorted(self.namespaces.items())
            ]
            return 200, {
                "kind": "NamespaceList",
                "apiVersion": "v1",
                "metadata": {"resourceVersion": str(self._rv)},
                "items": items,
            }

    def _not_found(self, plural: str, group: str, name: str | None) -> dict:
        return status(
            404,
            "NotFound",
            f'{f"{plural}.{group}" if group else plural} "{name}" not found',
            name=name,
            group=group,
            kind=plural,
        )

    @staticmethod
    def _as(obj: dict, gv: str) -> dict:
        out = copy.deepcopy(obj)
        out["apiVersion"] = gv
        return out

    def _invalid(self, plural: str, body: Any, name: str | None) -> str:
        """A little of the API server's and Istio's webhook validation."""
        if not isinstance(body, dict) or not isinstance(body.get("metadata"), dict):
            return "the body must be an object with metadata"
        if body.get("kind") != KINDS[plural]:
            return f"kind must be {KINDS[plural]}"
        if name is not None and body["metadata"].get("name") != name:
            return "metadata.name must match the URL"
        spec = body.get("spec")
        if not isinstance(spec, dict):
            return "spec is required"
        if plural == "virtualservices":
            if not spec.get("hosts"):
                return "spec.hosts: at least one host is required"
            for route in spec.get("http") or []:
                dests = route.get("route") or []
                weights = [d.get("weight", 0) for d in dests]
                if any(not isinstance(w, int) or w < 0 for w in weights):
                    return "weight must be a non-negative integer"
                if len(dests) > 1 and sum(weights) == 0:
                    return "total destination weight = 0"
        if plural == "httproutes":
            return self._invalid_http_route(spec)
        if plural == "destinationrules":
            if not spec.get("host"):
                return "spec.host is required"
            names = [s.get("name") for s in spec.get("subsets") or []]
            if len(set(names)) != len(names):
                return "duplicate subset names"
        return ""

    @staticmethod
    def _invalid_http_route(spec: dict) -> str:
        """The HTTPRoute CRD's schema checks that a weight edit can break."""
        rules = spec.get("rules", [])
        if not isinstance(rules, list) or len(rules) > GATEWAY_MAX_RULES:
            return f"spec.rules: Too many: must have at most {GATEWAY_MAX_RULES} items"
        for i, rule in enumerate(rules):
            refs = rule.get("backendRefs", []) if isinstance(rule, dict) else None
            if not isinstance(refs, list) or len(refs) > GATEWAY_MAX_RULES:
                return f"spec.rules[{i}].backendRefs: must be a list of at most 16 items"
            for j, ref in enumerate(refs):
                where = f"spec.rules[{i}].backendRefs[{j}]"
                if not isinstance(ref, dict) or not ref.get("name"):
                    return f"{where}.name: Required value"
                w = ref.get("weight", 1)
                if (
                    isinstance(w, bool)
                    or not isinstance(w, int)
                    or not 0 <= w <= GATEWAY_MAX_WEIGHT
                ):
                    return f"{where}.weight: Invalid value: {w!r}: must be 0..{GATEWAY_MAX_WEIGHT}"
        return ""

    def _create(
        self, group: str, plural: str, namespace: str, gv: str, body: Any, dry: bool
    ) -> tuple[int, dict]:
        problem = self._invalid(plural, body, None)
        if problem:
            return 422, status(422, "Invalid", f"{KINDS[plural]} is invalid: {problem}")
        name = body["metadata"].get("name")
        key = (group, plural, namespace, name)
        if key in self.objects:
            return 409, status(
                409, "AlreadyExists", f'{plural}.{group} "{name}" already exists', name=name
            )
        obj = copy.deepcopy(body)
        meta = obj["metadata"]
        meta["namespace"] = namespace
        meta["uid"] = str(uuid.uuid4())
        meta["generation"] = 1
        meta["creationTimestamp"] = "2026-01-01T00:00:00Z"
        if dry:
            meta.pop("resourceVersion", None)
            return 201, self._as(obj, gv)
        meta["resourceVersion"] = self.next_rv()
        self.objects[key] = obj
        return 201, self._as(obj, gv)

    def _replace(self, key: tuple, gv: str, body: Any, dry: bool) -> tuple[int, dict]:
        group, plural, _namespace, name = key
        problem = self._invalid(plural, body, name)
        if problem:
            return 422, status(422, "Invalid", f"{KINDS[plural]} {name!r} is invalid: {problem}")
        current = self.objects.get(key)
        if current is None:
            return 404, self._not_found(plural, group, name)
        rv = body["metadata"].get("resourceVersion")
        if not rv:
            return 422, status(
                422,
                "Invalid",
                "metadata.resourceVersion: Invalid value: must be specified for an update",
            )
        if rv != current["metadata"]["resourceVersion"]:
            return 409, status(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {plural}.{group} "{name}": the object has been '
                "modified; please apply your changes to the latest version and try again",
                name=name,
            )
        obj = copy.deepcopy(body)
        meta = obj["metadata"]
        for kept in ("uid", "creationTimestamp", "namespace"):
            meta[kept] = current["metadata"].get(kept)
        gen = current["metadata"].get("generation", 1)
        meta["generation"] = gen + 1 if obj.get("spec") != current.get("spec") else gen
        if dry:
            return 200, self._as(obj, gv)
        meta["resourceVersion"] = self.next_rv()
        self.objects[key] = obj
        return 200, self._as(obj, gv)


def _handler(kube: FakeKube) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: avoid 40 ms stalls

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                self._send(400, status(400, "BadRequest", "body is not JSON"))
                return
            req = Request(
                self.command, url.path, parse_qs(url.query), body, self.client_address[:2]
            )
            code, payload = kube.handle(req)
            with kube.lock:
                kube.answers.append((req, code))
            self._send(code, payload)

        def _send(self, code: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _serve

    return Handler

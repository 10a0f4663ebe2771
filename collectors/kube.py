"""Istio routing objects from the Kubernetes API, with the official `kubernetes` client.

Reads VirtualServices and DestinationRules (networking.istio.io/v1, falling back to v1beta1 when
the cluster's Istio does not serve v1), Deployments' app/version labels, and the objects of the
controllers that own routes (Argo Rollouts, KubeSphere Strategies) so those stay read-only.

Writes replace the whole object carrying the resourceVersion that was read: never a merge patch
on `http` (it would drop matches, faults and retries, and loses concurrent updates). A 409 is
re-read and answered with mesh.errors.Conflict holding the current object and a diff of what
the other person changed. Timeouts and refused connections become BackendTimeout and
BackendUnavailable("kubernetes").
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from collectors.audit_configmaps import audit_for
from collectors.backend_status import not_ready, ready_answer
from collectors.http import watch_pools
from collectors.kube_calls import call_api, read_body, status_message
from collectors.strict_json import NotFiniteError, loads_strict
from mesh import validate
from mesh.errors import (
    BackendAuthError,
    BackendDataError,
    BackendError,
    BackendQueryError,
    BackendUnavailable,
    BadRequest,
    Conflict,
    NotFound,
)
from mesh.releases.audit import AuditEntry
from mesh.routing.diff import conflict_error
from mesh.routing.gateway_api import (
    GATEWAY_GROUP,
    GATEWAY_VERSIONS,
    HTTP_ROUTE,
    HTTP_ROUTE_PLURAL,
)
from mesh.routing.objects import (
    DESTINATION_RULE,
    GROUP,
    PLURALS,
    VIRTUAL_SERVICE,
    Write,
    name_of,
    resource_version,
)
from mesh.routing.selection import ServiceRoutes, service_names, service_routes

log = logging.getLogger("meshdash.kube")
T = TypeVar("T")
BACKEND = "kubernetes"
ISTIO_VERSIONS = ("v1", "v1beta1")
FIELD_MANAGER = "meshdash"
# Controllers whose objects make a route read-only; absent CRDs simply mean "none".
OWNER_KINDS = (
    ("argoproj.io", "v1alpha1", "rollouts"),
    ("servicemesh.kubesphere.io", "v1alpha2", "strategies"),
)
VERSION_LABELS = ("version", "app.kubernetes.io/version")
APP_LABELS = ("app", "app.kubernetes.io/name")


@dataclass(frozen=True, slots=True)
class OwnersUnknown:
    """A controller kind meshdash may not list: whether it owns a route cannot be told."""

    kind: str  # e.g. "rollouts.argoproj.io"
    cause: str

    def owner(self, namespace: str) -> str:
        """What the page shows after "managed by": who might own it, and how to let us check."""
        return (
            f"a controller meshdash cannot check (it may not list {self.kind} in {namespace}; "
            "grant that to edit here)"
        )


def _retries() -> urllib3.Retry:
    """Retry refused connections, never a request that may have reached the server: a replayed
    PUT would answer 409 for our own write."""
    return urllib3.Retry(
        total=2, connect=2, read=0, status=0, other=0, redirect=0, backoff_factor=0.1
    )


class KubeRouteStore:
    """RouteStore over the Kubernetes API; one instance per app, safe for Flask's threads."""

    name = "kubernetes"

    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        audit: Any,
        timeout_s: float = 10.0,
        snapshot_size: int = 512,
        ready_namespace: str = "default",
    ) -> None:
        self.api_client = api_client  # shared with the rollout store (collectors/rollout_store.py)
        self._custom = client.CustomObjectsApi(api_client)
        self._apps = client.AppsV1Api(api_client)
        self._core = client.CoreV1Api(api_client)
        self._version = client.VersionApi(api_client)
        self._host = str(api_client.configuration.host or "")
        self._ready_namespace = ready_namespace
        self._timeout_s = float(timeout_s)
        # Whole-request deadlines: urllib3's timeouts restart at every byte received.
        watch_pools(api_client.rest_client.pool_manager)
        self._audit = audit
        self._lock = threading.Lock()
        self._istio_version: str | None = None
        self._gateway_version: str | None = None  # the Gateway API version the server serves
        self._snapshots: OrderedDict[tuple[str, str, str, str], dict] = OrderedDict()
        self._snapshot_size = snapshot_size

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_settings(cls, settings: Any) -> KubeRouteStore:
        """kubeconfig (with `settings.kube_context` if set), else the in-cluster service account."""
        cfg = client.Configuration()
        try:
            config.load_kube_config(context=settings.kube_context, client_configuration=cfg)
        except (ConfigException, OSError, TypeError) as exc:
            if settings.kube_context:
                raise BackendUnavailable(
                    BACKEND, f"kubeconfig context {settings.kube_context!r}: {exc}"
                ) from None
            try:
                config.load_incluster_config(client_configuration=cfg)
            except ConfigException as exc2:
                raise BackendUnavailable(
                    BACKEND, f"no kubeconfig and not in a cluster ({exc}; {exc2})"
                ) from None
        cfg.retries = _retries()
        api = client.ApiClient(cfg)
        return cls(
            api,
            audit=audit_for(settings, api),
            timeout_s=settings.kube_timeout_s,
            ready_namespace=(settings.default_namespaces or ("default",))[0],
        )

    @classmethod
    def for_host(
        cls,
        host: str,
        *,
        audit: Any,
        timeout_s: float = 10.0,
        token: str | None = None,
        pool_size: int = 32,
        ready_namespace: str = "default",
    ) -> KubeRouteStore:
        """Against an arbitrary API server URL (tests use an in-process fake)."""
        cfg = client.Configuration(host=host, retries=_retries(), connection_pool_maxsize=pool_size)
        if token:
            cfg.api_key = {"authorization": token}
            cfg.api_key_prefix = {"authorization": "Bearer"}
        return cls(
            client.ApiClient(cfg),
            audit=audit,
            timeout_s=timeout_s,
            ready_namespace=ready_namespace,
        )

    # -- plumbing -------------------------------------------------------------------------------
    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call the client under one whole-request deadline (collectors/kube_calls.py)."""
        return call_api(fn, *args, host=self._host, timeout_s=self._timeout_s, **kwargs)

    def _fetch(self, fn: Callable[..., Any], *args: Any, what: str, **kwargs: Any) -> Any:
        """Call, read the whole answer inside _call (so a stall or a cut mid-body maps like a
        failed request), and parse it strictly: invalid JSON and NaN/Infinity, which no API
        server sends, are BackendDataError instead of a traceback or an invented weight."""

        raw = self._call(read_body(fn), *args, **kwargs)
        try:
            return loads_strict(raw)
        except NotFiniteError as exc:
            raise BackendDataError(BACKEND, f"the {what} answer holds non-numbers: {exc}") from None
        except (TypeError, ValueError):
            raise BackendDataError(BACKEND, f"the {what} answer is not JSON") from None

    def _remember(self, kind: str, obj: Mapping) -> None:
        key = (
            kind,
            str(obj.get("metadata", {}).get("namespace", "")),
            name_of(obj),
            resource_version(obj),
        )
        with self._lock:
            self._snapshots[key] = copy.deepcopy(dict(obj))
            self._snapshots.move_to_end(key)
            while len(self._snapshots) > self._snapshot_size:
                self._snapshots.popitem(last=False)

    def snapshot(self, kind: str, namespace: str, name: str, resource_version: str) -> dict | None:
        with self._lock:
            obj = self._snapshots.get((kind, namespace, name, resource_version))
            return copy.deepcopy(obj) if obj else None

    def _versions_to_try(self) -> tuple[str, ...]:
        with self._lock:
            return (self._istio_version,) if self._istio_version else ISTIO_VERSIONS

    def _list_istio(self, namespace: str, plural: str, **params: Any) -> list[dict]:
        """List one Istio kind; a 404 on the group version falls back to the next version."""
        versions = self._versions_to_try()
        for i, version in enumerate(versions):
            try:
                body = self._fetch(
                    self._custom.list_namespaced_custom_object,
                    GROUP,
                    version,
                    namespace,
                    plural,
                    what=plural,
                    **params,
                )
            except ApiException as exc:
                if exc.status == 404 and i + 1 < len(versions):
                    log.info("%s/%s not served; trying the next version", GROUP, version)
                    continue
                if exc.status == 404:
                    raise BackendQueryError(
                        BACKEND,
                        f"the Istio networking API ({GROUP} "
                        f"{' or '.join(versions)}) is not served: is Istio installed?",
                    ) from None
                raise BackendQueryError(BACKEND, status_message(exc)) from None
            with self._lock:
                self._istio_version = version
            return self._items(body, plural)
        raise AssertionError("unreachable")  # pragma: no cover

    def _items(self, body: Any, what: str) -> list[dict]:
        items = body.get("items") if isinstance(body, Mapping) else None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise BackendDataError(BACKEND, f"the {what} list has no items array")
        return items

    def _list_optional(
        self, group: str, version: str, namespace: str, plural: str
    ) -> list[dict] | OwnersUnknown:
        try:
            body = self._fetch(
                self._custom.list_namespaced_custom_object,
                group,
                version,
                namespace,
                plural,
                what=plural,
            )
        except ApiException as exc:
            if exc.status == 404:
                return []
            raise BackendQueryError(BACKEND, status_message(exc)) from None
        except BackendAuthError as exc:
            # Fail closed: a controller we may not see could still own the route and revert
            # any edit, so the caller marks the namespace's routes read-only with this reason.
            log.warning("cannot list %s.%s (%s): routes stay read-only", plural, group, exc.cause)
            return OwnersUnknown(f"{plural}.{group}", exc.cause)
        return self._items(body, plural)

    def _list_http_routes(self, namespace: str) -> list[dict] | OwnersUnknown:
        """HTTPRoutes (gateway.networking.k8s.io v1, else v1beta1); none when the Gateway API is
        not installed. When they may not be listed, whether one also routes a service cannot be
        told, so the caller keeps the namespace's routes read-only (as for unknown owners)."""
        with self._lock:
            versions = (self._gateway_version,) if self._gateway_version else GATEWAY_VERSIONS
        for version in versions:
            try:
                body = self._fetch(
                    self._custom.list_namespaced_custom_object,
                    GATEWAY_GROUP,
                    version,
                    namespace,
                    HTTP_ROUTE_PLURAL,
                    what=HTTP_ROUTE_PLURAL,
                )
            except ApiException as exc:
                if exc.status == 404:
                    continue  # this version (or the whole Gateway API) is not served
                raise BackendQueryError(BACKEND, status_message(exc)) from None
            except BackendAuthError as exc:
                log.warning("cannot list HTTPRoutes (%s): routes stay read-only", exc.cause)
                return OwnersUnknown(f"{HTTP_ROUTE_PLURAL}.{GATEWAY_GROUP}", exc.cause)
            with self._lock:
                self._gateway_version = version
            return self._items(body, HTTP_ROUTE_PLURAL)
        return []

    def _backend_services(self, namespace: str) -> list[dict]:
        """core/v1 Services: the per-version backends of HTTPRoutes and their version labels."""
        try:
            body = self._fetch(self._core.list_namespaced_service, namespace, what="Service")
        except ApiException as exc:
            raise BackendQueryError(BACKEND, status_message(exc)) from None
        return self._items(body, "services")

    def _versions_by_app(self, namespace: str) -> tuple[dict[str, list[str]], dict[str, str]]:
        """app -> versions (from the pod template labels, which subsets select) and the label key."""
        try:
            body = self._fetch(self._apps.list_namespaced_deployment, namespace, what="Deployment")
        except ApiException as exc:
            raise BackendQueryError(BACKEND, status_message(exc)) from None
        versions: dict[str, list[str]] = {}
        label_keys: dict[str, str] = {}
        for dep in sorted(self._items(body, "deployments"), key=name_of):
            template = (dep.get("spec") or {}).get("template") or {}
            labels = (
                (template.get("metadata") or {}).get("labels")
                or dep.get("metadata", {}).get("labels")
                or {}
            )
            app = next((labels[k] for k in APP_LABELS if labels.get(k)), None)
            key = next((k for k in VERSION_LABELS if labels.get(k)), None)
            if not app or not key:
                continue
            found = versions.setdefault(str(app), [])
            if labels[key] not in found:
                found.append(str(labels[key]))
            label_keys.setdefault(str(app), key)
        return versions, label_keys

    def _namespace_objects(self, namespace: str) -> dict[str, Any]:
        vss = self._list_istio(namespace, PLURALS[VIRTUAL_SERVICE])
        drs = self._list_istio(namespace, PLURALS[DESTINATION_RULE])
        for obj in vss:
            self._remember(VIRTUAL_SERVICE, obj)
        for obj in drs:
            self._remember(DESTINATION_RULE, obj)
        versions, label_keys = self._versions_by_app(namespace)
        listed = {
            plural: self._list_optional(g, v, namespace, plural) for g, v, plural in OWNER_KINDS
        }
        listed[HTTP_ROUTE_PLURAL] = self._list_http_routes(namespace)
        unknown = [v for v in listed.values() if isinstance(v, OwnersUnknown)]
        owners = {k: ([] if isinstance(v, OwnersUnknown) else v) for k, v in listed.items()}
        for obj in owners[HTTP_ROUTE_PLURAL]:
            self._remember(HTTP_ROUTE, obj)
        return {
            "http_routes": owners[HTTP_ROUTE_PLURAL],
            "backend_services": (
                self._backend_services(namespace) if owners[HTTP_ROUTE_PLURAL] else []
            ),
            "owners_unknown": unknown,
            "virtual_services": vss,
            "destination_rules": drs,
            "versions_by_app": versions,
            "label_keys": label_keys,
            "rollouts": owners["rollouts"],
            "strategies": owners["strategies"],
        }

    @staticmethod
    def _service(namespace: str, service: str, objs: Mapping[str, Any]) -> ServiceRoutes:
        routes = service_routes(
            namespace,
            service,
            virtual_services=objs["virtual_services"],
            destination_rules=objs["destination_rules"],
            versions_by_app=objs["versions_by_app"],
            version_label=objs["label_keys"].get(service, "version"),
            rollouts=objs["rollouts"],
            strategies=objs["strategies"],
            http_routes=objs["http_routes"],
            backend_services=objs["backend_services"],
        )
        unknown = objs.get("owners_unknown") or []
        routed = routes.virtual_service is not None or routes.http_route is not None
        if routes.owner is None and unknown and routed:
            routes = dataclasses.replace(routes, owner=unknown[0].owner(namespace))
        return routes

    # -- readiness ------------------------------------------------------------------------------
    def ready(self) -> dict[str, object]:
        """/readyz: the API server's version, then one cheap list (limit=1) of VirtualServices in
        the first default namespace, which checks the token, RBAC and that Istio's CRDs are
        served, the three things route pages need."""
        version: str | None = None
        try:
            info = self._fetch(self._version.get_code, what="version")
            if isinstance(info, Mapping) and info.get("gitVersion"):
                version = str(info["gitVersion"])
            plural = PLURALS[VIRTUAL_SERVICE]
            self._list_istio(self._ready_namespace, plural, limit=1)
        except BackendError as exc:
            return not_ready(exc, version)
        except ApiException as exc:  # /version refused: an auth proxy, or an old server
            kind = BackendAuthError if exc.status in (401, 403) else BackendQueryError
            return not_ready(kind(BACKEND, status_message(exc)), version)
        return ready_answer(f"can list VirtualServices in {self._ready_namespace}", version)

    def list_namespaces(self) -> tuple[str, ...]:
        """Every namespace's name (core/v1), so pickers offer namespaces that carry no traffic
        yet and a namespace Kubernetes does not know can be called "not found"."""
        try:
            body = self._fetch(self._core.list_namespace, what="Namespace")
        except ApiException as exc:
            raise BackendQueryError(BACKEND, status_message(exc)) from None
        names = []
        for item in self._items(body, "Namespace"):
            name = item.get("metadata", {}).get("name") if isinstance(item, Mapping) else None
            if isinstance(name, str) and name:
                names.append(name)
        return tuple(sorted(names))

    # -- RouteStore -----------------------------------------------------------------------------
    def list_services(self, namespace: str) -> list[ServiceRoutes]:
        namespace = validate.namespace(namespace)
        objs = self._namespace_objects(namespace)
        names = service_names(
            namespace,
            objs["virtual_services"],
            objs["destination_rules"],
            objs["versions_by_app"],
            objs["http_routes"],
        )
        return [self._service(namespace, name, objs) for name in names]

    def get_service(self, namespace: str, service: str) -> ServiceRoutes:
        namespace, service = validate.namespace(namespace), validate.service_name(service)
        objs = self._namespace_objects(namespace)
        found = self._service(namespace, service, objs)
        if (
            found.virtual_service is None
            and found.destination_rule is None
            and found.http_route is None
            and not found.versions
        ):
            raise NotFound(f"no service {namespace}/{service} with versions or routing objects")
        return found

    def _get(self, kind: str, namespace: str, name: str) -> dict | None:
        group, version, plural = self._coordinates(kind, namespace)
        try:
            obj = self._fetch(
                self._custom.get_namespaced_custom_object,
                group,
                version,
                namespace,
                plural,
                name,
                what=kind,
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise BackendQueryError(BACKEND, status_message(exc)) from None
        self._remember(kind, obj)
        return obj

    def _coordinates(self, kind: str, namespace: str) -> tuple[str, str, str]:
        """(group, served version, plural) of a kind meshdash writes."""
        if kind == HTTP_ROUTE:
            if self._gateway_version is None:
                self._list_http_routes(namespace)  # settles v1 or v1beta1
            return GATEWAY_GROUP, self._gateway_version or GATEWAY_VERSIONS[0], HTTP_ROUTE_PLURAL
        if self._istio_version is None:
            self._list_istio(namespace, PLURALS[kind])  # settles v1 or v1beta1
        return GROUP, self._versions_to_try()[0], PLURALS[kind]

    def write(self, write: Write, *, dry_run: bool) -> dict:
        """Create, or replace carrying `write.before`'s resourceVersion; dryRun=All previews."""
        group, version, plural = self._coordinates(write.kind, write.namespace)
        body = copy.deepcopy(write.after)
        body["apiVersion"] = f"{group}/{version}"
        body["kind"] = write.kind
        meta = body.setdefault("metadata", {})
        meta["namespace"] = write.namespace
        meta["name"] = write.name
        extra = {"dry_run": "All"} if dry_run else {}
        try:
            if write.before is None:
                meta.pop("resourceVersion", None)
                result = self._fetch(
                    self._custom.create_namespaced_custom_object,
                    group,
                    version,
                    write.namespace,
                    plural,
                    body,
                    what=write.kind,
                    field_manager=FIELD_MANAGER,
                    **extra,
                )
            else:
                meta["resourceVersion"] = resource_version(write.before)
                result = self._fetch(
                    self._custom.replace_namespaced_custom_object,
                    group,
                    version,
                    write.namespace,
                    plural,
                    write.name,
                    body,
                    what=write.kind,
                    field_manager=FIELD_MANAGER,
                    **extra,
                )
        except ApiException as exc:
            if exc.status == 409 or (exc.status == 404 and write.before is not None):
                raise self._conflict(write) from None
            if exc.status in (400, 422):
                raise BadRequest(
                    f"kubernetes refused {write.kind} {write.name}: {status_message(exc)}"
                ) from None
            raise BackendQueryError(BACKEND, status_message(exc)) from None
        if not isinstance(result, dict):
            raise BackendDataError(BACKEND, f"the {write.kind} answer is not an object")
        if not dry_run:
            self._remember(write.kind, result)
        return result

    def _conflict(self, write: Write) -> Conflict:
        current = self._get(write.kind, write.namespace, write.name)
        return conflict_error(write, current)

    def record(self, entries: Sequence[AuditEntry]) -> None:
        self._audit.record(entries)

    def history(
        self, *, namespace: str | None = None, service: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        return self._audit.history(namespace=namespace, service=service, limit=limit)

"""Where guided rollouts live: plan and progress per service, and the lease that lets exactly one
process drive a rollout.

Two stores with the same interface and the API server's rules: every save carries the version it
read (a stale one is a Conflict), a lease is held by one holder until it expires unrenewed.
- MemoryRolloutStore: the demo's (the simulator's route store is in memory too).
- KubeRolloutStore: a ConfigMap `meshdash-rollout-SERVICE` beside the VirtualService and a
  coordination.k8s.io/v1 Lease of the same name, so a restarted app, a second worker or a second
  replica picks the rollout up where it was.
"""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from collectors.kube_calls import call_api, read_body
from mesh.errors import BackendUnavailable, Conflict, NotFound
from mesh.releases.rollout_plan import Progress, RolloutPlan

NAME_PREFIX = "meshdash-rollout-"
DATA_KEY = "rollout.json"
LABELS = {"app.kubernetes.io/name": "meshdash", "app.kubernetes.io/component": "rollout"}
LEASE_S = 30  # a holder that has not renewed for this long has died; another one takes over


@dataclass(frozen=True, slots=True)
class Stored:
    plan: RolloutPlan
    progress: Progress
    version: str  # what a save must carry


def object_name(service: str) -> str:
    return f"{NAME_PREFIX}{service}"[:253]


def _encode(plan: RolloutPlan, progress: Progress) -> str:
    return json.dumps({"plan": plan.to_json(), "progress": progress.to_json()}, sort_keys=True)


def _decode(text: str, version: str) -> Stored:
    body = json.loads(text)
    return Stored(
        RolloutPlan.from_json(body["plan"]), Progress.from_json(body["progress"]), version
    )


class MemoryRolloutStore:
    """In-process store with resourceVersion and lease semantics (demo and unit tests)."""

    name = "memory"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rv = 0
        self._items: dict[tuple[str, str], tuple[str, str]] = {}  # key -> (json, version)
        self._leases: dict[tuple[str, str], tuple[str, float]] = {}  # key -> (holder, renewed)

    def load(self, namespace: str, service: str) -> Stored | None:
        with self._lock:
            found = self._items.get((namespace, service))
        return None if found is None else _decode(*found)

    def list(self, namespace: str | None = None) -> list[Stored]:
        with self._lock:
            items = sorted(self._items.items())
        return [_decode(*v) for (ns, _s), v in items if namespace in (None, ns)]

    def save(self, plan: RolloutPlan, progress: Progress, version: str | None) -> str:
        """Create (version None) or replace the rollout carrying `version`; Conflict if stale."""
        key = (plan.namespace, plan.service)
        with self._lock:
            current = self._items.get(key)
            if (current is None) != (version is None) or (current and current[1] != version):
                raise Conflict(
                    f"the rollout of {plan.namespace}/{plan.service} was changed meanwhile; "
                    "nothing was written: read it again"
                )
            self._rv += 1
            self._items[key] = (_encode(plan, progress), str(self._rv))
            return str(self._rv)

    def acquire(self, namespace: str, service: str, holder: str, now: float) -> bool:
        """Hold (or renew) the lease driving this rollout; False while someone else holds it."""
        key = (namespace, service)
        with self._lock:
            current = self._leases.get(key)
            if current and current[0] != holder and now - current[1] < LEASE_S:
                return False
            self._leases[key] = (holder, now)
            return True


def _micro_time(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_micro_time(text: str | None) -> float:
    if not text:
        return 0.0
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return 0.0  # unreadable: treated as expired, as a lease nobody renews
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


class KubeRolloutStore:
    """ConfigMap + Lease per rollout, in the service's namespace (see the module docstring)."""

    name = "kubernetes"

    def __init__(
        self, api_client: client.ApiClient, *, timeout_s: float = 10.0, lease_s: int = LEASE_S
    ) -> None:
        self.lease_s = lease_s
        self._core = client.CoreV1Api(api_client)
        self._coord = client.CoordinationV1Api(api_client)
        self._host = str(api_client.configuration.host or "")
        self._timeout_s = float(timeout_s)

    @classmethod
    def for_host(cls, host: str, **kwargs: Any) -> KubeRolloutStore:
        """Against an API server URL without credentials (tests use the in-test server)."""
        return cls(client.ApiClient(client.Configuration(host=host)), **kwargs)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> bytes:
        """One request's raw answer under the whole-request deadline (collectors/kube_calls.py);
        404 and 409 become the store's own errors."""
        try:
            return call_api(
                read_body(fn), *args, host=self._host, timeout_s=self._timeout_s, **kwargs
            )
        except ApiException as exc:
            if exc.status == 404:
                raise NotFound("not found") from None
            if exc.status == 409:
                raise Conflict(
                    "the rollout was changed meanwhile by another process; nothing was written"
                ) from None
            raise BackendUnavailable("kubernetes", f"{exc.status} {exc.reason}") from None

    def _get_json(self, fn: Any, *args: Any) -> dict | None:
        try:
            return json.loads(self._call(fn, *args))
        except NotFound:
            return None

    def load(self, namespace: str, service: str) -> Stored | None:
        obj = self._get_json(self._core.read_namespaced_config_map, object_name(service), namespace)
        if obj is None or DATA_KEY not in (obj.get("data") or {}):
            return None
        return _decode(obj["data"][DATA_KEY], obj["metadata"]["resourceVersion"])

    def list(self, namespace: str | None = None) -> list[Stored]:
        selector = ",".join(f"{k}={v}" for k, v in LABELS.items())
        if namespace is None:
            body = self._call(
                self._core.list_config_map_for_all_namespaces, label_selector=selector
            )
        else:
            body = self._call(
                self._core.list_namespaced_config_map, namespace, label_selector=selector
            )
        out = []
        for obj in json.loads(body).get("items") or []:
            data = obj.get("data") or {}
            if DATA_KEY in data:
                out.append(_decode(data[DATA_KEY], obj["metadata"]["resourceVersion"]))
        return sorted(out, key=lambda s: (s.plan.namespace, s.plan.service))

    def save(self, plan: RolloutPlan, progress: Progress, version: str | None) -> str:
        name = object_name(plan.service)
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": plan.namespace, "labels": dict(LABELS)},
            "data": {DATA_KEY: _encode(plan, progress)},
        }
        if version is None:
            resp = self._call(self._core.create_namespaced_config_map, plan.namespace, body)
        else:
            body["metadata"]["resourceVersion"] = version
            resp = self._call(self._core.replace_namespaced_config_map, name, plan.namespace, body)
        return json.loads(resp)["metadata"]["resourceVersion"]

    def acquire(self, namespace: str, service: str, holder: str, now: float) -> bool:
        """Take or renew the Lease as leader election does: replace it carrying the
        resourceVersion read, so of two processes racing for it one gets a 409 and stays idle."""
        name = object_name(service)
        current = self._get_json(self._coord.read_namespaced_lease, name, namespace)
        spec = {
            "holderIdentity": holder,
            "leaseDurationSeconds": self.lease_s,
            "renewTime": _micro_time(now),
        }
        try:
            if current is None:
                body = {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {"name": name, "namespace": namespace, "labels": dict(LABELS)},
                    "spec": {**spec, "acquireTime": _micro_time(now)},
                }
                self._call(self._coord.create_namespaced_lease, namespace, body)
                return True
            held = current.get("spec") or {}
            mine = held.get("holderIdentity") == holder
            duration = held.get("leaseDurationSeconds") or self.lease_s
            if not mine and now - _parse_micro_time(held.get("renewTime")) < duration:
                return False
            body = copy.deepcopy(current)
            body["spec"] = {**held, **spec}
            if not mine:
                body["spec"]["acquireTime"] = _micro_time(now)
                body["spec"]["leaseTransitions"] = int(held.get("leaseTransitions") or 0) + 1
            self._call(self._coord.replace_namespaced_lease, name, namespace, body)
            return True
        except Conflict:
            return False

"""The audit trail in the cluster: append-only JSON Lines in a fixed ring of ConfigMaps.

Every replica reads and writes the same objects, so every pod lists the same history in the same
order, and a restart or a new pod loses nothing. A namespace's entries live in one of SHARDS
ConfigMaps (`meshdash-audit-00` .. `-15` in meshdash's own namespace, chosen by a stable hash of
the audited namespace): a fixed set of names lets the RBAC name them exactly (resourceNames),
instead of granting updates to every ConfigMap. Appends replace the ConfigMap carrying the
resourceVersion just read; a 409 means another replica appended first: re-read and append again.
Past MAX_BYTES the oldest lines rotate out, so a write never fails for size. An append that
cannot be written (API down, RBAC) stays pending in this process, is retried in the background
and raises AuditNotShared so the person who made the change is told. Why and the limits:
docs/audit.md.
"""

from __future__ import annotations

import copy
import json
import logging
import random
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from collectors.audit_log import AuditLog
from collectors.kube_calls import call_api, read_body, status_message
from collectors.strict_json import loads_strict
from mesh.errors import (
    AuditNotShared,
    BackendDataError,
    BackendError,
    BackendQueryError,
)
from mesh.releases.audit import AuditEntry, in_write_order
from ops.background import BackgroundLoop

log = logging.getLogger("meshdash.audit")
BACKEND = "kubernetes"
SHARDS = 16
NAME_PREFIX = "meshdash-audit-"
DATA_KEY = "audit.jsonl"
# The API server refuses a ConfigMap whose keys and values exceed 1 MiB (1,048,576 bytes) with a
# 422; the trail stays under it with room for the key.
MAX_BYTES = 1_000_000
LABELS = {"app.kubernetes.io/name": "meshdash", "app.kubernetes.io/component": "audit-trail"}
ATTEMPTS = 40  # 409s in a row before an append is left pending (each one is another replica's)


def shard_names() -> tuple[str, ...]:
    """Every ConfigMap the trail may use: what deploy/ grants, by name."""
    return tuple(f"{NAME_PREFIX}{i:02d}" for i in range(SHARDS))


def shard_of(namespace: str) -> str:
    """The ConfigMap holding `namespace`'s entries; crc32 is stable across processes."""
    return shard_names()[zlib.crc32(namespace.encode()) % SHARDS]


def entry_line(entry: AuditEntry) -> str:
    """One entry as one line, byte for byte the same in every process (so retries dedupe)."""
    return json.dumps(entry.to_json(), sort_keys=True, separators=(",", ":"), allow_nan=False)


def _fit_line(entry: AuditEntry, budget: int) -> str:
    """The entry's line; one larger than the whole budget keeps its summary without the objects."""
    line = entry_line(entry)
    if len(line.encode()) + 1 <= budget:
        return line
    log.warning("audit entry %s is larger than a ConfigMap: kept without before/after", entry)
    return json.dumps(entry.summary_json(), sort_keys=True, separators=(",", ":"))


def appended(text: str, lines: Iterable[str], budget: int = MAX_BYTES) -> tuple[str, int]:
    """`text` (JSON Lines, oldest first) plus the lines it does not hold yet, the oldest lines
    dropped until the result fits in `budget` bytes. Returns the text and how many were dropped."""
    kept = [line for line in text.split("\n") if line]
    present = set(kept)
    for line in lines:
        if line not in present:
            kept.append(line)
            present.add(line)
    sizes = [len(line.encode()) + 1 for line in kept]
    total, first = sum(sizes), 0
    while total > budget and first < len(kept) - 1:
        total -= sizes[first]
        first += 1
    return "".join(line + "\n" for line in kept[first:]), first


def parse_lines(text: str, where: str) -> list[AuditEntry]:
    """Entries of a stored text, oldest first; an unreadable line is logged and skipped."""
    out: list[AuditEntry] = []
    for line in text.split("\n"):
        if not line.strip():
            continue
        try:
            out.append(AuditEntry.from_json(json.loads(line)))
        except ValueError as exc:
            log.warning("skipping unreadable audit line in %s: %s", where, exc)
    return out


class ConfigMapAuditLog:
    """The shared trail (see the module docstring), with `local` (the JSON Lines file) as a
    second copy written first. One instance per app; safe for Flask's threads."""

    name = "configmaps"

    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        namespace: str,
        local: Any = None,
        timeout_s: float = 10.0,
        budget: int = MAX_BYTES,
        retry_every_s: float = 5.0,
    ) -> None:
        self._core = client.CoreV1Api(api_client)
        self._host = str(api_client.configuration.host or "")
        self.namespace = namespace
        self._local = local
        self._timeout_s = float(timeout_s)
        self._budget = budget
        self._retry_every_s = retry_every_s
        self._pending: list[AuditEntry] = []  # applied changes not yet in the cluster, in order
        self._lock = threading.Lock()  # guards _pending and _retrying
        self._flushing = threading.Lock()  # one flush at a time keeps this process's order
        self._retrying = False

    @classmethod
    def for_host(cls, host: str, *, namespace: str, **kwargs: Any) -> ConfigMapAuditLog:
        """Against an API server URL without credentials (tests use the in-test server)."""
        cfg = client.Configuration(host=host)
        cfg.retries = urllib3.Retry(total=2, connect=2, read=0, status=0, other=0, redirect=0)
        return cls(client.ApiClient(cfg), namespace=namespace, **kwargs)

    # -- the store interface ------------------------------------------------------------------
    def record(self, entries: Sequence[AuditEntry]) -> None:
        """Append to the local copy, then to the cluster; AuditNotShared when the cluster write
        failed (the entries stay pending and are retried in the background)."""
        if not entries:
            return
        local = ""
        if self._local is not None:
            try:
                self._local.record(entries)
            except OSError as exc:  # the shared trail still takes them: a copy lost, not the record
                local = f"; the local copy failed too: {exc}"
                log.error("audit entries not written to the local copy: %s", exc)
        with self._lock:
            self._pending.extend(entries)
        problem = self.flush()
        if problem:
            self._retry_later()
            raise AuditNotShared(problem + local)

    def history(
        self, *, namespace: str | None = None, service: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """Newest first. One namespace: its ConfigMap in append order, the order every replica
        sees. All namespaces: every ConfigMap, by time. Either way, the entries that changed one
        object in the order of its resourceVersions (in_write_order). Pending entries come
        first."""
        if limit <= 0:
            return []
        names = (shard_of(namespace),) if namespace else shard_names()
        stored: list[AuditEntry] = []
        for name in names:
            stored += parse_lines(self._text(self._read(name)), f"ConfigMap {name}")
        if not namespace:
            stored.sort(key=lambda e: e.when)  # stable: append order among equal times
        stored = in_write_order(stored)
        with self._lock:
            pending = list(self._pending)
        held = {entry_line(e) for e in stored}
        entries = stored + [e for e in pending if entry_line(e) not in held]
        out = [
            e
            for e in reversed(entries)
            if (not namespace or e.namespace == namespace) and (not service or e.service == service)
        ]
        return out[:limit]

    @property
    def pending(self) -> int:
        """Entries applied but not yet in the cluster (readiness and tests)."""
        with self._lock:
            return len(self._pending)

    # -- writing --------------------------------------------------------------------------------
    def flush(self) -> str:
        """Write the pending entries in order, one append per ConfigMap; "" when all are in the
        cluster, else why some are still pending."""
        with self._flushing:
            with self._lock:
                batch = list(self._pending)
            if not batch:
                return ""
            by_shard: dict[str, list[AuditEntry]] = {}
            for e in batch:
                by_shard.setdefault(shard_of(e.namespace), []).append(e)
            written: list[AuditEntry] = []
            problems: list[str] = []
            for name, entries in by_shard.items():
                try:
                    self._append(name, [_fit_line(e, self._budget) for e in entries])
                    written += entries
                except BackendError as exc:
                    problems.append(str(exc))
            with self._lock:
                done = {id(e) for e in written}
                self._pending = [e for e in self._pending if id(e) not in done]
            if problems:
                log.warning("audit entries not yet in the cluster (%d): %s", self.pending, problems)
            return "; ".join(problems)

    def _retry_later(self) -> None:
        with self._lock:
            if self._retrying:
                return
            self._retrying = True
        base = self._retry_every_s

        def backoff(round_no: int) -> float:
            return min(base * 2 ** (round_no + 1), 60.0)

        BackgroundLoop(
            "meshdash-audit-retry", self._retry_round, backoff, first_after=base, log=log
        ).start()

    def _retry_round(self) -> bool:
        """One retry of the pending entries; True (the loop ends) once none are left."""
        self.flush()
        with self._lock:
            if self._pending:
                return False
            self._retrying = False
        log.info("pending audit entries are now in the cluster")
        return True

    def _append(self, name: str, lines: Sequence[str]) -> None:
        """Read, append, replace with the resourceVersion read; a 409 starts over."""
        for attempt in range(ATTEMPTS):
            current = self._read(name)
            old = self._text(current)
            text, dropped = appended(old, lines, self._budget)
            if current is not None and text == old:
                return  # a retry whose earlier write had landed
            body = self._body(name, current, text)
            try:
                if current is None:
                    self._call(self._core.create_namespaced_config_map, self.namespace, body)
                else:
                    self._call(self._core.replace_namespaced_config_map, name, self.namespace, body)
            except ApiException as exc:
                if exc.status == 409:  # another replica appended (or created it) first
                    time.sleep(random.uniform(0, 0.02 * min(attempt + 1, 10)))
                    continue
                raise BackendQueryError(
                    BACKEND, f"ConfigMap {name}: {status_message(exc)}"
                ) from None
            if dropped:
                log.info("audit ConfigMap %s is full: %d oldest entries rotated out", name, dropped)
            return
        raise BackendQueryError(
            BACKEND, f"ConfigMap {name} kept changing under {ATTEMPTS} attempts to append"
        )

    def _body(self, name: str, current: dict | None, text: str) -> dict:
        body = copy.deepcopy(current) if current else {"apiVersion": "v1", "kind": "ConfigMap"}
        meta = body.setdefault("metadata", {})
        meta.update(name=name, namespace=self.namespace)
        meta.setdefault("labels", {}).update(LABELS)
        meta.pop("managedFields", None)
        body["data"] = {**(body.get("data") or {}), DATA_KEY: text}
        return body

    # -- reading --------------------------------------------------------------------------------
    @staticmethod
    def _text(obj: dict | None) -> str:
        data = (obj or {}).get("data") or {}
        value = data.get(DATA_KEY, "") if isinstance(data, dict) else ""
        return value if isinstance(value, str) else ""

    def _read(self, name: str) -> dict | None:
        """The ConfigMap as a dict, or None when it does not exist yet."""
        try:
            obj = self._call(self._core.read_namespaced_config_map, name, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise BackendQueryError(BACKEND, f"ConfigMap {name}: {status_message(exc)}") from None
        if not isinstance(obj, dict):
            raise BackendDataError(BACKEND, f"the ConfigMap {name} answer is not an object")
        return obj

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """One request under the whole-request deadline (collectors/kube_calls.py), its answer
        parsed as JSON (an ApiException other than 401/403 passes for the caller to read)."""
        raw = call_api(read_body(fn), *args, host=self._host, timeout_s=self._timeout_s)
        try:
            return loads_strict(raw)
        except (TypeError, ValueError):
            raise BackendDataError(BACKEND, "the ConfigMap answer is not JSON") from None


def audit_for(settings: Any, api_client: client.ApiClient) -> AuditLog | ConfigMapAuditLog:
    """The audit trail of a Kubernetes-backed app: shared in ConfigMaps, with the local file as
    its second copy, unless `audit_in_cluster` is off (then the file alone)."""
    local = AuditLog(settings.audit_log)
    if not settings.audit_in_cluster:
        return local
    return ConfigMapAuditLog(
        api_client,
        namespace=settings.audit_namespace,
        local=local,
        timeout_s=settings.kube_timeout_s,
    )

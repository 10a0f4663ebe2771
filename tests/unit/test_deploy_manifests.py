"""deploy/ and the Dockerfile: minimal RBAC, probes on real routes, a non-root read-only container.

The manifests are read the way kustomize assembles them (each kustomization's `resources`),
so a file that is not applied cannot pass the checks by accident.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from app import create_app
from collectors.audit_configmaps import shard_names
from tests.conftest import REPO
from wiring.services import Services
from wiring.settings import Settings

DEPLOY = REPO / "deploy"
READ_VERBS = {"get", "list", "watch"}
WRITE_VERBS = {"create", "update", "patch"}
ISTIO = "networking.istio.io"
GATEWAY = "gateway.networking.k8s.io"
ROUTE_KINDS = {"virtualservices", "destinationrules"}
AUDIT_ROLES = {"meshdash-audit-read", "meshdash-audit-write"}  # the trail's own ConfigMaps
# Environment variables gunicorn.conf.py reads on top of config.Settings.
GUNICORN_ENV = {
    "MESHDASH_WORKERS",
    "MESHDASH_THREADS",
    "MESHDASH_BIND",
    "MESHDASH_WORKER_TIMEOUT_S",
}


class Prometheus:
    """A telemetry source that only needs a name: the probes must not ask it for data."""

    name = "prometheus"

    def graph_telemetry(self, query):
        raise AssertionError("a probe must not query telemetry")


def assemble(folder: Path) -> list[dict]:
    """Every object a kustomization applies, following `resources` into bases."""
    kust = yaml.safe_load((folder / "kustomization.yaml").read_text())
    objects: list[dict] = []
    for entry in kust.get("resources", []):
        path = (folder / entry).resolve()
        if path.is_dir():
            objects += assemble(path)
        else:
            objects += [o for o in yaml.safe_load_all(path.read_text()) if o]
    return objects


def of_kind(objects: list[dict], *kinds: str) -> list[dict]:
    return [o for o in objects if o["kind"] in kinds]


def one(objects: list[dict], kind: str) -> dict:
    [obj] = of_kind(objects, kind)
    return obj


@pytest.fixture(scope="module")
def base() -> list[dict]:
    return assemble(DEPLOY / "base")


@pytest.fixture(scope="module")
def writes() -> list[dict]:
    return assemble(DEPLOY / "writes")


@pytest.fixture(scope="module")
def container(base) -> dict:
    [c] = one(base, "Deployment")["spec"]["template"]["spec"]["containers"]
    return c


def rules(objects: list[dict]) -> list[tuple[str, dict]]:
    return [(r["metadata"]["name"], rule) for r in of_kind(objects, "Role", "ClusterRole")
            for rule in r.get("rules", [])]  # fmt: skip


def grants(objects: list[dict], role_name: str) -> set[tuple[str, str, str]]:
    """(apiGroup, resource, verb) triples of one role."""
    out = set()
    for name, rule in rules(objects):
        if name == role_name:
            for g in rule["apiGroups"]:
                for res in rule["resources"]:
                    out |= {(g, res, v) for v in rule["verbs"]}
    return out


def test_every_manifest_file_is_applied_by_a_kustomization():
    listed = set()
    for kust in DEPLOY.rglob("kustomization.yaml"):
        for entry in yaml.safe_load(kust.read_text()).get("resources", []):
            path = (kust.parent / entry).resolve()
            if path.is_file():
                listed.add(path)
    files = {p.resolve() for p in DEPLOY.rglob("*.yaml") if p.name != "kustomization.yaml"}
    assert files == listed


@pytest.mark.parametrize("overlay", ["base", "writes"])
def test_rbac_has_no_wildcards_no_secrets_and_no_escalation(overlay, base, writes):
    objects = base if overlay == "base" else writes
    assert rules(objects), "no RBAC found"
    for name, rule in rules(objects):
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule.get(field, []), (name, field)
        assert "nonResourceURLs" not in rule, name
        assert not {"secrets", "pods/exec", "serviceaccounts/token"} & set(rule["resources"]), name
        if "configmaps" in rule["resources"]:
            assert name in (*AUDIT_ROLES, "meshdash-rollouts"), name
        assert not {"delete", "deletecollection", "bind", "escalate", "impersonate"} & set(
            rule["verbs"]
        ), name


def test_the_read_role_is_exactly_get_list_watch_on_routes_and_deployments(base):
    expected = {(ISTIO, k, v) for k in ROUTE_KINDS for v in READ_VERBS}
    expected |= {(GATEWAY, "httproutes", v) for v in READ_VERBS}
    expected |= {("", "services", v) for v in READ_VERBS}  # the HTTPRoutes' per-version backends
    expected |= {("apps", "deployments", v) for v in READ_VERBS}
    assert grants(base, "meshdash-read") == expected
    # Nothing in the read-only install may write.
    assert all(set(rule["verbs"]) <= READ_VERBS for _, rule in rules(base))


def test_the_write_role_is_separate_and_touches_only_the_route_kinds(base, writes):
    base_roles = {r["metadata"]["name"] for r in of_kind(base, "ClusterRole", "Role")}
    assert "meshdash-write" not in base_roles
    assert grants(writes, "meshdash-write") == {
        *((ISTIO, k, v) for k in ROUTE_KINDS for v in WRITE_VERBS),
        (GATEWAY, "httproutes", "update"),  # replaced with its resourceVersion, never created
    }
    for name, rule in rules(writes):
        if set(rule["verbs"]) - READ_VERBS and name not in (
            "meshdash-audit-write",
            "meshdash-rollouts",
        ):
            assert name == "meshdash-write"
            istio = rule["apiGroups"] == [ISTIO] and set(rule["resources"]) <= ROUTE_KINDS
            gateway = rule["apiGroups"] == [GATEWAY] and rule["resources"] == ["httproutes"]
            assert istio or gateway, rule


def test_the_rollout_role_holds_only_rollout_state_and_leases(base, writes):
    """Guided rollouts (docs/rollouts.md): their ConfigMaps and Leases, never a delete."""
    base_roles = {r["metadata"]["name"] for r in of_kind(base, "ClusterRole", "Role")}
    assert "meshdash-rollouts" not in base_roles
    assert grants(writes, "meshdash-rollouts") == {
        *(("", "configmaps", v) for v in ("get", "list", "create", "update")),
        *(("coordination.k8s.io", "leases", v) for v in ("get", "create", "update")),
    }


def audit_rules(objects: list[dict], role_name: str) -> list[tuple[set, set]]:
    """(verbs, resourceNames) of each rule of a namespaced audit Role."""
    [role] = [r for r in of_kind(objects, "Role") if r["metadata"]["name"] == role_name]
    assert role["metadata"]["namespace"] == "meshdash"  # a Role: no other namespace's ConfigMaps
    out = []
    for rule in role["rules"]:
        assert rule["apiGroups"] == [""] and rule["resources"] == ["configmaps"]
        out.append((set(rule["verbs"]), set(rule.get("resourceNames", []))))
    return out


def test_the_audit_trail_roles_name_exactly_the_store_s_configmaps(base, writes):
    trail = set(shard_names())
    # Read-only installs read the shared trail (its ConfigMaps by name), and write nothing.
    assert audit_rules(base, "meshdash-audit-read") == [({"get"}, trail)]
    assert "meshdash-audit-write" not in {r["metadata"]["name"] for r in of_kind(base, "Role")}
    # Writes: update those names only; create cannot be limited by name, so it stands alone
    # and the Role keeps it in meshdash's namespace. Never delete, list or watch.
    assert audit_rules(writes, "meshdash-audit-write") == [({"update"}, trail), ({"create"}, set())]


def test_the_pod_keeps_the_trail_in_its_own_namespace(base, container):
    [env] = [e for e in container["env"] if e["name"] == "MESHDASH_AUDIT_NAMESPACE"]
    assert env["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    [role] = [r for r in of_kind(base, "Role") if r["metadata"]["name"] == "meshdash-audit-read"]
    assert role["metadata"]["namespace"] == one(base, "Deployment")["metadata"]["namespace"]
    assert Settings().audit_in_cluster is True


def test_the_writes_overlay_turns_writes_on(base, writes):
    assert one(base, "ConfigMap")["data"]["MESHDASH_WRITE_ENABLED"] == "false"
    kust = yaml.safe_load((DEPLOY / "writes" / "kustomization.yaml").read_text())
    [patch] = kust["patches"]
    ops = yaml.safe_load(patch["patch"])
    assert ops == [{"op": "replace", "path": "/data/MESHDASH_WRITE_ENABLED", "value": "true"}]


@pytest.mark.parametrize("overlay", ["base", "writes"])
def test_bindings_bind_defined_roles_to_the_deployments_service_account_only(overlay, base, writes):
    objects = base if overlay == "base" else writes
    sa = one(objects, "ServiceAccount")["metadata"]
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == sa["name"]
    roles = {(r["kind"], r["metadata"]["name"]) for r in of_kind(objects, "ClusterRole", "Role")}
    bindings = of_kind(objects, "ClusterRoleBinding", "RoleBinding")
    assert {(b["roleRef"]["kind"], b["roleRef"]["name"]) for b in bindings} == roles
    for b in bindings:
        assert b["subjects"] == [
            {"kind": "ServiceAccount", "name": sa["name"], "namespace": sa["namespace"]}
        ]


def test_probes_point_at_routes_the_app_serves(base, container):
    paths = {
        probe: container[probe]["httpGet"]["path"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert paths == {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }
    settings = Settings(prometheus_url="http://127.0.0.1:9")
    svc = Services(settings=settings, telemetry=Prometheus())
    client = create_app(settings, svc).server.test_client()
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code in (200, 503) and "backends" in ready.get_json()
    # The readiness probe must outlast /readyz's own deadline, or a slow backend kills the probe.
    assert container["readinessProbe"]["timeoutSeconds"] > Settings().ready_timeout_s


def test_ports_agree_between_container_service_probes_and_image(base, container):
    [port] = container["ports"]
    assert (port["name"], port["containerPort"]) == ("http", 8050)
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] == "http"
    [svc_port] = one(base, "Service")["spec"]["ports"]
    assert svc_port["targetPort"] == "http"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["MESHDASH_PORT"] == "8050" and env["MESHDASH_HOST"] == "0.0.0.0"
    assert re.search(r"^EXPOSE 8050$", dockerfile(), re.M)
    selector = one(base, "Service")["spec"]["selector"]
    labels = one(base, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()


def test_the_container_runs_as_non_root_on_a_read_only_root(base, container):
    pod = one(base, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 0
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    # The image's user is the same non-root uid.
    user = re.search(r"^USER (\S+)$", dockerfile(), re.M)
    assert user and user[1].split(":")[0] == str(pod["securityContext"]["runAsUser"])


def test_every_path_the_app_writes_is_a_writable_volume(base, container):
    volumes = {v["name"]: v for v in one(base, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
    assert all("emptyDir" in v for v in mounts.values())
    workdir = re.search(r"^WORKDIR (\S+)$", dockerfile(), re.M)[1]
    audit = Path(workdir) / Settings().audit_log  # relative to the working directory
    assert any(audit.is_relative_to(m) for m in mounts)
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert any(Path(env["PROMETHEUS_MULTIPROC_DIR"]).is_relative_to(m) for m in mounts)
    assert "/tmp" in mounts  # gunicorn and Python's tempfile


def test_requests_and_limits_are_set(container):
    res = container["resources"]
    assert {"cpu", "memory"} <= res["requests"].keys()
    assert "memory" in res["limits"]


def test_configmap_keys_are_real_settings_and_parse(base, monkeypatch):
    data = one(base, "ConfigMap")["data"]
    known = {f"MESHDASH_{name.upper()}" for name in Settings.model_fields} | GUNICORN_ENV
    assert set(data) <= known, set(data) - known
    for key in [k for k in os.environ if k.startswith("MESHDASH_")]:
        monkeypatch.delenv(key)
    for key, value in data.items():
        monkeypatch.setenv(key, value)
    s = Settings()
    assert s.prometheus_url and s.kube_enabled and not s.demo
    assert s.writes_allowed is False
    assert s.default_namespaces == ("bookinfo",)
    assert s.ready_required == ("telemetry",)


def dockerfile() -> str:
    return (REPO / "Dockerfile").read_text()


def test_dockerfile_builds_a_non_root_gunicorn_image_with_a_healthcheck():
    text = dockerfile()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    assert "pip install -r requirements.txt" in text
    user = re.search(r"^USER (\S+)$", text, re.M)[1].split(":")[0]
    assert user not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*", text, re.M) and "/healthz" in text
    entry = re.search(r"^ENTRYPOINT (.+)$", text, re.M)[1]
    assert yaml.safe_load(entry) == ["gunicorn", "--config", "gunicorn.conf.py", "wsgi:server"]
    # The image's requirements include what that entry point runs.
    reqs = (REPO / "requirements.txt").read_text().lower()
    for package in ("gunicorn", "flask-caching", "prometheus-client", "redis"):
        assert re.search(rf"^{package}\b", reqs, re.M), package
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".git", "tests", "var"} <= set(ignored)

"""deploy/ rendered by the real kustomize (`kubectl kustomize`, a subprocess) holds the same
objects as tests/unit/test_deploy_manifests.py's reading of each kustomization.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.unit.test_deploy_manifests import DEPLOY, assemble


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (with kustomize) is absent")
@pytest.mark.parametrize("overlay", ["base", "writes"])
def test_kustomize_renders_the_same_objects(overlay):
    out = subprocess.run(
        ["kubectl", "kustomize", str(DEPLOY / overlay)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    rendered = {(o["kind"], o["metadata"]["name"]) for o in yaml.safe_load_all(out.stdout) if o}
    assert rendered == {(o["kind"], o["metadata"]["name"]) for o in assemble(DEPLOY / overlay)}

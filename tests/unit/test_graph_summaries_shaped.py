"""The graph's summaries describe the shown namespaces' traffic, whatever shape draws it.

A namespace graph, find, hide or focus changes what is drawn; the Requests card ("entering"),
the plain-text share and the clusters must not change with it (the namespace graph once read
0 rps entering and 0 % plain text where the workload graph read 20 rps and 31 %).
"""

from __future__ import annotations

import pytest

from app import create_app


@pytest.fixture(scope="module")
def client():
    return create_app().server.test_client()


@pytest.mark.parametrize(
    "shape",
    [
        "graph=namespace",
        "graph=workload&hide=ns%20%3D%20istio-system",
        "graph=workload&focus=bookinfo/details-v1",
    ],
)
def test_summaries_equal_the_whole_graphs(client, shape):
    base = "/api/graph?namespace=bookinfo&namespace=istio-system&window=5m"
    whole = client.get(f"{base}&graph=workload").get_json()
    at = whole["at"]
    whole = client.get(f"{base}&graph=workload&at={at}").get_json()
    shaped = client.get(f"{base}&{shape}&at={at}").get_json()
    assert whole["entering"]["rps"] > 0, "the demo's gateway sends traffic into bookinfo"
    assert shaped["entering"] == whole["entering"]
    assert shaped["security"] == whole["security"]
    assert shaped["clusters"] == whole["clusters"]

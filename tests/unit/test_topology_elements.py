from dashboards.topology.elements import elements, stylesheet

GRAPH = {
    "graph": "workload",
    "window": "5m",
    "at": 1,
    "namespaces": ["bookinfo"],
    "nodes": [
        {"id": "unknown", "kind": "unknown", "health": "idle"},
        {"id": "bookinfo/productpage-v1", "kind": "workload", "namespace": "bookinfo",
         "workload": "productpage-v1", "health": "healthy"},
        {"id": "bookinfo/reviews-v2", "kind": "workload", "namespace": "bookinfo",
         "workload": "reviews-v2", "health": "failure"},
        {"id": "shop/cart-v1", "kind": "workload", "namespace": "shop", "workload": "cart-v1",
         "health": "healthy", "outsider": True},
    ],
    "edges": [
        {"source": "unknown", "target": "bookinfo/productpage-v1", "protocol": "http",
         "rps": 10.0, "share": 1.0, "p95_ms": 42.0, "health": "healthy"},
        {"source": "bookinfo/productpage-v1", "target": "bookinfo/reviews-v2", "protocol": "http",
         "rps": 5.0, "share": 0.5, "p95_ms": 8.5, "error_rate": 0.2, "health": "failure"},
        {"source": "bookinfo/reviews-v2", "target": "shop/cart-v1", "protocol": "tcp",
         "bps": 2048.0, "health": "idle"},
    ],
}  # fmt: skip


def by_id(els):
    return {e["data"]["id"]: e for e in els}


def test_nodes_carry_health_as_class_and_edges_carry_label_texts():
    els = by_id(elements(GRAPH))
    assert "failure" in els["bookinfo/reviews-v2"]["classes"].split()
    edge = els["bookinfo/productpage-v1->bookinfo/reviews-v2"]
    assert edge["data"]["label_rps"] == "5.00 rps"
    assert edge["data"]["label_share"] == "50%"
    assert edge["data"]["label_p95"] == "8.50 ms"
    assert els["bookinfo/reviews-v2->shop/cart-v1"]["data"]["label_rps"] == "2.0 kB/s"


def test_several_namespaces_become_compound_boxes():
    els = by_id(elements(GRAPH))
    assert els["ns:bookinfo"]["classes"] == "namespace"
    assert els["shop/cart-v1"]["data"]["parent"] == "ns:shop"
    assert "outsider" in els["shop/cart-v1"]["classes"]
    assert els["unknown"]["data"]["label"] == "unknown (outside mesh)"


def test_highlight_fades_everything_off_the_path():
    els = by_id(elements(GRAPH, frozenset({"bookinfo/productpage-v1", "bookinfo/reviews-v2"})))
    assert "path" in els["bookinfo/productpage-v1->bookinfo/reviews-v2"]["classes"]
    assert "faded" in els["unknown->bookinfo/productpage-v1"]["classes"]
    assert "faded" in els["unknown"]["classes"]


def test_wider_edges_carry_more_traffic():
    els = by_id(elements(GRAPH))
    assert (
        els["unknown->bookinfo/productpage-v1"]["data"]["width"]
        > els["bookinfo/productpage-v1->bookinfo/reviews-v2"]["data"]["width"]
    )


def test_edge_label_choice_switches_the_data_field():
    def label_of(style):
        return [
            s["style"]["label"] for s in style if s["selector"] == "edge" and "label" in s["style"]
        ]

    assert label_of(stylesheet("p95")) == ["data(label_p95)"]
    assert label_of(stylesheet("none")) == []


def test_security_classes_say_plain_text_and_unknown_never_secure():
    graph = {**GRAPH, "edges": [
        {**GRAPH["edges"][0], "mtls": 1.0},
        {**GRAPH["edges"][1], "mtls": 0.62},
        {**GRAPH["edges"][2], "mtls": None},
    ]}  # fmt: skip
    els = by_id(elements(graph))
    full = els["unknown->bookinfo/productpage-v1"]
    partial = els["bookinfo/productpage-v1->bookinfo/reviews-v2"]
    unknown = els["bookinfo/reviews-v2->shop/cart-v1"]
    assert "mtls-full" in full["classes"] and full["data"]["label_security"] == ""
    assert "plaintext" in partial["classes"]
    assert partial["data"]["label_security"] == "38% plain text"
    assert partial["data"]["label_rps_security"] == "5.00 rps · 38% plain text"
    assert "mtls-unknown" in unknown["classes"]
    assert unknown["data"]["label_security"] == "mTLS unknown"


def test_the_security_display_adds_the_plain_text_style_only_when_on():
    off = {s["selector"] for s in stylesheet("rps")}
    on = stylesheet("rps", security=True)
    assert "edge.plaintext" not in off
    plain = next(s for s in on if s["selector"] == "edge.plaintext")
    assert plain["style"]["line-style"] == "dotted"
    labelled = next(s for s in on if s["selector"] == "edge.plaintext, edge.mtls-unknown")
    assert labelled["style"]["label"] == "data(label_rps_security)"
    none = stylesheet("none", security=True)
    assert next(s for s in none if "mtls-unknown" in s["selector"])["style"]["label"] == (
        "data(label_security)"
    )

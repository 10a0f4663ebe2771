"""What the topology browser tests read from the live graph: box overlaps, the centre of a
selected element, a card's figure. Shared by the demo and the real-Prometheus browser tests."""

from __future__ import annotations

import contextlib

_CY = (
    "const r = document.getElementById('topo-graph');"
    " const h = [r, ...r.querySelectorAll('*')].find(el => el._cyreg && el._cyreg.cy);"
    " const cy = h._cyreg.cy;"
)

# Pairs of namespace/cluster boxes (neither inside the other) whose bounding boxes, labels
# included, intersect; and nodes drawn inside a box that is not theirs.
OVERLAPS = (
    "() => {"
    + _CY
    + """
    const boxes = cy.nodes('.namespace, .cluster');
    const hit = (A, B) => A.x1 < B.x2 && B.x1 < A.x2 && A.y1 < B.y2 && B.y1 < A.y2;
    const out = [];
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i], b = boxes[j];
        if (a.ancestors().contains(b) || b.ancestors().contains(a)) continue;
        if (hit(a.boundingBox({includeLabels: true}), b.boundingBox({includeLabels: true})))
            out.push(a.id() + ' x ' + b.id());
    }
    cy.nodes().filter(n => !n.isParent()).forEach(n => boxes.forEach(b => {
        if (!n.ancestors().contains(b) && hit(n.boundingBox(), b.boundingBox()))
            out.push(n.id() + ' in ' + b.id());
    }));
    return {boxes: boxes.length, overlaps: out};
}"""
)

# The selected elements, and where the first one sits in the canvas (0..1 of width and height).
SELECTED = (
    "() => {"
    + _CY
    + """
    const sel = cy.elements(':selected');
    if (sel.empty()) return {ids: [], x: null, y: null};
    const bb = sel[0].renderedBoundingBox();
    return {ids: sel.map(e => e.id()), x: (bb.x1 + bb.x2) / 2 / cy.width(),
            y: (bb.y1 + bb.y2) / 2 / cy.height()};
}"""
)


def overlaps(page) -> dict:
    return page.evaluate(OVERLAPS)


def selected(page) -> dict:
    return page.evaluate(SELECTED)


def boxes_apart(page, timeout_ms: int = 15_000) -> dict:
    """Wait until the layout has run and no box overlaps (a layout runs after the elements
    arrive); on timeout, the overlaps found, for the assertion to name."""
    with contextlib.suppress(Exception):  # the caller asserts on what is found
        page.wait_for_function(
            f"() => {{ const o = ({OVERLAPS})(); return o.boxes > 0 && o.overlaps.length === 0; }}",
            timeout=timeout_ms,
        )
    return overlaps(page)

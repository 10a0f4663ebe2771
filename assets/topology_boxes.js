/* meshdash topology: namespace and cluster boxes never overlap, whatever the layout.
 *
 * The layered layouts (klay, dagre) place compound boxes apart by themselves; the others
 * (breadthfirst, cose, concentric, circle, grid) place nodes with no regard for the boxes that
 * hold them, so a box could cover another box or a node that is not its own. After every layout
 * run, this moves each box that overlaps one placed before it (left to right) to the right,
 * with its nodes, inside its parent first and then at the top level, then fits the view.
 * topology_draw.js calls `meshdashTopology.watch(cy)` before it runs a layout.
 */
(function () {
  "use strict";
  var GAP = 30;

  function box(ele) {
    return ele.boundingBox({ includeLabels: true, includeOverlays: false });
  }

  function overlapsY(a, b) {
    return a.y1 < b.y2 + GAP && b.y1 < a.y2 + GAP;
  }

  // The things to keep apart among one parent's children: its boxes and its loose nodes.
  function separate(items) {
    var sorted = items.toArray().sort(function (a, b) { return box(a).x1 - box(b).x1; });
    var placed = [];
    sorted.forEach(function (ele) {
      var b = box(ele);
      var dx = 0;
      placed.forEach(function (p) {
        if (overlapsY(b, p) && b.x1 + dx < p.x2 + GAP && p.x1 < b.x2 + dx + GAP) {
          dx = Math.max(dx, p.x2 + GAP - b.x1);
        }
      });
      if (dx > 0) {
        var leaves = ele.isParent() ? ele.descendants().filter(function (n) { return !n.isParent(); }) : ele;
        leaves.shift({ x: dx, y: 0 });
        b = box(ele);
      }
      placed.push({ x1: b.x1, x2: b.x2, y1: b.y1, y2: b.y2 });
    });
  }

  // Compound boxes only: boxes drawn flat (the server's positions) are placed with their nodes.
  function hasBoxes(cy) {
    return cy.nodes(".namespace, .cluster").filter(function (n) { return n.isParent(); }).nonempty();
  }

  function apart(cy) {
    if (!hasBoxes(cy)) { return; }
    cy.batch(function () {
      // Namespace boxes (and loose nodes) inside each cluster box first, then the top level.
      cy.nodes(".cluster").forEach(function (cluster) { separate(cluster.children()); });
      separate(cy.nodes().orphans());
    });
    cy.fit(undefined, 30);
  }

  function watch(cy) {
    if (cy.__meshdashBoxes) { return; }
    cy.__meshdashBoxes = true;
    cy.on("layoutstop", function () { apart(cy); });
    apart(cy);
  }

  // The topology's Cytoscape instance, which dash-cytoscape keeps on an element inside
  // #topo-graph; null before it exists. The page's clientside callbacks and topology_scale.js
  // find it here.
  function graph() {
    const root = document.getElementById("topo-graph");
    const holder = root && [root, ...root.querySelectorAll("*")].find(
      function (el) { return el._cyreg && el._cyreg.cy; });
    return holder ? holder._cyreg.cy : null;
  }

  window.meshdashTopology = Object.assign(window.meshdashTopology || {},
    { watch: watch, apart: apart, graph: graph });
})();

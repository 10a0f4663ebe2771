/* meshdash topology: draw the graph's elements into Cytoscape in one batch.
 *
 * dash-cytoscape hands its `elements` prop to Cytoscape by diffing it element by element, then
 * writes every element back into the prop after each add (and re-runs the layout): for a
 * 1,000-workload graph (5,000 elements) that took 12-17 s. The page instead sends the elements
 * to the topo-elements Store (dashboards/topology/page.py), and the clientside callback calls
 * `draw` with them: the prop stays empty, dash-cytoscape's add/remove/drag listeners that copy
 * elements back are taken off, and the elements go in inside one batch.
 *
 * Same structure (ids and parents) as drawn: data and classes are updated in place, nothing
 * moves (a refresh, a highlighted path). Anything else: the elements are
 * replaced and the drawing's layout runs (the server's positions for large graphs).
 */
(function () {
  "use strict";
  var last = null; // the drawing shown, to draw again into a Cytoscape created anew

  function own(cy) {
    if (cy.__meshdashDraw) { return; }
    cy.__meshdashDraw = true;
    // dash-cytoscape's: copy every element back into the prop, re-run the layout.
    cy.off("add");
    cy.off("remove");
    cy.off("dragfree");
  }

  function parentOf(d) {
    return d.parent === undefined ? null : d.parent;
  }

  // True when every element of the drawing is drawn with the same parent, and nothing else is.
  function sameStructure(cy, els) {
    if (cy.elements().length !== els.length) { return false; }
    for (var i = 0; i < els.length; i++) {
      var d = els[i].data;
      var ele = cy.getElementById(d.id);
      if (ele.empty()) { return false; }
      if (ele.isNode() && parentOf(ele.data()) !== parentOf(d)) { return false; }
    }
    return true;
  }

  var FIXED = { id: true, source: true, target: true, parent: true };

  // New figures and classes; positions stay (a node the user moved stays where it is).
  function update(cy, els) {
    var far = !!cy.__meshdashFar;
    cy.batch(function () {
      els.forEach(function (e) {
        var ele = cy.getElementById(e.data.id);
        var data = {};
        Object.keys(e.data).forEach(function (k) { if (!FIXED[k]) { data[k] = e.data[k]; } });
        ele.data(data);
        ele.classes((e.classes || "") + (far && e.data.source !== undefined ? " far" : ""));
      });
    });
  }

  var MIN_ZOOM = 0.02; // the least zoom a graph too big for the page's own may lower it to
  var MARGIN = 90; // beyond a node's centre: half its size and its label (two lines for a
  // namespace node), a box's padding

  // The viewport that fits the server's positions, from the positions alone. A preset layout
  // with `fit` measures every element first, edges and labels included: at 5,000 elements,
  // seconds of styles and curves before the first frame, which draws them once anyway.
  // The server's positions keep namespace boxes apart (mesh/graph/positions.py).
  function fitPositions(cy, els, padding) {
    var x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
    els.forEach(function (e) {
      var p = e.position;
      if (!p) { return; }
      // A box drawn flat (scale_controls.flat_boxes) spans its size, its title above it.
      var dx = (e.data.w || 0) / 2, dy = (e.data.h || 0) / 2;
      x1 = Math.min(x1, p.x - dx); y1 = Math.min(y1, p.y - dy - (e.data.title || 0) * 1.5);
      x2 = Math.max(x2, p.x + dx); y2 = Math.max(y2, p.y + dy);
    });
    if (x1 === Infinity) { return false; }
    x1 -= MARGIN; y1 -= MARGIN; x2 += MARGIN; y2 += MARGIN;
    cy.resize(); // its size as the page now lays it out, not as cached
    var w = cy.width(), h = cy.height();
    var zoom = Math.min((w - 2 * padding) / (x2 - x1), (h - 2 * padding) / (y2 - y1));
    // A graph too big for the page's least zoom: that zoom goes lower, so all of it shows.
    if (zoom < cy.minZoom()) { cy.minZoom(Math.max(MIN_ZOOM, zoom)); }
    zoom = Math.max(cy.minZoom(), Math.min(cy.maxZoom(), zoom));
    cy.viewport({ zoom: zoom, pan: { x: (w - zoom * (x1 + x2)) / 2, y: (h - zoom * (y1 + y2)) / 2 } });
    return true;
  }

  // A large graph seen whole is drawn cheaply: its edges straight, without arrows or labels
  // (class `far`, scale_controls.stylesheet). At that zoom a label is not drawn anyway
  // (min-zoomed-font-size) and an arrow is a pixel, but routing and styling 4,000 curved
  // edges doubled the first frame (about 1 s against 0.5 s). Zoomed in, they come back.
  var FAR_ZOOM = 0.5, FAR_EDGES = 1000;

  function farAt(cy, zoom, edges) {
    return edges > FAR_EDGES && zoom < FAR_ZOOM;
  }

  function withFar(edges) {
    return edges.map(function (e) {
      return Object.assign({}, e, { classes: (e.classes || "") + " far" });
    });
  }

  // Zoomed across FAR_ZOOM: the large graph's edges drawn in full, or cheaply again.
  function followZoom(cy) {
    if (cy.__meshdashZoom) { return; }
    cy.__meshdashZoom = true;
    var pending = null;
    cy.on("zoom", function () {
      if (pending) { clearTimeout(pending); }
      pending = setTimeout(function () {
        pending = null;
        var far = farAt(cy, cy.zoom(), cy.edges().length);
        if (far === !!cy.__meshdashFar) { return; }
        cy.__meshdashFar = far;
        cy.batch(function () { cy.edges().toggleClass("far", far); });
      }, 120);
    });
  }

  function replace(cy, els, layout) {
    var preset = layout.name === "preset";
    // The viewport first, from the positions alone: whether edges start `far` depends on it.
    var fitted = preset && fitPositions(cy, els, layout.padding || 30);
    var nodes = [], edges = [];
    els.forEach(function (e) { (e.data.source === undefined ? nodes : edges).push(e); });
    var far = cy.__meshdashFar = fitted && farAt(cy, cy.zoom(), edges.length);
    // A large graph seen whole: its nodes in this frame, its edges in the next one, so the
    // mesh's shape and health show without waiting for 4,000 edges to be routed and styled.
    var later = far ? withFar(edges) : [];
    cy.batch(function () {
      cy.elements().remove();
      cy.add(far ? nodes : els);
    });
    var token = cy.__meshdashDrawing = {};
    if (later.length) {
      requestAnimationFrame(function () {
        requestAnimationFrame(function () {
          if (cy.__meshdashDrawing !== token) { return; } // drawn anew meanwhile
          cy.batch(function () { cy.add(later); });
          // When the edges went in, for bench/topology_paint.py.
          window.meshdashTopology.edgesAt = performance.now();
        });
      });
    }
    if (fitted) { return; }
    cy.layout(layout).run();
  }

  function drawInto(cy, drawing) {
    var began = performance.now();
    own(cy);
    // Boxes kept apart after every layout run (topology_boxes.js), bound before it runs.
    window.meshdashTopology.watch(cy);
    followZoom(cy);
    var els = drawing.elements || [];
    if (sameStructure(cy, els)) {
      update(cy, els);
    } else {
      replace(cy, els, drawing.layout || { name: "preset", fit: true, padding: 30 });
    }
    // Cytoscape caches where its canvas sits; a banner or the summary appearing moves it,
    // which would make clicks land beside the nodes.
    setTimeout(function () { cy.resize(); }, 0);
    last = drawing;
    // How long the batch and the layout took, for bench/topology_paint.py.
    window.meshdashTopology.drawnMs = performance.now() - began;
    return { elements: els.length, at: Date.now() };
  }

  function draw(drawing) {
    var noUpdate = window.dash_clientside.no_update;
    if (!drawing) { return noUpdate; }
    var cy = window.meshdashTopology.graph();
    if (!cy) { // not mounted yet: draw when it is, and say so then
      last = drawing;
      return noUpdate;
    }
    return drawInto(cy, drawing);
  }

  // A Cytoscape instance created after the drawing arrived (or anew, by a remount) gets it.
  setInterval(function () {
    var topo = window.meshdashTopology;
    var cy = last && topo && topo.graph && topo.graph();
    if (!cy || cy.__meshdashDraw) { return; }
    var done = drawInto(cy, last);
    if (window.dash_clientside && window.dash_clientside.set_props) {
      window.dash_clientside.set_props("topo-drawn", { data: done });
    }
  }, 250);

  window.meshdashTopology = Object.assign(window.meshdashTopology || {}, { draw: draw });
})();

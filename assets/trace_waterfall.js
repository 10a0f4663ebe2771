/* meshdash trace waterfall: a virtualised span tree drawn in the browser.
 *
 * The server sends the trace as columns (views/traces.py trace_page_view), as JSON text that
 * Dash passes through untouched; this draws only the rows in view (fixed row height, absolute
 * positions), so a 100,000-span trace keeps about 50 rows in the DOM and opens as fast as a
 * 10-span one. Rows collapse and expand; the critical path is drawn over each bar; clicking a
 * row tells Dash which span is selected (the span panel is a normal server callback).
 */
(function () {
  "use strict";
  var ROW = 26;
  var OVERSCAN = 12;
  var MAX_INDENT = 24;
  // No red (errors), no dark navy (the critical path), no orange/brown that would read as either.
  var PALETTE = ["#1e66f5", "#7b3fb3", "#0f9d9a", "#6d8b00", "#d6409f", "#00838f",
                 "#5c6bc0", "#e0a100", "#2e7d9a", "#9c6ade"];

  function fmtMs(v) {
    if (v < 1) { return v.toFixed(2) + " ms"; }
    if (v < 10) { return v.toFixed(2) + " ms"; }
    if (v < 1000) { return v.toFixed(1) + " ms"; }
    return (v / 1000).toFixed(2) + " s";
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  // 14 px a level near the root, 5 px further down: a 28-level trace keeps room for its names.
  function indent(depth) {
    var d = Math.min(depth, MAX_INDENT);
    return d <= 8 ? d * 14 : 8 * 14 + (d - 8) * 5;
  }

  function shortService(name) {
    var i = name.lastIndexOf(".");
    return i > 0 ? name.slice(0, i) : name;
  }

  function Waterfall(root, data) {
    this.root = root;
    this.data = data;
    this.n = data.id.length;
    this.collapsed = new Uint8Array(this.n);
    for (var i = 0; i < data.collapsed.length; i++) { this.collapsed[data.collapsed[i]] = 1; }
    this.sections = {};
    for (var k = 0; k < data.sections.length; k++) {
      var s = data.sections[k];
      (this.sections[s[0]] = this.sections[s[0]] || []).push(s);
    }
    this.onPath = new Uint8Array(this.n);  // critical spans and their ancestors
    for (var r = 0; r < this.n; r++) {
      if (data.crit[r]) {
        var p = r;
        while (p >= 0 && !this.onPath[p]) { this.onPath[p] = 1; p = data.parent[p]; }
      }
    }
    this.criticalOnly = false;
    this.selected = -1;
    this.total = data.duration_ms > 0 ? data.duration_ms : 1;
    this.build();
    this.refresh();
  }

  Waterfall.prototype.build = function () {
    var self = this;
    var root = this.root;
    root.innerHTML = "";
    var bar = el("div", "md-wf-toolbar");
    var expand = el("button", "md-button md-wf-btn", "Expand all");
    expand.id = "tv-expand-all";
    expand.onclick = function () { self.collapsed.fill(0); self.refresh(); };
    var collapse = el("button", "md-button md-wf-btn", "Collapse deep levels");
    collapse.id = "tv-collapse-deep";
    collapse.onclick = function () {
      for (var i = 0; i < self.n; i++) {
        self.collapsed[i] = self.data.depth[i] >= 2 && self.data.kids[i] > 0 ? 1 : 0;
      }
      self.refresh();
    };
    var only = el("label", "md-wf-check");
    var box = el("input");
    box.type = "checkbox";
    box.id = "tv-critical-only";
    box.onchange = function () { self.criticalOnly = box.checked; self.refresh(); };
    only.appendChild(box);
    only.appendChild(document.createTextNode(" Critical path only"));
    this.info = el("span", "md-wf-info");
    this.info.id = "tv-rows-info";
    var legend = el("span", "md-wf-legend");
    legend.innerHTML = '<i class="md-wf-key-cp"></i> critical path <i class="md-wf-key-err"></i> error';
    bar.appendChild(expand);
    bar.appendChild(collapse);
    bar.appendChild(only);
    bar.appendChild(legend);
    bar.appendChild(this.info);
    root.appendChild(bar);

    var head = el("div", "md-wf-head");
    head.appendChild(el("div", "md-wf-name md-wf-name-head", "Service · operation"));
    var ticks = el("div", "md-wf-track md-wf-ticks");
    for (var t = 0; t <= 4; t++) {
      var tick = el("span", "md-wf-tick", fmtMs(this.total * t / 4));
      tick.style.left = (t * 25) + "%";
      if (t === 4) { tick.classList.add("md-wf-tick-last"); }
      ticks.appendChild(tick);
    }
    head.appendChild(ticks);
    root.appendChild(head);

    this.viewport = el("div", "md-wf-viewport");
    this.viewport.id = "tv-viewport";
    this.spacer = el("div", "md-wf-spacer");
    this.viewport.appendChild(this.spacer);
    root.appendChild(this.viewport);
    this.viewport.addEventListener("scroll", function () { self.draw(); });
    this.spacer.addEventListener("click", function (ev) {
      var rowEl = ev.target.closest(".md-wf-row");
      if (!rowEl) { return; }
      var r = parseInt(rowEl.getAttribute("data-row"), 10);
      if (ev.target.closest(".md-wf-toggle")) {
        self.collapsed[r] = self.collapsed[r] ? 0 : 1;
        self.refresh();
        return;
      }
      self.select(r);
    });
  };

  Waterfall.prototype.refresh = function () {
    var d = this.data;
    var rows = [];
    var skipDepth = -1;
    for (var r = 0; r < this.n; r++) {
      if (skipDepth >= 0) {
        if (d.depth[r] > skipDepth) { continue; }
        skipDepth = -1;
      }
      if (this.criticalOnly && !this.onPath[r]) { continue; }
      rows.push(r);
      if (this.collapsed[r] && d.kids[r] > 0) { skipDepth = d.depth[r]; }
    }
    this.visible = rows;
    this.spacer.style.height = (rows.length * ROW) + "px";
    this.viewport.style.height = Math.max(4 * ROW, Math.min(600, rows.length * ROW + 2)) + "px";
    this.info.textContent = rows.length === this.n
      ? this.n.toLocaleString() + " spans"
      : rows.length.toLocaleString() + " of " + this.n.toLocaleString() + " spans shown";
    this.lastRange = null;
    this.draw();
  };

  Waterfall.prototype.draw = function () {
    var top = this.viewport.scrollTop;
    var height = this.viewport.clientHeight || 560;
    var first = Math.max(0, Math.floor(top / ROW) - OVERSCAN);
    var last = Math.min(this.visible.length, Math.ceil((top + height) / ROW) + OVERSCAN);
    if (this.lastRange && this.lastRange[0] === first && this.lastRange[1] === last) { return; }
    this.lastRange = [first, last];
    var frag = document.createDocumentFragment();
    for (var k = first; k < last; k++) { frag.appendChild(this.row(this.visible[k], k)); }
    this.spacer.innerHTML = "";
    this.spacer.appendChild(frag);
  };

  Waterfall.prototype.row = function (r, k) {
    var d = this.data;
    var svc = d.services[d.svc[r]];
    var color = PALETTE[d.svc[r] % PALETTE.length];
    var row = el("div", "md-wf-row");
    if (d.crit[r]) { row.classList.add("md-wf-crit"); }
    if (d.err[r]) { row.classList.add("md-wf-err"); }
    if (r === this.selected) { row.classList.add("md-wf-sel"); }
    row.setAttribute("data-row", r);
    row.setAttribute("data-span", d.id[r]);
    row.style.top = (k * ROW) + "px";
    var name = el("div", "md-wf-name");
    var depth = d.depth[r];
    name.style.paddingLeft = (6 + indent(depth)) + "px";
    if (d.kids[r] > 0) {
      var tg = el("span", "md-wf-toggle", this.collapsed[r] ? "▸" : "▾");
      tg.title = (this.collapsed[r] ? "Expand " : "Collapse ") + d.kids[r] + " child span(s)";
      name.appendChild(tg);
    } else {
      name.appendChild(el("span", "md-wf-toggle md-wf-leaf", ""));
    }
    if (depth > MAX_INDENT) { name.appendChild(el("span", "md-wf-deep", "L" + depth)); }
    var s = el("span", "md-wf-svc", shortService(svc));
    s.style.borderColor = color;
    name.appendChild(s);
    name.appendChild(el("span", "md-wf-op", d.ops[d.op[r]]));
    if (this.collapsed[r] && d.kids[r] > 0) { name.appendChild(el("span", "md-wf-more", "+" + d.kids[r])); }
    name.title = svc + "  " + d.ops[d.op[r]];
    row.appendChild(name);
    var track = el("div", "md-wf-track");
    var left = 100 * d.s[r] / this.total;
    var width = Math.max(0.15, 100 * d.d[r] / this.total);
    var b = el("div", "md-wf-bar");
    b.style.left = left + "%";
    b.style.width = width + "%";
    b.style.background = color;
    track.appendChild(b);
    var secs = this.sections[r] || [];
    for (var i = 0; i < secs.length; i++) {
      var cp = el("div", "md-wf-cp");
      cp.style.left = (100 * secs[i][1] / this.total) + "%";
      cp.style.width = Math.max(0.1, 100 * (secs[i][2] - secs[i][1]) / this.total) + "%";
      track.appendChild(cp);
    }
    var label = el("span", "md-wf-dur", fmtMs(d.d[r]));
    if (left + width > 82) {  // no room after the bar: inside it, at its right end
      label.style.right = Math.max(0.5, 100 - left - width + 0.5) + "%";
      label.classList.add("md-wf-dur-in");
    } else {
      label.style.left = (left + width + 0.5) + "%";
    }
    track.appendChild(label);
    row.appendChild(track);
    return row;
  };

  Waterfall.prototype.select = function (r) {
    this.selected = r;
    this.lastRange = null;
    this.draw();
    var dc = window.dash_clientside;
    if (dc && dc.set_props) { dc.set_props("tv-selected", {data: this.data.id[r]}); }
  };

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.meshdash_traces = {
    render: function (data, containerId) {
      var root = document.getElementById(containerId);
      if (!root) { return window.dash_clientside.no_update; }
      if (!data) { root.innerHTML = ""; return ""; }
      if (typeof data === "string") { data = JSON.parse(data); }  // the columns as JSON text
      root._wf = new Waterfall(root, data);
      return String(data.id.length);
    }
  };
})();

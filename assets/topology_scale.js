/* The topology's namespace graph: double-click (double-tap) a namespace node to expand it in
   place. Cytoscape's instance is created by dash-cytoscape, so bind to it once it exists and
   hand the namespace to Dash through the topo-dbltap Store (dashboards/topology/scale_controls.py). */
(function () {
    function bind() {
        const cy = window.meshdashTopology && window.meshdashTopology.graph();
        if (!cy) { return; }
        if (cy.__meshdashDbltap) { return; }
        cy.__meshdashDbltap = true;
        cy.on('dbltap', 'node', function (evt) {
            const data = evt.target.data();
            if (data.kind !== 'namespace' || !evt.target.hasClass('ns-node')) { return; }
            if (window.dash_clientside && window.dash_clientside.set_props) {
                window.dash_clientside.set_props('topo-dbltap', {
                    data: {namespace: data.namespace, at: Date.now()}
                });
            }
        });
    }
    setInterval(bind, 500);
})();

"""Topology page: who calls whom, how much, how badly, how slowly. The whole view is in the URL.

`page.py` is the layout and its callbacks, `elements.py` turns the graph view's JSON into
cytoscape elements and styles, `side_panel.py` is the panel of a clicked node or edge and
`investigation_panel.py` the "Why is it red?" card. `prefetch` builds the linked graph as the
page is requested (serving/prefetch.py).
"""

from dashboards.topology.page import layout, prefetch, register_callbacks

__all__ = ["layout", "prefetch", "register_callbacks"]

"""Releases page: shift a service's traffic between versions safely, beside the numbers that
justify it.

`layout.py` draws the cards, `panels.py` fills them for the chosen service, `actions.py` previews
and applies a change, `callbacks.py` wires them; `forms.py` turns the controls into /api/routes
actions and `rollout_panel.py` is the guided rollout card. Every control previews first (a
server-side dry run and the YAML diff, in a dialog), then applies on Confirm, carrying the
resourceVersions the preview was computed from: a change someone made in between is a 409 that
shows their change instead of being overwritten.
"""

from dashboards.releases.callbacks import register_callbacks
from dashboards.releases.layout import layout

__all__ = ["layout", "register_callbacks"]

"""GET /api/namespaces and GET /api/list: the overview and the lists, through the pages' views."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from views.inventory import list_view, overview_view, parse_list_params, parse_window
from wiring.services import services


def register(bp: Blueprint) -> None:
    @bp.get("/namespaces")
    def namespaces():
        return jsonify(overview_view(services(), parse_window(request.args)))

    @bp.get("/list")
    def inventory_list():
        return jsonify(list_view(services(), parse_list_params(request.args)))

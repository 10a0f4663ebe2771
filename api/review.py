"""GET /api/review/NS/SERVICE: the whole release review as JSON, and its reports as files.

/api/review/NS/SERVICE/report.md and /report.html answer the same documents the review page's
download buttons give (Content-Disposition: attachment), through the same view.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from reports.review_files import report_document
from views.review import parse_review_params, review_view
from wiring.services import services


def register(bp: Blueprint) -> None:
    @bp.get("/review/<namespace>/<service>")
    def review(namespace: str, service: str):
        params = parse_review_params(request.args, namespace=namespace, service=service)
        return jsonify(review_view(services(), params))

    @bp.get("/review/<namespace>/<service>/report.<kind>")
    def review_report(namespace: str, service: str, kind: str):
        if kind not in ("md", "html"):
            return jsonify({"error": "the report is report.md or report.html"}), 404
        params = parse_review_params(request.args, namespace=namespace, service=service)
        filename, mimetype, text = report_document(review_view(services(), params), kind)
        return Response(
            text,
            mimetype=mimetype,
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

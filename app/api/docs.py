"""/api/docs: the OpenAPI document shown by a vendored Swagger UI (static/vendor/, no CDN;
static/js/api-docs.js starts it, so the CSP allows no inline script). Open to anyone, as the
document is: it holds no data. "Try it out" works with the browser's own session."""

from flask import Blueprint, render_template

docs_bp = Blueprint("api_docs", __name__)


@docs_bp.get("/api/docs")
def show_api_docs():
    return render_template("api/docs.html")

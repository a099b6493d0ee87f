"""POST /api/v1/labels/series (DESIGN 8.3): reserve the next codes of a prefix."""

from flask import url_for
from flask_login import current_user

from app.api import bp
from app.api.helpers import json_body, json_response
from app.auth.decorators import role_required
from app.extensions import db
from app.labels import services


@bp.post("/labels/series")
@role_required("supervisor")
def create_label_series():
    body = json_body(("prefix", "count"))
    reserved = services.reserve_series(current_user, body.get("prefix"), body.get("count"))
    db.session.commit()
    series_id = reserved.series.id
    response = json_response({
        "id": series_id, "codes": reserved.codes,
        "pdf": url_for("labels.series_pdf", series_id=series_id, _external=True),
        "zpl": url_for("labels.series_zpl", series_id=series_id, _external=True),
    }, 201)
    response.headers["Location"] = response.json["pdf"]
    return response

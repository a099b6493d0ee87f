"""POST /api/v1/labels/series (DESIGN 8.3): reserve the next codes of a prefix."""

from flask import url_for
from flask_login import current_user

from app.api import bp
from app.api import schemas as s
from app.api.contract import body, operation
from app.api.helpers import json_response
from app.auth.decorators import role_required
from app.extensions import db
from app.labels import services


@bp.post("/labels/series")
@role_required("supervisor")
@operation(role="supervisor", body=s.NewLabelSeries, answers={201: s.LabelSeries},
           errors=("forbidden", "invalid_input", "prefix_exhausted"), tags=("labels",),
           examples={"request": {"prefix": "SB", "count": 24},
                     201: {"id": 7, "codes": ["SB00101", "SB00102", "..."],
                           "pdf": "https://tracetrack.example.com/labels/7.pdf",
                           "zpl": "https://tracetrack.example.com/labels/7.zpl"}})
def create_label_series():
    """Reserve the next `count` parent codes of a prefix for labels (never handed out twice)."""
    sent = body()
    reserved = services.reserve_series(current_user, sent.prefix, sent.count)
    db.session.commit()
    series_id = reserved.series.id
    response = json_response({
        "id": series_id, "codes": reserved.codes,
        "pdf": url_for("labels.series_pdf", series_id=series_id, _external=True),
        "zpl": url_for("labels.series_zpl", series_id=series_id, _external=True),
    }, 201)
    response.headers["Location"] = response.json["pdf"]
    return response

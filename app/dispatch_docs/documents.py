"""A dispatch's manifest from the database: the dispatch service reads, app/dispatch_docs/
manifest.py draws. Used by the manifest page and by the day's summary (attachments)."""

from __future__ import annotations

from flask import current_app

from app.dispatch import queries as dispatching
from app.dispatch_docs.manifest import Manifest, ManifestParent, ManifestReturn, render_manifest
from app.i18n import user_zone_name
from app.models import Dispatch
from app.models.dispatch import ITEM_RETURNED


def manifest_of(dispatch: Dispatch) -> Manifest:
    data = dispatching.dispatch_dict(dispatch)
    parents = [ManifestParent(row["code"], row["child_count"], row["loaded_at"],
                              row["loaded_by"])
               for row in dispatching.parent_rows(dispatch)]
    returned = [ManifestReturn(row["code"], row["child_count"], row["returned_at"],
                               row["return_reason"])
                for row in dispatching.parent_rows(dispatch, ITEM_RETURNED)]
    return Manifest(
        code=data["code"], status=data["status"], destination=data["destination"],
        vehicle_number=data["vehicle_number"], expected_parents=data["expected_parents"],
        child_weight_kg=current_app.config["CHILD_BAG_WEIGHT_KG"],
        expected_weight_kg=data["expected_weight_kg"], driver=data["driver"],
        transporter=data["transporter"], reference=data["reference"],
        short_reason=data["short_reason"], created_at=data["created_at"],
        created_by=data["created_by"], dispatched_at=data["dispatched_at"],
        dispatched_by=data["dispatched_by"], parents=parents, returned=returned,
        timezone=user_zone_name())  # the reader's zone; APP_TIMEZONE outside a request


def manifest_pdf(raw_code: object) -> tuple[str, bytes]:
    """(code, PDF bytes) of a dispatch's manifest; 404 dispatch_not_found."""
    dispatch = dispatching.find_dispatch(raw_code)
    return dispatch.code, render_manifest(manifest_of(dispatch))


def manifest_filename(code: str) -> str:
    """manifest-D000123.pdf (a code's '/' would make a folder of the download)."""
    return f"manifest-{code.replace('/', '-')}.pdf"

"""One correction, one transaction: the bag page and the JSON API both run a correction
through run_correction(), which commits once or rolls everything back."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.lookup.services import BagError, Correction


def run_correction(service: Callable[..., Correction], *args, **kwargs) -> Correction:
    try:
        outcome = service(*args, **kwargs)
        db.session.commit()
        return outcome
    except BagError:
        db.session.rollback()
        raise
    except IntegrityError:
        # A database invariant caught what the checks under the locks did not: nothing
        # was written.
        db.session.rollback()
        raise BagError("correction_conflict", "The correction collided with another change. "
                                              "Look the bag up again and retry.", 409) from None

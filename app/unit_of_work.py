"""One request, one unit of work: run a change, commit once; or roll back and say why.

Every entry point that changes something (the station, the JSON API, the bag pages' corrections,
the account and user pages) runs its service call through run(). A refusal (DomainError)
rolls back and goes on to the one error handler (app/errors.py); a database constraint that
caught a collision the service's checks did not see becomes a 409 the user can act on (a
database that is busy is the error handler's 503 database_busy, app/errors.is_busy)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError

from app.domain import DomainError
from app.extensions import db

T = TypeVar("T")


def _collision() -> DomainError:
    return DomainError("conflict", "This change collided with another one made at the same "
                                   "moment. Look again and retry.")


def run(change: Callable[..., T], *args,
        on_refusal: Callable[[DomainError], None] | None = None,
        collision: Callable[[], DomainError] = _collision, **kwargs) -> T:
    """change(*args, **kwargs), committed; `on_refusal` keeps a refusal on record (in a
    transaction of its own, after the rollback) before it is raised on."""
    try:
        outcome = change(*args, **kwargs)
        db.session.commit()
        return outcome
    except DomainError as error:
        db.session.rollback()
        if on_refusal is not None:
            on_refusal(error)
        raise
    except IntegrityError:
        # A database invariant caught what the checks under the locks did not: nothing was
        # written.
        db.session.rollback()
        error = collision()
        if on_refusal is not None:
            on_refusal(error)
        raise error from None

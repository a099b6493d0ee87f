from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, StringField
from wtforms.validators import Length

from app.forms import TranslatedForm


class ScanForm(TranslatedForm):
    """The station's one input. Without JavaScript it posts here; with JavaScript the same
    input drives the JSON API. The pressed button's `action` is scan, undo, finish or
    finish_short."""

    code = StringField(_l("Scan"), validators=[Length(max=256)])
    parent = HiddenField()

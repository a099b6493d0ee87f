from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import Length


class ScanForm(FlaskForm):
    """The station's one input. Without JavaScript it posts here; with JavaScript the same
    input drives the JSON API. The pressed button's `action` is scan, undo, finish or
    finish_short."""

    code = StringField(_l("Scan"), validators=[Length(max=256)])
    parent = HiddenField()

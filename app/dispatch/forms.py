"""The dispatch pages' forms. The service checks and cleans every value (for the pages and the
API alike); these forms carry the CSRF token and render the fields."""

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from app.forms import TranslatedForm

CODE_INPUT = {"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}


def _reason_field(placeholder=None):
    return StringField(_l("Reason"), validators=[Length(max=300)],
                       render_kw={"autocomplete": "off", "maxlength": 300,
                                  "placeholder": placeholder
                                  or _l("Why? (kept with the dispatch's history)")})


class DispatchFilterForm(TranslatedForm):
    """The list's filters: a GET form, no CSRF token (it changes nothing)."""

    class Meta:
        csrf = False

    q = StringField(_l("Code, vehicle or destination"), validators=[Length(max=64)],
                    render_kw=CODE_INPUT)
    status = SelectField(_l("Status"), validate_choice=False, choices=[
        SelectChoice("", _l("Any status")), SelectChoice("loading", _l("Loading")),
        SelectChoice("dispatched", _l("Dispatched")),
        SelectChoice("cancelled", _l("Cancelled"))])
    submit = SubmitField(_l("Filter"))


class NewDispatchForm(TranslatedForm):
    vehicle_number = StringField(_l("Vehicle number"), render_kw={**CODE_INPUT,
                                                                  "placeholder": "MH12AB1234"})
    destination = StringField(_l("Destination"), render_kw={"autocomplete": "off"})
    expected_parents = StringField(_l("Parents expected"), render_kw={
        "type": "number", "min": 1, "max": 500, "inputmode": "numeric"})
    code = StringField(_l("Bill code (leave empty to have one made)"), render_kw={
        **CODE_INPUT, "placeholder": "D000123"})
    driver = StringField(_l("Driver"), render_kw={"autocomplete": "off"})
    transporter = StringField(_l("Transporter"), render_kw={"autocomplete": "off"})
    reference = StringField(_l("Reference (LR or invoice number)"),
                            render_kw={"autocomplete": "off"})
    submit = SubmitField(_l("Open the dispatch"))


class LoadForm(TranslatedForm):
    code = StringField(_l("Scan a parent"), render_kw={**CODE_INPUT, "maxlength": 256})
    submit = SubmitField(_l("Load"))


class UnloadForm(TranslatedForm):
    code = StringField(_l("Parent"))
    submit = SubmitField(_l("Unload"))


class SendForm(TranslatedForm):
    reason = _reason_field(_l("Why it leaves short (only when it does)"))
    submit = SubmitField(_l("Dispatch"))


class ReopenForm(TranslatedForm):
    reason = _reason_field()
    submit = SubmitField(_l("Reopen for loading"))


class CancelForm(TranslatedForm):
    reason = _reason_field()
    submit = SubmitField(_l("Cancel this dispatch"))


class ReturnForm(TranslatedForm):
    parent = StringField(_l("Parent that came back"), render_kw={**CODE_INPUT,
                                                                 "placeholder": "SB00001"})
    reason = _reason_field()
    submit = SubmitField(_l("Take the return"))


class ReceiveForm(TranslatedForm):
    """A transfer's parent scanned as it comes off the truck (issue 21)."""

    code = StringField(_l("Scan a parent as it comes off"),
                       render_kw={**CODE_INPUT, "maxlength": 256, "autofocus": True})
    submit = SubmitField(_l("Receive"))

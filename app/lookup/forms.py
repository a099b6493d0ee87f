from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from app.forms import TranslatedForm


class BagFilterForm(TranslatedForm):
    """The bag list's filters: a GET form, so no CSRF token (it changes nothing).
    The service parses and checks the values, for the page and the API alike."""

    class Meta:
        csrf = False

    q = StringField(_l("Code starts with"), validators=[Length(max=64)],
                    render_kw={"autocomplete": "off", "autocapitalize": "characters",
                               "spellcheck": "false"})
    kind = SelectField(_l("Kind"), validate_choice=False, choices=[
        SelectChoice("", _l("Any kind")), SelectChoice("parent", _l("Parent")),
        SelectChoice("child", _l("Child"))])
    status = SelectField(_l("Status"), validate_choice=False, choices=[
        SelectChoice("", _l("Any status")), SelectChoice("open", _l("Open")),
        SelectChoice("complete", _l("Complete")), SelectChoice("linked", _l("Linked")),
        SelectChoice("unlinked", _l("Unlinked"))])
    created_from = StringField(_l("Created from"), render_kw={"type": "date"})
    created_to = StringField(_l("Created to"), render_kw={"type": "date"})
    user = StringField(_l("Created by"), render_kw={"autocomplete": "off",
                                                "autocapitalize": "none",
                                                "placeholder": _l("username")})
    submit = SubmitField(_l("Filter"))


class FindForm(TranslatedForm):
    """Scan-to-find on the not-found page (the navigation has the same box)."""

    class Meta:
        csrf = False

    code = StringField(_l("Scan or type a code"), validators=[Length(max=256)],
                       render_kw={"autocomplete": "off", "autocapitalize": "characters",
                                  "spellcheck": "false", "autofocus": True})
    submit = SubmitField(_l("Find"))


def _reason_field():
    return StringField(_l("Reason"), validators=[Length(max=300)],
                       render_kw={"autocomplete": "off", "maxlength": 300,
                                  "placeholder": _l("Why? (kept in the audit log)")})


class UnlinkForm(TranslatedForm):
    reason = _reason_field()
    submit = SubmitField(_l("Take out of its parent"))


class MoveForm(TranslatedForm):
    parent = StringField(_l("Move to parent"), validators=[Length(max=256)],
                         render_kw={"autocomplete": "off", "autocapitalize": "characters",
                                    "spellcheck": "false", "placeholder": "SB00001"})
    reason = _reason_field()
    submit = SubmitField(_l("Move"))


class CompleteForm(TranslatedForm):
    reason = _reason_field()
    submit = SubmitField(_l("Complete"))


class ReopenForm(TranslatedForm):
    reason = _reason_field()
    submit = SubmitField(_l("Reopen"))


class DeleteForm(TranslatedForm):
    reason = _reason_field()
    submit = SubmitField(_l("Delete this bag"))

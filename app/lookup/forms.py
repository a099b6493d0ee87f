from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length


class BagFilterForm(FlaskForm):
    """The bag list's filters: a GET form, so no CSRF token (it changes nothing).
    The service parses and checks the values, for the page and the API alike."""

    class Meta:
        csrf = False

    q = StringField("Code starts with", validators=[Length(max=64)],
                    render_kw={"autocomplete": "off", "autocapitalize": "characters",
                               "spellcheck": "false"})
    kind = SelectField("Kind", validate_choice=False, choices=[
        SelectChoice("", "Any kind"), SelectChoice("parent", "Parent"),
        SelectChoice("child", "Child")])
    status = SelectField("Status", validate_choice=False, choices=[
        SelectChoice("", "Any status"), SelectChoice("open", "Open"),
        SelectChoice("complete", "Complete"), SelectChoice("linked", "Linked"),
        SelectChoice("unlinked", "Unlinked")])
    created_from = StringField("Created from", render_kw={"type": "date"})
    created_to = StringField("Created to", render_kw={"type": "date"})
    user = StringField("Created by", render_kw={"autocomplete": "off",
                                                "autocapitalize": "none",
                                                "placeholder": "username"})
    submit = SubmitField("Filter")


class FindForm(FlaskForm):
    """Scan-to-find on the not-found page (the navigation has the same box)."""

    class Meta:
        csrf = False

    code = StringField("Scan or type a code", validators=[Length(max=256)],
                       render_kw={"autocomplete": "off", "autocapitalize": "characters",
                                  "spellcheck": "false", "autofocus": True})
    submit = SubmitField("Find")


def _reason_field():
    return StringField("Reason", validators=[Length(max=300)],
                       render_kw={"autocomplete": "off", "maxlength": 300,
                                  "placeholder": "Why? (kept in the audit log)"})


class UnlinkForm(FlaskForm):
    reason = _reason_field()
    submit = SubmitField("Take out of its parent")


class MoveForm(FlaskForm):
    parent = StringField("Move to parent", validators=[Length(max=256)],
                         render_kw={"autocomplete": "off", "autocapitalize": "characters",
                                    "spellcheck": "false", "placeholder": "SB00001"})
    reason = _reason_field()
    submit = SubmitField("Move")


class CompleteForm(FlaskForm):
    reason = _reason_field()
    submit = SubmitField("Complete")


class ReopenForm(FlaskForm):
    reason = _reason_field()
    submit = SubmitField("Reopen")


class DeleteForm(FlaskForm):
    reason = _reason_field()
    submit = SubmitField("Delete this bag")

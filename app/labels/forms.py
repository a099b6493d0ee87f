from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from app.labels.zpl import DPIS
from app.forms import TranslatedForm


class SeriesForm(TranslatedForm):
    """Reserve the next codes of a prefix; the rule book checks the values (as for the API)."""

    prefix = StringField(_l("Codes start with"), validators=[InputRequired()],
                         render_kw={"autocomplete": "off", "autocapitalize": "characters",
                                    "spellcheck": "false", "placeholder": "SB"})
    count = IntegerField(_l("How many labels"), validators=[InputRequired()],
                         render_kw={"min": 1, "max": 1000, "inputmode": "numeric"})
    submit = SubmitField(_l("Reserve codes"))


class PrintForm(TranslatedForm):
    dpi = SelectField(_l("Printer resolution"),
                      choices=[SelectChoice(str(d), _l("%(dpi)s dpi", dpi=d)) for d in DPIS],
                      default="203")
    submit = SubmitField(_l("Send to the label printer"))

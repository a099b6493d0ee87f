from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, SelectMultipleField, StringField, SubmitField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from app.forms import TranslatedForm


class SiteForm(TranslatedForm):
    """A new site (the code is fixed once made: labels and bills carry it)."""

    code = StringField(_l("Code"), validators=[DataRequired(message=_l("Type the site's code.")),
                                               Length(max=16)],
                       render_kw={"placeholder": "PUNE", "autocapitalize": "characters",
                                  "autocomplete": "off", "spellcheck": "false"})
    name = StringField(_l("Name"), validators=[DataRequired(message=_l("Type the site's name.")),
                                               Length(max=120)])
    timezone = StringField(_l("Time zone"),
                           validators=[DataRequired(message=_l("Type the site's time zone."))],
                           render_kw={"placeholder": "Asia/Kolkata", "autocomplete": "off",
                                      "spellcheck": "false"})
    submit = SubmitField(_l("Create site"))


class EditSiteForm(TranslatedForm):
    name = StringField(_l("Name"), validators=[DataRequired(message=_l("Type the site's name.")),
                                               Length(max=120)])
    timezone = StringField(_l("Time zone"),
                           validators=[DataRequired(message=_l("Type the site's time zone."))],
                           render_kw={"autocomplete": "off", "spellcheck": "false"})
    submit = SubmitField(_l("Save"))


class SwitchSiteForm(TranslatedForm):
    """The site switch in the navigation and the choice after login."""

    site = HiddenField()
    next = HiddenField()


class UserSitesForm(TranslatedForm):
    """The sites a user works in, as checkboxes (the user's page)."""

    sites = SelectMultipleField(_l("Sites"), choices=[], validate_choice=False,
                                widget=ListWidget(prefix_label=False),
                                option_widget=CheckboxInput())
    submit = SubmitField(_l("Save sites"))

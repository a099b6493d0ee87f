"""The base of every form (issue 23): WTForms' and Flask-WTF's own messages ("This field is
required.", "Not a valid choice.", the CSRF field's) in the request's language.

WTForms ships no Hindi catalog, and Flask-WTF's i18n only looks up WTForms' own catalogs
(WTF_I18N_ENABLED, off in app/config.py). So the forms' Meta hands WTForms our catalog:
Flask-Babel's raw translations of the request, whose gettext/ngettext return the template and
let WTForms fill in %(max)d itself. app/i18n_wtforms.py lists those messages for extraction."""

from __future__ import annotations

from flask_babel import get_translations
from flask_wtf import FlaskForm
from flask_wtf.csrf import _FlaskFormCSRF
from wtforms.validators import ValidationError


class TranslatedCSRF(_FlaskFormCSRF):
    """Flask-WTF's CSRF field check, whose messages ("The CSRF token is missing.") it raises
    untranslated: said in the request's language like every other field's."""

    def validate_csrf_token(self, form, field):
        try:
            super().validate_csrf_token(form, field)
        except ValidationError as error:
            raise ValidationError(field.gettext(error.args[0])) from None


class TranslatedForm(FlaskForm):
    class Meta:
        csrf_class = TranslatedCSRF

        def get_translations(self, form):
            return get_translations()

"""The messages WTForms' and Flask-WTF's fields and validators say themselves, marked for the
catalogs: WTForms ships no Hindi, so app/forms.py TranslatedForm looks them up in ours.
tests/i18n/test_wtforms.py checks this list against the installed WTForms and Flask-WTF.
Their %(max)d and %(min)s are filled in by WTForms, after the lookup."""

from __future__ import annotations

from app.domain import N_


def ngettext(singular: str, plural: str, n: int) -> tuple[str, str]:
    """Marks a message with its plural for extraction (the catalog's ngettext keyword)."""
    return singular, plural


WTFORMS_MESSAGES = (
    # wtforms.validators
    N_("This field is required."),
    N_("Invalid input."),
    N_("Field must be equal to %(other_name)s."),
    N_("Field must be between %(min)d and %(max)d characters long."),
    ngettext("Field must be at least %(min)d character long.",
             "Field must be at least %(min)d characters long.", 1),
    ngettext("Field cannot be longer than %(max)d character.",
             "Field cannot be longer than %(max)d characters.", 1),
    ngettext("Field must be exactly %(max)d character long.",
             "Field must be exactly %(max)d characters long.", 1),
    N_("Number must be at least %(min)s."),
    N_("Number must be at most %(max)s."),
    N_("Number must be between %(min)s and %(max)s."),
    N_("Date must be at least %(min)s."),
    N_("Date must be at most %(max)s."),
    N_("Date must be between %(min)s and %(max)s."),
    N_("Invalid email address."),
    N_("Invalid IP address."),
    N_("Invalid Mac address."),
    N_("Invalid URL."),
    N_("Invalid UUID."),
    N_("Invalid value, must be one of: %(values)s."),
    N_("Invalid value, can't be any of: %(values)s."),
    N_("This field cannot be edited."),
    N_("This field is disabled and cannot have a value."),
    # wtforms.fields
    N_("Not a valid choice."),
    N_("Invalid Choice: could not coerce."),
    N_("Invalid choice(s): one or more data inputs could not be coerced."),
    N_("'%(value)s' is not a valid choice for this field."),
    N_("'%(value)s' are not valid choices for this field."),
    N_("Not a valid integer value."),
    N_("Not a valid decimal value."),
    N_("Not a valid float value."),
    N_("Not a valid datetime value."),
    N_("Not a valid date value."),
    N_("Not a valid time value."),
    N_("Not a valid week value."),
    # flask_wtf.file
    N_("File does not have an approved extension."),
    N_("File does not have an approved extension: {extensions}"),
    # flask_wtf.csrf (app/forms.py TranslatedCSRF)
    N_("The CSRF token is missing."),
    N_("The CSRF session token is missing."),
    N_("The CSRF token has expired."),
    N_("The CSRF token is invalid."),
    N_("The CSRF tokens do not match."),
)

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import SubmitField

from app.imports.parsing import XLSX_MIMETYPE
from app.forms import TranslatedForm


class UploadForm(TranslatedForm):
    file = FileField(_l("Supplier file (CSV or Excel .xlsx)"),
        validators=[FileRequired(_l("Choose the supplier's CSV or .xlsx file, then upload it."))],
        render_kw={"accept": f".csv,.xlsx,text/csv,{XLSX_MIMETYPE}"})
    submit = SubmitField(_l("Upload and check"))


class ConfirmForm(TranslatedForm):
    """Carries only the CSRF token: confirms the import the dry run showed."""

    submit = SubmitField(_l("Import these rows"))

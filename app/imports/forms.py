from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SubmitField

from app.imports.parsing import XLSX_MIMETYPE


class UploadForm(FlaskForm):
    file = FileField(
        "Supplier file (CSV or Excel .xlsx)",
        validators=[FileRequired("Choose the supplier's CSV or .xlsx file, then upload it.")],
        render_kw={"accept": f".csv,.xlsx,text/csv,{XLSX_MIMETYPE}"})
    submit = SubmitField("Upload and check")


class ConfirmForm(FlaskForm):
    """Carries only the CSRF token: confirms the import the dry run showed."""

    submit = SubmitField("Import these rows")

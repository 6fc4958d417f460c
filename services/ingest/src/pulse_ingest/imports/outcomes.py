"""Why an import stops before its end: each refusal with the status and stable code the route
answers, and what was stored before it (:class:`~.shapes.ImportSummary`)."""

from __future__ import annotations

from .shapes import ImportSummary, RowError


class ImportRefused(Exception):
    """An import the route refuses: ``status`` and ``code`` are its answer, ``str(self)`` the
    message; ``summary`` is what was stored before (set once the task run has started)."""

    status = 422
    code = "import_refused"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.summary: ImportSummary | None = None


class UnsupportedFormat(ImportRefused):
    status = 415
    code = "unsupported_media_type"


class ImportTooLarge(ImportRefused):
    status = 413
    code = "import_too_large"


class ImportEmpty(ImportRefused):
    code = "import_empty"


class HeaderInvalid(ImportRefused):
    code = "import_header_invalid"


class ImportIncomplete(ImportRefused):
    """The body ended before its end: the client went away."""

    status = 400
    code = "import_incomplete"


class RowInvalid(ImportRefused):
    """A row the validation refused: its line, field and reason."""

    code = "import_row_invalid"

    def __init__(self, line: int, field: str | None, reason: str) -> None:
        at = f" {field}" if field else ""
        super().__init__(f"line {line}:{at} {reason}")
        self.row = RowError(line=line, field=field, reason=reason)

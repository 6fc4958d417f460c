"""Bulk imports of historical points: ``POST /api/v1/imports`` (:mod:`.routes`), the body read
as numbered lines (:mod:`.lines`), CSV and JSON lines (:mod:`.formats`), the chunks validated,
stored and recorded as a task run (:mod:`.importer`), what it answers (:mod:`.shapes`,
:mod:`.outcomes`)."""

"""Rows of ``audit_task_steps`` as :class:`~pulse_contracts.audit.StoredStep`."""

from __future__ import annotations

import asyncpg
from pulse_contracts.audit import StoredStep

from .access_search import json_value

STEP_COLUMNS = """
id, trace_id, service, task_id, task_name, step_name, status, input_data, output_data,
error_message, stack_trace, execution_order, created_at
"""


def stored_step(row: asyncpg.Record) -> StoredStep:
    return StoredStep(
        id=row["id"],
        trace_id=row["trace_id"],
        service=row["service"],
        task_id=row["task_id"].hex,
        task_name=row["task_name"],
        step_name=row["step_name"],
        status=row["status"],
        input_data=json_value(row["input_data"]),
        output_data=json_value(row["output_data"]),
        error_message=row["error_message"],
        stack_trace=row["stack_trace"],
        execution_order=row["execution_order"],
        created_at=row["created_at"],
    )

"""The audit trail in persistence (docs/audit.md): the LOGS stream into ``audit_access`` and
``audit_task_steps`` (:mod:`.log_batches`, :mod:`.record_writer`), the DEADLETTER stream into
``audit_dead_letters`` (:mod:`.dead_letters`), and their retention (:mod:`.retention`)."""

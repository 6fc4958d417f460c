"""Every error status the gateway answers with, and when: its OpenAPI document is built from
this table, so each operation declares its refusals with their real body (the one
:class:`~pulse_runtime.web.ErrorBody` of Pulse's HTTP services)."""

from __future__ import annotations

from pulse_runtime.web import Refusals

refusals = Refusals(
    {
        400: "A parameter or the body breaks a rule (`invalid_parameter`, `missing_parameter`,"
        " `bad_request`, …); `parameter` names it. The audit views: a `cursor` no page gave"
        " (`bad_cursor`), filters that select nothing meaningful (`bad_filter`)",
        401: "No valid credentials (`unauthorized`, with `WWW-Authenticate: Bearer`), or refused"
        " ones (`invalid_credentials`, `invalid_refresh_token`, `refresh_token_reused`)",
        403: "The route needs another role (`forbidden`): admin, instructor, or any but student;"
        " or a student asked for another student's timeline",
        404: "No such user or API key (`not_found`); no class the caller may see"
        " (`class_not_found`: a class they may not see is not revealed); nothing recorded"
        " under a trace id (`trace_not_found`); no such dead letter (`dead_letter_not_found`)",
        409: "A conflict: `email_taken`, `cannot_change_self` (an admin disabling or demoting"
        " themselves), or `class_exists`",
        413: "The body is over the limit (`payload_too_large`)",
        429: "Too many failed logins (`too_many_attempts`): wait `Retry-After` seconds",
        503: "A service behind the gateway is not answering (`auth_unavailable`,"
        " `history_unavailable`, `classroom_unavailable`, `audit_unavailable`): retry later",
        504: "History or a class view took too long to answer (`history_timeout`,"
        " `classroom_timeout`)",
    }
)
"""``refusals(400, 503)``: the ``responses=`` of a route that may answer those statuses."""

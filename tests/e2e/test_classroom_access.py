"""Classes end to end through the real stack (auth, persistence, gateway): an instructor
creates a class and gets its producer key, reads the class views; who sees what (ADR 0023,
decision 5): admins every class, an instructor only their own (another's is 404, as if it did
not exist), a student only their own timeline, in the classes whose events carry their id."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import asyncpg
import httpx
import pytest
import websockets
from pulse_contracts.classroom import pseudonym

from tests.support.classroom_rows import RUNS, write_runs
from tests.support.stack import PulseStack, bearer, login

pytestmark = pytest.mark.integration

PASSWORD = "a perfectly long password"
ANN = "ann@school.test"  # instructor of algebra-1 and bio-1
BEN = "ben@school.test"  # another instructor
ALICE = "alice@school.test"  # a student of algebra-1 (by email)
BOB = "bob@school.test"  # a student of algebra-1
SAM = "sam@school.test"  # a student of bio-1 (pseudonymised)
NAMES = {"alice": ALICE, "bob": BOB, "carol": "carol@school.test", "dave": "dave@school.test"}


@pytest.fixture
def stack(make_stack: Any) -> PulseStack:
    stack: PulseStack = make_stack()
    stack.start(["auth", "persistence", "gateway"])
    return stack


class Api:
    def __init__(self, stack: PulseStack, client: httpx.AsyncClient, token: str) -> None:
        self._stack = stack
        self._client = client
        self._headers = bearer(token)

    async def __call__(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = self._stack["gateway"].url(path)
        return await self._client.request(method, url, headers=self._headers, **kwargs)


async def as_(stack: PulseStack, client: httpx.AsyncClient, email: str | None = None) -> Api:
    token = await stack.token() if email is None else await login(stack, email, PASSWORD)
    return Api(stack, client, token)


async def users(admin: Api) -> dict[str, str]:
    ids = {}
    for email, role in (
        (ANN, "instructor"),
        (BEN, "instructor"),
        (ALICE, "student"),
        (BOB, "student"),
        (SAM, "student"),
    ):
        made = await admin(
            "POST", "/api/v1/admin/users", json={"email": email, "password": PASSWORD, "role": role}
        )
        assert made.status_code == 201, made.text
        assert made.json()["role"] == role
        ids[email] = made.json()["id"]
    return ids


def refused(response: httpx.Response, status: int, code: str) -> bool:
    return response.status_code == status and response.json()["code"] == code


async def test_an_instructor_creates_a_class_gets_its_key_and_reads_its_views(
    stack: PulseStack,
) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        admin = await as_(stack, client)
        ids = await users(admin)
        ann = await as_(stack, client, ANN)
        created = await ann(
            "POST",
            "/api/v1/classes",
            json={"id": "algebra-1", "title": "Algebra", "planned_cells": 4},
        )
        assert created.status_code == 201, created.text
        assert created.headers["cache-control"] == "no-store"
        body = created.json()
        key = body["api_key"]
        assert key["scopes"] == ["ingest:events"]
        assert key["class_id"] == "algebra-1"
        assert body["secret"]
        info = body["class"]
        assert (info["id"], info["title"], info["owner_id"], info["api_key_id"]) == (
            "algebra-1",
            "Algebra",
            ids[ANN],
            key["id"],
        )
        again = await ann("POST", "/api/v1/classes", json={"id": "algebra-1", "title": "Again"})
        assert refused(again, 409, "class_exists")
        not_a_slug = await ann("POST", "/api/v1/classes", json={"id": "Not A Slug", "title": "x"})
        assert not_a_slug.status_code == 400

        # The pipeline fills these tables from the producers' events; here, fixed rows.
        runs = [dataclasses.replace(run, student=NAMES[run.student]) for run in RUNS]
        conn = await asyncpg.connect(stack.database_url)
        try:
            await write_runs(conn, "algebra-1", runs)
        finally:
            await conn.close()

        base = "/api/v1/classes/algebra-1"
        overview = await ann("GET", f"{base}/overview")
        assert overview.status_code == 200, overview.text
        view = overview.json()
        assert view["notebook_path"] == "lesson.ipynb"
        assert [(c["cell_index"], c["reached"], c["errored"]) for c in view["cells"]] == [
            (0, 3, 1),
            (1, 2, 1),
            (2, 1, 0),
        ]
        assert view["students"][0] == {
            "student_id": ALICE,
            "furthest_cell": 2,
            "last_activity": "2026-12-01T10:05:00Z",
            "error_count": 1,
            "cells": [[0, "ran"], [1, "ran"], [2, "ran"]],
        }
        progress = await ann("GET", f"{base}/progress", params={"step_s": 120})
        assert progress.status_code == 200, progress.text
        assert progress.json()["steps"][1] == {
            "time": "2026-12-01T10:02:00Z",
            "median": 1.5,
            "p25": 1.25,
            "p75": 1.75,
            "students": 2,
        }
        hotspots = await ann("GET", f"{base}/hotspots", params={"limit": 1})
        assert hotspots.json()["errors"] == [
            {"error_name": "NameError", "errors": 2, "students": 2}
        ]
        feed = await ann("GET", f"{base}/feed", params={"limit": 2})
        assert [e["userId"] for e in feed.json()["events"]] == ["carol@school.test", ALICE]
        timeline = await ann("GET", f"{base}/students/{BOB}/timeline", params={"limit": 2})
        assert timeline.status_code == 200
        assert timeline.json()["truncated"] is True
        assert [e["cellIndex"] for e in timeline.json()["events"]] == [1, 1]
        too_long = await ann(
            "GET",
            f"{base}/progress",
            params={"from": "2026-01-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"},
        )
        assert refused(too_long, 400, "range_too_large")
        bad_step = await ann("GET", f"{base}/progress", params={"step_s": 30})
        assert bad_step.status_code == 400

        changed = await ann("PATCH", base, json={"title": "Algebra I", "pseudonymise": False})
        assert changed.status_code == 200
        assert changed.json()["class"]["title"] == "Algebra I"
        not_hers = await ann("PATCH", base, json={"owner_id": ids[BEN]})
        assert refused(not_hers, 400, "invalid_parameter")

        # A new key: the old one is revoked.
        rotated = await ann("POST", f"{base}/key")
        assert rotated.status_code == 201, rotated.text
        new_key = rotated.json()["api_key"]
        assert new_key["id"] != key["id"]
        keys = {k["id"]: k for k in (await admin("GET", "/api/v1/admin/api-keys")).json()}
        assert keys[key["id"]]["revoked_at"] is not None
        assert keys[new_key["id"]]["revoked_at"] is None
        shown = await ann("GET", base)
        assert shown.json()["class"]["api_key_id"] == new_key["id"]


async def test_who_sees_which_class(stack: PulseStack) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        admin = await as_(stack, client)
        ids = await users(admin)
        ann, ben = await as_(stack, client, ANN), await as_(stack, client, BEN)
        for class_id, pseudonymise in (("algebra-1", False), ("bio-1", True)):
            made = await ann(
                "POST",
                "/api/v1/classes",
                json={"id": class_id, "title": class_id, "pseudonymise": pseudonymise},
            )
            assert made.status_code == 201, made.text
        made = await admin(
            "POST", "/api/v1/classes", json={"id": "ben-1", "title": "Ben's", "owner_id": ids[BEN]}
        )
        assert made.json()["class"]["owner_id"] == ids[BEN]
        conn = await asyncpg.connect(stack.database_url)
        try:
            runs = [dataclasses.replace(run, student=NAMES[run.student]) for run in RUNS]
            await write_runs(conn, "algebra-1", runs)
            salt = await conn.fetchval("SELECT salt FROM classes WHERE id = 'bio-1'")
            sam_id = pseudonym(salt, SAM)
            await write_runs(conn, "bio-1", [dataclasses.replace(RUNS[0], student=sam_id)])
        finally:
            await conn.close()

        async def listed(api: Api) -> list[str]:
            answer = await api("GET", "/api/v1/classes")
            assert answer.status_code == 200, answer.text
            return [c["id"] for c in answer.json()["classes"]]

        assert await listed(admin) == ["algebra-1", "ben-1", "bio-1"]
        assert await listed(ann) == ["algebra-1", "bio-1"]
        assert await listed(ben) == ["ben-1"]

        # Another instructor's class does not exist for Ben, whatever he asks of it.
        for method, path in (
            ("GET", "/api/v1/classes/algebra-1"),
            ("PATCH", "/api/v1/classes/algebra-1"),
            ("POST", "/api/v1/classes/algebra-1/key"),
            ("GET", "/api/v1/classes/algebra-1/overview"),
            ("GET", "/api/v1/classes/algebra-1/progress"),
            ("GET", "/api/v1/classes/algebra-1/hotspots"),
            ("GET", "/api/v1/classes/algebra-1/feed"),
            ("GET", f"/api/v1/classes/algebra-1/students/{ALICE}/timeline"),
        ):
            kwargs = {"json": {"title": "mine"}} if method == "PATCH" else {}
            answer = await ben(method, path, **kwargs)
            assert refused(answer, 404, "class_not_found"), (method, path, answer.text)
            missing = await ben(method, path.replace("algebra-1", "no-such-class"), **kwargs)
            assert missing.json() == {
                **answer.json(),
                "message": answer.json()["message"].replace("algebra-1", "no-such-class"),
            }
        # The admin sees every class and its views.
        assert (await admin("GET", "/api/v1/classes/ben-1/overview")).status_code == 200
        assert (await admin("GET", "/api/v1/classes/algebra-1/feed")).status_code == 200

        # Alice: her classes (by her email), her own timeline, nothing else.
        alice = await as_(stack, client, ALICE)
        mine = (await alice("GET", "/api/v1/classes")).json()["classes"]
        assert [(c["id"], c["student_id"]) for c in mine] == [("algebra-1", ALICE)]
        own = await alice("GET", f"/api/v1/classes/algebra-1/students/{ALICE}/timeline")
        assert own.status_code == 200, own.text
        assert {e["userId"] for e in own.json()["events"]} == {ALICE}
        other = await alice("GET", f"/api/v1/classes/algebra-1/students/{BOB}/timeline")
        assert refused(other, 403, "forbidden")
        not_hers = await alice("GET", f"/api/v1/classes/bio-1/students/{ALICE}/timeline")
        assert refused(not_hers, 404, "class_not_found")
        assert refused(await alice("GET", "/api/v1/classes/bio-1"), 404, "class_not_found")
        assert (await alice("GET", "/api/v1/classes/algebra-1")).status_code == 200
        for view in ("overview", "progress", "hotspots", "feed"):
            answer = await alice("GET", f"/api/v1/classes/algebra-1/{view}")
            assert refused(answer, 403, "forbidden"), view
        create = await alice("POST", "/api/v1/classes", json={"id": "mine", "title": "x"})
        assert refused(create, 403, "forbidden")
        metrics = await alice("GET", "/api/v1/metrics/catalog")
        assert refused(metrics, 403, "forbidden")
        url = stack["gateway"].url("/ws/metrics?type=cpu").replace("http://", "ws://")
        token = await login(stack, ALICE, PASSWORD)
        async with websockets.connect(url, additional_headers=bearer(token)) as socket:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(socket.recv(), 10)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
            4403,
            "the student role may not watch metrics",
        )

        # Sam: in a pseudonymised class, found by the pseudonym of his email.
        sam = await as_(stack, client, SAM)
        mine = (await sam("GET", "/api/v1/classes")).json()["classes"]
        assert [(c["id"], c["student_id"]) for c in mine] == [("bio-1", sam_id)]
        own = await sam("GET", f"/api/v1/classes/bio-1/students/{sam_id}/timeline")
        assert own.status_code == 200
        assert len(own.json()["events"]) == 1
        by_email = await sam("GET", f"/api/v1/classes/bio-1/students/{SAM}/timeline")
        assert refused(by_email, 403, "forbidden")

        # Instructors, unlike students, read the platform's metrics.
        assert (await ann("GET", "/api/v1/metrics/catalog")).status_code == 200

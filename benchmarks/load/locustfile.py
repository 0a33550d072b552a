"""The load mix (benchmarks/load/run.py drives it): anonymous readers and logged-in
members, as docs/operations.md describes. The fixture file (run.py writes it) names the
records, works, queries and accounts to use.

Statuses that the platform's rules give on purpose — a 429 over a rate limit, a 400 for a
claim that is refused, a 403 for an invitation nobody may send — count as answers, not
failures: the load test measures the server, the abuse tests the rules."""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

from locust import HttpUser, between, task

FIXTURE = json.loads(Path(os.environ["PEERGRAPH_LOAD_FIXTURE"]).read_text(encoding="utf-8"))
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def pick(key: str):  # type: ignore[no-untyped-def]
    return random.choice(FIXTURE[key])


class Reader(HttpUser):
    """Anonymous: profiles, search in every mode, works, graph slices, feeds."""

    weight = 8
    wait_time = between(0.5, 1.5)

    @task(5)
    def profile(self) -> None:
        self.client.get(f"/researchers/{pick('records')}", name="/researchers/[id]")

    @task(3)
    def work(self) -> None:
        self.client.get(f"/works/{pick('works')}", name="/works/[id]")

    @task(3)
    def search_keyword(self) -> None:
        self.client.get(
            "/search", params={"q": pick("queries"), "mode": "keyword"}, name="/search keyword"
        )

    @task(2)
    def search_hybrid(self) -> None:
        self.client.get("/search", params={"q": pick("queries")}, name="/search hybrid")

    @task(1 if FIXTURE.get("semantic") else 0)
    def search_semantic(self) -> None:
        self.client.get(
            "/api/search",
            params={"q": pick("queries"), "mode": "semantic"},
            name="/api/search semantic",
        )

    @task(2)
    def graph(self) -> None:
        node = f"researcher:{pick('records')}"
        self.client.get("/api/graph/slice", params={"node": node}, name="/api/graph/slice")

    @task(1)
    def atom(self) -> None:
        self.client.get(
            f"/researchers/{pick('records')}/works.atom", name="/researchers/[id]/works.atom"
        )


class Member(HttpUser):
    """Logged in: log-in, follow and unfollow, claim attempts, invitations, messages,
    the inbox, the feed and the dashboard."""

    weight = 2
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.me = random.choice(FIXTURE["members"])
        page = self.client.get("/login", name="/login")
        token = CSRF.search(page.text)
        self.client.post(
            "/login",
            data={
                "email": self.me["email"],
                "password": FIXTURE["password"],
                "csrf_token": token.group(1) if token else "",
            },
            name="/login",
            allow_redirects=False,
        )

    def _form_token(self) -> str:
        page = self.client.get("/feed", name="/feed")
        found = CSRF.search(page.text)
        return found.group(1) if found else ""

    def post(self, path: str, name: str, ok: tuple[int, ...], **form: str) -> None:
        token = self._form_token()
        with self.client.post(
            path,
            data={"csrf_token": token, **form},
            name=name,
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code in ok:
                response.success()

    @task(3)
    def follow_and_unfollow(self) -> None:
        record = pick("records")
        self.post(f"/researchers/{record}/follow", "/researchers/[id]/follow", (303,))
        self.post(f"/researchers/{record}/unfollow", "/researchers/[id]/unfollow", (303,))

    @task(3)
    def inbox(self) -> None:
        self.client.get("/conversations", name="/conversations")

    @task(2)
    def message(self) -> None:
        conversation = self.me.get("conversation")
        if conversation:
            self.client.get(f"/conversations/{conversation}", name="/conversations/[id]")
            self.post(
                f"/conversations/{conversation}/messages",
                "/conversations/[id]/messages",
                (303, 429),
                body="A message under load.",
            )

    @task(1)
    def claim(self) -> None:
        self.post(
            f"/researchers/{pick('records')}/claim",
            "/researchers/[id]/claim",
            (200, 400, 429),
            method="review",
            statement="Load test claim.",
        )

    @task(1)
    def invite(self) -> None:
        target = pick("open_records")
        self.post(
            f"/researchers/{target}/invite",
            "/researchers/[id]/invite",
            (303, 400, 403, 429),
            about=f"topic:{pick('topics')}",
            message="Shall we talk?",
        )

    @task(1)
    def dashboard(self) -> None:
        self.client.get("/dashboard", name="/dashboard")

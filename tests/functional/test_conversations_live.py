"""Live updates across server processes: a message written through one `peergraph serve`
reaches a reader whose event stream is open on another, through the database alone
(docs/conversations.md)."""

from __future__ import annotations

import re
import threading
import time

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from peergraph.conversations.models import Conversation
from peergraph.db import create_db_engine, migrate
from peergraph.ingest.formats import ImportTarget
from peergraph.ingest.loader import import_file
from peergraph.profiles.services import rebuild
from peergraph.settings import Settings
from tests.servers import start_server

from .test_conversations import PASSWORD, make_account, own, record


def login(url: str, email: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=10)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert csrf
    done = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf.group(1)}
    )
    assert done.status_code in (200, 303), done.text
    return client


def post(client: httpx.Client, path: str, **form: str) -> httpx.Response:
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/account").text)
    assert csrf
    return client.post(path, data={"csrf_token": csrf.group(1), **form})


def test_a_message_sent_through_one_process_reaches_a_stream_on_another(tmp_path, test_data):
    engine = create_db_engine(Settings.for_data_dir(tmp_path))
    migrate(engine)
    import_file(engine, ImportTarget(test_data / "profiles.csl.json", "csl-json"))
    rebuild(engine)
    a, b = make_account(engine, "a@example.org"), make_account(engine, "b@example.org")
    own(engine, a, record(engine, "Radford M. Neal"))
    radford = record(engine, "Alec Radford")
    own(engine, b, radford)
    first, url1 = start_server(tmp_path, "--no-embed", "--no-worker")
    second, url2 = start_server(tmp_path, "--no-embed", "--no-worker")
    writer, reader = login(url2, "a@example.org"), login(url1, "b@example.org")
    try:
        topic = re.search(r'value="(topic:\d+)"', writer.get(f"/researchers/{radford}/invite").text)
        assert topic
        sent = post(writer, f"/researchers/{radford}/invite", about=topic.group(1), message="Hi")
        assert sent.status_code == 303, sent.text
        with Session(engine) as session:
            conversation = session.scalars(select(Conversation.id)).one()
        assert post(reader, f"/conversations/{conversation}/accept").status_code == 303
        newest = reader.get(f"/api/conversations/{conversation}").json()["messages"][-1]["id"]

        lines: list[str] = []

        def listen() -> None:  # the reader's stream, on the first process
            with reader.stream(
                "GET", f"/conversations/events?since={newest}&wait=15", timeout=20
            ) as stream:
                for line in stream.iter_lines():
                    lines.append(line)
                    if line.startswith("data:"):
                        return

        listening = threading.Thread(target=listen)
        listening.start()
        time.sleep(1.5)  # the stream is open and has polled once
        assert not any(line.startswith("data:") for line in lines)
        started = time.monotonic()
        said = post(writer, f"/conversations/{conversation}/messages", body="Through process two")
        assert said.status_code == 303, said.text
        listening.join(timeout=15)
        waited = time.monotonic() - started
        data = [line for line in lines if line.startswith("data:")]
        assert data, lines
        assert "event: change" in lines
        assert waited < 5, f"the change took {waited:.1f} s to reach the other process"
        shown = reader.get(f"/api/conversations/{conversation}").json()["messages"]
        assert shown[-1]["body"] == "Through process two"
    finally:
        writer.close()
        reader.close()
        for process in (first, second):
            process.terminate()
            process.wait(timeout=10)

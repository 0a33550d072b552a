"""The research graph as the store holds it: every query that reads nodes and edges.

Pages, API routes and the command line never write graph SQL of their own; they ask
:class:`GraphStore`. The queries are plain SQLAlchemy Core over indexed columns, so
they run alike on SQLite and PostgreSQL.

Nodes are ``(type, id)`` pairs of the store's own ids:

* ``researcher``: an author record (records their owners hid are never nodes);
* ``work``, ``topic``, ``institution``, ``venue`` (a source: journal, conference, repository).

Edges, each weighted (docs/graph.md gives the reasons):

* ``authored`` researcher → work: 1/(number of authors − 1), at most 1, the share of
  the work one author stands for (Newman's weighting, as for collaboration strength);
* ``co-authored`` researcher – researcher: the profile's collaboration strength
  (Σ 1/(authors − 1) over joint works of at most 100 authors);
* ``about`` work → topic: the topic's score on the work; researcher → topic: the topic's
  weight on the record (the share of the record's works about it);
* ``affiliated`` researcher → institution: the share of the record's works with that
  institution, with the span of years;
* ``published-in`` work → venue: 1;
* ``cites`` work → work: 1, where a source gave references that resolve to works here;
* ``similar`` work – work: the cosine of their text embeddings; researcher – researcher:
  the mean cosine of their closest works (search/similar.py), when the semantic index
  holds vectors.

**Long author lists** do not become cliques: a work's slice shows its first
``FIRST_AUTHORS`` and last ``LAST_AUTHORS`` authors (lead and senior positions), and
says where each one stands ("author 4 of 40"); the co-authorship edges drawn among a
slice's nodes need the strength of at least one joint work of 12 authors
(``MIN_AMONG_STRENGTH``), so a large paper alone draws none; co-authorship strength
ignores works of more than 100 authors, and an author of a 3,000-author paper gets an
``authored`` weight of 1/2,999.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from peergraph.authors.models import AuthorRecord, AuthorshipLink
from peergraph.profiles.models import Collaboration, RecordTopic
from peergraph.profiles.queries import hidden_records
from peergraph.search.semantic import SemanticIndex
from peergraph.search.similar import similar_researchers
from peergraph.works.models import (
    Authorship,
    AuthorshipInstitution,
    Institution,
    Source,
    Topic,
    Work,
    WorkReference,
    WorkTopic,
)

NODE_TYPES = ("researcher", "work", "topic", "institution", "venue")
EDGE_TYPES = (
    "authored",
    "co-authored",
    "about",
    "affiliated",
    "published-in",
    "cites",
    "similar",
)
SIMILAR = 5  # similar works or researchers per node, from the semantic index
FIRST_AUTHORS = 10
LAST_AUTHORS = 2
PER_TYPE = 60  # neighbours of one type read for one node, strongest first
# co-authorship edges drawn *among* a slice's nodes need at least the strength of one
# joint work of FIRST_AUTHORS + LAST_AUTHORS authors: a large paper alone draws no clique
MIN_AMONG_STRENGTH = 1 / (FIRST_AUTHORS + LAST_AUTHORS - 1)

Key = tuple[str, int]


def parse_key(text: str) -> Key | None:
    """``"researcher:12"`` → ``("researcher", 12)``; None when it is not that shape."""
    kind, _, number = text.partition(":")
    if kind not in NODE_TYPES or not number.isdigit() or len(number) > 18:
        return None
    return kind, int(number)


def key_text(key: Key) -> str:
    return f"{key[0]}:{key[1]}"


@dataclass(frozen=True)
class Neighbour:
    """One edge from the node asked about to another node."""

    node: Key
    edge: str  # one of EDGE_TYPES
    weight: float
    detail: str  # plain words: "3 joint works", "2019–2023"
    outgoing: bool = True  # the edge points from the node asked about to ``node``


@dataclass
class NodeInfo:
    label: str
    url: str
    facts: dict[str, Any] = field(default_factory=dict)


def node_url(key: Key) -> str:
    kind, number = key
    if kind == "researcher":
        return f"/researchers/{number}"
    if kind == "work":
        return f"/works/{number}"
    if kind == "topic":
        return f"/topics/{number}"
    if kind == "institution":
        return f"/institutions/{number}"
    return f"/explore?node=venue:{number}"


def _years(first: int | None, last: int | None) -> str:
    if first is None:
        return "years unknown"
    return str(first) if first == last else f"{first}–{last}"


class GraphStore:
    """Reads the graph from one database session (and, for ``similar`` edges, the
    semantic index when one is given and holds vectors)."""

    def __init__(self, session: Session, index: SemanticIndex | None = None) -> None:
        self.session = session
        self.index = index

    # ---- nodes --------------------------------------------------------------------------

    def exists(self, key: Key) -> bool:
        return bool(self.describe([key]))

    def describe(self, keys: Iterable[Key]) -> dict[Key, NodeInfo]:
        """Labels, URLs and a few facts of the nodes that exist (hidden records do not)."""
        by_type: dict[str, list[int]] = {}
        for kind, number in keys:
            by_type.setdefault(kind, []).append(number)
        out: dict[Key, NodeInfo] = {}
        run = self.session.execute
        if ids := by_type.get("researcher"):
            for row in run(
                select(
                    AuthorRecord.id,
                    AuthorRecord.display_name,
                    AuthorRecord.works_count,
                    AuthorRecord.first_year,
                    AuthorRecord.last_year,
                ).where(AuthorRecord.id.in_(ids), AuthorRecord.id.not_in(hidden_records()))
            ):
                facts = {"works": row.works_count, "years": _years(row.first_year, row.last_year)}
                out[("researcher", row.id)] = NodeInfo(
                    row.display_name, node_url(("researcher", row.id)), facts
                )
        if ids := by_type.get("work"):
            for w in run(select(Work.id, Work.title, Work.year, Work.type).where(Work.id.in_(ids))):
                facts = {"year": w.year, "type": w.type}
                out[("work", w.id)] = NodeInfo(w.title, node_url(("work", w.id)), facts)
        if ids := by_type.get("topic"):
            for t in run(
                select(Topic.id, Topic.name, Topic.field, Topic.taxonomy).where(Topic.id.in_(ids))
            ):
                facts = {"field": t.field, "taxonomy": t.taxonomy}
                out[("topic", t.id)] = NodeInfo(t.name, node_url(("topic", t.id)), facts)
        if ids := by_type.get("institution"):
            for i in run(
                select(Institution.id, Institution.name, Institution.country_code).where(
                    Institution.id.in_(ids)
                )
            ):
                key = ("institution", i.id)
                out[key] = NodeInfo(i.name, node_url(key), {"country": i.country_code})
        if ids := by_type.get("venue"):
            for v in run(select(Source.id, Source.name, Source.type).where(Source.id.in_(ids))):
                out[("venue", v.id)] = NodeInfo(v.name, node_url(("venue", v.id)), {"type": v.type})
        return out

    def lookup(self, text: str, limit: int = 10) -> list[tuple[Key, str]]:
        """Nodes named ``text``: researchers whose display name is it, works whose title
        is it, topics and institutions of that name (case does not matter); when none
        is, researchers whose name contains it. Each with its label."""
        wanted = " ".join(text.split()).lower()
        if not wanted:
            return []
        run = self.session.execute
        found: list[tuple[Key, str]] = []
        exact = [
            (
                "researcher",
                select(AuthorRecord.id, AuthorRecord.display_name)
                .where(
                    func.lower(AuthorRecord.display_name) == wanted,
                    AuthorRecord.id.not_in(hidden_records()),
                )
                .order_by(AuthorRecord.works_count.desc(), AuthorRecord.id),
            ),
            (
                "work",
                select(Work.id, Work.title)
                .where(func.lower(Work.title) == wanted)
                .order_by(Work.id),
            ),
            (
                "topic",
                select(Topic.id, Topic.name)
                .where(func.lower(Topic.name) == wanted)
                .order_by(Topic.id),
            ),
            (
                "institution",
                select(Institution.id, Institution.name)
                .where(func.lower(Institution.name) == wanted)
                .order_by(Institution.id),
            ),
        ]
        for kind, query in exact:
            found += [((kind, row[0]), row[1]) for row in run(query.limit(limit))]
        if not found:
            pattern = "%" + wanted.replace("\\", "").replace("%", "").replace("_", "") + "%"
            found = [
                (("researcher", row[0]), row[1])
                for row in run(
                    select(AuthorRecord.id, AuthorRecord.display_name)
                    .where(
                        func.lower(AuthorRecord.display_name).like(pattern),
                        AuthorRecord.id.not_in(hidden_records()),
                    )
                    .order_by(AuthorRecord.works_count.desc(), AuthorRecord.id)
                    .limit(limit)
                )
            ]
        return found[:limit]

    # ---- edges --------------------------------------------------------------------------

    def neighbours(self, key: Key) -> list[Neighbour]:
        """The node's neighbours, strongest first within each edge type (at most
        ``PER_TYPE`` of a type), in a fixed order: the same data gives the same list."""
        kind, number = key
        reader = {
            "researcher": self._researcher,
            "work": self._work,
            "topic": self._topic,
            "institution": self._institution,
            "venue": self._venue,
        }[kind]
        return reader(number) + self._similar(key)

    def _similar(self, key: Key) -> list[Neighbour]:
        kind, number = key
        if self.index is None or kind not in ("work", "researcher"):
            return []
        if kind == "work":
            vector = self.index.centroid([number])
            if vector is None:
                return []
            hits = self.index.nearest(vector, SIMILAR, exclude=[number])
            return [
                Neighbour(("work", w), "similar", max(0.0, score), f"cosine {score:.2f}")
                for w, score in hits
            ]
        found = similar_researchers(self.session, self.index, number, limit=SIMILAR)
        return [
            Neighbour(
                ("researcher", r.record.id),
                "similar",
                max(0.0, r.score),
                f"similar work, cosine {r.score:.2f}",
            )
            for r in found
        ]

    def _researcher(self, record_id: int) -> list[Neighbour]:
        run = self.session.execute
        out: list[Neighbour] = []
        sizes = (
            select(Authorship.work_id, func.count().label("n"))
            .where(
                Authorship.work_id.in_(
                    select(Authorship.work_id)
                    .join(AuthorshipLink, AuthorshipLink.authorship_id == Authorship.id)
                    .where(AuthorshipLink.record_id == record_id)
                )
            )
            .group_by(Authorship.work_id)
            .subquery()
        )
        works = run(
            select(Work.id, Work.year, sizes.c.n)
            .join(sizes, sizes.c.work_id == Work.id)
            .order_by(sizes.c.n, Work.year.desc().nulls_last(), Work.id)
            .limit(PER_TYPE)
        ).all()
        for work_id, year, n in works:
            weight = 1.0 / max(1, n - 1)
            detail = f"{n} author{'s' if n != 1 else ''}" + (f", {year}" if year else "")
            out.append(Neighbour(("work", work_id), "authored", weight, detail))
        for coauthor, joint, strength in run(
            select(Collaboration.coauthor_id, Collaboration.joint_works, Collaboration.strength)
            .where(
                Collaboration.record_id == record_id,
                Collaboration.coauthor_id.not_in(hidden_records()),
            )
            .order_by(Collaboration.strength.desc(), Collaboration.coauthor_id)
            .limit(PER_TYPE)
        ):
            detail = f"{joint} joint work{'s' if joint != 1 else ''}, strength {strength:.2f}"
            out.append(Neighbour(("researcher", coauthor), "co-authored", strength, detail))
        for topic_id, weight, count in run(
            select(RecordTopic.topic_id, RecordTopic.weight, RecordTopic.works_count)
            .where(RecordTopic.record_id == record_id)
            .order_by(RecordTopic.weight.desc(), RecordTopic.topic_id)
            .limit(PER_TYPE)
        ):
            detail = f"{count} work{'s' if count != 1 else ''}"
            out.append(Neighbour(("topic", topic_id), "about", weight, detail))
        places = run(
            select(
                AuthorshipInstitution.institution_id,
                func.count(func.distinct(Authorship.work_id)).label("works"),
                func.min(Work.year),
                func.max(Work.year),
            )
            .join(Authorship, Authorship.id == AuthorshipInstitution.authorship_id)
            .join(AuthorshipLink, AuthorshipLink.authorship_id == Authorship.id)
            .join(Work, Work.id == Authorship.work_id)
            .where(AuthorshipLink.record_id == record_id)
            .group_by(AuthorshipInstitution.institution_id)
            .order_by(func.count(func.distinct(Authorship.work_id)).desc())
            .limit(PER_TYPE)
        ).all()
        total = max((works for _, works, _, _ in places), default=1)
        for institution_id, count, first, last in sorted(places, key=lambda r: (-r[1], r[0])):
            detail = f"{count} work{'s' if count != 1 else ''}, {_years(first, last)}"
            out.append(
                Neighbour(("institution", institution_id), "affiliated", count / total, detail)
            )
        return out

    def _work(self, work_id: int) -> list[Neighbour]:
        run = self.session.execute
        out: list[Neighbour] = []
        authors: list[Any] = list(
            run(
                select(Authorship.position, AuthorshipLink.record_id)
                .join(AuthorshipLink, AuthorshipLink.authorship_id == Authorship.id)
                .where(Authorship.work_id == work_id)
                .order_by(Authorship.position)
            )
        )
        n = int(self.session.scalar(select(func.count()).where(Authorship.work_id == work_id)) or 0)
        shown = authors
        if len(authors) > FIRST_AUTHORS + LAST_AUTHORS:
            shown = authors[:FIRST_AUTHORS] + authors[-LAST_AUTHORS:]
        hidden = set(self.session.scalars(hidden_records()))
        weight = 1.0 / max(1, n - 1)
        for position, record_id in shown:
            if record_id in hidden:
                continue
            detail = f"author {position + 1} of {n}"
            out.append(Neighbour(("researcher", record_id), "authored", weight, detail, False))
        for topic_id, score in run(
            select(WorkTopic.topic_id, WorkTopic.score)
            .where(WorkTopic.work_id == work_id)
            .order_by(WorkTopic.score.desc().nulls_last(), WorkTopic.topic_id)
            .limit(PER_TYPE)
        ):
            out.append(Neighbour(("topic", topic_id), "about", float(score or 0.5), "topic"))
        source = self.session.scalar(select(Work.source_id).where(Work.id == work_id))
        if source is not None:
            out.append(Neighbour(("venue", source), "published-in", 1.0, "published in"))
        for cited in self.session.scalars(
            select(func.coalesce(WorkReference.cited_work_id, 0))
            .where(
                WorkReference.citing_work_id == work_id, WorkReference.cited_work_id.is_not(None)
            )
            .order_by(WorkReference.cited_work_id)
            .limit(PER_TYPE)
        ):
            out.append(Neighbour(("work", cited), "cites", 1.0, "cited by this work"))
        for citing in self.session.scalars(
            select(WorkReference.citing_work_id)
            .where(WorkReference.cited_work_id == work_id)
            .order_by(WorkReference.citing_work_id.desc())
            .limit(PER_TYPE)
        ):
            out.append(Neighbour(("work", citing), "cites", 1.0, "cites this work", False))
        return out

    def _topic(self, topic_id: int) -> list[Neighbour]:
        run = self.session.execute
        out: list[Neighbour] = []
        for record_id, weight, count in run(
            select(RecordTopic.record_id, RecordTopic.weight, RecordTopic.works_count)
            .where(RecordTopic.topic_id == topic_id, RecordTopic.record_id.not_in(hidden_records()))
            .order_by(RecordTopic.works_count.desc(), RecordTopic.record_id)
            .limit(PER_TYPE)
        ):
            detail = f"{count} work{'s' if count != 1 else ''} about it"
            out.append(Neighbour(("researcher", record_id), "about", weight, detail, False))
        for work_id, score in run(
            select(WorkTopic.work_id, WorkTopic.score)
            .where(WorkTopic.topic_id == topic_id)
            .order_by(WorkTopic.score.desc().nulls_last(), WorkTopic.work_id.desc())
            .limit(PER_TYPE)
        ):
            out.append(
                Neighbour(("work", work_id), "about", float(score or 0.5), "about it", False)
            )
        return out

    def _institution(self, institution_id: int) -> list[Neighbour]:
        run = self.session.execute
        out: list[Neighbour] = []
        people = run(
            select(
                AuthorshipLink.record_id,
                func.count().label("works"),
                func.min(Work.year),
                func.max(Work.year),
            )
            .join(Authorship, Authorship.id == AuthorshipLink.authorship_id)
            .join(AuthorshipInstitution, AuthorshipInstitution.authorship_id == Authorship.id)
            .join(Work, Work.id == Authorship.work_id)
            .where(
                AuthorshipInstitution.institution_id == institution_id,
                AuthorshipLink.record_id.not_in(hidden_records()),
            )
            .group_by(AuthorshipLink.record_id)
            .order_by(func.count().desc(), AuthorshipLink.record_id)
            .limit(PER_TYPE)
        ).all()
        top = max((count for _, count, _, _ in people), default=1)
        for record_id, count, first, last in people:
            detail = f"{count} work{'s' if count != 1 else ''}, {_years(first, last)}"
            out.append(
                Neighbour(("researcher", record_id), "affiliated", count / top, detail, False)
            )
        return out

    def _venue(self, source_id: int) -> list[Neighbour]:
        out: list[Neighbour] = []
        for work_id, year in self.session.execute(
            select(Work.id, Work.year)
            .where(Work.source_id == source_id)
            .order_by(Work.year.desc().nulls_last(), Work.id.desc())
            .limit(PER_TYPE)
        ):
            detail = f"published here{f' in {year}' if year else ''}"
            out.append(Neighbour(("work", work_id), "published-in", 1.0, detail, False))
        return out

    # ---- edges among a chosen set of nodes -------------------------------------------

    def edges_among(self, keys: set[Key]) -> list[tuple[Key, Key, str, float]]:
        """The co-authorship, authorship, topic and citation edges between nodes that are
        all in ``keys`` (so a slice shows how its nodes hang together)."""
        researchers = sorted(n for t, n in keys if t == "researcher")
        works = sorted(n for t, n in keys if t == "work")
        topics = sorted(n for t, n in keys if t == "topic")
        run = self.session.execute
        out: list[tuple[Key, Key, str, float]] = []
        if len(researchers) > 1:
            for a, b, strength in run(
                select(Collaboration.record_id, Collaboration.coauthor_id, Collaboration.strength)
                .where(
                    Collaboration.record_id.in_(researchers),
                    Collaboration.coauthor_id.in_(researchers),
                    Collaboration.record_id < Collaboration.coauthor_id,
                    Collaboration.strength >= MIN_AMONG_STRENGTH,
                )
                .order_by(Collaboration.record_id, Collaboration.coauthor_id)
            ):
                out.append((("researcher", a), ("researcher", b), "co-authored", float(strength)))
        if researchers and works:
            pairs = run(
                select(AuthorshipLink.record_id, Authorship.work_id)
                .join(Authorship, Authorship.id == AuthorshipLink.authorship_id)
                .where(AuthorshipLink.record_id.in_(researchers), Authorship.work_id.in_(works))
                .order_by(AuthorshipLink.record_id, Authorship.work_id)
            ).all()
            sizes = dict(
                run(
                    select(Authorship.work_id, func.count())
                    .where(Authorship.work_id.in_(works))
                    .group_by(Authorship.work_id)
                ).all()
            )
            for record_id, work_id in pairs:
                weight = 1.0 / max(1, sizes.get(work_id, 2) - 1)
                out.append((("researcher", record_id), ("work", work_id), "authored", weight))
        if works and topics:
            for work_id, topic_id, score in run(
                select(WorkTopic.work_id, WorkTopic.topic_id, WorkTopic.score)
                .where(WorkTopic.work_id.in_(works), WorkTopic.topic_id.in_(topics))
                .order_by(WorkTopic.work_id, WorkTopic.topic_id)
            ):
                out.append((("work", work_id), ("topic", topic_id), "about", float(score or 0.5)))
        if len(works) > 1:
            for citing, cited in run(
                select(WorkReference.citing_work_id, WorkReference.cited_work_id)
                .where(
                    WorkReference.citing_work_id.in_(works), WorkReference.cited_work_id.in_(works)
                )
                .order_by(WorkReference.citing_work_id, WorkReference.cited_work_id)
            ):
                out.append((("work", citing), ("work", int(cited or 0)), "cites", 1.0))
        return out

"""Storage models for works and the source-level entities they point at.

These tables hold what the sources say, normalised; author *records* (people) are built
from authorships by the authors domain.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from peergraph.db.base import Base, utcnow


class Source(Base):
    """A venue: journal, conference series, repository (OpenAlex calls these sources)."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    openalex_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    issn_l: Mapped[str | None] = mapped_column(String(16), index=True)
    issns: Mapped[list[str] | None] = mapped_column(JSON)
    name: Mapped[str] = mapped_column(String(500))
    short_name: Mapped[str | None] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(500), index=True)
    type: Mapped[str | None] = mapped_column(String(40))
    publisher: Mapped[str | None] = mapped_column(String(300))
    homepage_url: Mapped[str | None] = mapped_column(Text)


class Work(Base):
    __tablename__ = "works"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    abstract: Mapped[str | None] = mapped_column(Text)
    year: Mapped[int | None] = mapped_column(Integer, index=True)
    publication_date: Mapped[str | None] = mapped_column(String(10))
    type: Mapped[str | None] = mapped_column(String(40), index=True)
    language: Mapped[str | None] = mapped_column(String(16))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id"), index=True)
    volume: Mapped[str | None] = mapped_column(String(64))
    issue: Mapped[str | None] = mapped_column(String(64))
    pages: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str | None] = mapped_column(Text)
    # "cited by N" as one source counted it, and when (works/services.py citation_summary)
    cited_by_count: Mapped[int | None] = mapped_column(Integer)
    cited_by_source: Mapped[str | None] = mapped_column(String(32))
    cited_by_date: Mapped[str | None] = mapped_column(String(10))
    # normalised title | year | first author's family name: the last-resort duplicate key
    dedupe_key: Mapped[str] = mapped_column(String(600), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    source: Mapped[Source | None] = relationship()
    identifiers: Mapped[list[WorkIdentifier]] = relationship(
        back_populates="work", order_by="WorkIdentifier.scheme"
    )
    authorships: Mapped[list[Authorship]] = relationship(
        back_populates="work", order_by="Authorship.position"
    )


class WorkIdentifier(Base):
    """A globally meaningful identifier of a work (doi, arxiv, openalex, pmid, pmcid, mag).

    Values are stored normalised (DOI lower-case without resolver prefix, arXiv id without
    version, OpenAlex id as ``W123``) so equal identifiers from different sources collide.
    """

    __tablename__ = "work_identifiers"
    __table_args__ = (UniqueConstraint("scheme", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id", ondelete="CASCADE"), index=True)
    scheme: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(300))

    work: Mapped[Work] = relationship(back_populates="identifiers")


class Institution(Base):
    __tablename__ = "institutions"

    id: Mapped[int] = mapped_column(primary_key=True)
    openalex_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    ror: Mapped[str | None] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(500))
    country_code: Mapped[str | None] = mapped_column(String(2))
    type: Mapped[str | None] = mapped_column(String(40))
    domains: Mapped[list[str] | None] = mapped_column(JSON)
    homepage_url: Mapped[str | None] = mapped_column(Text)


class Authorship(Base):
    """One author slot on a work, as the source printed it."""

    __tablename__ = "authorships"
    __table_args__ = (UniqueConstraint("work_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("works.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)  # 0-based, in the source's order
    raw_name: Mapped[str] = mapped_column(String(500))
    given: Mapped[str | None] = mapped_column(String(300))
    family: Mapped[str | None] = mapped_column(String(300))
    orcid: Mapped[str | None] = mapped_column(String(19), index=True)
    upstream_author_id: Mapped[str | None] = mapped_column(String(64), index=True)
    raw_affiliations: Mapped[list[str] | None] = mapped_column(JSON)
    is_corresponding: Mapped[bool | None] = mapped_column(Boolean)
    # printed as one string, so which word is the family name was guessed (authors/order.py)
    order_guessed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    work: Mapped[Work] = relationship(back_populates="authorships")
    institutions: Mapped[list[Institution]] = relationship(secondary="authorship_institutions")


class AuthorshipInstitution(Base):
    __tablename__ = "authorship_institutions"

    authorship_id: Mapped[int] = mapped_column(
        ForeignKey("authorships.id", ondelete="CASCADE"), primary_key=True
    )
    institution_id: Mapped[int] = mapped_column(
        ForeignKey("institutions.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Topic(Base):
    """A topic in some taxonomy: OpenAlex topics or concepts, arXiv categories, inferred."""

    __tablename__ = "topics"
    __table_args__ = (UniqueConstraint("taxonomy", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    taxonomy: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(300))
    subfield: Mapped[str | None] = mapped_column(String(200))
    field: Mapped[str | None] = mapped_column(String(200))
    domain: Mapped[str | None] = mapped_column(String(200))
    level: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)


class WorkTopic(Base):
    __tablename__ = "work_topics"
    # a topic's works without visiting the table: topic pages, related topics
    __table_args__ = (Index("ix_work_topics_topic_id_work_id", "topic_id", "work_id"),)

    work_id: Mapped[int] = mapped_column(
        ForeignKey("works.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True
    )
    score: Mapped[float | None] = mapped_column(Float)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)


class WorkReference(Base):
    """A reference from one work to another, by identifier; resolved when the target is here."""

    __tablename__ = "work_references"
    __table_args__ = (
        UniqueConstraint("citing_work_id", "target_scheme", "target_value"),
        Index("ix_work_references_target", "target_scheme", "target_value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    citing_work_id: Mapped[int] = mapped_column(ForeignKey("works.id", ondelete="CASCADE"))
    target_scheme: Mapped[str] = mapped_column(String(16))
    target_value: Mapped[str] = mapped_column(String(300))
    cited_work_id: Mapped[int | None] = mapped_column(
        ForeignKey("works.id", ondelete="SET NULL"), index=True
    )


class UpstreamAuthor(Base):
    """An author entity as an upstream source (OpenAlex) describes it: evidence, not truth."""

    __tablename__ = "upstream_authors"

    id: Mapped[int] = mapped_column(primary_key=True)
    openalex_id: Mapped[str] = mapped_column(String(32), unique=True)
    orcid: Mapped[str | None] = mapped_column(String(19), index=True)
    display_name: Mapped[str] = mapped_column(String(500))
    name_alternatives: Mapped[list[str] | None] = mapped_column(JSON)
    institution_ids: Mapped[list[str] | None] = mapped_column(JSON)
    works_count: Mapped[int | None] = mapped_column(Integer)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON)

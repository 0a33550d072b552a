"""Terminal rendering of a profile (``peergraph profile``)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from peergraph.authors.models import AuthorRecord
from peergraph.profiles.queries import ProfileView


def print_profile(
    console: Console, view: ProfileView, *, others: list[AuthorRecord], works: int
) -> None:
    record, profile = view.record, view.profile
    console.print(f"{record.display_name}  (record {record.id})", style="bold")
    if profile and profile.description:
        console.print(profile.description)
    affiliation = (
        "; ".join(a["name"] for a in profile.affiliations)
        if profile and profile.affiliations
        else "Affiliation not imported"
    )
    console.print(f"Researcher · {affiliation}")
    console.print(
        f"Trust {view.trust_score} · {view.trust_band} | Verification {view.verification_level} | "
        f"Unclaimed author"
    )
    console.print(
        f"{record.works_count:,} works · {view.followers} followers · "
        f"{profile.topics_count if profile else 0} topics · "
        f"{profile.close_collaborators_count if profile else 0} close collaborators"
    )
    if view.topics:
        console.print(
            "Topics: " + "; ".join(f"{t.name} ({rt.works_count})" for t, rt in view.topics[:6])
        )
    close = view.close_collaborators
    if close:
        console.print(
            "Close collaborators: "
            + "; ".join(f"{r.display_name} ({c.joint_works})" for r, c in close[:8])
        )
    table = Table(
        title=f"Works (newest first, {min(works, record.works_count)} of {record.works_count})"
    )
    table.add_column("year", justify="right")
    table.add_column("title")
    table.add_column("venue")
    for work, _link, _position in view.works.items[:works]:
        venue = (work.source.short_name or work.source.name) if work.source else ""
        table.add_row(str(work.year or ""), work.title, venue)
    console.print(table)
    if others:
        console.print(
            "Other records with this name: "
            + ", ".join(f"{r.display_name} #{r.id} ({r.works_count} works)" for r in others[:5])
        )

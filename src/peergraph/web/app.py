"""``create_app(settings)``: wires the store, templates and routes. Nothing else."""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.trustedhost import TrustedHostMiddleware

from peergraph import __version__, native
from peergraph.accounts.secrets import Signing, secret_key
from peergraph.claims.owner import LINK_KINDS
from peergraph.db import create_db_engine, session_factory
from peergraph.db.engine import SERVING_PAGE_CACHE_MIB
from peergraph.graph.cache import SliceCache
from peergraph.ingest.services import public_path
from peergraph.jobs.worker import WorkerThread
from peergraph.links import safe_link
from peergraph.logs import configure_logging
from peergraph.search.background import SearchIndexJob
from peergraph.search.facts import FactsHolder
from peergraph.search.files import IndexFolder
from peergraph.search.lexical import LexicalHolder
from peergraph.search.semantic import SemanticIndex
from peergraph.settings import Settings
from peergraph.web import (
    accounts,
    api,
    api_researchers,
    claims,
    conversations,
    errors,
    feeds,
    graph,
    health,
    institutions,
    observe,
    orcid,
    researchers,
    search,
    topics,
    views,
)
from peergraph.web.auth import AccountContext, csrf_token
from peergraph.web.security import SecurityHeaders
from peergraph.works.services import author_name, identifier_url, topic_source

WEB_DIR = Path(__file__).parent


def create_app(
    settings: Settings, *, background: bool = False, embed: bool = True, worker: bool = False
) -> FastAPI:
    """The web app; with ``background`` (``peergraph serve``) it also runs the search
    maintenance job (search/background.py: index checks, the in-memory BM25 index and,
    with ``embed``, the semantic index) from start-up to shutdown, and with ``worker``
    a job-queue worker thread (jobs/worker.py: the single-process mode)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if background:
            native.limit_arenas()  # before request threads start (peergraph/native.py)
            app.state.index_job = SearchIndexJob(
                app.state.index_engine,
                lexical=app.state.lexical,
                facts=app.state.facts,
                embed=embed,
            )
            app.state.index_job.start()
        # jobs (imports, rebuilds) get an engine of their own, with the larger page cache
        jobs_engine = create_db_engine(settings) if worker else None
        if jobs_engine is not None:
            app.state.worker = WorkerThread(
                jobs_engine, embed=embed, index_folder=folder, settings=settings
            )
            app.state.worker.start()
        # Start-up leaves a million long-lived objects (modules, mappers, templates) that
        # every full garbage collection would walk again: 100 ms pauses in the middle of
        # requests (benchmarks/profile_page.py: a 450-author work page, p95 203 ms). Collect
        # once, then move them out of the collector's sight.
        gc.collect()
        gc.freeze()
        yield
        if app.state.worker is not None:
            app.state.worker.stop()
        if jobs_engine is not None:
            jobs_engine.dispose()
        if app.state.index_job is not None:
            app.state.index_job.stop()
        app.state.engine.dispose()
        app.state.index_engine.dispose()

    app = FastAPI(
        lifespan=lifespan,
        title="peergraph API",
        version=__version__,
        description="Open research graph: works, researchers, topics. All responses are JSON; "
        'errors are {"error": {"status", "code", "message"}}.',
        openapi_url="/api/openapi.json",
        docs_url=None,  # views.api_docs serves Swagger UI from our own static files
        redoc_url=None,
    )
    signing = Signing(secret_key(settings))  # refuses a weak key in production
    engine = create_db_engine(settings, page_cache_mib=SERVING_PAGE_CACHE_MIB)
    app.state.settings = settings
    app.state.signing = signing
    app.state.secure_cookies = (settings.base_url or "").startswith("https://")
    app.state.engine = engine
    app.state.sessionmaker = session_factory(engine)
    # the search indexes read the store through a pool of their own: requests that hold
    # every connection of theirs never keep an index from loading (docs/operations.md)
    index_engine = create_db_engine(settings, page_cache_mib=SERVING_PAGE_CACHE_MIB)
    app.state.index_engine = index_engine
    # the indexes' arrays are files every process on this machine maps (search/files.py)
    folder = IndexFolder(settings.data_dir)
    app.state.semantic = SemanticIndex(index_engine, folder=folder)  # loads on first use
    app.state.index_job = None
    app.state.worker = None
    app.state.metrics = observe.Metrics()
    app.state.slices = SliceCache()  # graph slices, keyed on the data generations
    app.state.lexical = LexicalHolder(index_engine, folder)  # by the background job
    app.state.facts = FactsHolder(index_engine, folder)  # likewise
    templates = Jinja2Templates(directory=WEB_DIR / "templates")
    templates.env.filters["thousands"] = lambda n: f"{n:,}"
    templates.env.filters["public_path"] = public_path
    templates.env.filters["author_name"] = author_name  # always "given family"
    templates.env.filters["topic_source"] = topic_source
    templates.env.globals["safe_link"] = safe_link  # every link built from data
    templates.env.globals["identifier_url"] = identifier_url
    templates.env.globals["csrf_token"] = csrf_token  # every form carries it
    templates.env.globals["unread_conversations"] = conversations.unread_for  # the nav's count
    templates.env.globals["link_labels"] = LINK_KINDS  # an owner's links (claims/owner.py)
    templates.env.globals["orcid_sign_in"] = settings.oidc_client_id is not None
    app.state.templates = templates
    app.mount("/static/swagger-ui", StaticFiles(directory=swagger_ui_dir()), name="swagger-ui")
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    app.include_router(health.router)
    app.include_router(observe.router)
    app.include_router(api.router)
    app.include_router(api_researchers.router)
    app.include_router(topics.router)
    app.include_router(institutions.router)
    app.include_router(views.router)
    app.include_router(researchers.router)
    app.include_router(topics.pages)
    app.include_router(institutions.pages)
    app.include_router(search.router)
    app.include_router(accounts.router)
    app.include_router(accounts.api_router)
    app.include_router(claims.router)
    app.include_router(conversations.router)
    app.include_router(conversations.api_router)
    app.include_router(feeds.router)
    app.include_router(feeds.api_router)
    app.include_router(orcid.router)
    app.include_router(graph.router)
    app.include_router(graph.pages)
    errors.install(app)
    # outermost last: the host check runs first, and even its 400 carries the headers
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts))
    # a 500 that RequestContext answers still gets the security headers
    app.add_middleware(
        AccountContext,
        sessions=app.state.sessionmaker,
        signing=signing,
        secure=app.state.secure_cookies,
    )
    app.add_middleware(observe.RequestContext, metrics=app.state.metrics)
    app.add_middleware(SecurityHeaders)  # outermost
    return app


SERVE_OPTIONS = "PEERGRAPH_SERVE_OPTIONS"
# an idle keep-alive connection is kept this long (uvicorn's default, 5 s, closes it while
# a client that paused a few seconds sends its next request: a reset, seen under load)
KEEP_ALIVE_SECONDS = 65


# OpenBLAS's threads spin for a long while after each call, waiting for the next; with
# several web processes on the same cores, one process's spinning threads slow the
# next process's vector search: two processes answering in turn took 20 ms per
# matrix-vector product over 145k vectors instead of 7 ms, and 7.0 with the wait at
# its shortest (2^4 cycles). Read by OpenBLAS when it loads, so it goes in the
# processes' environment; an operator's own value wins.
BLAS_SPIN_VARIABLE, BLAS_SPIN = "OPENBLAS_THREAD_TIMEOUT", "4"


def serve_environment(
    settings: Settings, *, embed: bool, worker: bool, log_format: str
) -> dict[str, str]:
    """What ``serve --workers N`` hands its processes: the settings as the environment
    variables ``Settings.from_env`` reads, serve's own flags, and how long OpenBLAS's
    threads wait for more work (BLAS_SPIN)."""
    return {
        BLAS_SPIN_VARIABLE: os.environ.get(BLAS_SPIN_VARIABLE, BLAS_SPIN),
        **settings.environment_variables(),
        SERVE_OPTIONS: f"embed={int(embed)},worker={int(worker)},log={log_format}",
    }


def serve_options() -> dict[str, str]:
    """serve's flags as ``serve_environment`` wrote them (PEERGRAPH_SERVE_OPTIONS)."""
    return dict(
        part.split("=", 1) for part in os.environ.get(SERVE_OPTIONS, "").split(",") if "=" in part
    )


def app_from_env() -> FastAPI:
    """The app factory each process of ``serve --workers N`` calls (uvicorn imports it
    by name): settings from the environment, serve's flags from PEERGRAPH_SERVE_OPTIONS."""
    options = serve_options()
    configure_logging(options.get("log", "json"))
    return create_app(
        Settings.from_env(),
        background=True,
        embed=options.get("embed", "1") == "1",
        worker=options.get("worker", "1") == "1",
    )


def swagger_ui_dir() -> Path:
    """Swagger UI's files as the fastapi-offline package ships them (no CDN)."""
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"

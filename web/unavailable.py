"""The database is down or restarting: a clean 503 with `Retry-After`, for the REST API and the inbox alike.

The store turns a refused or cut connection into `engine.errors.Unavailable`; a connection error that surfaces
elsewhere (a SQLAlchemy `OperationalError`/`InterfaceError` about the connection) is recognised here too. The
answer never names the database's host or port: those go to the log.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from engine.errors import Unavailable

log = logging.getLogger("stageflow.web")

RETRY_AFTER_SECONDS = 5
MESSAGE = "the database is busy or cannot be reached right now; try again in a few seconds"

_CONNECTION_WORDS = ("connection", "could not connect", "server closed", "terminating", "shutting down",
                     "not yet accepting", "database is locked", "the database system is")


def unavailable(err: BaseException) -> Unavailable | None:
    """`err` as the 503 to answer when it means the database cannot be reached now, else None."""
    if isinstance(err, Unavailable):
        log.warning("answering 503: %s", err.message)
        return Unavailable(MESSAGE)
    if isinstance(err, DBAPIError) and (
        err.connection_invalidated
        or isinstance(err, InterfaceError)
        or (isinstance(err, OperationalError) and any(w in str(err.orig).lower() for w in _CONNECTION_WORDS))
    ):
        log.warning("answering 503: %s", str(err.orig).strip().splitlines()[0] if err.orig else err)
        return Unavailable(MESSAGE)
    return None

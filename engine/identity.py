"""Users, groups and API tokens: who signs in to the inbox and the REST API, and what they may see.

Passwords are hashed with scrypt (standard library) and a random salt; API tokens are random and only their
SHA-256 is stored, so neither can be read back from the database. Members of the `admins` group may see and do
everything; everyone else sees the tasks they are assignee or candidate of (directly or through a group).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select, update

from .clock import Clock, SystemClock
from .errors import BadRequest, Conflict, NotFound, TooManyAttempts
from .store import models as m

if TYPE_CHECKING:
    from .api import Engine
    from .views import TaskView

ADMINS = "admins"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_CACHE_SECONDS = 60.0  # a verified Basic credential is trusted this long without hashing it again
FREE_ATTEMPTS = 3  # wrong passwords in a row before sign-in is refused for a while
DELAY_BASE_SECONDS = 3  # the first refusal; each further wrong password doubles it (Camunda 7's login delay)
DELAY_MAX_SECONDS = 60


@dataclass(frozen=True)
class Principal:
    """A signed-in user and their groups."""

    user_id: str
    groups: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        return ADMINS in self.groups

    def sees(self, task: TaskView) -> bool:
        """Admins see every task; others the tasks they are assignee, owner (they delegated it) or candidate of,
        directly or via a group."""
        return (self.is_admin or self.user_id in (task.assignee, task.owner) or self.user_id in task.candidate_users
                or bool(set(self.groups) & set(task.candidate_groups)))

    def may_change(self, task: TaskView) -> bool:
        """Whether this person may unclaim, hand on or complete a task they see: it is theirs, nobody's, theirs
        as its owner (they delegated it: Camunda gives the owner the assignee's rights), or they are an admin."""
        return self.is_admin or task.assignee in (None, self.user_id) or task.owner == self.user_id


def hash_password(password: str) -> str:
    """`scrypt$n$r$p$salt$hash`, salt and hash in base64."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(stored: str, password: str) -> bool:
    """Whether `password` matches the `stored` hash (in constant time)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@functools.cache
def _dummy_hash() -> str:
    """A hash checked for unknown users, so that their answer takes as long; made on first use (a hash takes about
    60 ms, which every command would pay at import)."""
    return hash_password(secrets.token_urlsafe(16))


def login_delay(failed_attempts: int) -> int:
    """Seconds sign-in stays refused after `failed_attempts` wrong passwords in a row (0: not refused)."""
    if failed_attempts < FREE_ATTEMPTS:
        return 0
    return min(DELAY_BASE_SECONDS * 2 ** (failed_attempts - FREE_ATTEMPTS), DELAY_MAX_SECONDS)


def session_stamp(password_hash: str) -> str:
    """A short fingerprint of a password hash, kept in a signed-in session: a new password ends old sessions."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Identity:
    """Users, groups and tokens in the engine's database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # people sign in in real time, also while processes run on a virtual clock (a demo, a simulation), which
        # would never let a lock-out end: lock-outs and sign-in sessions follow this clock (tests may set one)
        self.clock: Clock = SystemClock()
        self._verified: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def prepare_sign_in(self) -> None:
        """Make now the hash unknown users are checked against (a server calls this at start), so that not even
        the first sign-in of an unknown user answers slower than a known one's."""
        _dummy_hash()

    def add_user(self, user_id: str, password: str, groups: list[str] | None = None, *,
                 first_name: str | None = None, last_name: str | None = None, email: str | None = None) -> Principal:
        """Create a user with a password and groups; an existing name is a `Conflict`."""
        if not _NAME.match(user_id or ""):
            raise BadRequest(f"user name '{user_id}' is not valid: letters, digits, '_', '.', '@', '-' only")
        if len(password or "") < 8:
            raise BadRequest("a password needs at least 8 characters")
        groups = sorted(set(groups or []))
        for group in groups:
            if not _NAME.match(group):
                raise BadRequest(f"group name '{group}' is not valid")
        with self.engine.db.write() as session:
            if session.get(m.UserAccount, user_id) is not None:
                raise Conflict(f"user '{user_id}' already exists")
            session.add(m.UserAccount(id=user_id, first_name=first_name, last_name=last_name, email=email,
                                      password_hash=hash_password(password), created_at=self.engine.clock.now()))
            session.flush()
            session.add_all([m.GroupMembership(user_id=user_id, group_id=g) for g in groups])
        return Principal(user_id, tuple(groups))

    def set_password(self, user_id: str, password: str) -> None:
        if len(password or "") < 8:
            raise BadRequest("a password needs at least 8 characters")
        with self.engine.db.write() as session:
            user = self._user(session, user_id)
            user.password_hash = hash_password(password)
            user.failed_attempts, user.locked_until = 0, None
        self._forget(user_id)

    def set_groups(self, user_id: str, groups: list[str]) -> None:
        with self.engine.db.write() as session:
            self._user(session, user_id)
            session.execute(delete(m.GroupMembership).where(m.GroupMembership.user_id == user_id))
            session.add_all([m.GroupMembership(user_id=user_id, group_id=g) for g in sorted(set(groups))])
        self._forget(user_id)

    def delete_user(self, user_id: str) -> None:
        with self.engine.db.write() as session:
            session.delete(self._user(session, user_id))
        self._forget(user_id)

    def users(self) -> list[dict[str, object]]:
        """Every user with their groups, by name."""
        with self.engine.db.read() as session:
            groups: dict[str, list[str]] = {}
            for membership in session.scalars(select(m.GroupMembership)):
                groups.setdefault(membership.user_id, []).append(membership.group_id)
            return [{"id": u.id, "firstName": u.first_name, "lastName": u.last_name, "email": u.email,
                     "groups": sorted(groups.get(u.id, []))}
                    for u in session.scalars(select(m.UserAccount).order_by(m.UserAccount.id))]

    def principal(self, user_id: str) -> Principal:
        with self.engine.db.read() as session:
            self._user(session, user_id)
            return Principal(user_id, self._groups(session, user_id))

    def authenticate(self, user_id: str, password: str) -> Principal | None:
        """The user when the password is right, else None (recently verified pairs are not hashed again).

        After `FREE_ATTEMPTS` wrong passwords in a row, the user's sign-in is refused with `TooManyAttempts` for
        3 s, then 6, 12, ... up to 60 s after each further wrong one, whatever the password (Camunda 7's login
        delay); the count lives in the database, so every engine process sees it, and a right password resets it.
        """
        key = hashlib.sha256(f"{user_id}\x00{password}".encode()).hexdigest()
        with self._lock:
            hit = self._verified.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        now = self.clock.now()
        with self.engine.db.read() as session:
            user = session.get(m.UserAccount, user_id)
            if user is None:
                check_password(_dummy_hash(), password)  # as slow as for a real user: no guessing names by time
                return None
            if user.locked_until is not None and user.locked_until > now:
                wait = max(1, int((user.locked_until - now).total_seconds() + 0.999))
                raise TooManyAttempts(f"too many wrong passwords for '{user_id}': try again in {wait} s", wait)
            right = check_password(user.password_hash, password)
            failed = user.failed_attempts
            principal = Principal(user_id, self._groups(session, user_id)) if right else None
        if principal is None:
            self._count_failure(user_id)
            return None
        if failed:
            with self.engine.db.write() as session:
                session.execute(update(m.UserAccount).where(m.UserAccount.id == user_id)
                                .values(failed_attempts=0, locked_until=None))
        with self._lock:
            self._verified[key] = (time.monotonic() + _CACHE_SECONDS, principal)
        return principal

    def open_session(self, user_id: str, *, forget_after: timedelta = timedelta(days=1)) -> str:
        """A new signed-in session of `user_id`: its id, which the session's cookie carries (sessions older than
        `forget_after`, whose cookies have expired, are forgotten on the way)."""
        session_id = secrets.token_urlsafe(24)
        now = self.clock.now()
        with self.engine.db.write() as session:
            session.execute(delete(m.UserSession).where(m.UserSession.created_at < now - forget_after))
            session.add(m.UserSession(id_hash=_token_hash(session_id), user_id=user_id, created_at=now))
        return session_id

    def end_session(self, session_id: str) -> None:
        """Sign a session out: its cookie signs no one in any more."""
        with self.engine.db.write() as session:
            session.execute(delete(m.UserSession).where(m.UserSession.id_hash == _token_hash(session_id)))

    def session_principal(self, user_id: str, stamp: str, session_id: str) -> Principal | None:
        """The user of a signed-in session, or None when they are gone, their password changed since, or the
        session was signed out."""
        with self.engine.db.read() as session:
            user = session.get(m.UserAccount, user_id)
            if user is None or not hmac.compare_digest(session_stamp(user.password_hash), stamp):
                return None
            live = session.get(m.UserSession, _token_hash(session_id))
            if live is None or live.user_id != user_id:
                return None
            return Principal(user_id, self._groups(session, user_id))

    def stamp(self, user_id: str) -> str:
        """The `session_stamp` of a user's current password."""
        with self.engine.db.read() as session:
            return session_stamp(self._user(session, user_id).password_hash)

    def _count_failure(self, user_id: str) -> None:
        self._forget(user_id)  # a cached right password must not outlive a lock in this process
        with self.engine.db.write() as session:
            session.execute(update(m.UserAccount).where(m.UserAccount.id == user_id)
                            .values(failed_attempts=m.UserAccount.failed_attempts + 1))
            failed = session.scalar(select(m.UserAccount.failed_attempts).where(m.UserAccount.id == user_id))
            delay = login_delay(failed or 0)
            if delay:
                session.execute(update(m.UserAccount).where(m.UserAccount.id == user_id)
                                .values(locked_until=self.clock.now() + timedelta(seconds=delay)))

    def create_token(self, user_id: str, label: str | None = None) -> str:
        """A new API token for `user_id`; shown once, only its hash is kept."""
        token = "sf_" + secrets.token_urlsafe(32)
        with self.engine.db.write() as session:
            self._user(session, user_id)
            session.add(m.ApiToken(id=str(uuid.uuid4()), user_id=user_id, token_hash=_token_hash(token), label=label,
                                   created_at=self.engine.clock.now(), revoked_at=None))
        return token

    def revoke_token(self, token: str) -> None:
        with self.engine.db.write() as session:
            row = session.scalars(select(m.ApiToken).where(m.ApiToken.token_hash == _token_hash(token))).first()
            if row is None:
                raise NotFound("no such token")
            row.revoked_at = self.engine.clock.now()

    def authenticate_token(self, token: str) -> Principal | None:
        """The token's user, or None for an unknown or revoked token."""
        with self.engine.db.read() as session:
            row = session.scalars(select(m.ApiToken).where(m.ApiToken.token_hash == _token_hash(token))).first()
            if row is None or row.revoked_at is not None:
                return None
            return Principal(row.user_id, self._groups(session, row.user_id))

    @staticmethod
    def _groups(session, user_id: str) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
        return tuple(sorted(session.scalars(select(m.GroupMembership.group_id)
                                            .where(m.GroupMembership.user_id == user_id))))

    @staticmethod
    def _user(session, user_id: str) -> m.UserAccount:  # type: ignore[no-untyped-def]
        user = session.get(m.UserAccount, user_id)
        if user is None:
            raise NotFound(f"user '{user_id}' not found")
        return user

    def _forget(self, user_id: str) -> None:
        with self._lock:
            self._verified = {k: v for k, v in self._verified.items() if v[1].user_id != user_id}

"""Users and groups as Camunda's identity service answers them (`/identity/groups`, `/user`, `/group`).

Admins see everyone; other people see themselves and the members of their groups, and the groups they are in
(whom they may hand a task to), as a task list needs.
"""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request

from engine.errors import BadRequest, Forbidden, NotFound, TooManyAttempts

from . import body, bp, engine, paging, principal


def _all_users() -> list[dict[str, Any]]:
    """Every user with their groups, read once per request."""
    if "all_users" not in g:
        g.all_users = engine().identity.users()
    return g.all_users  # type: ignore[no-any-return]


def _visible_users() -> list[dict[str, Any]]:
    me = principal()
    users = _all_users()
    if me.is_admin:
        return users
    mine = set(me.groups)
    return [u for u in users if u["id"] == me.user_id or mine & set(u["groups"])]  # type: ignore[arg-type]


def _visible_groups() -> list[str]:
    me = principal()
    if not me.is_admin:
        return sorted(me.groups)
    return sorted({group for u in _all_users() for group in u["groups"]})


def _profile(user: dict[str, Any]) -> dict[str, Any]:
    return {"id": user["id"], "firstName": user["firstName"], "lastName": user["lastName"], "email": user["email"]}


def _group(group_id: str) -> dict[str, Any]:
    return {"id": group_id, "name": group_id, "type": None}


def _matching_users() -> list[dict[str, Any]]:
    args = request.args
    users = _visible_users()
    if args.get("id"):
        users = [u for u in users if u["id"] == args["id"]]
    if args.get("idIn"):
        wanted = set(args["idIn"].split(","))
        users = [u for u in users if u["id"] in wanted]
    for param, field in (("firstName", "firstName"), ("lastName", "lastName"), ("email", "email")):
        if args.get(param):
            users = [u for u in users if u[field] == args[param]]
    if args.get("memberOfGroup"):
        users = [u for u in users if args["memberOfGroup"] in u["groups"]]
    return users


def _matching_groups() -> list[str]:
    args = request.args
    groups = _visible_groups()
    if args.get("id"):
        groups = [g for g in groups if g == args["id"]]
    if args.get("idIn"):
        wanted = set(args["idIn"].split(","))
        groups = [g for g in groups if g in wanted]
    member = args.get("member") or args.get("userMember")
    if member:
        of = next((u for u in _visible_users() if u["id"] == member), None)
        groups = [g for g in groups if of is not None and g in of["groups"]]
    return groups


@bp.get("/identity/groups")
def groups_of_user():  # type: ignore[no-untyped-def]
    """The groups of `userId` and the people in them (Camunda's answer for a task list's filters)."""
    user_id = request.args.get("userId")
    me = principal()
    if not user_id:
        user_id = me.user_id
    if user_id != me.user_id and not me.is_admin:
        raise Forbidden(f"user '{me.user_id}' may read only their own groups")
    users = _all_users()
    of = next((u for u in users if u["id"] == user_id), None)
    if of is None:
        raise NotFound(f"user '{user_id}' not found")
    groups = list(of["groups"])
    members = [u for u in users if set(u["groups"]) & set(groups)]
    return jsonify({"groups": [_group(g) for g in groups],
                    "groupUsers": [{"id": u["id"], "firstName": u["firstName"], "lastName": u["lastName"],
                                    "displayName": " ".join(p for p in (u["firstName"], u["lastName"]) if p)
                                    or u["id"]} for u in members]})


@bp.get("/user")
def list_users():  # type: ignore[no-untyped-def]
    first, count = paging()
    return jsonify([_profile(u) for u in _matching_users()[first:first + count]])


@bp.get("/user/count")
def count_users():  # type: ignore[no-untyped-def]
    return jsonify({"count": len(_matching_users())})


@bp.get("/user/<user_id>/profile")
def user_profile(user_id: str):  # type: ignore[no-untyped-def]
    found = next((u for u in _visible_users() if u["id"] == user_id), None)
    if found is None:
        raise NotFound(f"user '{user_id}' not found")
    return jsonify(_profile(found))


@bp.get("/group")
def list_groups():  # type: ignore[no-untyped-def]
    first, count = paging()
    return jsonify([_group(g) for g in _matching_groups()[first:first + count]])


@bp.get("/group/count")
def count_groups():  # type: ignore[no-untyped-def]
    return jsonify({"count": len(_matching_groups())})


@bp.get("/group/<group_id>")
def get_group(group_id: str):  # type: ignore[no-untyped-def]
    if group_id not in _visible_groups():
        raise NotFound(f"group '{group_id}' not found")
    return jsonify(_group(group_id))


@bp.post("/identity/verify")
def verify_credentials():  # type: ignore[no-untyped-def]
    """Camunda's credential check: whether `username` and `password` sign in (a user locked out for too many wrong
    passwords is not authenticated either, and the attempt counts as any other)."""
    data = body()
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise BadRequest("the body needs 'username' and 'password'")
    try:
        who = engine().identity.authenticate(username, password)
    except TooManyAttempts:
        who = None
    return jsonify({"authenticatedUser": username if who is not None else None, "authenticated": who is not None})

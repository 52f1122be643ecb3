"""Delegation over HTTP as Camunda 7 answers it: `POST /task/{id}/delegate` and `/resolve`, the task's `owner` and
`delegationState`, the `owner` and `delegationState` filters, and the inbox, where the delegate resolves instead
of completing."""

from __future__ import annotations

import re

import pytest
import requests

from engine.api import Engine
from tests.helpers import bpmn, chain, csrf_token
from tests.rest.conftest import PASSWORD, Client

QUOTE = bpmn("""
    <bpmn:startEvent id="s"/>
    <bpmn:userTask id="quote" name="Write quote" camunda:candidateGroups="sales">
      <bpmn:extensionElements>
        <camunda:formData>
          <camunda:formField id="discount" label="Discount" type="long"/>
        </camunda:formData>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:endEvent id="e"/>
    """ + chain("s", "quote", "e"), process_id="quotation")


@pytest.fixture
def john(engine: Engine, server: str) -> Client:
    engine.identity.add_user("john", PASSWORD, ["finance"])
    return Client(server, "john")


def _quote(admin: Client, business_key: str = "Q-1") -> tuple[str, str]:
    """A running quote and its task (offered to sales); (instance id, task id)."""
    if admin.get("/process-definition/key/quotation").status_code == 404:
        deployed = admin.post("/deployment/create", files={"upload": ("quote.bpmn", QUOTE)},
                              data={"deployment-name": "quote"})
        assert deployed.status_code == 200, deployed.text
    started = admin.post("/process-definition/key/quotation/start", json={"businessKey": business_key})
    assert started.status_code == 200, started.text
    [task] = admin.get("/task", params={"processInstanceId": started.json()["id"]}).json()
    return started.json()["id"], task["id"]


def _claimed_by_mary(admin: Client, mary: Client, business_key: str = "Q-1") -> tuple[str, str]:
    instance, task = _quote(admin, business_key)
    assert mary.post(f"/task/{task}/claim", json={"userId": "mary"}).status_code == 204
    return instance, task


def test_mary_delegates_to_john_who_resolves_and_the_task_is_back_with_mary(admin: Client, mary: Client,
                                                                            john: Client) -> None:
    instance, task = _claimed_by_mary(admin, mary)
    fresh = mary.get(f"/task/{task}").json()
    assert (fresh["owner"], fresh["delegationState"]) == (None, None)

    answer = mary.post(f"/task/{task}/delegate", json={"userId": "john"})
    assert answer.status_code == 204, answer.text
    seen = john.get(f"/task/{task}").json()  # the delegate sees it: it is assigned to him
    assert (seen["assignee"], seen["owner"], seen["delegationState"]) == ("john", "mary", "PENDING")
    assert [t["id"] for t in john.get("/task", params={"assignee": "john"}).json()] == [task]
    # the owner still reads the task she delegated (Camunda: the owner is involved), in her list as by id
    assert mary.get(f"/task/{task}").json()["assignee"] == "john"
    assert task in [t["id"] for t in mary.get("/task").json()]
    assert [t["id"] for t in admin.get("/task", params={"involvedUser": "mary"}).json()] == [task]
    links = john.get(f"/task/{task}/identity-links").json()
    assert {(link["userId"], link["type"]) for link in links} >= {("john", "assignee"), ("mary", "owner")}
    assert john.get(f"/task/{task}/identity-links", params={"type": "owner"}).json() == [
        {"userId": "mary", "groupId": None, "type": "owner"}]

    answer = john.post(f"/task/{task}/resolve", json={"variables": {"discount": {"value": 5, "type": "Long"}}})
    assert answer.status_code == 204, answer.text
    back = mary.get(f"/task/{task}").json()  # still open: resolving is not completing
    assert (back["assignee"], back["owner"], back["delegationState"]) == ("mary", "mary", "RESOLVED")
    assert mary.get(f"/task/{task}/variables/discount").json()["value"] == 5
    assert admin.get(f"/process-instance/{instance}/variables/discount").json()["value"] == 5
    assert john.get(f"/task/{task}").status_code == 403  # no longer his

    assert mary.post(f"/task/{task}/complete", json={}).status_code == 204
    history = admin.get("/history/task", params={"taskId": task}).json()
    assert [(h["owner"], h["assignee"]) for h in history] == [("mary", "mary")]


def test_resolving_a_task_that_is_not_delegated_is_a_400(admin: Client, mary: Client, john: Client) -> None:
    _, task = _claimed_by_mary(admin, mary)
    refused = mary.post(f"/task/{task}/resolve", json={})
    assert refused.status_code == 400
    assert refused.json()["type"] == "InvalidRequestException" and "not delegated" in refused.json()["message"]

    assert mary.post(f"/task/{task}/delegate", json={"userId": "john"}).status_code == 204
    assert john.post(f"/task/{task}/resolve").status_code == 204  # no body: no variables
    again = mary.post(f"/task/{task}/resolve", json={})
    assert again.status_code == 400 and "RESOLVED" in again.json()["message"]


def test_bad_delegations_and_resolutions_are_4xx_naming_the_problem(admin: Client, mary: Client,
                                                                    john: Client) -> None:
    _, task = _claimed_by_mary(admin, mary)
    for body in ({}, {"userId": None}, {"userId": ""}):
        refused = mary.post(f"/task/{task}/delegate", json=body)
        assert refused.status_code == 400, body
        assert "userId" in refused.json()["message"]
    too_long = mary.post(f"/task/{task}/delegate", json={"userId": "j" * 300})
    assert too_long.status_code == 400 and "too long" in too_long.json()["message"]
    not_json = mary.post(f"/task/{task}/delegate", data="{userId", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400 and not_json.json()["type"] == "InvalidRequestException"
    unknown = mary.post("/task/no-such-task/delegate", json={"userId": "john"})
    assert unknown.status_code == 404 and unknown.json()["type"] == "InvalidRequestException"
    assert mary.post("/task/no-such-task/resolve", json={}).status_code == 404

    assert mary.post(f"/task/{task}/delegate", json={"userId": "john"}).status_code == 204
    bad_value = john.post(f"/task/{task}/resolve", json={"variables": {"discount": {"value": "x", "type": "Long"}}})
    assert bad_value.status_code == 400 and "discount" in bad_value.json()["message"]
    assert john.get(f"/task/{task}").json()["delegationState"] == "PENDING"  # nothing changed

    # the owner keeps the assignee's rights (Camunda's owner): she may hand it back herself; an admin may too
    assert mary.post(f"/task/{task}/resolve", json={}).status_code == 204
    assert mary.post(f"/task/{task}/delegate", json={"userId": "john"}).status_code == 204
    assert admin.post(f"/task/{task}/resolve", json={}).status_code == 204


def test_suspended_tasks_are_neither_delegated_nor_resolved(admin: Client, mary: Client, john: Client) -> None:
    instance, task = _claimed_by_mary(admin, mary)
    assert mary.post(f"/task/{task}/delegate", json={"userId": "john"}).status_code == 204
    assert admin.put(f"/process-instance/{instance}/suspended", json={"suspended": True}).status_code == 204
    for call in (lambda: john.post(f"/task/{task}/delegate", json={"userId": "bob"}),
                 lambda: john.post(f"/task/{task}/resolve", json={}),
                 lambda: john.post(f"/task/{task}/resolve", json={"variables": {"discount": {"value": 1}}})):
        refused = call()
        assert refused.status_code == 409
        assert refused.json()["type"] == "SuspendedEntityInteractionException"
    assert admin.put(f"/process-instance/{instance}/suspended", json={"suspended": False}).status_code == 204
    assert john.post(f"/task/{task}/resolve", json={}).status_code == 204


def test_a_completed_task_is_neither_delegated_nor_resolved(admin: Client, mary: Client) -> None:
    _, task = _claimed_by_mary(admin, mary)
    assert mary.post(f"/task/{task}/complete", json={}).status_code == 204
    assert admin.post(f"/task/{task}/delegate", json={"userId": "john"}).status_code == 409
    assert admin.post(f"/task/{task}/resolve", json={}).status_code == 409


def test_tasks_are_listed_and_counted_by_owner_and_delegation_state(admin: Client, mary: Client,
                                                                    john: Client) -> None:
    _, pending = _claimed_by_mary(admin, mary, "Q-1")
    _, resolved = _claimed_by_mary(admin, mary, "Q-2")
    _, untouched = _claimed_by_mary(admin, mary, "Q-3")
    for task in (pending, resolved):
        assert mary.post(f"/task/{task}/delegate", json={"userId": "john"}).status_code == 204
    assert john.post(f"/task/{resolved}/resolve", json={}).status_code == 204

    def ids(params: dict[str, str]) -> list[str]:
        listed = admin.get("/task", params=params)
        assert listed.status_code == 200, listed.text
        found = sorted(t["id"] for t in listed.json())
        assert admin.get("/task/count", params=params).json() == {"count": len(found)}
        queried = admin.post("/task", json=params)
        assert queried.status_code == 200, queried.text
        assert sorted(t["id"] for t in queried.json()) == found
        assert admin.post("/task/count", json=params).json() == {"count": len(found)}
        return found

    assert ids({"owner": "mary"}) == sorted([pending, resolved])
    assert ids({"delegationState": "PENDING"}) == [pending]
    assert ids({"delegationState": "resolved"}) == [resolved]  # any case, as Camunda
    assert ids({"owner": "mary", "assignee": "mary"}) == [resolved]
    assert ids({"owner": "john"}) == []
    assert untouched in ids({}) and len(ids({})) == 3  # no filter: every task

    bad = admin.get("/task", params={"delegationState": "DONE"})
    assert bad.status_code == 400
    assert bad.json()["message"] == ("Valid values for property 'delegationState' are 'PENDING' or 'RESOLVED', "
                                     "but was 'DONE'")
    assert admin.post("/task/count", json={"delegationState": "DONE"}).status_code == 400


def test_the_history_names_who_delegated_and_who_resolved(admin: Client, mary: Client, john: Client,
                                                          engine: Engine) -> None:
    instance, task = _claimed_by_mary(admin, mary)
    mary.post(f"/task/{task}/delegate", json={"userId": "john"})
    john.post(f"/task/{task}/resolve", json={"variables": {"discount": {"value": 3, "type": "Long"}}})
    events = [(h.event, h.user_id) for h in engine.instances.history(instance) if h.task_id == task]
    assert ("delegated", "mary") in events and ("resolved", "john") in events
    assert events.index(("delegated", "mary")) < events.index(("resolved", "john"))


# ------------------------------------------------------------------------------------------------------- inbox


def _signed_in(server: str, user: str) -> tuple[requests.Session, str]:
    """A browser-like session of the inbox (served beside the REST API), signed in through the sign-in form."""
    site = server.removesuffix("/engine-rest")
    session = requests.Session()
    token = csrf_token(session.get(site + "/", timeout=30).text)
    signed = session.post(site + "/login", data={"username": user, "password": PASSWORD, "csrf_token": token},
                          allow_redirects=False, timeout=30)
    assert signed.status_code == 302, signed.text
    return session, site


def test_in_the_inbox_the_delegate_sees_who_delegated_and_resolves_instead_of_completing(
        server: str, admin: Client, mary: Client, john: Client) -> None:
    _, task = _claimed_by_mary(admin, mary)
    assert mary.post(f"/task/{task}/delegate", json={"userId": "john"}).status_code == 204

    browser, site = _signed_in(server, "john")
    page = browser.get(f"{site}/tasks/{task}", timeout=30)
    assert page.status_code == 200
    assert "Delegated by mary" in page.text
    buttons = re.findall(r'<button type="submit" class="primary">([^<]+)</button>', page.text)
    assert "Resolve" in buttons and "Complete" not in buttons

    without_token = browser.post(f"{site}/tasks/{task}/complete", data={"var.discount": "4"}, timeout=30)
    assert without_token.status_code == 400  # CSRF, as every form of the inbox
    resolved = browser.post(f"{site}/tasks/{task}/complete",
                            data={"csrf_token": csrf_token(page.text), "var.discount": "4"}, timeout=30)
    assert resolved.status_code == 200 and "back with mary" in resolved.text
    back = mary.get(f"/task/{task}").json()
    assert (back["assignee"], back["delegationState"]) == ("mary", "RESOLVED")  # open, not completed
    assert mary.get(f"/task/{task}/variables/discount").json()["value"] == 4
    # a second click on Resolve (the form still on screen) says it is done, not that the task is someone else's
    twice = browser.post(f"{site}/tasks/{task}/complete",
                         data={"csrf_token": csrf_token(page.text), "var.discount": "5"}, timeout=30)
    assert twice.status_code == 200 and "back to mary already" in twice.text, twice.text
    assert mary.get(f"/task/{task}/variables/discount").json()["value"] == 4  # and changed nothing
    assert browser.get(f"{site}/tasks/{task}", timeout=30).status_code == 200  # the page again: the same note

    owner_browser, _ = _signed_in(server, "mary")
    own_page = owner_browser.get(f"{site}/tasks/{task}", timeout=30).text
    assert "Delegated by" not in own_page
    assert re.findall(r'<button type="submit" class="primary">([^<]+)</button>', own_page)[-1] == "Complete"


def test_the_owner_keeps_the_rights_on_a_task_she_delegated(admin: Client, mary: Client, john: Client) -> None:
    """Camunda gives the owner the assignee's rights: if the delegate never acts, she takes the task back."""
    _, task = _claimed_by_mary(admin, mary)
    assert mary.post(f"/task/{task}/delegate", json={"userId": "john"}).status_code == 204
    back = mary.post(f"/task/{task}/assignee", json={"userId": "mary"})
    assert back.status_code == 204, back.text
    assert mary.post(f"/task/{task}/complete", json={}).status_code == 204


def test_in_the_inbox_the_owner_sees_who_has_her_task_and_takes_it_back(server: str, admin: Client, mary: Client,
                                                                        john: Client) -> None:
    _, task = _claimed_by_mary(admin, mary)
    browser, site = _signed_in(server, "mary")
    assert "Delegated by me" not in browser.get(f"{site}/", timeout=30).text  # none yet: no such list shown
    assert mary.post(f"/task/{task}/delegate", json={"userId": "john"}).status_code == 204
    # her own lists no longer hold it (it is john's); the list of what she delegated does, with whom it is
    mine = browser.get(f"{site}/", timeout=30).text
    assert f"/tasks/{task}" not in mine and "Delegated by me" in mine
    delegated = browser.get(f"{site}/?list=delegated", timeout=30).text
    assert f"/tasks/{task}" in delegated and "<strong>john</strong>" in delegated
    page = browser.get(f"{site}/tasks/{task}", timeout=30)
    assert "delegated</span></span> <span class=\"by\">by mary</span> <span class=\"to\">to john</span>" in page.text
    assert page.status_code == 200
    assert "You delegated this task to john" in page.text and "Claim the task" not in page.text
    taken = browser.post(f"{site}/tasks/{task}/take-back", data={"csrf_token": csrf_token(page.text)}, timeout=30)
    assert taken.status_code == 200 and "took" in taken.text and "back from john" in taken.text
    back = mary.get(f"/task/{task}").json()
    assert (back["assignee"], back["delegationState"]) == ("mary", "RESOLVED")
    again = browser.post(f"{site}/tasks/{task}/take-back", data={"csrf_token": csrf_token(taken.text)}, timeout=30)
    assert "Only who delegated a task can take it back" in again.text

"""The head of sales reads the funnel of the deals on a page: how many deals reached each stage, finished it or
were lost there, how long a stage takes, what is overdue now and who holds what; people outside the heads'
groups get a 403 and no link. (The Flask test client, signed in as a person: no browser needed.)"""

from __future__ import annotations

from typing import Any

import pytest
from lxml import html

from engine.api import Engine
from engine.clock import VirtualClock
from tests.helpers import bpmn, flow, signed_in_client
from web.app import create_app

PASSWORD = "secret-pass-1"

DEAL = bpmn("""
<bpmn:startEvent id="lead_in"/>
<bpmn:userTask id="qualify_lead" name="Qualify the lead" camunda:assignee="${manager}" camunda:dueDate="P1D"/>
<bpmn:exclusiveGateway id="qualified_gw" default="f_not_qualified"/>
<bpmn:userTask id="make_proposal" name="Make a proposal" camunda:assignee="${manager}"/>
<bpmn:exclusiveGateway id="won_gw" default="f_lost_late"/>
<bpmn:endEvent id="deal_won"/>
<bpmn:endEvent id="deal_lost"/>
""" + "\n".join([flow("lead_in", "qualify_lead"), flow("qualify_lead", "qualified_gw"),
                 flow("qualified_gw", "make_proposal", "${qualified}"),
                 flow("qualified_gw", "deal_lost", flow_id="f_not_qualified"),
                 flow("make_proposal", "won_gw"), flow("won_gw", "deal_won", "${won}"),
                 flow("won_gw", "deal_lost", flow_id="f_lost_late")]), "deal", name="Deal")


@pytest.fixture
def app(sqlite_engine: Engine) -> Any:
    for user, groups in (("sam", ["sales-heads"]), ("lena", ["loyalty-heads"]), ("admin", ["admins"]),
                         ("mary", ["sales"])):
        sqlite_engine.identity.add_user(user, PASSWORD, groups)
    sqlite_engine.definitions.deploy([("deal.bpmn", DEAL)])
    return create_app({"SECRET_KEY": "funnel-tests-" + "k" * 32}, engine=sqlite_engine)


def signed_in(app: Any, user: str) -> Any:
    return signed_in_client(app, user, PASSWORD)


def cells(page: Any, table: str, row: str) -> dict[str, str]:
    """The cells of one row of a report table, by class."""
    attr = "data-stage" if table == "stages" else "data-user"
    tr = page.xpath(f"//table[contains(@class, '{table}')]//tr[@{attr}='{row}']")[0]
    return {td.get("class").split()[-1]: td.text_content().strip() for td in tr.xpath("td")}


def work(engine: Engine, instance_id: str, **variables: Any) -> None:
    task = engine.tasks.list(instance_id=instance_id)[0]
    engine.tasks.complete(task.id, variables, user=task.assignee)


def test_the_head_of_sales_reads_the_funnel_of_the_deals(app: Any, sqlite_engine: Engine,
                                                         clock: VirtualClock) -> None:
    eng = sqlite_engine
    won = eng.instances.start("deal", business_key="D-1", variables={"manager": "mary"})
    lost = eng.instances.start("deal", business_key="D-2", variables={"manager": "mary"})
    eng.instances.start("deal", business_key="D-3", variables={"manager": "john"})
    clock.advance(hours=2)
    work(eng, won.id, qualified=True)  # qualified in 2 h
    clock.advance(hours=4)
    work(eng, won.id, won=True)  # proposal won after 4 h
    work(eng, lost.id, qualified=False)  # not qualified after 6 h: lost at the first stage
    clock.advance(days=2)  # D-3's qualification was due a day after it came in

    response = signed_in(app, "sam").get("/reports/funnel?key=deal")
    assert response.status_code == 200
    page = html.fromstring(response.text)
    assert page.xpath("//h1")[0].text_content() == "Funnel and stages: Deal"
    totals = {s.get("data-total"): s.text_content() for s in page.xpath("//*[@data-total]")}
    assert totals == {"instances": "3", "won": "1", "lost": "1"}
    stages = [th.text_content() for th in page.xpath("//table[contains(@class, 'stages')]/tbody//th")]
    assert stages == ["Qualify the lead", "Make a proposal"]
    assert cells(page, "stages", "qualify_lead") == {"entered": "3", "completed": "2", "lost": "1",
                                                     "median": "4.0 h", "p90": "6.0 h", "overdue": "1"}
    assert cells(page, "stages", "make_proposal") == {"entered": "1", "completed": "1", "lost": "0",
                                                      "median": "4.0 h", "p90": "4.0 h", "overdue": "0"}
    assert cells(page, "people", "mary") == {"open": "0", "overdue": "0", "won": "1"}
    assert cells(page, "people", "john") == {"open": "1", "overdue": "1", "won": "0"}
    assert page.xpath("//nav/a[@href='/reports/funnel']")[0].text_content() == "Reports"
    assert page.xpath("//select[@id='key']/option[@selected]")[0].get("value") == "deal"
    assert page.xpath("//select[@id='won']/option[@selected]")[0].get("value") == "deal_won"
    assert [o.get("value") for o in page.xpath("//select[@id='lost']/option")] == ["-", "deal_won", "deal_lost"]

    # counting no end event as lost: nothing is lost, the stages still count what entered and finished
    page = html.fromstring(signed_in(app, "sam").get("/reports/funnel?key=deal&lost=-").text)
    assert {s.get("data-total"): s.text_content() for s in page.xpath("//*[@data-total]")}["lost"] == "0"
    assert cells(page, "stages", "qualify_lead")["lost"] == "0"


def test_the_funnel_is_for_admins_and_the_heads_only(app: Any) -> None:
    assert signed_in(app, "admin").get("/reports/funnel").status_code == 200  # the deal funnel by default
    assert signed_in(app, "lena").get("/reports/funnel?key=deal").status_code == 200
    mary = signed_in(app, "mary")
    refused = mary.get("/reports/funnel?key=deal")
    assert refused.status_code == 403
    assert "sales-heads" in refused.text
    assert "/reports/funnel" not in mary.get("/").text  # no link in her menu
    assert app.test_client().get("/reports/funnel").status_code == 302  # a visitor signs in first


def test_a_process_nobody_deployed_shows_an_empty_report(app: Any) -> None:
    page = html.fromstring(signed_in(app, "sam").get("/reports/funnel?key=nothing_here").text)
    assert "No instance of nothing_here has reached a user task yet." in page.text_content()
    assert page.xpath("//select[@id='key']/option[@selected]")[0].text_content() == "nothing_here (not deployed)"

"""A process designer finds the deployed decisions on /designer, reads a decision table as a table and tries it
with variables before a process uses it. (The Flask test client, signed in through the sign-in form.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lxml import html

from engine.api import Engine
from tests.helpers import csrf_token, signed_in_client
from web.app import create_app

PASSWORD = "secret-pass-1"
CARD_RULES = (Path(__file__).resolve().parents[2] / "processes" / "card_rules.dmn").read_bytes()


@pytest.fixture
def app(sqlite_engine: Engine) -> Any:
    sqlite_engine.identity.add_user("dora", PASSWORD, ["designers"])
    sqlite_engine.identity.add_user("mary", PASSWORD, ["sales"])
    sqlite_engine.definitions.deploy([("card_rules.dmn", CARD_RULES)])
    sqlite_engine.definitions.deploy([("card_rules.dmn", CARD_RULES.replace(b'"standard"', b'"basic"'))])
    return create_app({"SECRET_KEY": "decision-tests-" + "k" * 32}, engine=sqlite_engine)


def signed_in(app: Any, user: str) -> Any:
    return signed_in_client(app, user, PASSWORD)


def text(node: Any) -> str:
    return " ".join(node.text_content().split())


def test_the_designer_lists_the_decisions_and_shows_a_table_with_its_rules(app: Any) -> None:
    dora = signed_in(app, "dora")
    home = html.fromstring(dora.get("/designer").text)
    row = home.xpath("//table[contains(@class, 'decisions')]//tr[@data-key='card_type']")[0]
    assert text(row.xpath("td[@class='name']")[0]) == "Card type"
    assert text(row.xpath("td[@class='latest']")[0]) == "version 2"
    assert [text(a) for a in row.xpath(".//td[@class='versions']//a")] == ["v2", "v1"]

    page = html.fromstring(dora.get(row.xpath(".//td[@class='name']/a/@href")[0]).text)
    assert "hit policy FIRST" in text(page.xpath("//main")[0])
    headers = [text(th) for th in page.xpath("//table[contains(@class, 'decision-table')]//thead//th")]
    assert headers == ["#", "Spend in 12 months spend12m", "Client for (months) tenureMonths",
                       "Card type cardType", "Description"]
    rules = [[text(td) for td in tr.xpath("td")] for tr in page.xpath("//table[contains(@class, 'decision-table')]"
                                                                     "//tbody/tr")]
    assert rules[0] == [">= 5000", ">= 24", '"gold"', "Big spenders of two years and more"]
    assert rules[-1][:3] == ["-", "-", '"basic"']
    assert len(rules) == 4


def test_a_designer_tries_a_decision_with_variables_and_sees_what_matched(app: Any) -> None:
    dora = signed_in(app, "dora")
    url = "/designer/decisions/" + app.extensions["stageflow"].decisions.latest("card_type").id
    first = dora.get(url).text
    token = csrf_token(first)
    # the form starts with the names the table's inputs read
    assert html.fromstring(first).xpath("//textarea[@id='variables']")[0].text == \
        '{"spend12m": null, "tenureMonths": null}'

    tried = dora.post(url, data={"csrf_token": token, "variables": '{"spend12m": 6000, "tenureMonths": 30}'})
    assert tried.status_code == 200
    result = html.fromstring(tried.text).xpath("//*[contains(@class, 'decision-results')]")[0]
    assert text(result) == '1 matched rule cardType = "gold"'
    typed = html.fromstring(tried.text).xpath("//textarea[@id='variables']")[0].text
    assert typed == '{"spend12m": 6000, "tenureMonths": 30}'  # the form keeps what was typed

    bad = dora.post(url, data={"csrf_token": token, "variables": "{spend12m: 6000}"})
    assert bad.status_code == 400
    assert "The variables are not valid JSON" in text(html.fromstring(bad.text).xpath("//*[@role='alert']")[0])
    missing = dora.post(url, data={"csrf_token": token, "variables": "{}"})
    assert missing.status_code == 400
    message = text(html.fromstring(missing.text).xpath("//*[@id='variables-error']")[0])
    assert "card_type" in message and "spend12m" in message


def test_people_outside_the_designers_get_a_403_on_the_decision_pages(app: Any) -> None:
    mary = signed_in(app, "mary")
    decision_id = app.extensions["stageflow"].decisions.latest("card_type").id
    assert mary.get(f"/designer/decisions/{decision_id}").status_code == 403
    assert mary.get(f"/designer/decisions/{decision_id}/xml").status_code == 403
    assert signed_in(app, "dora").get(f"/designer/decisions/{decision_id}/xml").data == \
        CARD_RULES.replace(b'"standard"', b'"basic"')

"""Stageflow's DMN engine (engine/dmn.py): parsing, unary tests, hit policies, DRGs, result mapping."""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from engine.dmn import (
    Decision,
    DecisionError,
    DecisionResult,
    feel_expression_to_python,
    feel_unary_tests_to_python,
    parse_dmn,
)
from engine.errors import DefinitionError, ExpressionError, ScriptError
from engine.sandbox import ScriptSandbox
from engine.variables import Long
from engine.xmlsafe import parse_xml

DMN13 = "https://www.omg.org/spec/DMN/20191111/MODEL/"
DMN11 = "http://www.omg.org/spec/DMN/20151101/dmn.xsd"
DMN12 = "http://www.omg.org/spec/DMN/20180521/MODEL/"
DMN15 = "https://www.omg.org/spec/DMN/20230324/MODEL/"
CAMUNDA = "http://camunda.org/schema/1.0/dmn"


@pytest.fixture(scope="module")
def sandbox() -> ScriptSandbox:
    return ScriptSandbox(time_limit=2.0)


# ------------------------------------------------------------------------------------------------ helpers


def esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def document(body: str, ns: str = DMN13) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<definitions xmlns="{ns}" xmlns:camunda="{CAMUNDA}" id="defs" name="Test" namespace="http://camunda.org/schema/1.0/dmn">\n'
        f"{body}\n</definitions>\n"
    )


def table_xml(
    decision_id: str = "d",
    *,
    inputs: list[tuple[str, str | None]] = (("x", None),),  # type: ignore[assignment]
    outputs: list[tuple[str, str | None]] = (("out", None),),  # type: ignore[assignment]
    rules: list[tuple[list[str], list[str]]] = (),  # type: ignore[assignment]
    hit_policy: str | None = None,
    aggregation: str | None = None,
    output_values: dict[str, str] | None = None,
    input_variable: str | None = None,
    requires: list[str] = (),  # type: ignore[assignment]
    name: str | None = None,
) -> str:
    attrs = ""
    if hit_policy:
        attrs += f' hitPolicy="{hit_policy}"'
    if aggregation:
        attrs += f' aggregation="{aggregation}"'
    parts = [f'<decision id="{decision_id}" name="{name or decision_id}">']
    for req in requires:
        parts.append(f'<informationRequirement id="ir_{decision_id}_{req}"><requiredDecision href="#{req}" /></informationRequirement>')
    parts.append(f'<decisionTable id="t_{decision_id}"{attrs}>')
    for i, (expr, type_ref) in enumerate(inputs):
        tr = f' typeRef="{type_ref}"' if type_ref else ""
        iv = f' camunda:inputVariable="{input_variable}"' if input_variable else ""
        parts.append(
            f'<input id="in_{decision_id}_{i}" label="In {i}"{iv}><inputExpression id="ie_{decision_id}_{i}"{tr}>'
            f"<text>{esc(expr)}</text></inputExpression></input>"
        )
    for i, (out_name, type_ref) in enumerate(outputs):
        tr = f' typeRef="{type_ref}"' if type_ref else ""
        values = ""
        if output_values and out_name in output_values:
            values = f"<outputValues><text>{esc(output_values[out_name])}</text></outputValues>"
        parts.append(f'<output id="out_{decision_id}_{i}" name="{out_name}"{tr}>{values}</output>')
    for r, (ins, outs) in enumerate(rules):
        parts.append(f'<rule id="r{r + 1}">')
        parts.extend(f"<inputEntry><text>{esc(t)}</text></inputEntry>" for t in ins)
        parts.extend(f"<outputEntry><text>{esc(t)}</text></outputEntry>" for t in outs)
        parts.append("</rule>")
    parts.append("</decisionTable></decision>")
    return "\n".join(parts)


def parse(xml: str, filename: str = "test.dmn") -> dict[str, Decision]:
    return parse_dmn(parse_xml(xml.encode(), filename), filename)


def one(xml_body: str, ns: str = DMN13) -> Decision:
    decisions = parse(document(xml_body, ns))
    assert len(decisions) == 1
    return next(iter(decisions.values()))


def run(decision: Decision, sandbox: ScriptSandbox, decisions: dict[str, Decision] | None = None, **variables: Any) -> DecisionResult:
    return decision.evaluate(variables, sandbox, decisions)


def matches(cell: str, value: Any, sandbox: ScriptSandbox, type_ref: str | None = None, **extra: Any) -> bool:
    """Whether a single input entry matches the value (one-input, one-rule table)."""
    decision = one(table_xml(inputs=[("x", type_ref)], rules=[([cell], ['"yes"'])]))
    return run(decision, sandbox, x=value, **extra).single_entry() == "yes"


# ---------------------------------------------------------------------------------------------- unary tests


@pytest.mark.parametrize(
    ("cell", "value", "expected"),
    [
        ("-", "anything", True),
        ("", 42, True),
        ('"gold"', "gold", True),
        ('"gold"', "Gold", False),
        ('"gold"', "silver", False),
        ("'gold'", "gold", True),
        ("42", 42, True),
        ("42", 42.0, True),
        ("42", 43, False),
        ("42", "42", False),  # strings and numbers never equal
        ("1", True, False),  # nor booleans and numbers
        ("-1.5", -1.5, True),
        ("true", True, True),
        ("true", False, False),
        ("false", False, True),
        ("false", 0, False),
        ("null", None, True),
        ("null", 0, False),
        ("< 10", 9, True),
        ("< 10", 10, False),
        ("<= 10", 10, True),
        ("<= 10", 10.5, False),
        ("> 10", 10.5, True),
        ("> 10", 10, False),
        (">= 10", 10, True),
        (">= 10", 9.99, False),
        ("< 10", "5", False),  # no order between a string and a number: no match, no error
        ('< "m"', "apple", True),
        ('< "m"', "zebra", False),
        ("[1..10]", 1, True),
        ("[1..10]", 10, True),
        ("[1..10]", 11, False),
        ("]1..10[", 1, False),
        ("]1..10[", 5, True),
        ("]1..10[", 10, False),
        ("(1..10)", 1, False),
        ("(1..10)", 9.5, True),
        ("[1..10)", 1, True),
        ("[1..10)", 10, False),
        ("(1..10]", 10, True),
        ('"a","b","c"', "b", True),
        ('"a","b","c"', "d", False),
        ("1, 2, 3", 3, True),
        ("1, 2, 3", 4, False),
        ("< 5, > 10", 11, True),
        ("< 5, > 10", 7, False),
        ("[1..3], 7", 7, True),
        ('not("a","b")', "c", True),
        ('not("a","b")', "a", False),
        ("not(< 5)", 5, True),
        ("not(< 5)", 4, False),
        ("not([1..3])", 2, False),
        ("? > 5 and ? < 8", 6, True),
        ("? > 5 and ? < 8", 9, False),
        ("cellInput * 2 = 8", 4, True),
        ("(1 + 2)", 3, True),
        ("${cellInput > 5}", 6, True),
        ("${cellInput > 5}", 5, False),
        ("${cellInput == 'gold' || cellInput == 'silver'}", "silver", True),
    ],
)
def test_unary_tests(cell: str, value: Any, expected: bool, sandbox: ScriptSandbox) -> None:
    assert matches(cell, value, sandbox) is expected


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("-", True), ("", True), ("null", True), ("null, 1", True), ('"gold"', False), ("< 10", False),
     ("[1..10]", False), ('not("a")', False), ("not(null)", False), ("${cellInput == null}", True),
     ("${cellInput != null}", False), ("date(\"2026-01-01\")", False)],
)
def test_none_input_matches_only_any_and_null(cell: str, expected: bool, sandbox: ScriptSandbox) -> None:
    assert matches(cell, None, sandbox) is expected


def test_comparison_against_variables(sandbox: ScriptSandbox) -> None:
    assert matches("> limit", 11, sandbox, limit=10)
    assert not matches("> limit", 10, sandbox, limit=10)
    assert matches("[low..high]", 5, sandbox, low=1, high=9)
    assert not matches("[low..high]", 10, sandbox, low=1, high=9)
    assert matches("customer.category", "gold", sandbox, customer={"category": "gold"})
    assert not matches("> limit", 11, sandbox, limit=None)  # comparing with null never matches
    assert matches("limit", 10, sandbox, limit=10.0)


def test_an_expression_over_other_variables_holds_when_it_gives_true_as_in_camundas_feel(
        sandbox: ScriptSandbox) -> None:
    # feel-scala's unaryTestExpression: `age > 17` holds when true (it was compared with the input, 30 == true);
    # a list a variable gives holds the input; equality still counts
    assert matches("age > 17", 30, sandbox, age=30)
    assert not matches("age > 17", 30, sandbox, age=12)
    assert matches("limit < 100", "anything", sandbox, limit=5)
    assert matches("allowed", "b", sandbox, allowed=["a", "b"])
    assert not matches("allowed", "c", sandbox, allowed=["a", "b"])
    assert matches("limit", 10, sandbox, limit=10)
    assert not matches("true", False, sandbox)  # a literal is compared with the input


def test_an_input_entry_may_call_a_built_in_function_on_the_input(sandbox: ScriptSandbox) -> None:
    assert matches('starts with(?, "gold")', "golden", sandbox)
    assert not matches('starts with(?, "gold")', "silver", sandbox)
    assert matches("string length(?) > 3", "abcd", sandbox)


@pytest.mark.parametrize(("entry", "problem"), [("string()", "'string()' takes 1 argument, not 0"),
                                                ('substring("a")', "'substring()' takes 2 to 3 arguments, not 1"),
                                                ("foo(1)", "the function 'foo()' is not supported")])
def test_a_built_in_function_called_wrongly_is_refused_at_deploy(entry: str, problem: str) -> None:
    with pytest.raises(DefinitionError, match=re.escape(problem)):
        one(table_xml(inputs=[], rules=[([], [entry])]))


def test_unknown_variable_in_a_cell_is_a_decision_error(sandbox: ScriptSandbox) -> None:
    decision = one(table_xml(rules=[(["> limit"], ['"yes"'])]))
    with pytest.raises(DecisionError) as info:
        run(decision, sandbox, x=1)
    message = str(info.value)
    assert "decision 'd'" in message and "rule 'r1'" in message
    assert "Unknown property used in expression" in message and "limit" in message
    assert info.value.rule_ids == ("r1",)


def test_custom_input_variable(sandbox: ScriptSandbox) -> None:
    decision = one(table_xml(input_variable="amount", rules=[(["${amount > 5}"], ['"big"']), (["? > 0 and amount <= 5"], ['"small"'])]))
    assert run(decision, sandbox, x=7).single_entry() == "big"
    assert run(decision, sandbox, x=3).single_entry() == "small"


def test_dates(sandbox: ScriptSandbox) -> None:
    assert matches('date("2026-01-01")', date(2026, 1, 1), sandbox)
    assert matches('date("2026-01-01")', datetime(2026, 1, 1, 10, 30), sandbox)  # the datetime's date
    assert not matches('date("2026-01-01")', date(2026, 1, 2), sandbox)
    assert matches('< date("2026-01-01")', date(2025, 12, 31), sandbox)
    assert not matches('< date("2026-01-01")', date(2026, 1, 1), sandbox)
    assert matches('[date("2026-01-01")..date("2026-12-31")]', datetime(2026, 6, 1, 12), sandbox)
    assert not matches('[date("2026-01-01")..date("2026-12-31")]', date(2027, 1, 1), sandbox)
    assert matches('> date and time("2026-01-01T10:00:00")', datetime(2026, 1, 1, 10, 0, 1), sandbox)
    assert not matches('> date and time("2026-01-01T10:00:00")', datetime(2026, 1, 1, 10, 0, 0), sandbox)
    assert matches('date and time("2026-01-01T10:00:00")', "2026-01-01T10:00:00", sandbox)  # ISO string input
    assert matches('> date and time("2026-01-01T10:00:00Z")', datetime(2026, 1, 1, 11), sandbox)  # naive = UTC
    assert matches('< time("12:00")', datetime(2026, 1, 1, 11).time(), sandbox)
    assert not matches('< date("2026-01-01")', 5, sandbox)  # a number has no order with a date
    # typeRef="date" on the input turns an ISO string into a datetime
    assert matches('< date and time("2026-01-01T00:00:00")', "2025-06-01T08:00:00", sandbox, type_ref="date")


def test_duration(sandbox: ScriptSandbox) -> None:
    decision = one(table_xml(rules=[(['> duration("P1DT2H")'], ['"long"']), (["-"], ['"short"'])], hit_policy="FIRST"))
    assert run(decision, sandbox, x=timedelta(days=2)).single_entry() == "long"
    assert run(decision, sandbox, x=timedelta(hours=3)).single_entry() == "short"


@pytest.mark.parametrize(
    "cell",
    ['"abc', "[1..", "[1, 2]", "foo(1)", "< ", 'date("2026-13-01")', "a[1]", "x in y", "${a", "${__class__}",
     "not(", "@x", "_sf_get", "1 ==", "if a then b"],
)
def test_bad_input_entry_is_a_definition_error_naming_rule_and_line(cell: str) -> None:
    xml = document(table_xml(rules=[(["1"], ['"a"']), ([cell], ['"b"'])]))
    with pytest.raises(DefinitionError) as info:
        parse(xml, "bad.dmn")
    err = info.value
    assert err.file == "bad.dmn"
    assert err.element_id == "r2"
    line_of_rule2 = next(i for i, text in enumerate(xml.splitlines(), 1) if 'id="r2"' in text)
    assert err.line is not None and err.line >= line_of_rule2
    assert "r2" in str(err) and "bad.dmn" in str(err)


def test_translation_helpers() -> None:
    assert feel_unary_tests_to_python("-") is None
    assert feel_unary_tests_to_python("  ") is None
    assert "_sf_dmn_range" in (feel_unary_tests_to_python("[1..2]") or "")
    assert feel_expression_to_python('"gold"') == "'gold'"
    with pytest.raises(ExpressionError):
        feel_expression_to_python("a +")
    with pytest.raises(ExpressionError):
        feel_expression_to_python("? > 1")  # '?' only in input entries


# ------------------------------------------------------------------------------------------- expressions


def test_input_expressions_plain_juel_and_paths(sandbox: ScriptSandbox) -> None:
    body = table_xml(
        inputs=[("amount", "double"), ("${customer.category}", "string"), ("customer.age >= 18", "boolean"), ("a > 1 && b", None)],
        rules=[(["> 100", '"gold"', "true", "true"], ['"ok"'])],
    )
    decision = one(body)
    variables = {"amount": 150, "customer": {"category": "gold", "age": 20}, "a": 2, "b": True}
    assert decision.evaluate(variables, sandbox).single_entry() == "ok"
    variables["customer"]["age"] = 17
    assert decision.evaluate(variables, sandbox).single_entry() is None


def test_missing_variable_in_input_expression(sandbox: ScriptSandbox) -> None:
    for expr in ("amount", "${amount}", "${amount + 1}"):
        decision = one(table_xml(inputs=[(expr, None)], rules=[(["-"], ['"x"'])]))
        with pytest.raises(DecisionError) as info:
            run(decision, sandbox)
        assert "Unknown property used in expression" in str(info.value)
        assert "decision 'd'" in str(info.value) and "In 0" in str(info.value)
        assert isinstance(info.value, ScriptError)


def test_empty_input_expression_is_none(sandbox: ScriptSandbox) -> None:
    decision = one(table_xml(inputs=[("", None)], rules=[(["null"], ['"none"'])]))
    assert run(decision, sandbox).single_entry() == "none"


@pytest.mark.parametrize(
    ("entry", "variables", "expected"),
    [
        ('"gold"', {}, "gold"),
        ("'gold'", {}, "gold"),
        ("1000", {}, 1000),
        ("2.5", {}, 2.5),
        ("true", {}, True),
        ("false", {}, False),
        ("null", {}, None),
        ("amount * 0.1", {"amount": 200}, 20.0),
        ("(amount + 5) / 5", {"amount": 20}, 5.0),
        ("-amount", {"amount": 3}, -3),
        ('"Dear " + name', {"name": "Ann"}, "Dear Ann"),
        ("${amount * 2}", {"amount": 4}, Long(8)),  # JUEL computes a Long
        ('if amount > 10 then "big" else "small"', {"amount": 11}, "big"),
        ("amount > 10 and vip", {"amount": 11, "vip": True}, True),
        ("not(vip)", {"vip": True}, False),
        ('date("2026-02-03")', {}, date(2026, 2, 3)),
        # FEEL's built-in functions (they were refused at deploy: "the function 'string()' is not supported")
        ('s + "-" + string(n)', {"s": "A", "n": 7}, "A-7"),
        ("string(1.0)", {}, "1"),
        ("string(flag)", {"flag": True}, "true"),
        ("string length(name)", {"name": "Zoë"}, 3),
        ("upper case(name)", {"name": "ann"}, "ANN"),
        ("lower case(name)", {"name": "ANN"}, "ann"),
        ('substring("foobar", 3)', {}, "obar"),
        ('substring("foobar", -2, 1)', {}, "a"),
        ('substring before("foo-bar", "-")', {}, "foo"),
        ('substring after("foo-bar", "-")', {}, "bar"),
        ('contains(name, "nn")', {"name": "ann"}, True),
        ('starts with(name, "a") and ends with(name, "n")', {"name": "ann"}, True),
        ('number("12.5") + 1', {}, 13.5),
        ("decimal(1.125, 2)", {}, 1.12),
        ("floor(-1.5)", {}, -2),
        ("ceiling(1.2)", {}, 2),
        ("abs(-3)", {}, 3),
        ("modulo(-7, 3)", {}, 2),
        ("count(items)", {"items": [1, 2, 3]}, 3),
        ("sum(items)", {"items": [1, 2, 3]}, 6),
        ("max(items)", {"items": [1, 5, 3]}, 5),
        ("min(4, 2, 8)", {}, 2),
        ("mean(items)", {"items": [1, 2, 3]}, 2.0),
        ("list contains(items, 2)", {"items": [1, 2]}, True),
        ("upper case(n)", {"n": 5}, None),  # a wrong type gives null, as in FEEL
    ],
)
def test_output_entries(entry: str, variables: dict[str, Any], expected: Any, sandbox: ScriptSandbox) -> None:
    decision = one(table_xml(inputs=[], rules=[([], [entry])]))
    result = decision.evaluate(variables, sandbox).single_entry()
    assert result == expected and type(result) is type(expected)


def test_empty_output_entry_is_left_out(sandbox: ScriptSandbox) -> None:
    decision = one(table_xml(inputs=[], outputs=[("a", None), ("b", None)], rules=[([], ['"x"', ""]), ([], ["-", "1"])], hit_policy="RULE ORDER"))
    result = run(decision, sandbox)
    assert result.result_list() == [{"a": "x"}, {"b": 1}]


def test_failing_output_entry(sandbox: ScriptSandbox) -> None:
    decision = one(table_xml(rules=[(["-"], ["x / 0"])]))
    with pytest.raises(DecisionError) as info:
        run(decision, sandbox, x=1)
    assert "rule 'r1'" in str(info.value) and "ZeroDivisionError" in str(info.value) and "output 'out'" in str(info.value)


def test_sandbox_rules_still_apply(sandbox: ScriptSandbox) -> None:
    with pytest.raises(DefinitionError):
        parse(document(table_xml(rules=[(["-"], ["x.__class__"])])))
    decision = one(table_xml(rules=[(["-"], ["x.format"])]))
    with pytest.raises(DecisionError):
        run(decision, sandbox, x="{0.__class__}")


# ------------------------------------------------------------------------------------------------ typeRef


@pytest.mark.parametrize(
    ("type_ref", "entry", "expected"),
    [
        ("string", '"a"', "a"),
        ("string", "5", "5"),
        ("string", "true", "true"),
        ("integer", "5", 5),
        ("integer", "5.0", 5),
        ("integer", '"7"', 7),
        ("long", "123456789012", 123456789012),
        ("double", "5", 5.0),
        ("double", '"2.5"', 2.5),
        ("boolean", "true", True),
        ("boolean", '"false"', False),
        ("date", '"2026-01-02T03:04:05"', datetime(2026, 1, 2, 3, 4, 5)),
        ("date", 'date("2026-01-02")', datetime(2026, 1, 2)),
        ("number", '"3"', 3),
        (None, "5", 5),
        ("unknownType", '"x"', "x"),
        ("integer", "null", None),
    ],
)
def test_output_type_coercion(type_ref: str | None, entry: str, expected: Any, sandbox: ScriptSandbox) -> None:
    decision = one(table_xml(inputs=[], outputs=[("out", type_ref)], rules=[([], [entry])]))
    value = run(decision, sandbox).single_entry()
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(("type_ref", "entry"), [("integer", "5.5"), ("integer", '"x"'), ("double", "true"), ("boolean", "1"), ("date", '"soon"')])
def test_output_type_coercion_failure(type_ref: str, entry: str, sandbox: ScriptSandbox) -> None:
    decision = one(table_xml(inputs=[], outputs=[("out", type_ref)], rules=[([], [entry])]))
    with pytest.raises(DecisionError) as info:
        run(decision, sandbox)
    assert "rule 'r1'" in str(info.value) and "output 'out'" in str(info.value) and type_ref in str(info.value)


def test_input_type_coercion(sandbox: ScriptSandbox) -> None:
    assert matches("5", "5", sandbox, type_ref="integer")
    assert matches('"5"', 5, sandbox, type_ref="string")
    assert matches("true", "true", sandbox, type_ref="boolean")
    decision = one(table_xml(inputs=[("x", "integer")], rules=[(["-"], ["1"])]))
    with pytest.raises(DecisionError, match="not an integer"):
        run(decision, sandbox, x="abc")


# ------------------------------------------------------------------------------------------- hit policies


def scores(hit_policy: str | None, aggregation: str | None = None, **kwargs: Any) -> Decision:
    rules = kwargs.pop("rules", [
        (["> 0"], ["10"]),
        (["> 5"], ["20"]),
        (["> 10"], ["30"]),
        (["< 0"], ["40"]),
    ])
    return one(table_xml(hit_policy=hit_policy, aggregation=aggregation, inputs=[("x", "integer")],
                         outputs=[("score", "integer")], rules=rules, **kwargs))


def test_unique(sandbox: ScriptSandbox) -> None:
    decision = scores(None)
    assert decision.hit_policy == "UNIQUE"
    assert run(decision, sandbox, x=3).single_entry() == 10
    assert run(decision, sandbox, x=0).single_entry() is None
    with pytest.raises(DecisionError) as info:
        run(decision, sandbox, x=7)
    assert "UNIQUE" in str(info.value) and "'r1'" in str(info.value) and "'r2'" in str(info.value)
    assert "decision 'd'" in str(info.value)
    assert info.value.rule_ids == ("r1", "r2")


def test_first(sandbox: ScriptSandbox) -> None:
    decision = scores("FIRST")
    assert run(decision, sandbox, x=20).result_list() == [{"score": 10}]
    assert run(decision, sandbox, x=-1).result_list() == [{"score": 40}]
    assert run(decision, sandbox, x=0).result_list() == []


def test_any(sandbox: ScriptSandbox) -> None:
    same = scores("ANY", rules=[(["> 0"], ["1"]), (["> 5"], ["1"]), (["< 0"], ["2"])])
    assert run(same, sandbox, x=7).result_list() == [{"score": 1}]
    different = scores("ANY")
    with pytest.raises(DecisionError, match="ANY"):
        run(different, sandbox, x=7)


def test_rule_order_and_collect(sandbox: ScriptSandbox) -> None:
    assert run(scores("RULE ORDER"), sandbox, x=20).collect_entries() == [10, 20, 30]
    assert run(scores("COLLECT"), sandbox, x=20).collect_entries() == [10, 20, 30]
    assert run(scores("COLLECT"), sandbox, x=0).collect_entries() == []


@pytest.mark.parametrize(
    ("aggregation", "x", "expected"),
    [("SUM", 20, [{"score": 60}]), ("MIN", 20, [{"score": 10}]), ("MAX", 20, [{"score": 30}]),
     ("COUNT", 20, [{"score": 3}]), ("COUNT", 0, [{"score": 0}]), ("SUM", 0, []), ("MAX", 0, [])],
)
def test_collect_aggregations(aggregation: str, x: int, expected: list[dict[str, int]], sandbox: ScriptSandbox) -> None:
    decision = scores("COLLECT", aggregation)
    assert decision.aggregation == aggregation
    result = run(decision, sandbox, x=x)
    assert result.result_list() == expected


def test_collect_sum_of_non_numbers_fails(sandbox: ScriptSandbox) -> None:
    decision = one(table_xml(hit_policy="COLLECT", aggregation="SUM", rules=[(["-"], ['"a"'])]))
    with pytest.raises(DecisionError, match="needs numbers"):
        run(decision, sandbox, x=1)


def test_priority_and_output_order(sandbox: ScriptSandbox) -> None:
    rules = [(["> 0"], ['"low"']), (["> 5"], ['"high"']), (["> 10"], ['"medium"']), (["> 20"], ['"other"'])]
    values = {"level": '"high","medium","low"'}
    priority = one(table_xml(hit_policy="PRIORITY", outputs=[("level", "string")], rules=rules, output_values=values))
    assert run(priority, sandbox, x=30).single_entry() == "high"
    assert run(priority, sandbox, x=3).single_entry() == "low"
    assert run(priority, sandbox, x=0).single_entry() is None
    ordered = one(table_xml(hit_policy="OUTPUT ORDER", outputs=[("level", "string")], rules=rules, output_values=values))
    # "other" is not among the outputValues: it comes last
    assert run(ordered, sandbox, x=30).collect_entries() == ["high", "medium", "low", "other"]


def test_priority_over_several_outputs(sandbox: ScriptSandbox) -> None:
    decision = one(table_xml(
        hit_policy="PRIORITY", outputs=[("level", None), ("code", "integer")],
        output_values={"level": '"a","b"', "code": "3, 2, 1"},
        rules=[(["-"], ['"b"', "3"]), (["-"], ['"a"', "1"]), (["-"], ['"a"', "2"])],
    ))
    assert run(decision, sandbox, x=1).single_result() == {"level": "a", "code": 2}


# ------------------------------------------------------------------------------------------------ mapping


def test_map_result_kinds(sandbox: ScriptSandbox) -> None:
    multi = one(table_xml(hit_policy="RULE ORDER", outputs=[("a", None), ("b", None)],
                          rules=[(["-"], ["1", "2"]), (["> 5"], ["3", "4"])]))
    one_rule = run(multi, sandbox, x=1)
    assert one_rule.map_result("singleResult") == {"a": 1, "b": 2}
    assert one_rule.map_result("resultList") == [{"a": 1, "b": 2}]
    with pytest.raises(DecisionError, match="more than one result"):
        one_rule.map_result("singleEntry")
    with pytest.raises(DecisionError, match="more than one result"):
        one_rule.map_result("collectEntries")

    two_rules = run(multi, sandbox, x=9)
    assert two_rules.map_result("resultList") == [{"a": 1, "b": 2}, {"a": 3, "b": 4}]
    with pytest.raises(DecisionError, match="more than one result"):
        two_rules.map_result("singleResult")
    with pytest.raises(DecisionError, match="more than one result"):
        two_rules.single_entry()

    single = one(table_xml(hit_policy="COLLECT", rules=[(["-"], ['"x"']), (["> 5"], ['"y"'])]))
    assert run(single, sandbox, x=1).map_result("singleEntry") == "x"
    assert run(single, sandbox, x=1).map_result("collectEntries") == ["x"]
    assert run(single, sandbox, x=9).map_result("collectEntries") == ["x", "y"]

    empty = DecisionResult([], decision_id="d")
    assert empty.map_result("singleEntry") is None
    assert empty.map_result("singleResult") is None
    assert empty.map_result("collectEntries") == []
    assert empty.map_result("resultList") == []
    with pytest.raises(ValueError, match="unknown decision result mapping"):
        empty.map_result("firstEntry")


def test_result_is_a_list_and_copies(sandbox: ScriptSandbox) -> None:
    result = run(scores("RULE ORDER"), sandbox, x=20)
    assert isinstance(result, list) and result == [{"score": 10}, {"score": 20}, {"score": 30}]
    assert result.decision_id == "d"
    result.result_list()[0]["score"] = 0
    assert result[0]["score"] == 10


# ------------------------------------------------------------------------------------ files, DRG, literals


def test_several_decisions_per_file_and_all_dmn_versions(sandbox: ScriptSandbox) -> None:
    for ns in (DMN11, DMN12, DMN13, DMN15):
        xml = document(
            table_xml("first", rules=[(["1"], ['"one"'])]) + table_xml("second", rules=[(["1"], ['"uno"'])]), ns
        )
        decisions = parse(xml)
        assert list(decisions) == ["first", "second"]
        assert decisions["second"].evaluate({"x": 1}, sandbox, decisions).single_entry() == "uno"
        assert decisions["first"].name == "first"


def test_literal_expression_decision(sandbox: ScriptSandbox) -> None:
    xml = document("""
  <decision id="season" name="Season">
    <variable id="v1" name="seasonName" typeRef="string" />
    <literalExpression id="le1"><text>if month &lt;= 2 or month = 12 then "Winter" else "Other"</text></literalExpression>
  </decision>
  <decision id="total" name="Total">
    <variable id="v2" name="total" typeRef="integer" />
    <literalExpression id="le2" expressionLanguage="juel"><text>price * quantity</text></literalExpression>
  </decision>
  <decision id="bare" name="Bare">
    <literalExpression id="le3"><text>${price}</text></literalExpression>
  </decision>""")
    decisions = parse(xml)
    assert decisions["season"].kind == "literalExpression"
    assert decisions["season"].evaluate({"month": 1}, sandbox).result_list() == [{"seasonName": "Winter"}]
    assert decisions["season"].evaluate({"month": 6}, sandbox).single_entry() == "Other"
    total = decisions["total"].evaluate({"price": 2.0, "quantity": 3}, sandbox).single_entry()
    assert total == 6 and isinstance(total, int)
    assert decisions["bare"].evaluate({"price": 5}, sandbox).single_result() == {"bare": 5}
    with pytest.raises(DecisionError, match="Unknown property"):
        decisions["total"].evaluate({"price": 2.0}, sandbox)


DRG = document(
    table_xml("category", inputs=[("amount", "double")], outputs=[("category", "string")],
              rules=[(["< 100"], ['"small"']), ([">= 100"], ['"large"'])])
    + table_xml("extras", inputs=[("amount", "double")], outputs=[("extra", "integer")], hit_policy="COLLECT",
                rules=[(["> 0"], ["1"]), (["> 50"], ["2"])])
    + table_xml("approval", requires=["category", "extras"], inputs=[("category", "string"), ("vip", "boolean")],
                outputs=[("approver", "string")], hit_policy="FIRST",
                rules=[(['"large"', "false"], ['"manager"']), (['"large"', "true"], ['"vip desk"']), (["-", "-"], ['"auto"'])])
    + table_xml("final", requires=["approval", "category"], inputs=[("approver", None)],
                outputs=[("summary", "string")], rules=[(["-"], ['approver + " for a " + category + " order"'])])
)


def test_required_decisions_are_evaluated_first(sandbox: ScriptSandbox) -> None:
    decisions = parse(DRG)
    assert decisions["approval"].required_decisions == ("category", "extras")
    approval = decisions["approval"]
    assert approval.evaluate({"amount": 500, "vip": False}, sandbox, decisions).single_entry() == "manager"
    assert approval.evaluate({"amount": 500, "vip": True}, sandbox, decisions).single_entry() == "vip desk"
    assert approval.evaluate({"amount": 5, "vip": True}, sandbox, decisions).single_entry() == "auto"
    # a diamond: "category" is required twice but evaluated once; results chain through "approval"
    final = decisions["final"].evaluate({"amount": 500, "vip": False}, sandbox, decisions)
    assert final.single_entry() == "manager for a large order"


def test_required_decision_results_as_variables(sandbox: ScriptSandbox) -> None:
    xml = document(
        table_xml("extras", inputs=[("amount", "double")], outputs=[("extra", "integer")], hit_policy="COLLECT",
                  rules=[(["> 0"], ["1"]), (["> 50"], ["2"])])
        + table_xml("total", inputs=[("amount", None)], outputs=[("n", "integer")], hit_policy="COLLECT",
                    aggregation="SUM", rules=[(["> 0"], ["1"]), (["> 50"], ["2"])])
        + """<decision id="show" name="Show">
    <informationRequirement id="i1"><requiredDecision href="#extras" /></informationRequirement>
    <informationRequirement id="i2"><requiredDecision href="#total" /></informationRequirement>
    <variable id="v" name="shown" />
    <literalExpression id="le"><text>${extra}</text></literalExpression>
  </decision>
  <decision id="showTotal" name="Show total">
    <informationRequirement id="i3"><requiredDecision href="#total" /></informationRequirement>
    <literalExpression id="le4"><text>n * 10</text></literalExpression>
  </decision>"""
    )
    decisions = parse(xml)
    # COLLECT without aggregation: the required decision's outputs are lists, even with one rule matched
    assert decisions["show"].evaluate({"amount": 100}, sandbox, decisions).single_entry() == [1, 2]
    assert decisions["show"].evaluate({"amount": 10}, sandbox, decisions).single_entry() == [1]
    # an aggregation gives a single value
    assert decisions["showTotal"].evaluate({"amount": 100}, sandbox, decisions).single_entry() == 30
    # a required decision that is not available at evaluation time
    with pytest.raises(DecisionError, match="'total' is not available"):
        decisions["showTotal"].evaluate({"amount": 100}, sandbox, {"showTotal": decisions["showTotal"]})


def test_missing_required_decision_is_a_definition_error() -> None:
    xml = document(table_xml("a", requires=["nope"], rules=[]))
    with pytest.raises(DefinitionError) as info:
        parse(xml, "drg.dmn")
    assert info.value.element_id == "a" and info.value.file == "drg.dmn" and info.value.line
    assert "'nope'" in str(info.value)


def test_required_decision_cycle_is_a_definition_error() -> None:
    xml = document(
        table_xml("a", requires=["b"], rules=[]) + table_xml("b", requires=["c"], rules=[])
        + table_xml("c", requires=["a"], rules=[])
    )
    with pytest.raises(DefinitionError, match="cycle") as info:
        parse(xml, "cycle.dmn")
    assert info.value.element_id in ("a", "b", "c") and info.value.line


# ------------------------------------------------------------------------------------------- parse errors


def error_of(xml: str) -> DefinitionError:
    with pytest.raises(DefinitionError) as info:
        parse(xml, "broken.dmn")
    assert info.value.file == "broken.dmn"
    return info.value


def test_unknown_hit_policy() -> None:
    err = error_of(document(table_xml(hit_policy="SOMETIMES")))
    assert "unknown hit policy 'SOMETIMES'" in str(err) and err.element_id == "d" and err.line


def test_rule_with_wrong_number_of_entries() -> None:
    xml = document(table_xml(rules=[(["1"], ['"a"']), (["1", "2"], ['"b"'])]))
    err = error_of(xml)
    assert err.element_id == "r2" and "2 input entries" in str(err)
    assert err.line == next(i for i, text in enumerate(xml.splitlines(), 1) if 'id="r2"' in text)
    err = error_of(document(table_xml(rules=[(["1"], [])])))
    assert err.element_id == "r1" and "0 output entries" in str(err)


def test_bad_output_entry() -> None:
    err = error_of(document(table_xml(rules=[(["1"], ["1 +"])])))
    assert err.element_id == "r1" and "output entry '1 +'" in str(err)


def test_missing_decision_id() -> None:
    err = error_of(document('<decision name="x"><decisionTable id="t"><output id="o" name="o"/></decisionTable></decision>'))
    assert "no id" in str(err) and err.line == 3


def test_duplicate_decision_id() -> None:
    err = error_of(document(table_xml("a") + table_xml("a")))
    assert "two decisions" in str(err) and err.element_id == "a"


def test_collect_aggregation_with_several_outputs() -> None:
    err = error_of(document(table_xml(hit_policy="COLLECT", aggregation="SUM", outputs=[("a", None), ("b", None)])))
    assert "exactly one output" in str(err)


def test_aggregation_without_collect_and_unknown_aggregation() -> None:
    assert "only allowed with hit policy COLLECT" in str(error_of(document(table_xml(hit_policy="FIRST", aggregation="SUM"))))
    assert "unknown aggregation" in str(error_of(document(table_xml(hit_policy="COLLECT", aggregation="AVG"))))


def test_priority_needs_output_values() -> None:
    assert "outputValues" in str(error_of(document(table_xml(hit_policy="PRIORITY"))))


def test_other_problems() -> None:
    assert "no decisionTable or literalExpression" in str(error_of(document('<decision id="c"><context id="x"/></decision>')))
    assert "is not supported" in str(error_of(document(
        '<decision id="g"><literalExpression expressionLanguage="groovy"><text>1</text></literalExpression></decision>')))
    assert "empty" in str(error_of(document('<decision id="e"><literalExpression><text> </text></literalExpression></decision>')))
    assert "has no output" in str(error_of(document('<decision id="t"><decisionTable id="dt"/></decision>')))
    assert "needs a name" in str(error_of(document(
        '<decision id="n"><decisionTable id="dt"><output id="o1" name="a"/><output id="o2"/></decisionTable></decision>')))


def test_not_a_dmn_document() -> None:
    tree = parse_xml(b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"/>', "p.bpmn")
    with pytest.raises(DefinitionError, match="not a DMN document"):
        parse_dmn(tree, "p.bpmn")


# -------------------------------------------------------------------------------- a Camunda Modeler file

CAMUNDA_MODELER_DMN13 = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" xmlns:dmndi="https://www.omg.org/spec/DMN/20191111/DMNDI/" xmlns:dc="http://www.omg.org/spec/DMN/20180521/DC/" xmlns:modeler="http://camunda.org/schema/modeler/1.0" xmlns:camunda="http://camunda.org/schema/1.0/dmn" id="DiscountApproval" name="Discount Approval" namespace="http://camunda.org/schema/1.0/dmn" exporter="Camunda Modeler" exporterVersion="5.20.0" modeler:executionPlatform="Camunda Platform" modeler:executionPlatformVersion="7.20.0">
  <decision id="discountApproval" name="Discount approval" camunda:versionTag="3" camunda:historyTimeToLive="180">
    <decisionTable id="DecisionTable_0ht9yqe" hitPolicy="FIRST">
      <input id="Input_1" label="Amount" camunda:inputVariable="amount">
        <inputExpression id="InputExpression_1" typeRef="double">
          <text>amount</text>
        </inputExpression>
      </input>
      <input id="InputClause_0v7k1xr" label="Client category">
        <inputExpression id="LiteralExpression_1n1ra5d" typeRef="string">
          <text>clientCategory</text>
        </inputExpression>
      </input>
      <output id="Output_1" label="Needs approval" name="needsApproval" typeRef="boolean" />
      <annotation name="Reason" />
      <rule id="DecisionRule_0f8hy5g">
        <description>Small orders never need approval</description>
        <inputEntry id="UnaryTests_1o3ag0u">
          <text>&lt; 1000</text>
        </inputEntry>
        <inputEntry id="UnaryTests_0lzuhh4">
          <text></text>
        </inputEntry>
        <outputEntry id="LiteralExpression_0q7dkbe">
          <text>false</text>
        </outputEntry>
        <annotationEntry>
          <text>small order</text>
        </annotationEntry>
      </rule>
      <rule id="DecisionRule_1x2ou4k">
        <inputEntry id="UnaryTests_1g7mc4h">
          <text>[1000..10000]</text>
        </inputEntry>
        <inputEntry id="UnaryTests_1mqhm7o">
          <text>"gold","platinum"</text>
        </inputEntry>
        <outputEntry id="LiteralExpression_1ptd3yb">
          <text>false</text>
        </outputEntry>
        <annotationEntry>
          <text>good clients, medium orders</text>
        </annotationEntry>
      </rule>
      <rule id="DecisionRule_0nw0c5f">
        <inputEntry id="UnaryTests_0d0g3ru">
          <text>-</text>
        </inputEntry>
        <inputEntry id="UnaryTests_08wkwsy">
          <text>not("blocked")</text>
        </inputEntry>
        <outputEntry id="LiteralExpression_0yv5cwo">
          <text>true</text>
        </outputEntry>
        <annotationEntry>
          <text>everything else needs approval</text>
        </annotationEntry>
      </rule>
    </decisionTable>
  </decision>
  <dmndi:DMNDI>
    <dmndi:DMNDiagram>
      <dmndi:DMNShape dmnElementRef="discountApproval">
        <dc:Bounds height="80" width="180" x="160" y="100" />
      </dmndi:DMNShape>
    </dmndi:DMNDiagram>
  </dmndi:DMNDI>
</definitions>
"""


def test_camunda_modeler_file(sandbox: ScriptSandbox) -> None:
    decisions = parse(CAMUNDA_MODELER_DMN13, "discount.dmn")
    assert list(decisions) == ["discountApproval"]
    decision = decisions["discountApproval"]
    assert decision.name == "Discount approval"
    assert decision.version_tag == "3" and decision.history_time_to_live == "180"
    assert decision.hit_policy == "FIRST"
    assert [i.variable for i in decision.inputs] == ["amount", "cellInput"]
    assert [o.name for o in decision.outputs] == ["needsApproval"]
    assert decision.rules[0].description == "Small orders never need approval"

    def needs(amount: Any, category: Any) -> Any:
        return decision.evaluate({"amount": amount, "clientCategory": category}, sandbox).map_result("singleEntry")

    assert needs(500, "bronze") is False
    assert needs(500, None) is False
    assert needs(5000, "gold") is False
    assert needs(5000, "platinum") is False
    assert needs(5000, "silver") is True
    assert needs(50_000, "gold") is True
    assert needs(5000, "blocked") is None  # no rule matches
    assert needs("2500", "gold") is False  # typeRef double converts the string


def test_evaluation_is_fast(sandbox: ScriptSandbox) -> None:
    rules = [([f"[{i * 10}..{i * 10 + 9}]", f'"c{i % 7}","x"'], [f'"r{i}"']) for i in range(200)]
    decision = one(table_xml(inputs=[("a", "integer"), ("b", "string")], rules=rules, hit_policy="FIRST"))
    start = time.perf_counter()
    for _ in range(20):
        assert decision.evaluate({"a": 1995, "b": "x"}, sandbox).single_entry() == "r199"
    assert (time.perf_counter() - start) / 20 < 0.05


def test_explicit_expression_languages(sandbox: ScriptSandbox) -> None:
    xml = document("""
  <decision id="lang" name="Lang">
    <decisionTable id="t" hitPolicy="RULE ORDER">
      <input id="i1" label="X"><inputExpression id="ie1" expressionLanguage="juel" typeRef="integer"><text>x + 1</text></inputExpression></input>
      <output id="o1" name="out" />
      <rule id="r1">
        <inputEntry id="e1" expressionLanguage="juel"><text>cellInput &gt; 5</text></inputEntry>
        <outputEntry id="o1e" expressionLanguage="feel"><text>"juel cell"</text></outputEntry>
      </rule>
      <rule id="r2">
        <inputEntry id="e2" expressionLanguage="https://www.omg.org/spec/DMN/20191111/FEEL/"><text>&gt; 5</text></inputEntry>
        <outputEntry id="o2e" expressionLanguage="juel"><text>'feel cell'</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>""")
    decision = parse(xml)["lang"]
    assert decision.evaluate({"x": 5}, sandbox).collect_entries() == ["juel cell", "feel cell"]
    assert decision.evaluate({"x": 4}, sandbox).collect_entries() == []
    # explicit FEEL does not fall back to JUEL
    bad = xml.replace('expressionLanguage="feel"><text>"juel cell"', 'expressionLanguage="feel"><text>a &amp;&amp; b')
    with pytest.raises(DefinitionError) as info:
        parse(bad)
    assert info.value.element_id == "r1"
    with pytest.raises(DefinitionError, match="javascript"):
        parse(xml.replace('expressionLanguage="juel"><text>cellInput', 'expressionLanguage="javascript"><text>cellInput'))


@pytest.mark.parametrize("text", ["> ²", "[1..²]", "²"])
def test_a_unicode_digit_in_feel_is_an_error_naming_it(text: str) -> None:
    with pytest.raises(ExpressionError, match="unexpected character '²'"):
        feel_unary_tests_to_python(text)

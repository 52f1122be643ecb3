"""JUEL -> Python translation: translate, then evaluate the Python the way SpiffWorkflow does."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from engine.errors import ExpressionError
from engine.expressions import (
    BUSINESS_KEY_VARIABLE,
    RUNTIME_HELPERS,
    condition_to_python,
    is_expression,
    juel_to_python,
    text_to_python,
)
from engine.variables import Long


def run(src: str, **variables: Any) -> Any:
    """Evaluate generated Python with the task data as globals, like SpiffWorkflow's TaskDataEnvironment."""
    return eval(src, {**RUNTIME_HELPERS, **variables})


def juel(expr: str, **variables: Any) -> Any:
    return run(juel_to_python(expr), **variables)


# ------------------------------------------------------------------------------------------ is_expression


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${a}", True),
        ("#{a}", True),
        ("Order ${id}", True),
        ("${a", True),  # unterminated: reported as an error by the translators, not taken as literal
        ("amount > 10", False),
        ("PT5M", False),
        ("costs $5 {approx}", False),
        ("\\${not an expression}", False),
        ("", False),
        (None, False),
    ],
)
def test_is_expression(text: str | None, expected: bool) -> None:
    assert is_expression(text) is expected


# ------------------------------------------------------------------------------------------ literals


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("${42}", 42),
        ("${007}", 7),
        ("${1.5}", 1.5),
        ("${1.}", 1.0),
        ("${.25}", 0.25),
        ("${1e3}", 1000.0),
        ("${2.5E-1}", 0.25),
        ("${'single'}", "single"),
        ('${"double"}', "double"),
        (r"${'it\'s'}", "it's"),
        (r'${"say \"hi\""}', 'say "hi"'),
        (r"${'back\\slash'}", "back\\slash"),
        (r"${'mixed \" quote'}", 'mixed " quote'),
        ("${'}'}", "}"),
        ("${true}", True),
        ("${false}", False),
        ("${null}", None),
    ],
)
def test_literals(expr: str, expected: Any) -> None:
    result = juel(expr)
    assert result == expected
    assert type(result) is type(expected)


def test_body_and_whole_expression_and_deferred_forms_are_equivalent() -> None:
    assert juel_to_python("amount > 1") == "_sf_gt(amount, 1)"
    assert juel_to_python("${amount > 1}") == "_sf_gt(amount, 1)"
    assert juel_to_python("#{amount > 1}") == "_sf_gt(amount, 1)"
    assert juel_to_python("  ${ amount > 1 }  ") == "_sf_gt(amount, 1)"


# ------------------------------------------------------------------------------------------ operators


@pytest.mark.parametrize(
    ("expr", "variables", "expected"),
    [
        ("${amount > 1000 && vip}", {"amount": 1200, "vip": True}, True),
        ("${amount > 1000 && vip}", {"amount": 1200, "vip": False}, False),
        ("${amount > 1000 && vip}", {"amount": 500, "vip": True}, False),
        ("${amount > 1000 and vip}", {"amount": 1200, "vip": True}, True),
        ("${a || b}", {"a": False, "b": True}, True),
        ("${a or b}", {"a": False, "b": False}, False),
        ("${!rejected}", {"rejected": False}, True),
        ("${!rejected}", {"rejected": True}, False),
        ("${not approved}", {"approved": False}, True),
        ("${status == 'gold'}", {"status": "gold"}, True),
        ("${status == 'gold'}", {"status": "silver"}, False),
        ("${status != 'gold'}", {"status": "silver"}, True),
        ("${a eq 'x' or b ne 'y'}", {"a": "x", "b": "y"}, True),
        ("${a eq 'x' or b ne 'y'}", {"a": "z", "b": "y"}, False),
        ("${a eq 'x' or b ne 'y'}", {"a": "z", "b": "w"}, True),
        ("${count lt 3}", {"count": 2}, True),
        ("${count lt 3}", {"count": 3}, False),
        ("${count le 3}", {"count": 3}, True),
        ("${count gt 3}", {"count": 4}, True),
        ("${count ge 3}", {"count": 2}, False),
        ("${count <= 3 && count >= 1}", {"count": 2}, True),
        ("${x ? 'a' : 'b'}", {"x": True}, "a"),
        ("${x ? 'a' : 'b'}", {"x": False}, "b"),
        ("${x == null}", {"x": None}, True),
        ("${null != x}", {"x": 0}, True),
        ("${approved == true}", {"approved": True}, True),
        ("${1 + 2 * 3}", {}, 7),
        ("${(1 + 2) * 3}", {}, 9),
        ("${10 - 4 - 3}", {}, 3),
        ("${10 - (4 - 3)}", {}, 9),
        ("${7 / 2}", {}, 3.5),
        ("${7 div 2}", {}, 3.5),
        ("${7 % 3}", {}, 1),
        ("${7 mod 3}", {}, 1),
        ("${-x + 1}", {"x": 5}, -4),
        ("${- -x}", {"x": 5}, 5),
        ("${-(a - b)}", {"a": 1, "b": 3}, 2),
        ("${price * qty > 100}", {"price": 30, "qty": 4}, True),
    ],
)
def test_operators(expr: str, variables: dict[str, Any], expected: Any) -> None:
    assert juel(expr, **variables) == expected


@pytest.mark.parametrize(
    ("expr", "variables", "expected"),
    [
        # JUEL '!' binds tighter than '==': (!a) == b, not !(a == b)
        ("${!a == b}", {"a": True, "b": False}, True),
        # JUEL comparisons are binary, Python would chain them
        ("${1 < 2 == true}", {}, True),
        ("${a < b == c < d}", {"a": 1, "b": 2, "c": 4, "d": 3}, False),
        ("${!(a && b) || c}", {"a": True, "b": True, "c": False}, False),
        ("${a && b || c && d}", {"a": False, "b": True, "c": True, "d": True}, True),
        ("${a ? b ? 1 : 2 : c ? 3 : 4}", {"a": True, "b": False, "c": True}, 2),
        ("${a ? b ? 1 : 2 : c ? 3 : 4}", {"a": False, "b": False, "c": False}, 4),
        ("${(a ? b : c) ? 'yes' : 'no'}", {"a": False, "b": True, "c": False}, "no"),
        ("${(x > 1 ? 10 : 20) + 1}", {"x": 2}, 11),
        ("${empty a && b}", {"a": "", "b": True}, True),
    ],
)
def test_precedence_follows_juel(expr: str, variables: dict[str, Any], expected: Any) -> None:
    assert juel(expr, **variables) == expected


def test_generated_python_is_readable() -> None:
    # (a value that is no comparison is coerced to a boolean as JUEL's `&&`, `!` and `? :` coerce it)
    assert juel_to_python("${amount > 1000 && vip}") == "_sf_gt(amount, 1000) and _sf_bool(vip)"
    assert juel_to_python("${!rejected}") == "not _sf_bool(rejected)"
    assert juel_to_python("${x ? 'a' : 'b'}") == "'a' if _sf_bool(x) else 'b'"
    assert juel_to_python("${a eq 'x' or b ne 'y'}") == "_sf_eq(a, 'x') or not _sf_eq(b, 'y')"
    assert juel_to_python("${x == null}") == "x is None"
    assert juel_to_python("${order.total}") == "_sf_get(order, 'total')"


# ------------------------------------------------------------------------------------------ empty


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, True),
        ("", True),
        ([], True),
        ({}, True),
        (set(), True),
        ((), True),
        ("x", False),
        ([0], False),
        ({"k": 1}, False),
        (0, False),
        (False, False),
    ],
)
def test_empty(value: Any, expected: bool) -> None:
    assert juel("${empty reason}", reason=value) is expected
    assert juel("${!empty reason}", reason=value) is (not expected)
    assert juel("${not empty reason}", reason=value) is (not expected)


# ------------------------------------------------------------------------------------------ property / index


def test_property_access_on_dicts() -> None:
    order = {"customer": {"name": "Ann", "address": {"city": "Oslo"}}, "total": 10}
    assert juel("${order.total}", order=order) == 10
    assert juel("${order.customer.name}", order=order) == "Ann"
    assert juel("${order.customer.address.city == 'Oslo'}", order=order) is True
    # a missing map key is null in JUEL, and so is a property of null
    assert juel("${order.missing}", order=order) is None
    assert juel("${order.missing.deeper}", order=order) is None
    assert juel("${empty order.missing}", order=order) is True
    # JUEL keywords and Python keywords are fine as property names
    assert juel("${a.class}", a={"class": "B"}) == "B"
    assert juel("${a.empty}", a={"empty": 1}) == 1


def test_property_access_on_objects() -> None:
    assert juel("${due.year}", due=dt.date(2026, 1, 2)) == 2026
    with pytest.raises(AttributeError, match="property 'nope' not found on a date value"):
        juel("${due.nope}", due=dt.date(2026, 1, 2))
    with pytest.raises(AttributeError, match="not accessible"):
        juel("${due._secret}", due=dt.date(2026, 1, 2))


def test_index_access() -> None:
    data = {"k": "v", "n": [10, 20, 30]}
    assert juel("${a['k']}", a=data) == "v"
    assert juel('${a["k"]}', a=data) == "v"
    assert juel("${a['missing']}", a=data) is None
    assert juel("${a.n[0]}", a=data) == 10
    assert juel("${a.n[i]}", a=data, i=2) == 30
    assert juel("${a.n[i + 1]}", a=data, i=0) == 20
    assert juel("${a.n['1']}", a=data) == 20
    assert juel("${a.n[3]}", a=data) is None  # out of range is null, like JUEL
    assert juel("${a.n[-1]}", a=data) is None
    assert juel("${items[0].price}", items=[{"price": 5}]) == 5
    assert juel("${nothing[0]}", nothing=None) is None
    assert juel("${a[key]}", a=data, key=None) is None
    with pytest.raises(TypeError, match="whole number"):
        juel("${a.n['x']}", a=data)


def test_missing_variable_raises_name_error_like_juel() -> None:
    with pytest.raises(NameError):
        juel("${unknown > 1}")


# ------------------------------------------------------------------------------------------ execution


def test_execution_get_variable() -> None:
    assert juel_to_python("${execution.getVariable('amount')}") == "_sf_var('amount')"
    assert juel("${execution.getVariable('amount') > 10}", amount=11) is True
    assert juel('${execution.getVariable("amount")}', amount=3) == 3
    # getVariable gives null for an unset variable (a bare name would raise NameError)
    assert juel("${execution.getVariable('amount') == null}") is True
    # names that are not Python identifiers or clash with Python still work this way
    assert juel("${execution.getVariable('order-id')}", **{"order-id": 7}) == 7
    assert juel("${execution.getVariable('class')}", **{"class": "A"}) == "A"
    assert juel("${execution.getVariable('len')}") is None  # never a Python builtin
    assert juel("${execution.getVariable('order').total}", order={"total": 4}) == 4


def test_execution_business_key() -> None:
    for expr in (
        "${execution.processBusinessKey}",
        "${execution.businessKey}",
        "${execution.getProcessBusinessKey()}",
        "${execution.getBusinessKey()}",
    ):
        assert juel_to_python(expr) == BUSINESS_KEY_VARIABLE
        assert juel(expr, **{BUSINESS_KEY_VARIABLE: "ORD-1"}) == "ORD-1"
    assert juel("${execution.businessKey == 'ORD-1'}", **{BUSINESS_KEY_VARIABLE: "ORD-1"}) is True


def test_execution_ids_and_activity() -> None:
    given = {"_sf_instance_id": "i-1", "_sf_definition_id": "p:1:d", "_sf_activity_id": "review",
             "_sf_activity_name": "Review"}
    for expr, expected in (("${execution.processInstanceId}", "i-1"), ("${execution.getProcessInstanceId()}", "i-1"),
                           ("${execution.id}", "i-1"), ("${execution.processDefinitionId}", "p:1:d"),
                           ("${execution.currentActivityId}", "review"), ("${execution.activityId}", "review"),
                           ("${execution.getCurrentActivityName()}", "Review")):
        assert juel(expr, **given) == expected
    assert juel("${execution.processInstanceId}") is None  # where the engine knows none


# ------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("${a.foo()}", "method calls are not supported"),
        ("${a.b.foo(1, 2)}", "method calls are not supported"),
        ("${a['x']()}", "method calls are not supported"),
        ("${execution.setVariable('a', 1)}", "method calls are not supported"),
        ("${execution.getVariable(name)}", "exactly one string literal"),
        ("${execution.getVariable('a', 'b')}", "exactly one string literal"),
        ("${execution.getVariable('__builtins__')}", "reserved"),
        ("${execution.parentId}", "'execution.parentId' is not supported"),
        ("${execution}", "'execution' object cannot be used directly"),
        ("${foo(1)}", "function calls are not supported ('foo(...)')"),
        ("${fn:contains(a, 'x')}", "function calls are not supported ('fn:contains(...)')"),
        ("${x -> x + 1}", "lambda expressions are not supported"),
        ("${a = 1}", "assignment ('=') is not supported"),
        ("${a += 'x'}", "string concatenation ('+=') is not supported"),
        ("${a instanceof b}", "'instanceof' operator is not supported"),
        ("${a; b}", "separated by ';' are not supported"),
        ("${[1, 2]}", "list literals are not supported"),
        ("${{1, 2}}", "set and map literals are not supported"),
        ("${}", "the expression is empty"),
        ("${   }", "the expression is empty"),
        ("", "the expression is empty"),
        ("${None}", "JUEL spells it 'null'"),
        ("${True}", "JUEL spells it 'true'"),
        ("${__import__}", "names starting with '__' are not allowed"),
        ("${a.__class__}", "names starting with '__' are not allowed"),
        ("${_sf_get}", "reserved"),
        ("${$price}", "not a valid Python variable name"),
        ("${a +}", "unexpected end of expression"),
        ("${a b}", "unexpected 'b' at column 5"),
        ("${(a}", "expected ')'"),
        ("${a)}", "unexpected ')'"),
        ("${a[0}", "expected ']'"),
        ("${a ? b}", "expected ':'"),
        ("${a.}", "expected a property name"),
        ("${a & b}", "unexpected character '&'"),
        ("${a | b}", "unexpected character '|'"),
        ("${a @ b}", "unexpected character '@'"),
        ("${'abc}", "unterminated string literal"),
        ("${a > 1", "unterminated expression: missing '}'"),
        (r"${'a\nb'}", "invalid escape sequence"),
        ("${a} and ${b}", "exactly one ${...} expression"),
        ("${a} tail", "exactly one ${...} expression"),
        ("${1e999}", "out of range"),
    ],
)
def test_unsupported_or_wrong_expressions(expr: str, problem: str) -> None:
    with pytest.raises(ExpressionError) as info:
        juel_to_python(expr, element_id="gw1")
    message = str(info.value)
    assert message.startswith(f"element 'gw1': expression '{expr.strip()}': ")
    assert problem in message
    assert info.value.element_id == "gw1"  # type: ignore[attr-defined]


def test_error_message_example_from_the_spec() -> None:
    with pytest.raises(ExpressionError) as info:
        juel_to_python("${a.foo()}", element_id="gw1")
    expected = "element 'gw1': expression '${a.foo()}': method calls are not supported"
    assert str(info.value).startswith(expected)
    assert info.value.status == 400


def test_error_without_element_id() -> None:
    with pytest.raises(ExpressionError, match=r"^expression '\$\{a\.foo\(\)\}': method calls"):
        juel_to_python("${a.foo()}")


# ------------------------------------------------------------------------------------------ coercion (EL 1.8, 1.9)


@pytest.mark.parametrize(
    ("expr", "variables", "expected"),
    [
        # == and != with a boolean operand compare booleans: a string reads true when it says "true"
        ("${notEnoughInformation == 'true'}", {"notEnoughInformation": True}, True),
        ("${notEnoughInformation == 'true'}", {"notEnoughInformation": False}, False),
        ("${notEnoughInformation != 'true'}", {"notEnoughInformation": True}, False),
        ("${flag == true}", {"flag": "TRUE"}, True),
        ("${flag == false}", {"flag": "no"}, True),
        ("${flag == false}", {"flag": ""}, True),
        # with a number operand a string is parsed ('' is 0); a double makes both doubles
        ("${n == '3'}", {"n": 3}, True),
        ("${'3' == n}", {"n": 3}, True),
        ("${n != '3'}", {"n": 4}, True),
        ("${n == 3}", {"n": 3.0}, True),
        ("${n == ' 2.5 '}", {"n": 2.5}, True),  # Double.valueOf trims
        ("${n == '2.5d'}", {"n": 2.5}, True),
        ("${n == '0x1p3'}", {"n": 8.0}, True),
        ("${n > 'Infinity'}", {"n": 1.5}, False),
        ("${flag == ' true'}", {"flag": True}, False),  # Boolean.valueOf does not trim
        ("${n == '2.5'}", {"n": 2.5}, True),
        ("${n == ''}", {"n": 0}, True),
        ("${amount > '100'}", {"amount": 150}, True),
        ("${amount > 100}", {"amount": "99"}, False),
        ("${amount <= 100}", {"amount": "100"}, True),
        ("${amount >= 2.5}", {"amount": "3"}, True),
        ("${a < b}", {"a": 2, "b": 10}, True),
        # two strings compare as text
        ("${a < b}", {"a": "2", "b": "10"}, False),
        ("${s == 1}", {"s": "1"}, True),
        # null: equal only to null; orderings are false except null <= null and null >= null
        ("${x == y}", {"x": None, "y": None}, True),
        ("${x == y}", {"x": None, "y": 0}, False),
        ("${x != y}", {"x": None, "y": "a"}, True),
        ("${x < 1}", {"x": None}, False),
        ("${x > 1}", {"x": None}, False),
        ("${x <= y}", {"x": None, "y": None}, True),
        ("${x >= 1}", {"x": None}, False),
        # other values compare as they are
        ("${a == b}", {"a": [1, 2], "b": [1, 2]}, True),
        ("${a == b}", {"a": {"k": 1}, "b": {"k": 2}}, False),
    ],
)
def test_comparisons_coerce_as_juel_does(expr: str, variables: dict[str, Any], expected: bool) -> None:
    assert juel(expr, **variables) is expected


@pytest.mark.parametrize(
    ("expr", "variables", "message"),
    [
        ("${n == 'abc'}", {"n": 3}, "cannot coerce 'abc' to a number"),
        # Java's Long.valueOf refuses what Python's int() reads: spaces around, underscores
        ("${n == ' 3 '}", {"n": 3}, "cannot coerce ' 3 ' to a number"),
        ("${n == '1_000'}", {"n": 1000}, "cannot coerce '1_000' to a number"),
        ("${n == ' '}", {"n": 0}, "cannot coerce ' ' to a number"),
        # and Double.valueOf what Python's float() reads: 'inf', 'nan', underscores
        ("${n == 'inf'}", {"n": 1.5}, "cannot coerce 'inf' to a number"),
        ("${n == '1_0.5'}", {"n": 10.5}, "cannot coerce '1_0.5' to a number"),
        ("${flag == 1}", {"flag": True}, "cannot coerce True (bool) to a number"),
        ("${n > items}", {"n": 1, "items": [1]}, "cannot coerce [1] (list) to a number"),
        ("${flag == items}", {"flag": True, "items": [1]}, "cannot coerce [1] (list) to a boolean"),
    ],
)
def test_comparisons_that_juel_cannot_coerce_fail(expr: str, variables: dict[str, Any], message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=re.escape(message)):
        juel(expr, **variables)


@pytest.mark.parametrize(
    ("expr", "variables", "expected"),
    [
        # a numeric string is a number (form fields often arrive as text); Python gave '33' or a TypeError
        ("${s * 2}", {"s": "3"}, 6),
        ("${s - 1}", {"s": "3"}, 2),
        ("${1 + '2'}", {}, 3),
        ("${s + 1}", {"s": "2.5"}, 3.5),
        ("${s * 2}", {"s": "1e2"}, 200.0),
        ("${s * 2}", {"s": " 1.5 "}, 3.0),  # a double's text may have spaces around it, a long's not (below)
        ("${-s}", {"s": "2"}, -2),
        ("${a + b}", {"a": None, "b": 4}, 4),  # null is 0
        ("${a * 1.5}", {"a": 2}, 3.0),
        ("${7 / 2}", {}, 3.5),
        ("${6 div 3}", {}, 2.0),
        ("${1 / 0}", {}, float("inf")),
        ("${-1 / 0}", {}, float("-inf")),
        # Java's remainder keeps the dividend's sign (Python's % takes the divisor's)
        ("${-7 % 3}", {}, -1),
        ("${7 mod -3}", {}, 1),
        ("${a + b * c - -d}", {"a": 1, "b": 2, "c": 3, "d": 4}, 11),
        ("${(a + b) * c}", {"a": 1, "b": 2, "c": 3}, 9),
        ("${items[i + 1]}", {"items": ["a", "b"], "i": 0}, "b"),  # (a Long index)
        # Java's long arithmetic wraps around past 64 bits
        ("${x * x}", {"x": 2**32}, 0),
        ("${x + 1}", {"x": 2**63 - 1}, -(2**63)),
    ],
)
def test_arithmetic_coerces_as_juel_does(expr: str, variables: dict[str, Any], expected: Any) -> None:
    result = juel(expr, **variables)
    # a long result is a Long, as Camunda keeps it (a variable set from it is a Long, not an Integer)
    assert result == expected and type(result) is (Long if type(expected) is int else type(expected))


def test_arithmetic_juel_cannot_coerce_fails() -> None:
    assert juel("${0 / 0}") != juel("${0 / 0}")  # NaN
    for expr, variables, message in (("${a + b}", {"a": "x", "b": "y"}, "cannot coerce 'x' to a number for '+'"),
                                     ("${items * 2}", {"items": [1]}, "cannot coerce [1] (list) to a number for '*'"),
                                     ("${flag + 1}", {"flag": True}, "cannot coerce True (bool) to a number for '+'"),
                                     ("${s + 1}", {"s": " 3 "}, "cannot coerce ' 3 ' to a number for '+'"),
                                     ("${s + 1}", {"s": "Infinity"}, "cannot coerce 'Infinity' to a number")):
        with pytest.raises((TypeError, ValueError), match=re.escape(message)):
            juel(expr, **variables)
    with pytest.raises(ZeroDivisionError):
        juel("${5 % 0}")


# ------------------------------------------------------------------------------------------ conditions


def test_condition_juel_is_translated() -> None:
    src = condition_to_python("${amount > 1000 && vip}", element_id="flow1")
    assert src == "_sf_gt(amount, 1000) and _sf_bool(vip)"
    assert run(src, amount=1200, vip=True) is True
    assert condition_to_python("${vip}") == "_sf_condition(vip)"  # a boolean only, as Camunda takes it


@pytest.mark.parametrize(("condition", "variables", "expected"), [
    # JUEL's !, &&, || and ? : read a text as a boolean ("false" is false; Python found any text true)
    ("${!flag}", {"flag": "false"}, True),
    ("${flag && other}", {"flag": "false", "other": True}, False),
    ("${flag || other}", {"flag": "TRUE", "other": False}, True),
    ("${(flag ? 'a' : 'b') == 'b'}", {"flag": "no"}, True),
    ("${!missing}", {"missing": None}, True),
    ("${flag}", {"flag": True}, True),
])
def test_conditions_coerce_to_booleans_as_juel_does(condition: str, variables: dict[str, Any],
                                                     expected: bool) -> None:
    assert run(condition_to_python(condition), **variables) is expected


@pytest.mark.parametrize(("condition", "variables", "message"), [
    ("${amount}", {"amount": 50}, "condition expression returns non-Boolean: result has class java.lang.Long and "
                                  "not java.lang.Boolean"),
    ("${flag}", {"flag": "true"}, "result has class java.lang.String"),
    ("${flag}", {"flag": None}, "condition expression returns null"),
    ("${amount && true}", {"amount": 50}, "cannot coerce 50 (int) to a boolean"),
])
def test_a_condition_that_is_no_boolean_fails(condition: str, variables: dict[str, Any], message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=re.escape(message)):
        run(condition_to_python(condition), **variables)


def test_condition_python_passes_through() -> None:
    assert condition_to_python("  amount > 10 \n") == "amount > 10"
    assert run(condition_to_python("amount > 10 and vip"), amount=11, vip=True) is True


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("amount >", "line 1, offset"),
        ("amount = 3", "line 1, offset"),
        ("   ", "the condition is empty"),
    ],
)
def test_condition_broken_python(text: str, problem: str) -> None:
    with pytest.raises(ExpressionError) as info:
        condition_to_python(text, element_id="flow1")
    message = str(info.value)
    assert message.startswith(f"element 'flow1': condition '{text.strip()}': ")
    assert problem in message


def test_condition_broken_juel_names_element() -> None:
    pattern = r"^element 'flow2': expression '\$\{a\.ok\(\)\}': method calls"
    with pytest.raises(ExpressionError, match=pattern):
        condition_to_python("${a.ok()}", element_id="flow2")


def test_condition_composite_text_is_rejected() -> None:
    with pytest.raises(ExpressionError, match="exactly one"):
        condition_to_python("${a} && ${b}", element_id="flow3")


# ------------------------------------------------------------------------------------------ text attributes


@pytest.mark.parametrize(
    "literal",
    [
        "PT5M",
        "mary",
        "50",
        "sales, managers",
        "2026-01-01T10:00:00",
        "",
        'it\'s "quoted" \\ text',
        "costs $5 {approx}",
        "R3/PT10M",
    ],
)
def test_text_literal_stays_a_string(literal: str) -> None:
    src = text_to_python(literal)
    assert src == repr(literal)
    assert run(src) == literal


def test_text_escaped_expression_is_literal() -> None:
    assert run(text_to_python("\\${notAnExpression}")) == "${notAnExpression}"
    assert run(text_to_python("price \\#{x} and ${y}"), y=2) == "price #{x} and 2"


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        ("${assignee}", {"assignee": "mary"}, "mary"),
        ("${priority}", {"priority": 50}, 50),
        ("${ratio}", {"ratio": 0.5}, 0.5),
        ("${flag}", {"flag": False}, False),
        ("${groups}", {"groups": ["a", "b"]}, ["a", "b"]),
        ("  ${priority + 1}  ", {"priority": 50}, Long(51)),  # JUEL's arithmetic gives a Long
        ("#{priority}", {"priority": 7}, 7),
        ("${due}", {"due": None}, None),
    ],
)
def test_text_whole_expression_keeps_type(text: str, variables: dict[str, Any], expected: Any) -> None:
    result = run(text_to_python(text), **variables)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("text", "variables", "expected"),
    [
        ("Order ${orderId} for ${name}", {"orderId": 42, "name": "Ann"}, "Order 42 for Ann"),
        ("${first} ${last}", {"first": "Ann", "last": "Lee"}, "Ann Lee"),
        ("${a}${b}", {"a": 1, "b": 2}, "12"),
        ("PT${minutes}M", {"minutes": 5}, "PT5M"),
        ("note: ${missing}!", {"missing": None}, "note: !"),  # None renders as ""
        ("vip=${vip}", {"vip": True}, "vip=true"),  # booleans render like JUEL
        ("  ${a} x ", {"a": 1}, "  1 x "),  # literal parts are kept exactly
        ("total ${price * qty}", {"price": 2.5, "qty": 2}, "total 5.0"),
    ],
)
def test_text_composite(text: str, variables: dict[str, Any], expected: str) -> None:
    assert run(text_to_python(text), **variables) == expected


def test_text_composite_is_readable() -> None:
    src = text_to_python("Order ${orderId} for ${name}")
    assert src == "'Order ' + _sf_str(orderId) + ' for ' + _sf_str(name)"


def test_text_errors_name_element() -> None:
    with pytest.raises(ExpressionError) as info:
        text_to_python("Hello ${user.fullName()}", element_id="task1")
    assert str(info.value).startswith("element 'task1': expression 'Hello ${user.fullName()}': method calls")
    with pytest.raises(ExpressionError, match="^element 'task1': .*unterminated expression"):
        text_to_python("Hello ${name", element_id="task1")


# ------------------------------------------------------------------------------------------ helpers


def test_runtime_helper_names_are_reserved() -> None:
    assert RUNTIME_HELPERS
    assert all(name.startswith("_sf_") for name in RUNTIME_HELPERS)
    assert BUSINESS_KEY_VARIABLE.startswith("_sf_")


def test_helpers_do_not_depend_on_builtins_being_unshadowed() -> None:
    # task data is the globals: a variable called like a builtin must not break generated code
    src = text_to_python("${x} and ${y}")
    assert run(src, x=None, y=1, str=None, len=None, bool=None) == " and 1"
    assert run(juel_to_python("${empty a}"), a=[], len=None) is True


@pytest.mark.parametrize("name", ["input", "type", "id", "len", "class", "from", "max"])
def test_variables_named_like_python_builtins_or_keywords_are_read_by_name(name: str) -> None:
    src = juel_to_python(f"${{{name} == 1}}")
    assert eval(src, {**RUNTIME_HELPERS, name: 1}) is True
    assert eval(src, {**RUNTIME_HELPERS, name: 2}) is False
    with pytest.raises(NameError, match=f"name '{name}' is not defined"):  # unset: as any other name, never
        eval(src, dict(RUNTIME_HELPERS))                                  # the builtin


# ------------------------------------------------------------------------------------------ method calls


@pytest.mark.parametrize(
    ("expr", "variables", "expected"),
    [
        ("${gender.equals('male') ? 'Mr.' : 'Mrs.'}", {"gender": "male"}, "Mr."),
        ("${gender.equals('male')}", {"gender": "female"}, False),
        ("${count.equals(3)}", {"count": 3}, True),
        ("${count.equals('3')}", {"count": 3}, False),  # Java: an Integer never equals a String
        ("${name.equalsIgnoreCase('KERMIT')}", {"name": "Kermit"}, True),
        ("${items.size() > 1}", {"items": [1, 2]}, True),
        ("${items.isEmpty()}", {"items": []}, True),
        ("${items.contains('b')}", {"items": ["a", "b"]}, True),
        ("${items.get(1)}", {"items": ["a", "b"]}, "b"),
        ("${m.containsKey('k') && m.get('k') == 1}", {"m": {"k": 1}}, True),
        ("${m.size()}", {"m": {"k": 1, "j": 2}}, 2),
        ("${'Activiti'.substring(0,3)}", {}, "Act"),
        ("${s.substring(3)}", {"s": "abcdef"}, "def"),
        ("${'source'.concat(x)}", {"x": "Var"}, "sourceVar"),
        ("${s.trim().toUpperCase()}", {"s": "  ok "}, "OK"),
        ("${s.startsWith('ab') && s.endsWith('ef') && s.contains('cd')}", {"s": "abcdef"}, True),
        ("${s.length() + s.indexOf('c')}", {"s": "abc"}, 5),
        ("${n.toString()}", {"n": True}, "true"),
        ("${order.isPremiumOrder()}", {"order": {"premiumOrder": True}}, True),
        ("${order.getPrice() > 100}", {"order": {"price": 150}}, True),
        ("${execution.getVariable('items').size()}", {"items": [1]}, 1),
    ],
)
def test_common_java_method_calls_run_on_python_values(expr: str, variables: dict, expected: object) -> None:
    assert run(juel_to_python(expr), **variables) == expected


@pytest.mark.parametrize(
    ("expr", "variables", "problem"),
    [
        ("${s.substring(5)}", {"s": "abc"}, "out of range"),
        ("${n.size()}", {"n": None}, "cannot call size() on null"),
        ("${n.size()}", {"n": 5}, "has no method size()"),
        ("${order.isGold()}", {"order": {"price": 1}}, "has no method isGold()"),
        ("${s.trim(1)}", {"s": "a"}, "takes 0 argument(s), not 1"),
    ],
)
def test_a_method_call_that_does_not_fit_the_value_fails_when_evaluated(expr: str, variables: dict,
                                                                       problem: str) -> None:
    with pytest.raises((TypeError, AttributeError, IndexError), match=re.escape(problem)):
        run(juel_to_python(expr), **variables)


def test_an_unknown_method_is_refused_at_deploy_naming_the_supported_ones() -> None:
    with pytest.raises(ExpressionError) as info:
        juel_to_python("${counter.incrementAndGet()}", element_id="t")
    assert "method calls are not supported ('.incrementAndGet(...)') except " in str(info.value)
    assert "equals" in str(info.value) and "bean getters" in str(info.value)


@pytest.mark.parametrize("text", ["${x > ²}", "${x > ½}", "${x == ①}"])
def test_a_unicode_digit_that_is_no_ascii_number_is_an_error_naming_it(text: str) -> None:
    """`str.isdigit()` says yes to "²": the lexer reads numbers from ASCII digits only, so that such a character is
    an `ExpressionError` naming it (it was an AssertionError that escaped the deploy)."""
    with pytest.raises(ExpressionError, match="unexpected character"):
        juel_to_python(text)


def test_date_functions_read_the_engine_clock() -> None:
    from datetime import UTC, datetime

    from engine.clock import VirtualClock, using_clock

    with using_clock(VirtualClock(datetime(2024, 3, 31, 12, tzinfo=UTC))):
        assert juel("${now()}") == datetime(2024, 3, 31, 12, tzinfo=UTC)
        assert juel("${dateTime().minusMonths(1).toDate()}") == datetime(2024, 2, 29, 12, tzinfo=UTC)
        assert juel("${dateTime().plusYears(1).minusDays(1).minusMinutes(30).toDate()}") == datetime(
            2025, 3, 30, 11, 30, tzinfo=UTC)
        assert juel("${dateTime().plusWeeks(1).isAfter(due)}", due=datetime(2024, 4, 1, tzinfo=UTC)) is True
        assert juel("${due.before(now())}", due=datetime(2024, 4, 1, tzinfo=UTC)) is False
        assert juel("${now().getTime()}") == 1711886400000
        # arguments are coerced to `int` as JUEL coerces them: a fraction is dropped, a text is read, null is 0
        assert juel("${dateTime().plusDays(1.5).toDate()}") == datetime(2024, 4, 1, 12, tzinfo=UTC)
        assert juel("${dateTime().minusHours(-1.9).toDate()}") == datetime(2024, 3, 31, 13, tzinfo=UTC)
        assert juel("${dateTime().plusDays('2').toDate()}") == datetime(2024, 4, 2, 12, tzinfo=UTC)
        assert juel("${dateTime().plusDays(n).toDate()}", n=None) == datetime(2024, 3, 31, 12, tzinfo=UTC)
    for argument in ("'two'", "'1.5'", "true"):
        with pytest.raises(TypeError, match="plusDays"):
            juel("${dateTime().plusDays(" + argument + ")}")

"""Camunda generated forms: parsing camunda:formData and validating submissions against it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from lxml import etree

from engine.errors import DefinitionError, InvalidVariables
from engine.forms import FormField, java_date_pattern_to_strptime, parse_form, validate_submission

NSDECL = 'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'

EXAMPLE = f"""<bpmn:userTask {NSDECL} id="approve" name="Approve">
  <bpmn:extensionElements>
    <camunda:formData businessKey="orderId">
      <camunda:formField id="amount" label="Amount" type="long" defaultValue="100">
        <camunda:validation>
          <camunda:constraint name="required" />
          <camunda:constraint name="min" config="1" />
          <camunda:constraint name="max" config="10000" />
        </camunda:validation>
      </camunda:formField>
      <camunda:formField id="approved" label="Approved?" type="boolean" />
      <camunda:formField id="comment" type="string">
        <camunda:validation><camunda:constraint name="minlength" config="2"/>
          <camunda:constraint name="maxlength" config="200"/></camunda:validation>
      </camunda:formField>
      <camunda:formField id="deliveryDate" type="date" label="Delivery" datePattern="dd/MM/yyyy"/>
      <camunda:formField id="tier" type="enum" label="Tier" defaultValue="silver">
        <camunda:value id="gold" name="Gold" /><camunda:value id="silver" name="Silver" />
      </camunda:formField>
      <camunda:formField id="ref" type="string">
        <camunda:validation><camunda:constraint name="readonly"/></camunda:validation>
      </camunda:formField>
      <camunda:formField id="x" type="string">
        <camunda:properties><camunda:property id="placeholder" value="type here"/></camunda:properties>
      </camunda:formField>
      <camunda:formField id="orderId" type="string" />
    </camunda:formData>
  </bpmn:extensionElements>
</bpmn:userTask>"""


def element(xml: str) -> etree._Element:
    return etree.fromstring(xml.encode())


def form_xml(fields: str, element_id: str = "task1", form_attrs: str = "") -> str:
    # line 1: userTask, line 2: extensionElements, line 3: formData, line 4+: the fields
    return (
        f'<bpmn:userTask {NSDECL} id="{element_id}">\n<bpmn:extensionElements>\n'
        f"<camunda:formData{form_attrs}>\n{fields}\n</camunda:formData>\n</bpmn:extensionElements>\n"
        "</bpmn:userTask>"
    )


def bad(fields: str, **kw: str) -> DefinitionError:
    with pytest.raises(DefinitionError) as info:
        parse_form(element(form_xml(fields, **kw)), "orders.bpmn")
    err = info.value
    assert err.file == "orders.bpmn"
    assert "orders.bpmn:" in str(err)
    return err


@pytest.fixture(scope="module")
def fields() -> list[FormField]:
    return parse_form(element(EXAMPLE), "orders.bpmn")


def by_id(fields: list[FormField], fid: str) -> FormField:
    return next(f for f in fields if f.id == fid)


# --------------------------------------------------------------------------------------------- parsing


def test_parse_example(fields: list[FormField]) -> None:
    assert [f.id for f in fields] == [
        "amount", "approved", "comment", "deliveryDate", "tier", "ref", "x", "orderId"
    ]  # fmt: skip
    amount = by_id(fields, "amount")
    assert amount == FormField(
        id="amount", label="Amount", type="long", default="100", required=True, min=1, max=10000
    )
    assert by_id(fields, "approved") == FormField(id="approved", label="Approved?", type="boolean")
    comment = by_id(fields, "comment")
    assert (comment.label, comment.minlength, comment.maxlength, comment.required) == (None, 2, 200, False)
    assert by_id(fields, "deliveryDate").date_pattern == "dd/MM/yyyy"
    tier = by_id(fields, "tier")
    assert tier.enum_values == (("gold", "Gold"), ("silver", "Silver"))
    assert tier.default == "silver"
    assert by_id(fields, "ref").readonly is True
    assert by_id(fields, "x").properties == (("placeholder", "type here"),)


def test_to_json(fields: list[FormField]) -> None:
    assert by_id(fields, "amount").to_json() == {
        "id": "amount",
        "label": "Amount",
        "type": "long",
        "defaultValue": "100",
        "required": True,
        "readonly": False,
        "min": 1,
        "max": 10000,
        "minlength": None,
        "maxlength": None,
        "datePattern": None,
        "values": [],
        "properties": {},
    }
    tier = by_id(fields, "tier").to_json()
    assert tier["values"] == [{"id": "gold", "name": "Gold"}, {"id": "silver", "name": "Silver"}]
    assert by_id(fields, "x").to_json()["properties"] == {"placeholder": "type here"}
    assert by_id(fields, "deliveryDate").to_json()["datePattern"] == "dd/MM/yyyy"


def test_no_form_gives_empty_list() -> None:
    assert parse_form(element(f'<bpmn:userTask {NSDECL} id="t"/>'), "f.bpmn") == []
    no_form = f'<bpmn:userTask {NSDECL} id="t"><bpmn:extensionElements/></bpmn:userTask>'
    assert parse_form(element(no_form), "f.bpmn") == []
    assert parse_form(element(form_xml("")), "f.bpmn") == []


def test_start_event_form_and_expression_default() -> None:
    xml = (
        f'<bpmn:startEvent {NSDECL} id="start"><bpmn:extensionElements><camunda:formData>'
        '<camunda:formField id="due" type="date" defaultValue="${now()}"/>'
        '<camunda:formField id="name"/>'
        "</camunda:formData></bpmn:extensionElements></bpmn:startEvent>"
    )
    due, name = parse_form(element(xml), "start.bpmn")
    assert due.default == "${now()}"
    assert name.type == "string"  # no type attribute: a string field


def test_enum_value_without_name_uses_id() -> None:
    (fld,) = parse_form(
        element(
            form_xml('<camunda:formField id="e" type="enum"><camunda:value id="a"/></camunda:formField>')
        ),
        "f",
    )
    assert fld.enum_values == (("a", "a"),)


def test_unknown_type_refused() -> None:
    err = bad('<camunda:formField id="color" type="colour"/>')
    assert err.element_id == "color"
    assert err.line == 4
    assert "unknown form field type 'colour'" in str(err)
    assert "'color'" in str(err) and "task1" in str(err)


def test_unknown_constraint_refused() -> None:
    err = bad(
        '<camunda:formField id="amount" type="long">\n<camunda:validation>\n'
        '<camunda:constraint name="validator" config="com.acme.Check"/>\n'
        "</camunda:validation></camunda:formField>"
    )
    assert err.element_id == "amount"
    assert err.line == 6  # the constraint's own line
    assert "unknown constraint 'validator'" in str(err)
    assert "orders.bpmn:6" in str(err)


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ('<camunda:constraint name="min" config="abc"/>', "constraint 'min' needs a number"),
        ('<camunda:constraint name="max"/>', "constraint 'max' needs a number"),
        ('<camunda:constraint name="min" config="inf"/>', "constraint 'min' needs a number"),
        (f'<camunda:constraint name="min" config="{"9" * 5000}"/>', "constraint 'min' needs a number"),
        (
            '<camunda:constraint name="min" config="5"/><camunda:constraint name="max" config="1"/>',
            "greater than max",
        ),
        (
            '<camunda:constraint name="min" config="1"/><camunda:constraint name="min" config="2"/>',
            "given twice",
        ),
        ("<camunda:constraint/>", "constraint without a name"),
    ],
)
def test_bad_number_constraints(field: str, expected: str) -> None:
    err = bad(
        f'<camunda:formField id="amount" type="long"><camunda:validation>{field}</camunda:validation>'
        "</camunda:formField>"
    )
    assert expected in err.reason
    assert err.element_id == "amount"
    assert err.line == 4


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ('<camunda:constraint name="minlength" config="-1"/>', "constraint 'minlength' needs a whole number"),
        (
            '<camunda:constraint name="maxlength" config="2.5"/>',
            "constraint 'maxlength' needs a whole number",
        ),
        (
            '<camunda:constraint name="minlength" config="5"/>'
            '<camunda:constraint name="maxlength" config="2"/>',
            "greater than maxlength",
        ),
    ],
)
def test_bad_length_constraints(field: str, expected: str) -> None:
    err = bad(
        f'<camunda:formField id="c" type="string"><camunda:validation>{field}</camunda:validation>'
        "</camunda:formField>"
    )
    assert expected in err.reason
    assert err.element_id == "c"


def with_constraint(fid: str, ftype: str, name: str, config: str) -> str:
    return (
        f'<camunda:formField id="{fid}" type="{ftype}"><camunda:validation>'
        f'<camunda:constraint name="{name}" config="{config}"/></camunda:validation></camunda:formField>'
    )


def test_constraint_on_wrong_type_refused() -> None:
    err = bad(with_constraint("s", "string", "min", "1"))
    assert "applies only to long fields" in err.reason
    err = bad(with_constraint("n", "long", "maxlength", "1"))
    assert "applies only to string fields" in err.reason
    err = bad(with_constraint("d", "date", "max", "1"))
    assert "applies only to long fields, not date" in err.reason
    enum = with_constraint("e", "enum", "maxlength", "1").replace(
        "</camunda:formField>", '<camunda:value id="a"/></camunda:formField>'
    )
    (fld,) = parse_form(element(form_xml(enum)), "f")
    assert fld.maxlength == 1


def test_float_min_allowed() -> None:
    xml = with_constraint("n", "long", "min", "0.5")
    (fld,) = parse_form(element(form_xml(xml)), "f")
    assert fld.min == 0.5
    with pytest.raises(InvalidVariables, match="at least 0.5"):
        validate_submission([fld], {"n": 0})
    assert validate_submission([fld], {"n": 1}) == {"n": 1}


def test_enum_without_values_refused() -> None:
    err = bad('<camunda:formField id="tier" type="enum"/>')
    assert "enum field without values" in err.reason
    assert err.element_id == "tier" and err.line == 4


def test_duplicate_enum_value_and_property_refused() -> None:
    err = bad(
        '<camunda:formField id="t" type="enum"><camunda:value id="a"/><camunda:value id="a"/>'
        "</camunda:formField>"
    )
    assert "duplicate enum value id 'a'" in err.reason
    err = bad(
        '<camunda:formField id="p"><camunda:properties><camunda:property id="k" value="1"/>'
        '<camunda:property id="k" value="2"/></camunda:properties></camunda:formField>'
    )
    assert "duplicate property id 'k'" in err.reason
    err = bad(
        '<camunda:formField id="p"><camunda:properties><camunda:property value="1"/></camunda:properties>'
        "</camunda:formField>"
    )
    assert "property without an id" in err.reason


def test_duplicate_field_ids_refused() -> None:
    err = bad('<camunda:formField id="a" type="string"/>\n<camunda:formField id="a" type="long"/>')
    assert "duplicate form field id 'a'" in err.reason
    assert err.element_id == "a"
    assert err.line == 5


def test_missing_field_id_names_element() -> None:
    err = bad('<camunda:formField label="No id" type="string"/>', element_id="reviewTask")
    assert err.element_id == "reviewTask"
    assert "form field without an id" in str(err)
    assert "reviewTask" in str(err)
    assert err.line == 4


def test_reserved_field_id_refused() -> None:
    err = bad('<camunda:formField id="_sf_business_key"/>')
    assert "must not start with '_sf_'" in err.reason


def test_bad_date_pattern_refused() -> None:
    err = bad('<camunda:formField id="d" type="date" datePattern="dd/MM/yyyy G"/>')
    assert "pattern letter 'G'" in err.reason
    assert err.element_id == "d"


def test_business_key_must_name_a_field() -> None:
    err = bad('<camunda:formField id="a"/>', form_attrs=' businessKey="orderId"')
    assert "businessKey 'orderId'" in err.reason
    assert err.element_id == "task1" and err.line == 3


def test_two_form_datas_refused() -> None:
    xml = (
        f'<bpmn:userTask {NSDECL} id="t"><bpmn:extensionElements>\n<camunda:formData/>\n<camunda:formData/>'
        "</bpmn:extensionElements></bpmn:userTask>"
    )
    with pytest.raises(DefinitionError, match="more than one camunda:formData") as info:
        parse_form(element(xml), "f.bpmn")
    assert info.value.line == 3


def test_java_date_patterns() -> None:
    assert java_date_pattern_to_strptime("dd/MM/yyyy HH:mm") == "%d/%m/%Y %H:%M"
    assert java_date_pattern_to_strptime("yyyy-MM-dd'T'HH:mm:ss.SSSZ") == "%Y-%m-%dT%H:%M:%S.%f%z"
    assert java_date_pattern_to_strptime("d MMM yy, h:mm a") == "%d %b %y, %I:%M %p"
    assert java_date_pattern_to_strptime("EEEE d MMMM ''yy 'o''clock' 100%") == "%A %d %B '%y o'clock 100%%"
    for pattern in ("yyyy G", "'open", "w/yyyy"):
        with pytest.raises(ValueError):
            java_date_pattern_to_strptime(pattern)


# ------------------------------------------------------------------------------------------- submissions


def rejects(fields: list[FormField], values: dict[str, object], field: str, reason: str, **kw: bool) -> None:
    with pytest.raises(InvalidVariables) as info:
        validate_submission(fields, values, **kw)
    assert info.value.field == field
    assert info.value.reason == reason


@pytest.fixture()
def amount(fields: list[FormField]) -> list[FormField]:
    return [by_id(fields, "amount")]


def test_full_submission(fields: list[FormField]) -> None:
    submitted = {
        "amount": "250",
        "approved": "on",
        "comment": "looks fine",
        "deliveryDate": "22/11/2026",
        "tier": "gold",
        "ref": None,
        "x": "",
        "orderId": "A-1",
        "other": {"free": [1, 2]},
    }
    result = validate_submission(fields, submitted)
    assert result == {
        "amount": 250,
        "approved": True,
        "comment": "looks fine",
        "deliveryDate": dt.datetime(2026, 11, 22),
        "tier": "gold",
        "x": "",
        "orderId": "A-1",
        "other": {"free": [1, 2]},
    }
    assert list(result) == [k for k in submitted if k != "ref"]  # a null for a readonly field is dropped
    assert submitted["amount"] == "250"  # the input is not modified


def test_long_coercion(amount: list[FormField]) -> None:
    for raw, expected in [
        (12, 12),
        ("12", 12),
        (" 12 ", 12),
        ("+12", 12),
        (12.0, 12),
        ("12.0", 12),
        (Decimal("7"), 7),
    ]:
        assert validate_submission(amount, {"amount": raw}) == {"amount": expected}
    for raw in ["12.5", 12.5, True, False, "abc", "1e3", float("nan"), Decimal("NaN"), [1], "0x10", "1 2"]:
        rejects(amount, {"amount": raw}, "amount", "must be a whole number")


def test_long_bounds(amount: list[FormField]) -> None:
    assert validate_submission(amount, {"amount": 1}) == {"amount": 1}
    assert validate_submission(amount, {"amount": 10000}) == {"amount": 10000}
    rejects(amount, {"amount": 0}, "amount", "must be at least 1")
    rejects(amount, {"amount": "10001"}, "amount", "must be at most 10000")
    unbounded = [FormField(id="n", type="long")]
    assert validate_submission(unbounded, {"n": -(2**63)}) == {"n": -(2**63)}
    out_of_range = "must be between -9223372036854775808 and 9223372036854775807"
    for raw in [2**63, "9223372036854775808", "-" + "9" * 5000, Decimal("1E+999999999"), 1e300]:
        rejects(unbounded, {"n": raw}, "n", out_of_range)
    assert validate_submission(unbounded, {"n": "0009223372036854775807"}) == {"n": 2**63 - 1}


def test_required(amount: list[FormField]) -> None:
    for values in ({}, {"amount": None}, {"amount": ""}, {"amount": "  "}):
        rejects(amount, values, "amount", "is required")
    text = [FormField(id="s", type="string", required=True)]
    rejects(text, {"s": ""}, "s", "is required")
    assert validate_submission(text, {"s": " "}) == {"s": " "}
    flag = [FormField(id="b", type="boolean", required=True)]
    assert validate_submission(flag, {"b": False}) == {"b": False}


def test_optional_empty_values() -> None:
    form = [
        FormField(id="n", type="long"),
        FormField(id="s", type="string", minlength=2),
        FormField(id="d", type="date"),
    ]
    assert validate_submission(form, {}) == {}
    assert validate_submission(form, {"n": "", "s": "", "d": None}) == {"n": None, "s": "", "d": None}


def test_partial(fields: list[FormField]) -> None:
    assert validate_submission(fields, {"comment": "ok"}, partial=True) == {"comment": "ok"}
    assert validate_submission(fields, {}, partial=True) == {}
    rejects(fields, {"comment": "ok"}, "amount", "is required")
    rejects(fields, {"amount": ""}, "amount", "is required", partial=True)
    rejects(fields, {"comment": "x"}, "comment", "must be at least 2 characters", partial=True)


def test_boolean(fields: list[FormField]) -> None:
    form = [by_id(fields, "approved")]
    for raw, expected in [
        (True, True),
        (False, False),
        ("true", True),
        ("FALSE", False),
        ("True", True),
        ("on", True),
        ("ON", True),
    ]:
        assert validate_submission(form, {"approved": raw}) == {"approved": expected}
    for raw in ["yes", "1", "0", 1, 0, "off", [True]]:
        rejects(form, {"approved": raw}, "approved", "must be true or false")


def test_string(fields: list[FormField]) -> None:
    form = [by_id(fields, "comment")]
    assert validate_submission(form, {"comment": "ab"}) == {"comment": "ab"}
    assert validate_submission(form, {"comment": "x" * 200}) == {"comment": "x" * 200}
    rejects(form, {"comment": "a"}, "comment", "must be at least 2 characters")
    rejects(form, {"comment": "x" * 201}, "comment", "must be at most 200 characters")
    # as Camunda's StringFormType: a number or a boolean becomes its text
    for raw, text in [(12, "12"), (1.5, "1.5"), (True, "true"), (False, "false")]:
        assert validate_submission(form, {"comment": raw}) == {"comment": text}
    rejects(form, {"comment": 7}, "comment", "must be at least 2 characters")
    for raw in [["ab"], {"a": 1}]:
        rejects(form, {"comment": raw}, "comment", "must be a string")


def test_enum(fields: list[FormField]) -> None:
    form = [by_id(fields, "tier")]
    assert validate_submission(form, {"tier": "silver"}) == {"tier": "silver"}
    for raw in ["bronze", "Gold", 1, ["gold"]]:
        rejects(form, {"tier": raw}, "tier", "must be one of gold, silver")


def test_date(fields: list[FormField]) -> None:
    form = [by_id(fields, "deliveryDate")]

    def check(raw: object) -> object:
        return validate_submission(form, {"deliveryDate": raw})["deliveryDate"]

    assert check("2026-11-22") == dt.datetime(2026, 11, 22)
    assert check("2026-11-22T10:00:00") == dt.datetime(2026, 11, 22, 10)
    assert check("2026-11-22T10:00:00Z") == dt.datetime(2026, 11, 22, 10, tzinfo=dt.UTC)
    plus2 = dt.timezone(dt.timedelta(hours=2))
    assert check("2026-11-22T10:00:00+02:00") == dt.datetime(2026, 11, 22, 10, tzinfo=plus2)
    assert check("22/11/2026") == dt.datetime(2026, 11, 22)
    assert check(dt.date(2026, 11, 22)) == dt.datetime(2026, 11, 22)
    moment = dt.datetime(2026, 11, 22, 10, 30, tzinfo=dt.UTC)
    assert check(moment) is moment
    reason = "must be a date (e.g. 2026-11-22 or 2026-11-22T10:00:00Z, or dd/MM/yyyy)"
    for raw in ["22.11.2026", "2026-13-01", "31/02/2026", 20261122, True]:
        rejects(form, {"deliveryDate": raw}, "deliveryDate", reason)


def test_date_with_time_pattern() -> None:
    form = [FormField(id="at", type="date", date_pattern="dd/MM/yyyy HH:mm")]
    assert validate_submission(form, {"at": "22/11/2026 09:15"}) == {"at": dt.datetime(2026, 11, 22, 9, 15)}
    plain = [FormField(id="at", type="date")]  # Camunda's default pattern: dd/MM/yyyy
    assert validate_submission(plain, {"at": "22/11/2026"}) == {"at": dt.datetime(2026, 11, 22)}
    rejects(plain, {"at": "22.11.2026"}, "at",
            "must be a date (e.g. 2026-11-22 or 2026-11-22T10:00:00Z, or dd/MM/yyyy)")


def test_readonly_refused_when_submitted_and_never_required() -> None:
    form = [FormField(id="ref", type="long", required=True, readonly=True)]
    assert validate_submission(form, {}) == {}
    assert validate_submission(form, {"ref": None, "y": 1}) == {"y": 1}  # a null is no value (Camunda too)
    for raw in ["not even a number", 5, "", False]:  # as Camunda's ReadOnlyValidator: any value is refused
        rejects(form, {"ref": raw, "y": 1}, "ref", "is read-only: a form submission cannot set it")
    with_default = [FormField(id="ref", type="long", readonly=True, default="7")]
    assert validate_submission(with_default, {}) == {"ref": 7}  # not submitted: its default, as in Camunda


def test_extra_variables_pass_through(amount: list[FormField]) -> None:
    extra = object()
    result = validate_submission(amount, {"amount": 5, "note": "12", "blob": extra, "n": None})
    assert result == {"amount": 5, "note": "12", "blob": extra, "n": None}
    assert result["blob"] is extra
    assert validate_submission([], {"a": "1"}) == {"a": "1"}


def test_an_optional_field_not_submitted_takes_its_default_as_in_camunda() -> None:
    form = [FormField(id="purchases", type="long", default="0"), FormField(id="note", type="string"),
            FormField(id="when", type="long", default="${now}")]
    assert validate_submission(form, {"note": "hi"}) == {"note": "hi", "purchases": 0}
    assert validate_submission(form, {"purchases": "3"}) == {"purchases": 3}
    assert validate_submission(form, {}, partial=True) == {}


def test_every_wrong_field_is_reported_at_once(fields: list[FormField]) -> None:
    """The first problem is the error raised; its `problems` name every wrong field, in form order, so that a form
    marks them all in one round."""
    wrong = {f.id: "x" * 300 for f in fields if f.type == "string"}
    wrong.update({f.id: "not a number" for f in fields if f.type == "long"})
    with pytest.raises(InvalidVariables) as raised:
        validate_submission(fields, wrong)
    problems = raised.value.problems
    assert len(problems) >= 2 and problems[0] == (raised.value.field, raised.value.reason)
    assert [field for field, _ in problems] == [f.id for f in fields if f.id in {p for p, _ in problems}]

"""Hardened XML parsing: valid BPMN/DMN parses, hostile or broken input is refused with file and line."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from lxml import etree

from engine.errors import DefinitionError
from engine.xmlsafe import BPMN_MODEL_NS, element_line, is_dmn, parse_xml

BPMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<!-- made by hand -->
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="defs">
  <?some-pi data?>
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start" />
  </bpmn:process>
</bpmn:definitions>
"""

DMN13 = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="D" namespace="x">
  <decision id="dec" name="Dec" />
</definitions>
"""


def refused(data: bytes, filename: str = "hostile.bpmn", **kw: object) -> DefinitionError:
    with pytest.raises(DefinitionError) as info:
        parse_xml(data, filename, **kw)
    err = info.value
    assert err.file == filename
    assert filename in str(err)
    return err


# ----------------------------------------------------------------------------------------------- valid


def test_valid_bpmn_parses() -> None:
    tree = parse_xml(BPMN, "ok.bpmn")
    assert isinstance(tree, etree._ElementTree)
    root = tree.getroot()
    assert root.tag == f"{{{BPMN_MODEL_NS}}}definitions"
    start = root.find(f".//{{{BPMN_MODEL_NS}}}startEvent")
    assert start is not None and start.get("id") == "start"
    assert element_line(start) == 6
    assert not is_dmn(tree)
    # comments are kept, processing instructions are dropped
    assert any(isinstance(n, etree._Comment) for n in root.itersiblings(preceding=True))
    assert not list(root.iter(etree.ProcessingInstruction))


@pytest.mark.parametrize(
    "ns",
    [
        "https://www.omg.org/spec/DMN/20191111/MODEL/",
        "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
        "http://www.omg.org/spec/DMN/20180521/MODEL/",
        "https://www.omg.org/spec/DMN/20230324/MODEL/",
    ],
)
def test_valid_dmn_parses(ns: str) -> None:
    data = DMN13.replace(b"https://www.omg.org/spec/DMN/20191111/MODEL/", ns.encode())
    tree = parse_xml(data, "ok.dmn")
    assert is_dmn(tree)
    assert is_dmn(tree.getroot())


def test_bytearray_and_utf8_bom_accepted() -> None:
    assert parse_xml(bytearray(b"\xef\xbb\xbf" + BPMN), "bom.bpmn").getroot() is not None


def test_utf16_document_parses() -> None:
    data = BPMN.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    assert parse_xml(data, "u16.bpmn").getroot().get("id") == "defs"


def test_str_is_rejected() -> None:
    with pytest.raises(TypeError):
        parse_xml(BPMN.decode(), "x.bpmn")  # type: ignore[arg-type]


def test_parallel_parses() -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(50):
                parse_xml(BPMN, "ok.bpmn")
                with pytest.raises(DefinitionError):
                    parse_xml(b"<a>\n<b></a>", "bad.bpmn")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


# ----------------------------------------------------------------------------------------------- hostile


def test_xxe_refused_and_not_leaked(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-4711")
    data = (
        b'<?xml version="1.0"?>\n'
        b"<!DOCTYPE bpmn:definitions [\n"
        b'  <!ENTITY xxe SYSTEM "' + secret.as_uri().encode() + b'">\n'
        b"]>\n"
        b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">'
        b"<bpmn:documentation>&xxe;</bpmn:documentation></bpmn:definitions>\n"
    )
    err = refused(data, "xxe.bpmn")
    assert "DOCTYPE and entity declarations are not allowed" in str(err)
    assert err.line == 2
    assert "xxe.bpmn:2" in str(err)
    assert "TOP-SECRET-4711" not in str(err)
    assert "TOP-SECRET-4711" not in repr(err.to_json())


def test_parameter_entity_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-4711")
    data = (
        b'<!DOCTYPE d [<!ENTITY % p SYSTEM "' + secret.as_uri().encode() + b'"> %p;]>\n'
        b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"/>'
    )
    err = refused(data)
    assert err.line == 1
    assert "TOP-SECRET-4711" not in str(err)


def test_billion_laughs_refused() -> None:
    lol = [b'<!ENTITY lol0 "lol">']
    for i in range(1, 10):
        lol.append(b'<!ENTITY lol%d "' % i + (b"&lol%d;" % (i - 1)) * 10 + b'">')
    data = (
        b'<?xml version="1.0"?>\n<!-- a comment first -->\n<!DOCTYPE lolz [\n' + b"\n".join(lol) + b"\n]>\n"
        b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&lol9;'
        b"</bpmn:definitions>"
    )
    err = refused(data, "lolz.bpmn")
    assert "DOCTYPE and entity declarations are not allowed" in err.reason
    assert err.line == 3


def test_external_dtd_refused() -> None:
    data = (
        b'<?xml version="1.0"?>\n\n<!DOCTYPE bpmn:definitions SYSTEM "http://127.0.0.1:9/x.dtd">\n'
        b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"/>'
    )
    err = refused(data)
    assert err.line == 3
    assert "not allowed" in err.reason


def test_plain_doctype_refused() -> None:
    data = b'<!DOCTYPE x>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"/>'
    assert refused(data).line == 1


def test_doctype_in_utf16_refused() -> None:
    text = (
        '<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE d [<!ENTITY x "y">]>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">&x;</bpmn:definitions>'
    )
    for data in (text.encode("utf-16"), text.encode("utf-16-le"), text.encode("utf-16-be")):
        err = refused(data)
        assert err.line == 2
        assert "not allowed" in err.reason


def test_doctype_text_inside_cdata_is_fine() -> None:
    data = BPMN.replace(
        b'<bpmn:startEvent id="start" />',
        b'<bpmn:scriptTask id="s"><bpmn:script><![CDATA[html = "<!DOCTYPE html>"]]></bpmn:script>'
        b"</bpmn:scriptTask>",
    )
    tree = parse_xml(data, "cdata.bpmn")
    script = tree.getroot().find(f".//{{{BPMN_MODEL_NS}}}script")
    assert script is not None and script.text == 'html = "<!DOCTYPE html>"'


def test_undeclared_entity_is_malformed() -> None:
    data = b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">\n&xxe;\n</bpmn:definitions>'
    err = refused(data)
    assert err.line == 2
    assert "malformed XML" in err.reason and "xxe" in err.reason


# ----------------------------------------------------------------------------------------------- broken


def test_malformed_xml_names_line() -> None:
    data = BPMN.replace(b'<bpmn:startEvent id="start" />', b'<bpmn:startEvent id="start">')
    err = refused(data, "broken.bpmn")
    assert err.line == 7
    assert "broken.bpmn:7" in str(err)
    assert err.reason.startswith("malformed XML:")
    assert "mismatch" in err.reason


def test_too_large_refused_before_parsing() -> None:
    err = refused(BPMN, "big.bpmn", max_bytes=100)
    assert "100 bytes" in err.reason
    assert "limit" in err.reason
    assert err.line is None
    # the default limit is 10 MiB
    err = refused(b" " * (10 * 1024 * 1024 + 1), "huge.bpmn")
    assert "10485760" in err.reason


def test_empty_file_refused() -> None:
    for data in (b"", b"  \n\t"):
        err = refused(data, "empty.bpmn")
        assert err.reason == "file is empty"
        assert err.line == 1
        assert "empty.bpmn:1" in str(err)


def test_wrong_root_refused() -> None:
    err = refused(b'<?xml version="1.0"?>\n\n<html xmlns="http://www.w3.org/1999/xhtml"/>', "page.bpmn")
    assert "not a BPMN or DMN document" in err.reason
    assert "{http://www.w3.org/1999/xhtml}html" in err.reason
    assert err.line == 3


def test_bpmn_namespace_but_wrong_element_refused() -> None:
    err = refused(b'<bpmn:process xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="p"/>')
    assert "root element" in err.reason
    assert err.line == 1


def test_definitions_without_namespace_refused() -> None:
    err = refused(b"<definitions/>")
    assert "root element 'definitions'" in err.reason
    assert "hostile.bpmn:1" in str(err)


def test_element_line() -> None:
    assert element_line(None) is None
    assert element_line(etree.Element("x")) is None


def test_a_file_of_too_many_elements_is_refused_before_it_is_read() -> None:
    # 300,000 empty tasks in 7 MB took 40 s to deploy, holding a server's worker (found by a security trial)
    tasks = b"".join(b'<bpmn:task id="t%d"/>' % i for i in range(100_001))
    content = BPMN.replace(b"</bpmn:definitions>", b'<bpmn:process id="many">' + tasks + b"</bpmn:process></bpmn:definitions>")
    with pytest.raises(DefinitionError, match=r"too many elements \(100\d{3}; at most 100000\)") as err:
        parse_xml(content, "many.bpmn")
    assert err.value.file == "many.bpmn"

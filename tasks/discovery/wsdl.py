"""WSDL 1.1 (SOAP 1.1 and 1.2) -> endpoints: every operation of every SOAP binding becomes
a POST to the port's address, with an envelope built from the message schema and the
SOAPAction header (SOAP 1.1) or the `action` parameter of the content type (SOAP 1.2).

XML is parsed with defusedxml with DTDs forbidden outright: no entity expansion (billion
laughs), no external entities, no network access while parsing. Document/literal and
RPC styles are supported; `xsd:import`/`wsdl:import` of other documents is not followed
(a warning names it). Sample values come from the XSD type, its enumeration or default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape, quoteattr

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from tasks.discovery.model import DiscoveredEndpoint, Discovery, LoaderError, check_size
from tasks.discovery.xsd_samples import SAMPLES

WSDL = "http://schemas.xmlsoap.org/wsdl/"
SOAP11 = "http://schemas.xmlsoap.org/wsdl/soap/"
SOAP12 = "http://schemas.xmlsoap.org/wsdl/soap12/"
XSD = "http://www.w3.org/2001/XMLSchema"
ENVELOPE = {SOAP11: "http://schemas.xmlsoap.org/soap/envelope/", SOAP12: "http://www.w3.org/2003/05/soap-envelope"}
MAX_DEPTH = 6  # nested complex types are sampled this deep; deeper (and recursive) ones are left empty
MAX_OCCURS_SAMPLED = 1


def _q(ns: str, local: str) -> str:
    return f"{{{ns}}}{local}"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _resolve_qname(value: str, node: Element, nsmap: dict[str, str], default_ns: str | None) -> tuple[str | None, str]:
    """`tns:Name` -> (namespace, 'Name') using the document's prefixes."""
    prefix, _, local = value.rpartition(":")
    if prefix:
        return nsmap.get(prefix), local
    return default_ns, local


@dataclass
class _Schema:
    """The XSD declarations of all inline schemas, by (namespace, name)."""

    elements: dict[tuple[str | None, str], tuple[Element, str | None, bool]] = field(default_factory=dict)
    types: dict[tuple[str | None, str], tuple[Element, str | None, bool]] = field(default_factory=dict)


class _Loader:
    def __init__(self, root: Element, source: str, nsmap: dict[str, str]) -> None:
        self.root, self.source, self.nsmap = root, source, nsmap
        self.tns = root.get("targetNamespace")
        self.warnings: list[str] = []
        self.schema = _Schema()
        self.qualified: dict[str | None, bool] = {}
        for types in root.findall(_q(WSDL, "types")):
            for schema in types.findall(_q(XSD, "schema")):
                ns = schema.get("targetNamespace")
                qualified = schema.get("elementFormDefault") == "qualified"
                self.qualified[ns] = qualified
                for child in schema:
                    name = child.get("name")
                    if not name:
                        if _local(child.tag) in ("import", "include") and child.get("schemaLocation"):
                            self.warnings.append(
                                f"schema {_local(child.tag)} of {child.get('schemaLocation')} is not followed; "
                                "types from it get empty sample values"
                            )
                        continue
                    if child.tag == _q(XSD, "element"):
                        self.schema.elements[(ns, name)] = (child, ns, qualified)
                    elif child.tag in (_q(XSD, "complexType"), _q(XSD, "simpleType")):
                        self.schema.types[(ns, name)] = (child, ns, qualified)
        for imported in root.findall(_q(WSDL, "import")):
            self.warnings.append(f"wsdl:import of {imported.get('location')} is not followed")

    def fail(self, message: str, tip: str = "fix the WSDL; see WSDL 1.1") -> LoaderError:
        return LoaderError("invalid", message, location=self.source, tip=tip)

    def qname(self, value: str | None, what: str) -> tuple[str | None, str]:
        if not value:
            raise self.fail(f"{what} has no name reference")
        return _resolve_qname(value, self.root, self.nsmap, self.tns)

    def by_name(self, tag: str, name: str, what: str) -> Element:
        for node in self.root.findall(_q(WSDL, tag)):
            if node.get("name") == name:
                return node
        raise self.fail(
            f"{what} '{name}' is not defined", tip=f"add the wsdl:{tag} named '{name}' or fix the reference"
        )

    # ---- sample XML from the schema -------------------------------------------------

    def sample_type(self, type_name: str | None, node: Element, depth: int, seen: frozenset[str]) -> str:
        """Content (text or child elements) for a value of this XSD type."""
        if not type_name:
            return "string"
        ns, local = _resolve_qname(type_name, node, self.nsmap, self.tns)
        if ns == XSD:
            return escape(SAMPLES.get(local, "string"))
        found = self.schema.types.get((ns, local))
        if found is None:
            self.warnings.append(f"type {type_name} is not defined inline; sent empty")
            return ""
        key = f"{ns}:{local}"
        if key in seen or depth > MAX_DEPTH:
            return ""
        return self.sample_definition(found[0], found[1], found[2], depth + 1, seen | {key})

    def sample_definition(
        self, definition: Element, ns: str | None, qualified: bool, depth: int, seen: frozenset[str]
    ) -> str:
        if definition.tag == _q(XSD, "simpleType"):
            enum = definition.find(f".//{_q(XSD, 'enumeration')}")
            if enum is not None and enum.get("value") is not None:
                return escape(str(enum.get("value")))
            restriction = definition.find(_q(XSD, "restriction"))
            base = restriction.get("base") if restriction is not None else None
            return self.sample_type(base, definition, depth, seen)
        return "".join(self.particles(definition, ns, qualified, depth, seen))

    def particles(self, node: Element, ns: str | None, qualified: bool, depth: int, seen: frozenset[str]) -> list[str]:
        """Sample XML of a complex type's content model: sequence/all in full, the first
        branch of a choice, an extension's base type first."""
        out: list[str] = []
        for child in node:
            tag = _local(child.tag) if child.tag.startswith(f"{{{XSD}}}") else ""
            if tag == "element":
                out.append(self.sample_element(child, ns, qualified, depth, seen))
            elif tag == "choice":
                out.extend(self.particles(child, ns, qualified, depth, seen)[:1])
            elif tag in ("sequence", "all", "complexContent", "simpleContent"):
                out.extend(self.particles(child, ns, qualified, depth, seen))
            elif tag in ("extension", "restriction") and child.get("base"):
                base_ns, _ = _resolve_qname(str(child.get("base")), child, self.nsmap, self.tns)
                if base_ns != XSD:
                    out.append(self.sample_type(child.get("base"), child, depth, seen))
                out.extend(self.particles(child, ns, qualified, depth, seen))
        return out

    def sample_element(
        self, element: Element, ns: str | None, qualified: bool, depth: int, seen: frozenset[str], top: bool = False
    ) -> str:
        if element.get("ref"):
            ref_ns, ref_local = _resolve_qname(str(element.get("ref")), element, self.nsmap, self.tns)
            found = self.schema.elements.get((ref_ns, ref_local))
            if found is None or depth > MAX_DEPTH:
                return ""
            return self.sample_element(found[0], found[1], found[2], depth + 1, seen, top=True)
        if element.get("minOccurs") == "0" and (depth > 2 or self._recursive(element, seen)):
            return ""  # optional, and deep or recursive: keep the envelope small and valid
        name = element.get("name") or "value"
        tag = f"tns:{name}" if qualified or top else name
        if element.get("type"):
            content = self.sample_type(element.get("type"), element, depth, seen)
        else:
            inline = next((c for c in element if c.tag in (_q(XSD, "complexType"), _q(XSD, "simpleType"))), None)
            content = self.sample_definition(inline, ns, qualified, depth + 1, seen) if inline is not None else ""
        if element.get("fixed") is not None:
            content = escape(str(element.get("fixed")))
        elif element.get("default") is not None:
            content = escape(str(element.get("default")))
        return f"<{tag}>{content}</{tag}>"

    def _recursive(self, element: Element, seen: frozenset[str]) -> bool:
        if not element.get("type"):
            return False
        ns, local = _resolve_qname(str(element.get("type")), element, self.nsmap, self.tns)
        return f"{ns}:{local}" in seen

    # ---- operations -------------------------------------------------------------------

    def body_for(self, message_name: str | None, style: str, operation: str, body_ns: str | None) -> tuple[str, str]:
        """(XML of the SOAP body's content, namespace bound to `tns`)."""
        if not message_name:
            return "", self.tns or ""
        _, local = self.qname(message_name, f"operation {operation}'s input")
        message = self.by_name("message", local, "message")
        if style == "rpc":
            ns = body_ns or self.tns or ""
            parts = "".join(
                f"<{p.get('name')}>{self.sample_type(p.get('type'), p, 0, frozenset())}</{p.get('name')}>"
                for p in message.findall(_q(WSDL, "part"))
            )
            return f"<tns:{operation}>{parts}</tns:{operation}>", ns
        out, namespace = [], self.tns or ""
        for part in message.findall(_q(WSDL, "part")):
            if part.get("element"):
                element_ns, name = self.qname(part.get("element"), f"message {local}'s part")
                found = self.schema.elements.get((element_ns, name))
                if found is None:
                    self.warnings.append(f"operation {operation}: element {part.get('element')} is not defined inline")
                    out.append(f"<tns:{name}/>")
                else:
                    namespace = element_ns or ""
                    out.append(self.sample_element(found[0], found[1], found[2], 0, frozenset(), top=True))
            else:
                out.append(
                    f"<{part.get('name')}>{self.sample_type(part.get('type'), part, 0, frozenset())}</{part.get('name')}>"
                )
        return "".join(out), namespace

    def endpoints(self) -> tuple[str | None, list[DiscoveredEndpoint]]:
        base_url: str | None = None
        found: list[DiscoveredEndpoint] = []
        ports = [
            (service, port)
            for service in self.root.findall(_q(WSDL, "service"))
            for port in service.findall(_q(WSDL, "port"))
        ]
        if not ports:
            raise self.fail("no wsdl:service with a wsdl:port", tip="a WSDL must say where its service listens")
        seen_bindings: set[str] = set()
        seen_port_types: set[str] = set()
        for service, port in ports:
            address = port.find(_q(SOAP11, "address"))
            version = SOAP11
            if address is None:
                address, version = port.find(_q(SOAP12, "address")), SOAP12
            if address is None or not address.get("location"):
                self.warnings.append(f"port {port.get('name')} is not a SOAP port (no soap:address); skipped")
                continue
            location = str(address.get("location"))
            if urlsplit(self.source).scheme in ("http", "https"):
                location = urljoin(self.source, location)
            parts = urlsplit(location)
            base_url = base_url or (f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None)
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            _, binding_name = self.qname(port.get("binding"), f"port {port.get('name')}")
            if binding_name in seen_bindings:
                continue
            seen_bindings.add(binding_name)
            binding = self.by_name("binding", binding_name, "binding")
            if binding.get("type") in seen_port_types:
                self.warnings.append(
                    f"binding {binding_name} offers the operations of {binding.get('type')} again "
                    f"(SOAP {'1.2' if version == SOAP12 else '1.1'}); the first binding's are tested"
                )
                continue
            seen_port_types.add(str(binding.get("type")))
            soap_binding = binding.find(_q(version, "binding"))
            default_style = soap_binding.get("style", "document") if soap_binding is not None else "document"
            _, port_type_name = self.qname(binding.get("type"), f"binding {binding_name}")
            port_type = self.by_name("portType", port_type_name, "portType")
            abstract = {op.get("name"): op for op in port_type.findall(_q(WSDL, "operation"))}
            for op in binding.findall(_q(WSDL, "operation")):
                name = str(op.get("name") or "")
                if name not in abstract:
                    raise self.fail(f"binding operation '{name}' is not in portType '{port_type_name}'")
                where = f"{self.source}#binding={binding_name}/operation={name}"
                group = str(service.get("name") or "soap")[:100]
                found.append(self.operation(op, abstract[name], version, default_style, path, group, where))
        return base_url, found

    def operation(
        self, op: Element, abstract: Element, version: str, default_style: str, path: str, group: str, where: str
    ) -> DiscoveredEndpoint:
        """One binding operation -> a POST of its sample envelope with the SOAP action."""
        name = str(op.get("name") or "")
        soap_op = op.find(_q(version, "operation"))
        action = soap_op.get("soapAction", "") if soap_op is not None else ""
        style = soap_op.get("style", default_style) if soap_op is not None else default_style
        body_el = op.find(f"{_q(WSDL, 'input')}/{_q(version, 'body')}")
        input_el = abstract.find(_q(WSDL, "input"))
        output_el = abstract.find(_q(WSDL, "output"))
        content, ns = self.body_for(
            input_el.get("message") if input_el is not None else None,
            style,
            name,
            body_el.get("namespace") if body_el is not None else None,
        )
        envelope = (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<soap:Envelope xmlns:soap="{ENVELOPE[version]}" xmlns:tns={quoteattr(ns)}>'
            f"<soap:Body>{content}</soap:Body></soap:Envelope>"
        )
        if version == SOAP11:
            headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'}
        else:
            headers = {"Content-Type": f'application/soap+xml; charset=utf-8; action="{action}"'}
        checks: dict[str, Any] = {"status": 200}
        if output_el is not None:
            expected = f"{name}Response" if style == "rpc" else _local_part(self, output_el.get("message"))
            checks["body_contains"] = expected or "Envelope"
        return DiscoveredEndpoint(
            name=name,
            group=group,
            method="POST",
            path=path,
            body=envelope,
            headers=headers,
            checks=checks,
            source=where,
        )


def _local_part(loader: _Loader, message_name: str | None) -> str | None:
    """The element name of an output message's first part: what the response must contain."""
    if not message_name:
        return None
    _, local = loader.qname(message_name, "output")
    try:
        message = loader.by_name("message", local, "message")
    except LoaderError:
        return None
    part = message.find(_q(WSDL, "part"))
    if part is None:
        return None
    ref = part.get("element") or part.get("name")
    return ref.rpartition(":")[2] if ref else None


def _namespaces(document: bytes) -> dict[str, str]:
    """Every prefix declared anywhere in the document (WSDLs declare them on the root)."""
    from io import BytesIO

    nsmap: dict[str, str] = {}
    for _event, (prefix, uri) in SafeET.iterparse(BytesIO(document), events=("start-ns",), forbid_dtd=True):
        nsmap.setdefault(prefix, uri)
    return nsmap


def from_wsdl(document: bytes | str, *, source: str) -> Discovery:
    """A WSDL 1.1 document -> Discovery (raises LoaderError)."""
    check_size(document, source)
    raw = document.encode("utf-8") if isinstance(document, str) else document
    try:
        root = SafeET.fromstring(raw, forbid_dtd=True)
        nsmap = _namespaces(raw)
    except DefusedXmlException as exc:
        raise LoaderError(
            "unsafe",
            f"the XML declares a DTD or entities ({type(exc).__name__})",
            location=source,
            tip="WSDLs need no DTD; remove the <!DOCTYPE> (entity expansion and external entities are refused)",
        ) from None
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise LoaderError(
            "syntax", f"not well-formed XML: {exc}", location=f"{source}:{line}:{column + 1}", tip="fix the XML"
        ) from None
    except (ValueError, LookupError, RecursionError) as exc:  # bad or unknown encodings in the XML declaration
        raise LoaderError(
            "syntax", f"not readable XML: {exc}", location=source, tip='fix the XML (e.g. encoding="utf-8")'
        ) from None
    if root.tag != _q(WSDL, "definitions"):
        if _local(root.tag) == "description":
            raise LoaderError(
                "format", "WSDL 2.0 is not supported", location=source, tip="export the service's WSDL 1.1"
            )
        raise LoaderError(
            "format",
            f"root element is <{_local(root.tag)}>, not a WSDL 1.1 <definitions>",
            location=source,
            tip="pass the service's ?wsdl document",
        )
    loader = _Loader(root, source, nsmap)
    try:
        base_url, endpoints = loader.endpoints()
    except RecursionError:
        raise LoaderError("invalid", "schema nesting is too deep", location=source, tip="simplify the schema") from None
    if not endpoints:
        raise LoaderError("invalid", "no SOAP operations found", location=source, tip="check the WSDL's bindings")
    return Discovery(
        source=source,
        kind="wsdl",
        title=root.get("name") or next((s.get("name") for s in root.findall(_q(WSDL, "service"))), None),
        base_url=base_url,
        endpoints=endpoints,
        warnings=list(dict.fromkeys(loader.warnings)),
    )

"""Sample values for the XSD built-in types, used by the WSDL loader (wsdl.py) when a
schema gives no enumeration or default."""

from __future__ import annotations

SAMPLES: dict[str, str] = {
    "string": "string",
    "normalizedString": "string",
    "token": "token",
    "anyURI": "http://example.com",
    "boolean": "true",
    "int": "1",
    "integer": "1",
    "long": "1",
    "short": "1",
    "byte": "1",
    "unsignedInt": "1",
    "unsignedLong": "1",
    "unsignedShort": "1",
    "unsignedByte": "1",
    "positiveInteger": "1",
    "nonNegativeInteger": "0",
    "negativeInteger": "-1",
    "nonPositiveInteger": "0",
    "decimal": "1.0",
    "float": "1.0",
    "double": "1.0",
    "date": "2024-01-01",
    "dateTime": "2024-01-01T00:00:00Z",
    "time": "00:00:00",
    "duration": "PT1S",
    "base64Binary": "AA==",
    "hexBinary": "00",
    "QName": "xs:string",
}

"""A real SOAP 1.1 service built with spyne, serving its own WSDL at `/?wsdl`.

`python -m tests.servers.soap_service --port P` serves it on 127.0.0.1 with wsgiref.
"""

from __future__ import annotations

import argparse
import logging
from wsgiref.simple_server import WSGIRequestHandler, make_server

from spyne import Application, ComplexModel, Integer, Iterable, ServiceBase, Unicode, rpc
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication


class Address(ComplexModel):
    street = Unicode
    city = Unicode


class Person(ComplexModel):
    name = Unicode
    age = Integer
    address = Address


class Directory(ServiceBase):
    @rpc(Unicode, Integer, _returns=Iterable(Unicode))
    def say_hello(ctx, name, times):  # noqa: N805  (spyne's calling convention)
        for _ in range(min(times or 1, 5)):
            yield f"Hello, {name}"

    @rpc(Person, _returns=Unicode)
    def register(ctx, person):  # noqa: N805
        return f"registered {person.name if person else 'nobody'}"

    @rpc(Integer, Integer, _returns=Integer)
    def add(ctx, a, b):  # noqa: N805
        return (a or 0) + (b or 0)


def application() -> WsgiApplication:
    app = Application(
        [Directory],
        tns="urn:luna:directory",
        name="DirectoryService",
        in_protocol=Soap11(validator="lxml"),
        out_protocol=Soap11(),
    )
    return WsgiApplication(app)


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    server = make_server("127.0.0.1", args.port, application(), handler_class=_Quiet)
    server.serve_forever()


if __name__ == "__main__":
    main()

"""``luna discover``: specs, recordings or a live URL -> an endpoints file (plain functions,
no Prefect: the same steps as the `discover` flow, instantly)."""

from __future__ import annotations

import argparse

from app import operations


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    disc = sub.add_parser(
        "discover", help="OpenAPI/Swagger, Postman, HAR, WSDL, GraphQL or a live URL -> an endpoints file"
    )
    disc.add_argument("sources", nargs="+", help="files, document URLs, or a service base URL to probe")
    disc.add_argument("--out", default="k6/config/endpoints.json", help="endpoints file to write")
    disc.add_argument("--service", default="My API", help="service name")
    disc.add_argument(
        "--include-destructive", action="store_true", help="write destructive operations unmarked (load runs run them)"
    )
    disc.add_argument(
        "--target",
        help="URL of the service under test, recorded in the file (default: the source URL's origin, or BASE_URL)",
    )
    disc.add_argument("--postman-env", help="Postman environment file")
    disc.add_argument("--force", action="store_true", help="overwrite the output file")
    disc.set_defaults(handler=discover)


def discover(args: argparse.Namespace) -> int:
    found = operations.discover(
        args.sources,
        out=args.out,
        service=args.service,
        include_destructive=args.include_destructive,
        overwrite=args.force,
        postman_environment=args.postman_env,
        target=args.target,
    )
    catalog = found.catalog
    assert catalog is not None  # asked for with `out`
    for d in found.found:
        print(
            f"{d.source}: {d.kind}, {len(d.endpoints)} endpoints" + (f", base URL {d.base_url}" if d.base_url else "")
        )
        for warning in d.warnings:
            print(f"  warning: {warning}")
    marked = len(catalog.destructive())
    if marked:
        print(
            f"marked {marked} destructive operations: load runs leave them out unless --include-destructive "
            "(or write them unmarked: luna discover --include-destructive)"
        )
    if catalog.discovery is not None and not catalog.discovery.api_found:
        print(f"warning: {catalog.discovery.warnings[0]}")
    print(
        f"wrote {len(catalog.endpoints)} endpoints to {args.out}"
        + (f" (target {catalog.target})" if catalog.target else " (no target recorded: pass --target URL)")
    )
    return 0

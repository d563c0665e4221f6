"""Pre-checks of the application layer: input that Prefect would only refuse inside a flow
(with a Prefect traceback first) is refused here, in one line, before any flow starts and
before any request is sent.

- a load run's k6 and script are checked by prepare_run itself (tasks/execution/k6_check.py),
  so deployments and the UI check them too; test-service discovers its endpoints inside the
  flow, so its k6, script and load settings are checked here against a one-endpoint file;
- a named ``--auth-block`` exists on the Prefect server.

Settings themselves (URLs, durations) are validated by :mod:`luna.settings`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import ValidationError

from luna.errors import ConfigError
from luna.settings import load_settings

if TYPE_CHECKING:
    from tasks.execution.plan import LoadTestParams


def check_k6_for_pipeline(params: LoadTestParams) -> None:
    """test-service's k6, script and load settings (tasks/execution/k6_check.py; the flow
    checks them again first thing, for deployment and UI runs)."""
    from tasks.execution.k6_check import check_k6_for_params

    check_k6_for_params(params, load_settings())


def check_auth_block(name: str | None) -> None:
    """A named 'Luna Service Auth' block must exist (Prefect must be set up already)."""
    if name is None:
        return
    from tasks.execution.tasks import run_settings

    run_settings(name)  # raises ConfigError naming the block when it is not found


def field_error(exc: ValidationError, flag: Callable[[str], str] = str, tip: str | None = None) -> ConfigError:
    """A parameter ValidationError as one ConfigError naming the field (as the front end spells it)."""
    err = exc.errors()[0]
    where = flag(str(err["loc"][0])) if err["loc"] else "parameters"
    return ConfigError(f"{where}: {err['msg'].removeprefix('Value error, ')}", tip=tip)

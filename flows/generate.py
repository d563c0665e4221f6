"""Flow `generate`: an endpoints file, a spec or a live URL -> test suites in suites/<service>/."""

from prefect import flow

from luna.settings import load_settings
from tasks.generation.suites import GenerateParams
from tasks.generation.tasks import generate_suites
from tasks.generation.write import GeneratedSuite

DEFAULTS = GenerateParams(url="http://127.0.0.1:8787")


@flow(name="generate", log_prints=True)
def generate(params: GenerateParams = DEFAULTS) -> GeneratedSuite:
    """Generate the pytest API suite, the Playwright UI suite, the standalone k6 script and
    the Lighthouse config of one service. Regenerating keeps custom sections and
    test_*_custom.py files; the result names the folder and what changed."""
    return generate_suites(params, load_settings())

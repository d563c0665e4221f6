"""Visual QA: tester personas (data, `personas.yaml`) that look at screenshots through
Claude, plus deterministic probes that need no API key.

Modules: `personas` (the persona file and the viewports), `model` (typed results),
`capture` (Playwright: one page load per viewport, screenshots and probes), `probes` (the
in-page checks and axe-core), `ai` (the Anthropic Messages call per persona), `pricing`
(token cost), `report` (markdown), `run` (`run_visual_qa`, the run folders), `tasks`
(the Prefect tasks the `visual_qa` flow composes).
"""

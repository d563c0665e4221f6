"""Lighthouse audits: runner, budgets judged like SLOs, InfluxDB points, reports.

Modules: `model` (typed results), `budgets` (thresholds and their evaluation),
`browser` (where Chromium and Lighthouse are), `lighthouse` (one audit and several with
bounded concurrency), `points` (InfluxDB line protocol), `report` (markdown and table
rows), `tasks` (the Prefect tasks the `lighthouse_audit` flow composes).
"""

"""The signed-webhook gateway: CI and deploy webhooks in, Prefect events out.

Prefect's own webhooks exist only in Prefect Cloud. This small ASGI app (``luna webhook
serve``) accepts POSTs from GitHub, GitLab and any sender that signs Luna's generic
scheme, verifies them, rejects replays and oversized bodies, and turns each accepted
delivery into a Prefect event (``luna.webhook.<source>.<kind>``). Deployment triggers in
``prefect.yaml`` turn those events into flow runs.

Modules: ``settings`` (LUNA_WEBHOOK_* variables), ``verify`` (signatures, replay cache),
``events`` (payload -> event mapping, plain functions), ``emit`` (delivery to Prefect),
``app`` (the FastAPI app). docs/WEBHOOKS.md is the user's guide.
"""

"""Luna's local server process (`luna up`): the Prefect server and the results folder over HTTP."""

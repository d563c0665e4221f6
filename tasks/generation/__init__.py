"""Generation stage: endpoints (endpoints file, discovery) -> test suites in suites/<service>/."""

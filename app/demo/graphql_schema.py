"""GraphQL part of the Luna demo API.

The schema is written in SDL, built once with graphql-core's ``build_schema`` and
wired to plain resolver functions.  Parsed and validated documents are cached
per query string, so a load test that sends the same query over and over only
pays for execution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLResolveInfo,
    GraphQLSchema,
    build_schema,
    execute_sync,
    parse,
    validate,
)

__all__ = ["SDL", "AgentStore", "execute_graphql", "get_schema"]

SDL = """
type Agent {
  id: ID!
  name: String!
  status: String!
}

type Query {
  "Agents in creation order, at most `limit` of them."
  agents(limit: Int = 10): [Agent!]!
  "One agent by id, or null."
  agent(id: ID!): Agent
  "Always fails, so clients can observe GraphQL errors."
  boom: String
}

type Mutation {
  "Create an agent (status 'online')."
  createAgent(name: String!): Agent!
}
"""

MAX_AGENTS = 1000
SEED_AGENTS = 12
DEFAULT_LIMIT = 10
_STATUSES = ("online", "busy", "offline")

Agent = dict[str, str]


@dataclass
class AgentStore:
    """In-memory, bounded agent storage (oldest agents are dropped first)."""

    agents: dict[str, Agent] = field(default_factory=dict)
    next_id: int = 1

    @classmethod
    def seeded(cls, count: int = SEED_AGENTS) -> AgentStore:
        store = cls()
        for i in range(count):
            store.create(f"agent-{i + 1}", _STATUSES[i % len(_STATUSES)])
        return store

    def create(self, name: str, status: str = "online") -> Agent:
        agent_id = str(self.next_id)
        self.next_id += 1
        agent: Agent = {"id": agent_id, "name": name, "status": status}
        self.agents[agent_id] = agent
        while len(self.agents) > MAX_AGENTS:
            del self.agents[next(iter(self.agents))]
        return agent

    def take(self, limit: int) -> list[Agent]:
        if limit <= 0:
            return []
        out: list[Agent] = []
        for agent in self.agents.values():
            if len(out) >= limit:
                break
            out.append(agent)
        return out

    def get(self, agent_id: str) -> Agent | None:
        return self.agents.get(agent_id)


def _store(info: GraphQLResolveInfo) -> AgentStore:
    store = info.context
    if not isinstance(store, AgentStore):  # pragma: no cover - wiring error
        raise TypeError("GraphQL context must be an AgentStore")
    return store


def _resolve_agents(_root: Any, info: GraphQLResolveInfo, limit: int | None = DEFAULT_LIMIT) -> list[Agent]:
    return _store(info).take(DEFAULT_LIMIT if limit is None else limit)


def _resolve_agent(_root: Any, info: GraphQLResolveInfo, id: str) -> Agent | None:  # noqa: A002 - GraphQL arg name
    return _store(info).get(id)


def _resolve_boom(_root: Any, _info: GraphQLResolveInfo) -> str:
    raise RuntimeError("boom: this field always fails")


def _resolve_create_agent(_root: Any, info: GraphQLResolveInfo, name: str) -> Agent:
    name = name.strip()
    if not name:
        raise GraphQLError("name must not be empty")
    return _store(info).create(name[:100])


def _build() -> GraphQLSchema:
    schema = build_schema(SDL)
    query = schema.query_type
    mutation = schema.mutation_type
    assert query is not None and mutation is not None
    query.fields["agents"].resolve = _resolve_agents
    query.fields["agent"].resolve = _resolve_agent
    query.fields["boom"].resolve = _resolve_boom
    mutation.fields["createAgent"].resolve = _resolve_create_agent
    return schema


_SCHEMA = _build()


def get_schema() -> GraphQLSchema:
    """The executable demo schema (built once at import)."""
    return _SCHEMA


@lru_cache(maxsize=512)
def _prepare(query: str) -> DocumentNode | tuple[GraphQLError, ...]:
    """Parse and validate a query once; returns the document or the request errors."""
    try:
        document = parse(query)
    except GraphQLError as exc:
        return (exc,)
    errors = validate(_SCHEMA, document)
    if errors:
        return tuple(errors)
    return document


def execute_graphql(
    store: AgentStore,
    query: str,
    variables: dict[str, Any] | None = None,
    operation_name: str | None = None,
) -> dict[str, Any]:
    """Run one GraphQL request and return the response body.

    Parse/validation failures give ``{"errors": [...]}`` (no ``data``, as the
    GraphQL spec requires); otherwise ``{"data": ...}`` plus ``errors`` only
    when some field failed.
    """
    prepared = _prepare(query)
    if isinstance(prepared, tuple):
        return {"errors": [error.formatted for error in prepared]}
    result = execute_sync(
        _SCHEMA,
        prepared,
        context_value=store,
        variable_values=variables,
        operation_name=operation_name,
    )
    return dict(result.formatted)

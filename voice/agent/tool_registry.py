"""Tools the model may call: declared once (name, description, JSON schema), run inline.

Every tool receives a `ToolScope` built from the call record, never by the model: the caller's
verified phone number and customer id come from Twilio, so no argument the model invents can
reach another customer's data. A tool returns data for the model, and may return an outcome
(`CallOutcome`) and an intent (end the call, transfer it) for the call record.
"""

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from crm.models import CallOutcome
from voice.agent.caller_data import RESULT_LIMIT, clean_value
from voice.call_record import CallIntent, ToolScope

logger = logging.getLogger(__name__)


class ToolError(Exception):
    """A tool refused its arguments; the message is short and fit to be spoken or acted on. `needs` names
    what the caller must give first ("confirmation", "verification"), for a model that reads codes."""

    def __init__(self, message: str, needs: str | None = None, outcome: CallOutcome | None = None,
                 for_caller: bool = False) -> None:
        super().__init__(message)
        self.needs = needs
        self.outcome = outcome  # what the refusal means for the call ("booking attempt failed"), if anything
        self.for_caller = for_caller  # worded for the caller ("that time was just taken"), not advice to the model


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool did: `data` for the model, and what it means for the call."""

    data: dict[str, Any] = field(default_factory=dict)
    outcome: CallOutcome | None = None
    intent: CallIntent | None = None


@dataclass(frozen=True, slots=True)
class ToolRun:
    """One finished tool call: the JSON text the model reads, and the result's outcome and intent."""

    content: str
    outcome: CallOutcome | None = None
    intent: CallIntent | None = None


ToolFunc = Callable[[ToolScope, dict[str, Any]], Awaitable[ToolResult]]


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    func: ToolFunc
    filler: str | None = None  # said while a slow tool runs ("Let me check the calendar.")
    writes: bool = False  # changes shop data: once started, it is finished, whatever the caller does

    def schema(self) -> dict[str, Any]:
        """The OpenAI function-calling declaration of this tool."""
        return {"type": "function",
                "function": {"name": self.name, "description": self.description, "parameters": self.parameters}}


class ToolRegistry:
    """A named set of tools; `run` never raises, it returns a JSON result the model can read."""

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}

    def register(self, name: str, description: str, parameters: dict[str, Any] | None = None,
                 filler: str | None = None, writes: bool = False) -> Callable[[ToolFunc], ToolFunc]:
        """Decorator: add `func` as a tool."""

        def decorate(func: ToolFunc) -> ToolFunc:
            schema = parameters or {"type": "object", "properties": {}, "additionalProperties": False}
            self._tools[name] = Tool(name, description, schema, func, filler, writes)
            return func

        return decorate

    def __contains__(self, name: str) -> bool:
        return name in self._tools

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def fillers(self) -> frozenset[str]:
        """What the tools say while they run: fixed phrases, worth rendering before the first call."""
        return frozenset(tool.filler for tool in self._tools.values() if tool.filler)

    def schemas(self) -> list[dict[str, Any]]:
        return [tool.schema() for tool in self._tools.values()]

    async def run(self, name: str, arguments: str, scope: ToolScope) -> ToolRun:
        """Run tool `name` with the model's JSON `arguments`; the result (or a short error) as JSON."""
        tool = self._tools.get(name)
        if tool is None:
            return _error(f"There is no tool called {name}.")
        try:
            args = json.loads(arguments or "{}")
            if not isinstance(args, dict):
                raise ValueError("arguments must be an object")
        except ValueError:
            return _error("The arguments were not valid JSON; please try again.")
        try:
            result = await tool.func(scope, args)
        except ToolError as exc:
            error = _error(str(exc), exc.needs, tell_caller=exc.for_caller)
            return ToolRun(error.content, outcome=exc.outcome)
        except Exception:
            logger.exception("tool %s failed", name)
            return _error("That did not work on our side. Offer to transfer the caller to staff.")
        data = clean_value(json.loads(json.dumps(result.data, default=str)), RESULT_LIMIT)  # records are data
        return ToolRun(json.dumps(data), outcome=result.outcome, intent=result.intent)


def _error(message: str, needs: str | None = None, tell_caller: bool = False) -> ToolRun:
    return ToolRun(json.dumps({"error": message, **({"needs": needs} if needs else {}),
                               **({"tell_caller": message} if tell_caller else {})}))

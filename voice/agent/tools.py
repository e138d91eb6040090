"""Tools the model may call: declared once (name, description, JSON schema), run inline.

Every tool receives a `ToolContext` built by the call session, never by the model: the caller's
verified phone number and customer id come from Twilio, so no argument the model invents can
reach another customer's data.
"""

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class ToolContext:
    """What a tool may know about the call it runs in."""

    call_sid: str
    caller_phone: str | None
    customer_id: int | None = None
    direction: str = "inbound"
    collected: dict[str, Any] = field(default_factory=dict)  # details gathered during the call
    outcome: str | None = None  # set by tools that change things ("booked", "transferred", ...)
    end_call: bool = False  # set by end_call / transfer: hang up after the current reply
    transfer: bool = False  # set by transfer_to_human: hand the call to the front desk


class ToolError(Exception):
    """A tool refused its arguments; the message is short and fit to be spoken or acted on."""


ToolFunc = Callable[[ToolContext, dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    func: ToolFunc
    filler: str | None = None  # said while a slow tool runs ("Let me check the calendar.")

    def schema(self) -> dict[str, Any]:
        """The OpenAI function-calling declaration of this tool."""
        return {"type": "function",
                "function": {"name": self.name, "description": self.description, "parameters": self.parameters}}


class ToolRegistry:
    """A named set of tools; `run` never raises, it returns a JSON result the model can read."""

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}

    def register(self, name: str, description: str, parameters: dict[str, Any] | None = None,
                 filler: str | None = None) -> Callable[[ToolFunc], ToolFunc]:
        """Decorator: add `func` as a tool."""

        def decorate(func: ToolFunc) -> ToolFunc:
            schema = parameters or {"type": "object", "properties": {}, "additionalProperties": False}
            self._tools[name] = Tool(name, description, schema, func, filler)
            return func

        return decorate

    def __contains__(self, name: str) -> bool:
        return name in self._tools

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def schemas(self) -> list[dict[str, Any]]:
        return [tool.schema() for tool in self._tools.values()]

    async def run(self, name: str, arguments: str, context: ToolContext) -> str:
        """Run tool `name` with the model's JSON `arguments`; the result (or a short error) as JSON."""
        tool = self._tools.get(name)
        if tool is None:
            return json.dumps({"error": f"There is no tool called {name}."})
        try:
            args = json.loads(arguments or "{}")
            if not isinstance(args, dict):
                raise ValueError("arguments must be an object")
        except ValueError:
            return json.dumps({"error": "The arguments were not valid JSON; please try again."})
        try:
            result = await tool.func(context, args)
        except ToolError as exc:
            return json.dumps({"error": str(exc)})
        except Exception:
            logger.exception("tool %s failed", name)
            return json.dumps({"error": "That did not work on our side. Offer to transfer the caller to staff."})
        return json.dumps(result, default=str)

"""The shop's one tool registry: `shop_tools` (the shop, the caller's record and cars) and
`appointment_tools` (the calendar and bookings) each add their tools to it."""

from voice.agent.tool_registry import ToolRegistry

registry = ToolRegistry()

"""The tools the phone agent has. Issue "the agent books" adds the shop's own."""

from datetime import datetime
from typing import Any

from django.utils import timezone

from scheduling.shop import shop_timezone
from voice.agent.tools import ToolContext, ToolRegistry

registry = ToolRegistry()


@registry.register(
    "get_current_time",
    "The current date and time at the shop. Use it before talking about today, tomorrow or a weekday.",
)
async def get_current_time(context: ToolContext, args: dict[str, Any]) -> dict[str, str]:
    now: datetime = timezone.now().astimezone(shop_timezone())
    return {"date": now.date().isoformat(), "weekday": now.strftime("%A"), "time": now.strftime("%H:%M"),
            "timezone": str(now.tzinfo)}

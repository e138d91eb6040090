"""`manage.py talk`: a text conversation with the agent in the terminal (type as the caller),
using the configured brain and the real tools and database."""

import argparse
import asyncio
import sys
import uuid
from typing import Any, TextIO

from asgiref.sync import sync_to_async
from django.core.management.base import BaseCommand, CommandError

from crm.phones import normalize_phone
from crm.selectors import acustomer_get_by_phone
from crm.services import callback_request_create
from voice import call_script as script
from voice import fallback
from voice.agent.deadlines import ModelTimings
from voice.agent.shop_tools import registry
from voice.agent.turn import model_reply
from voice.call_record import CallIdentity, CallRecord
from voice.providers.factory import make_chat


class Command(BaseCommand):
    help = "Talk to the phone agent by typing. Each line you type is what the caller says; Ctrl-D ends."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--from", dest="caller", default="+15550100001",
                            help="The caller's phone number (the agent acts for this number's records).")
        parser.add_argument("--script", dest="stdin", type=argparse.FileType("r"), default=None,
                            help="Read the caller's lines from this file instead of the terminal.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            caller = normalize_phone(options["caller"])
        except Exception as exc:
            raise CommandError(f"--from: {exc}") from exc
        asyncio.run(self._talk(caller, options.get("stdin") or sys.stdin))

    async def _talk(self, caller: str, stdin: TextIO) -> None:
        chat = make_chat()
        customer = await acustomer_get_by_phone(caller)
        record = CallRecord.new(CallIdentity(call_sid=f"TALK{uuid.uuid4().hex}", caller=caller, customer=customer))
        greeting = script.greeting(record.identity)
        record.history.append({"role": "assistant", "content": greeting})
        self.stdout.write(f"Agent: {greeting}")

        async def filler(text: str) -> None:
            self.stdout.write(f"Agent: {text}")

        while not record.ended:
            self.stdout.write("You: ", ending="")
            self.stdout.flush()
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                break
            said = line.strip()
            if not said:
                continue
            record.history.append({"role": "user", "content": said})
            scripted = fallback.answer(record, said)  # an offer's answer, or a model given up on (as on a call)
            if scripted is not None:
                reply = scripted.text
                if scripted.message is not None:
                    await sync_to_async(callback_request_create)(call_sid=record.call_sid, phone=caller,
                                                                 message=scripted.message,
                                                                 customer_id=record.facts.customer_id)
            else:
                reply = "".join([delta async for delta in model_reply(
                    chat=chat, tools=registry, record=record, apology=lambda: fallback.offer(record),
                    on_filler=filler, timings=ModelTimings.from_settings(), filler=script.FILLER)])
            record.history.append({"role": "assistant", "content": reply})
            self.stdout.write(f"Agent: {reply}")
        if record.transfer:
            self.stdout.write("(the call would now be transferred to the front desk)")
        elif record.outcome == "callback":
            self.stdout.write("(a callback request is waiting in admin)")

"""`manage.py create_demo_staff`: a service-advisor login for the local demo (never in production)."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

DEMO_USERNAME = "advisor"
DEMO_PASSWORD = "bart-demo-2026"  # noqa: S105 - documented local demo login, refused when DEBUG is off
ADVISOR_GROUP = "advisor"  # made by crm/migrations/0004_advisor_group.py


class Command(BaseCommand):
    help = ("Create the documented demo staff login (advisor / bart-demo-2026) if it does not exist: staff in "
            "the advisor group, not a superuser. DEBUG only.")

    def handle(self, *args: object, **options: object) -> None:
        if not settings.DEBUG:
            raise CommandError("The demo login is for local use only; create real staff with createsuperuser.")
        group = Group.objects.filter(name=ADVISOR_GROUP).first()
        if group is None:
            raise CommandError(f"The {ADVISOR_GROUP!r} group is missing: run `manage.py migrate` first.")
        user_model = get_user_model()
        user = user_model.objects.filter(username=DEMO_USERNAME).first()
        existed = user is not None
        if user is None:
            user = user_model.objects.create_user(DEMO_USERNAME, "advisor@example.com", DEMO_PASSWORD)
        # An older demo database made this login a superuser: it is brought down to an advisor's rights.
        user.is_staff, user.is_superuser = True, False
        user.save(update_fields=["is_staff", "is_superuser"])
        user.groups.add(group)
        if existed:
            self.stdout.write(f"Staff login: {DEMO_USERNAME} / {DEMO_PASSWORD} (already there)")
        else:
            self.stdout.write(self.style.SUCCESS(f"Staff login: {DEMO_USERNAME} / {DEMO_PASSWORD}"))

"""`manage.py create_demo_staff`: a service-advisor login for the local demo (never in production)."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

DEMO_USERNAME = "advisor"
DEMO_PASSWORD = "bart-demo-2026"  # noqa: S105 - documented local demo login, refused when DEBUG is off


class Command(BaseCommand):
    help = "Create the documented demo staff login (advisor / bart-demo-2026) if it does not exist. DEBUG only."

    def handle(self, *args: object, **options: object) -> None:
        if not settings.DEBUG:
            raise CommandError("The demo login is for local use only; create real staff with createsuperuser.")
        user_model = get_user_model()
        if user_model.objects.filter(username=DEMO_USERNAME).exists():
            self.stdout.write(f"Staff login: {DEMO_USERNAME} / {DEMO_PASSWORD} (already there)")
            return
        user_model.objects.create_superuser(DEMO_USERNAME, "advisor@example.com", DEMO_PASSWORD)
        self.stdout.write(self.style.SUCCESS(f"Staff login: {DEMO_USERNAME} / {DEMO_PASSWORD}"))

"""The scheduling app: shop hours, availability and calendar backends (a leaf: imports no app)."""

from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "scheduling"

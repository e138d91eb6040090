"""The CRM app: customers, vehicles, appointments and call logs."""

from django.apps import AppConfig


class CrmConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "crm"
    verbose_name = "CRM"

    def ready(self) -> None:
        from autoshop.db import install_fork_guard
        from crm import signals  # noqa: F401 - connects the receivers

        install_fork_guard()  # forked task workers open their own database connections

"""The project itself as an app: process-wide set-up that belongs to no feature app."""

from django.apps import AppConfig


class AutoshopConfig(AppConfig):
    name = "autoshop"
    verbose_name = "Autoshop"

    def ready(self) -> None:
        from autoshop.db import install_fork_guard

        install_fork_guard()  # forked task workers open their own database connections

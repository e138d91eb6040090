"""Top-level URLs: staff admin, health check, metrics, and each app's own routes."""

from django.contrib import admin
from django.urls import include, path

from autoshop.health import healthz
from autoshop.metrics_view import metrics

admin.site.site_header = "Bart's Automotive service desk"
admin.site.site_title = "Bart's Automotive"
admin.site.index_title = "Customers, vehicles, appointments and calls"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("twilio/reminder/", include("reminders.urls")),
    path("twilio/", include("texts.urls")),
    path("twilio/", include("voice.urls")),
]

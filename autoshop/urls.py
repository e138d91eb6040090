"""Top-level URLs: staff admin, health check, metrics, and each app's own routes."""

import re

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from autoshop.health import healthz
from autoshop.media_view import media
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

if settings.STORAGES["default"]["BACKEND"] == "django.core.files.storage.FileSystemStorage":
    # Call recordings on the file system (MEDIA_ROOT), for the call log page's player: staff only, with DEBUG
    # on or off. With object storage (S3) the recordings' URLs are the bucket's own signed links instead.
    urlpatterns.append(re_path(rf"^{re.escape(settings.MEDIA_URL.lstrip('/'))}(?P<path>.+)$", media, name="media"))

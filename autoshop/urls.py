"""Top-level URLs: the service desk (staff admin, today's board on its front page), health check, metrics,
and each app's own routes. `/` leads to the desk."""

import re

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from autoshop.desk import desk_index
from autoshop.health import healthz
from autoshop.media_view import media
from autoshop.metrics_view import metrics

admin.site.site_header = "Bart's Automotive service desk"
admin.site.site_title = "Bart's Automotive"
admin.site.index_title = "Today at the shop"
admin.site.index_template = "admin/desk_index.html"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index"), name="home"),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    # The admin's own front page, with the day's board and numbers (the stock index stays in admin.site.urls).
    path("admin/", admin.site.admin_view(desk_index), name="desk"),
    path("admin/", admin.site.urls),
    path("twilio/reminder/", include("reminders.urls")),
    path("twilio/", include("texts.urls")),
    path("twilio/", include("voice.urls")),
]

if settings.STORAGES["default"]["BACKEND"] == "django.core.files.storage.FileSystemStorage":
    # Call recordings on the file system (MEDIA_ROOT), for the call log page's player: staff only, with DEBUG
    # on or off. With object storage (S3) the recordings' URLs are the bucket's own signed links instead.
    urlpatterns.append(re_path(rf"^{re.escape(settings.MEDIA_URL.lstrip('/'))}(?P<path>.+)$", media, name="media"))

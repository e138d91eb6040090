"""The admin's CSS and JS are served by the web process itself, DEBUG off (as pytest runs it)."""

import gzip

from django.core.management import call_command
from django.test import Client


def test_collected_static_files_are_served_compressed_and_cacheable(settings, tmp_path) -> None:
    settings.STATIC_ROOT = str(tmp_path)
    call_command("collectstatic", interactive=False, verbosity=0)
    assert not settings.DEBUG

    plain = Client().get("/static/admin/css/base.css")
    assert plain.status_code == 200 and plain["Content-Type"].startswith("text/css")
    body = plain.getvalue()
    assert b"--body-fg" in body  # the admin's stylesheet, not an error page
    assert "max-age" in plain["Cache-Control"]

    zipped = Client().get("/static/admin/css/base.css", HTTP_ACCEPT_ENCODING="gzip")
    assert zipped["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.getvalue()) == body

    assert Client().get("/static/admin/css/no-such-file.css").status_code == 404

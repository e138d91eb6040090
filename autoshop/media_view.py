"""Files in MEDIA_ROOT (call recordings) for signed-in staff: what the call log page's audio player loads."""

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.views.static import serve


@staff_member_required
def media(request: HttpRequest, path: str) -> HttpResponseBase:
    """One stored file, to staff only (others are sent to the admin login); 404 outside MEDIA_ROOT."""
    response: HttpResponseBase = serve(request, path, document_root=settings.MEDIA_ROOT)
    response["Cache-Control"] = "private, no-store"  # a recording is personal data: no shared caches
    return response

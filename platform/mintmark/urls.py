from django.contrib import admin
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static
from django.urls import include, path, re_path

from mintmark.api import api
from mintmark.metrics_view import metrics_endpoint


def api_not_found(request, rest=""):
    return JsonResponse({"error": "not_found", "detail": "No such API route."}, status=404)


def favicon(request):
    # Browsers ask for /favicon.ico whatever the page links; without this every first visit
    # logged a warning-level 404.
    return HttpResponsePermanentRedirect(static("portal/favicon.ico"))


urlpatterns = [
    path("favicon.ico", favicon),
    path("metrics", metrics_endpoint),
    path("api/", api.urls),
    re_path(r"^api/(?P<rest>.*)$", api_not_found),
    path("admin/", admin.site.urls),
    path("sso/", include("sso.urls")),
    path("", include("portal.urls")),
]

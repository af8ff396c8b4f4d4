from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path, re_path

from mintmark.api import api


def api_not_found(request, rest=""):
    return JsonResponse({"error": "not_found", "detail": "No such API route."}, status=404)


urlpatterns = [
    path("api/", api.urls),
    re_path(r"^api/(?P<rest>.*)$", api_not_found),
    path("admin/", admin.site.urls),
    path("", include("portal.urls")),
]

from django.urls import path

from sso.oidc import SsoCallbackView, SsoLoginView

app_name = "sso"

urlpatterns = [
    path("login/", SsoLoginView.as_view(), name="login"),
    path("callback/", SsoCallbackView.as_view(), name="callback"),
]

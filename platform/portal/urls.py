from django.contrib.auth import views as auth_views
from django.urls import path

from portal import verify, views
from portal.nav import menu

app_name = "portal"

ORG = "o/<slug:org>/"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="portal/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("verify/", verify.verify, name="verify"),
    path(ORG, views.org_home, name="org_home"),
    menu(path(ORG + "tokens/", views.tokens, name="tokens"), "API tokens"),
    path(ORG + "tokens/<uuid:token_id>/revoke/", views.token_revoke_view, name="token_revoke"),
]

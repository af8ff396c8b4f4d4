"""Password login, held to each organization's choice: an org whose SSO is on with password
login off admits its members only through its provider."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.db import transaction

from audit.services import audit_append
from sso.login import password_login_refused
from throttle.lockout import login_locked


class PasswordBackend(ModelBackend):
    """Django's password backend, refusing the members of an SSO-only org wherever a password
    is checked (the portal, the admin site)."""

    def user_can_authenticate(self, user):
        return super().user_can_authenticate(user) and not password_login_refused(user)


class PasswordLoginForm(AuthenticationForm):
    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        # A locked account gets the lockout (from authenticate below), never this answer,
        # which would tell a guesser that the password was right.
        if username and password and not login_locked(self.request, username):
            user = get_user_model()._default_manager.filter(username=username).first()
            # Said only after the right password, so it tells nothing about other accounts.
            if user is not None and user.check_password(password):
                orgs = password_login_refused(user)
                if orgs:
                    with transaction.atomic():
                        for org in orgs:
                            audit_append(
                                org=org,
                                actor=user,
                                action="sso.password_login_refused",
                                data={"user": user.username},
                            )
                    names = ", ".join(org.name for org in orgs)
                    raise ValidationError(
                        f"{names} signs in through its identity provider only: use "
                        "“Sign in with your organization” below.",
                        code="sso_required",
                    )
        return super().clean()


class PortalLoginView(LoginView):
    template_name = "portal/login.html"
    form_class = PasswordLoginForm

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        refusals = context["form"].errors.as_data().get("__all__", [])
        context["sso_required"] = next(
            (error.messages[0] for error in refusals if error.code == "sso_required"), ""
        )
        context["sso_org"] = self.request.GET.get("org", "")
        return context

"""Forms of the customer pages and the sign-in forms (pages and admin site). Only registration
and sign-in post to Django; claims go through the API."""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables

from claims import login_limits, services
from config.errors import TooManyRequestsError

ERR_PASSWORDS_DIFFER = _("The two passwords are not the same.")


class RegisterForm(forms.Form):
    # Same rule as the API's registration (claims.apis.RegisterApi.InputSerializer); the
    # service refuses names that only look allowed (claims.services.username_normalise).
    username = forms.RegexField(
        regex=r"^[\w.@+-]{3,150}$",
        label=_("Username"),
        max_length=150,
        help_text=services.USERNAME_HELP,
        error_messages={"invalid": services.ERR_USERNAME_FORM},
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    email = forms.EmailField(
        label=_("Email"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = forms.CharField(
        strip=False,
        max_length=128,
        label=_("Password"),
        help_text=_("At least 8 characters, not only digits, not a common password."),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_again = forms.CharField(
        label=_("Password again"),
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", ERR_PASSWORDS_DIFFER)
        return data


class LimitedAuthenticationMixin:
    """Sign-in through claims.login_limits: attempts per account and per address."""

    locked = False

    @sensitive_variables()
    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            try:
                self.user_cache = login_limits.login_authenticate(
                    request=self.request, username=username, password=password
                )
            except TooManyRequestsError as exc:
                self.locked = True
                raise forms.ValidationError(exc.message, code="login_locked") from None
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class LoginForm(LimitedAuthenticationMixin, AuthenticationForm):
    pass


class AdminLoginForm(LimitedAuthenticationMixin, AdminAuthenticationForm):
    pass

"""Forms of the customer pages. Only registration posts to Django; claims go through the API."""

from django import forms

ERR_PASSWORDS_DIFFER = "The two passwords are not the same."


class RegisterForm(forms.Form):
    # Same rule as the API's registration (claims.apis.RegisterApi.InputSerializer).
    username = forms.RegexField(
        regex=r"^[\w.@+-]{3,150}$",
        max_length=150,
        help_text="3 to 150 letters, digits and @ . + - _",
        error_messages={"invalid": "Use 3 to 150 letters, digits and @ . + - _ only."},
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(
        strip=False,
        max_length=128,
        help_text="At least 8 characters, not only digits, not a common password.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_again = forms.CharField(
        label="Password again",
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", ERR_PASSWORDS_DIFFER)
        return data

from allauth.account import app_settings as allauth_settings
from allauth.account.adapter import get_adapter
from allauth.account.forms import AddEmailForm as AllauthAddEmailForm
from allauth.account.forms import SignupForm as AllauthSignupForm
from allauth.core import context
from django import forms
from django.conf import settings
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from accounts.adapter import SIGNUP_LIMITED_MESSAGE
from accounts.models import User
from kling_site import rate_limits


class LanguageSelect(forms.Select):
    """Each language named in its own language, marked with `lang` so screen readers and
    the page's language check read "English" as English on a Chinese page."""

    def create_option(self, name, value, *args, **kwargs):
        option = super().create_option(name, value, *args, **kwargs)
        if value:
            option["attrs"]["lang"] = value
        return option


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["display_name", "language", "notify_on_finish"]
        labels = {
            "display_name": _("Display name"),
            "language": _("Language"),
            "notify_on_finish": _("Email me when a long generation finishes"),
        }
        widgets = {"language": LanguageSelect}
        help_texts = {
            "display_name": _("Shown in the navigation. Leave it empty to show “Account”."),
            "language": _("Used for the site and for the emails we send you."),
            "notify_on_finish": _("Sent when a generation that took over a minute succeeds or fails."),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = [("", _("As my browser asks")), *settings.LANGUAGES]


class SignupForm(AllauthSignupForm):
    """allauth's sign-up, with one account per mailbox and a cap on sign-ups per network."""

    def validate_unique_email(self, value: str) -> str:
        email = super().validate_unique_email(value)
        if (
            not self.account_already_exists
            and allauth_settings.UNIQUE_EMAIL
            and get_adapter().mailbox_in_use(email)
        ):
            self._taken()
        return email

    def _taken(self) -> None:
        """What allauth does with an address that is taken as written, for one taken under
        another spelling: the same error next to the field; or, where enumeration
        prevention hides a taken address (mandatory verification), the same "check your
        inbox" page and an "account exists" mail to the typed address, which reaches the
        owner's mailbox; or, with strict prevention and optional verification, nothing."""
        prevention = allauth_settings.PREVENT_ENUMERATION
        if (
            prevention
            and allauth_settings.EMAIL_VERIFICATION == allauth_settings.EmailVerificationMethod.MANDATORY
        ):
            self.account_already_exists = True
        elif prevention != "strict":
            raise get_adapter().validation_error("email_taken")

    def clean(self) -> dict:
        cleaned_data = super().clean()
        # Only a sign-up that would go ahead counts, so a mistyped password costs nothing.
        if not self.errors and not get_adapter().allow_signup_from(context.request):
            self.add_error(None, SIGNUP_LIMITED_MESSAGE)
        return cleaned_data


class AddEmailForm(AllauthAddEmailForm):
    """allauth's add-an-address form, refusing another account's mailbox where allauth
    refuses another account's address: only without enumeration prevention. With it, the
    address is accepted as allauth accepts a taken one, and its confirmation is refused
    (AccountAdapter.confirm_email)."""

    def clean_email(self) -> str:
        email = super().clean_email()
        if (
            allauth_settings.UNIQUE_EMAIL
            and not allauth_settings.PREVENT_ENUMERATION
            and get_adapter().mailbox_in_use(email, exclude_user=self.user)
        ):
            raise get_adapter().validation_error("email_taken")
        return email


class DeleteAccountForm(forms.Form):
    """Proof that the person at the keyboard owns the account: the current password, or for
    an account without one (made without a password, say) the email address typed out."""

    # Attempts per account in a quarter of an hour: a borrowed session may not guess its
    # way to erasing someone. Every attempt counts, or a right guess would pass the limit.
    ATTEMPTS = 5
    WINDOW_SECONDS = 15 * 60

    def __init__(self, user: User, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        if user.has_usable_password():
            self.fields["password"] = forms.CharField(
                label=_("Your current password"),
                strip=False,
                widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
            )
        else:
            self.fields["email"] = forms.CharField(
                label=_("Type your email address to confirm"),
                help_text=format_lazy(_("Exactly {email}"), email=user.email),
            )

    def clean(self) -> dict:
        cleaned_data = super().clean()
        if self.errors:
            return cleaned_data
        if not rate_limits.allow(
            "erase-account", self.user.pk, limit=self.ATTEMPTS, per_seconds=self.WINDOW_SECONDS
        ):
            raise forms.ValidationError(_("Too many attempts. Please try again in a quarter of an hour."))
        if self.user.has_usable_password():
            if not self.user.check_password(cleaned_data["password"]):
                self.add_error("password", _("That is not your current password."))
        elif cleaned_data["email"].strip().lower() != self.user.email.lower():
            self.add_error("email", _("That is not your email address."))
        return cleaned_data


class APIKeyForm(forms.Form):
    name = forms.CharField(
        label=_("Key name"),
        max_length=50,
        help_text=_("What will use it, such as “render script” or “staging server”."),
    )

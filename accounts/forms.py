from allauth.account import app_settings as allauth_settings
from allauth.account.adapter import get_adapter
from allauth.account.forms import AddEmailForm as AllauthAddEmailForm
from allauth.account.forms import SignupForm as AllauthSignupForm
from allauth.core import context
from django import forms

from accounts.adapter import SIGNUP_LIMITED_MESSAGE
from accounts.models import User


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["display_name", "notify_on_finish"]
        labels = {"display_name": "Display name"}
        help_texts = {"display_name": "Shown in the navigation. Leave it empty to show “Account”."}


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

from django import forms

from accounts.models import User


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["display_name", "notify_on_finish"]
        labels = {"display_name": "Display name"}
        help_texts = {"display_name": "Shown in the navigation. Leave it empty to show “Account”."}

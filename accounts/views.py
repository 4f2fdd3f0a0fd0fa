from allauth.account.models import EmailAddress
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views import i18n
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts import api_keys, erasure
from accounts.forms import APIKeyForm, DeleteAccountForm, ProfileForm
from billing import ledger


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's set_language (cookie and redirect back), and for a signed-in person the
    choice is also saved on the profile, so emails sent later use it too."""
    response = i18n.set_language(request)
    code = request.POST.get("language", "")
    if request.user.is_authenticated and translation.check_for_language(code):
        request.user.language = code
        request.user.save(update_fields=["language"])
    return response


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Your profile was saved."))
        return redirect("accounts:profile")
    email_verified = EmailAddress.objects.filter(
        user=request.user, email__iexact=request.user.email, verified=True
    ).exists()
    context = {
        "form": form,
        "email_verified": email_verified,
        "api_keys": list(api_keys.keys_of(request.user)[:5]),
        "api_key_count": api_keys.keys_of(request.user).count(),
    }
    return render(request, "accounts/profile.html", context)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def api_key_list(request: HttpRequest) -> HttpResponse:
    """The person's API keys; creating one shows the full key on this answer only."""
    form = APIKeyForm(request.POST or None)
    new_key = ""
    if request.method == "POST" and form.is_valid():
        try:
            _, new_key = api_keys.create_key(request.user, form.cleaned_data["name"])
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            form = APIKeyForm()
    context = {
        "form": form,
        "new_key": new_key,
        "keys": list(api_keys.keys_of(request.user)),
        "max_keys": api_keys.MAX_KEYS_PER_USER,
    }
    return render(request, "accounts/api_keys.html", context)


@login_required
@require_POST
def api_key_revoke(request: HttpRequest, prefix: str) -> HttpResponse:
    key = api_keys.keys_of(request.user).filter(prefix=prefix).first()
    if key is None or not api_keys.revoke_key(request.user, key.pk):
        raise Http404
    messages.success(
        request,
        _("The key “%(name)s” was revoked. Requests that use it are refused from now on.")
        % {"name": key.name},
    )
    return redirect("accounts:api_keys")


@login_required
@require_http_methods(["GET", "POST"])
def delete_account(request: HttpRequest) -> HttpResponse:
    user = request.user
    obstacles = erasure.obstacles(user)
    form = DeleteAccountForm(user, request.POST or None)
    if request.method == "POST" and not obstacles and form.is_valid():
        try:
            erasure.erase_account(user)
        except erasure.ErasureRefused as exc:
            form.add_error(None, str(exc))
        else:
            logout(request)
            return redirect("accounts:deleted")
    context = {
        "form": form,
        "obstacles": obstacles,
        "balance": ledger.balance_of(user),
    }
    return render(request, "accounts/delete.html", context)


def account_deleted(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/deleted.html")

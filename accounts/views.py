from allauth.account.models import EmailAddress
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts import erasure
from accounts.forms import DeleteAccountForm, ProfileForm
from billing import ledger


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your profile was saved.")
        return redirect("accounts:profile")
    email_verified = EmailAddress.objects.filter(
        user=request.user, email__iexact=request.user.email, verified=True
    ).exists()
    return render(request, "accounts/profile.html", {"form": form, "email_verified": email_verified})


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

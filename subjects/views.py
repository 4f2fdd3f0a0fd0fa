"""The subject library: list, save and delete one's own subjects."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from subjects import services
from subjects.forms import SubjectForm
from subjects.models import Subject


@login_required
@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    available = services.available()
    form = SubjectForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and available and form.is_valid():
        try:
            subject = services.create_subject(request.user, **form.cleaned_data)
        except ValidationError as exc:
            for field, problems in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, problems)
        else:
            if subject.status == Subject.Status.FAILED:
                messages.error(
                    request, _("Kling refused this subject: %(reason)s") % {"reason": subject.error}
                )
            else:
                messages.success(request, _("Saved. “%(name)s” is being prepared.") % {"name": subject.name})
            return redirect("subjects:index")
    if available:
        services.refresh_pending(request.user)
    subjects = Subject.objects.owned_by(request.user).prefetch_related("images")
    return render(
        request,
        "subjects/index.html",
        {"form": form, "subjects": subjects, "available": available},
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest, subject_id: int) -> HttpResponse:
    subject = get_object_or_404(Subject.objects.owned_by(request.user), pk=subject_id)
    if request.method == "POST":
        services.delete_subject(request.user, subject.pk)
        messages.success(
            request, _("“%(name)s” is deleted. What you made with it stays.") % {"name": subject.name}
        )
        return redirect("subjects:index")
    return render(request, "subjects/delete.html", {"subject": subject})


@login_required
def picture(request: HttpRequest, subject_id: int, position: int) -> HttpResponse:
    """One of the owner's subject pictures (private media: never a public URL)."""
    subject = get_object_or_404(Subject.objects.owned_by(request.user), pk=subject_id)
    image = subject.images.filter(position=position).first()
    if image is None:
        raise Http404
    return FileResponse(image.file.open("rb"), content_type=image.content_type)

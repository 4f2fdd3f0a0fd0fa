"""Pages: choose a kind, create, gallery, detail with live status, files, delete.

Everything about a generation answers 404 to anyone but its owner (staff included: they
use the admin), so a guessed id tells nothing.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing import ledger
from generations import capabilities, effects, inputs, media, pricing, providers, services
from generations.forms import FORMS, FaceSearchForm, GenerationForm
from generations.models import (
    KIND_SLUGS,
    UNFINISHED_STATUSES,
    Asset,
    EffectScene,
    FaceSession,
    Generation,
    InputFile,
    Kind,
    Price,
    Status,
)

KINDS_BY_SLUG = {slug: kind for kind, slug in KIND_SLUGS.items()}
GALLERY_PAGE_SIZE = 24
# Gallery status filter: what people ask for, not the internal states.
STATUS_FILTERS = {
    "in_progress": (gettext_lazy("In progress"), UNFINISHED_STATUSES),
    "succeeded": (gettext_lazy("Ready"), (Status.SUCCEEDED,)),
    "failed": (gettext_lazy("Failed"), (Status.FAILED,)),
}
KIND_BLURBS = {
    Kind.TEXT2IMAGE: gettext_lazy(
        "Describe a picture and get up to nine variations, in eight aspect ratios."
    ),
    Kind.TEXT2VIDEO: gettext_lazy(
        "Describe a scene and get a short film, with camera moves and sound on newer models."
    ),
    Kind.IMAGE2VIDEO: gettext_lazy(
        "Bring a picture to life from its first frame, and optionally choose its last."
    ),
    Kind.MOTION_CONTROL: gettext_lazy(
        "Make the character in a picture move like the person in a video of up to 30 s."
    ),
    Kind.MULTI_IMAGE2VIDEO: gettext_lazy("Put up to four subjects from your pictures into one short film."),
    Kind.VIDEO_EXTEND: gettext_lazy("Continue one of your finished videos by about five seconds."),
    Kind.TEXT2AUDIO: gettext_lazy("Describe a sound and get 3 to 10 seconds of it, as MP3 and WAV."),
    Kind.AVATAR: gettext_lazy("Make a portrait speak your sound file, up to five minutes."),
    Kind.VIDEO2AUDIO: gettext_lazy("Add sound effects and music to a video of 3 to 20 seconds."),
    Kind.LIP_SYNC: gettext_lazy("Make a face in one of your videos speak a sound of 2 to 60 seconds."),
    Kind.OMNI_VIDEO: gettext_lazy(
        "Direct a clip from up to seven reference pictures, or as a storyboard of several shots."
    ),
    Kind.MULTI_IMAGE2IMAGE: gettext_lazy(
        "Put up to four subjects into new pictures, in a scene and a style you choose."
    ),
    Kind.OMNI_IMAGE: gettext_lazy(
        "Compose pictures from up to ten references, or a consistent series of two to nine."
    ),
    Kind.VIRTUAL_TRY_ON: gettext_lazy(
        "See a person in a garment from another photo: a top, a bottom or a dress."
    ),
    Kind.EXPAND_IMAGE: gettext_lazy(
        "Extend a picture beyond its edges, up to four times its area, by dragging its sides."
    ),
    Kind.VIDEO_EFFECTS: gettext_lazy(
        "Pick one of Kling's effects and bring a picture, or two people from two photos, into it."
    ),
}


def _kind(kind_slug: str) -> str:
    kind = KINDS_BY_SLUG.get(kind_slug)
    if kind is None or not providers.offers(capabilities.product_for(kind)):
        raise Http404
    return kind


def _owned(request: HttpRequest, generation_id: int) -> Generation:
    return get_object_or_404(Generation.objects.owned_by(request.user), pk=generation_id)


# --- create ---------------------------------------------------------------------------


@login_required
def choose_kind(request: HttpRequest) -> HttpResponse:
    kinds = []
    for kind, slug in KIND_SLUGS.items():
        if not providers.offers(capabilities.product_for(kind)):
            continue
        credits = [
            p.credits
            for p in Price.objects.filter(kind=kind, active=True)
            if capabilities.is_enabled(p.model_name)
        ]
        kinds.append(
            {
                "kind": kind,
                "label": Kind(kind).label,
                "slug": slug,
                "blurb": KIND_BLURBS[kind],
                "from_credits": min(credits) if credits else None,
                # The unit a price is for, as shown after "From N credits per".
                "per": _("image")
                if capabilities.product_for(kind).startswith("images/")
                else (_("second") if kind in capabilities.PER_SECOND_KINDS else _("clip")),
                # Sound: one price a call, whatever its length.
                **({"per": _("sound")} if kind in (Kind.TEXT2AUDIO, Kind.VIDEO2AUDIO) else {}),
            }
        )
    return render(request, "generations/choose.html", {"kinds": kinds})


def _create_context(request: HttpRequest, kind: str, form: GenerationForm, **extra: Any) -> dict[str, Any]:
    quote, problem = form.price_preview()
    balance = ledger.balance_of(request.user)
    context = {
        "form": form,
        "kind": kind,
        "kind_label": Kind(kind).label,
        "kind_slug": KIND_SLUGS[kind],
        "quote": quote,
        "price_problem": problem,
        "balance": balance,
        "short_by": max(0, quote.credits - balance) if quote else 0,
        "per_second": kind in capabilities.PER_SECOND_KINDS,
        **extra,
    }
    if kind == Kind.LIP_SYNC and "face_form" not in context:
        initial = {"video_id": request.GET.get("video_id", "")[:64]} if request.method == "GET" else {}
        context["face_form"] = FaceSearchForm(initial=initial, user=request.user)
    return context


@login_required
@require_http_methods(["GET", "POST"])
def create(request: HttpRequest, kind_slug: str) -> HttpResponse:
    kind = _kind(kind_slug)
    if kind == Kind.VIDEO_EFFECTS and request.method == "GET" and not request.GET.get("scene"):
        # Effects start from the gallery of scenes; each card opens the form for its scene.
        return render(request, "generations/effects.html", {"scenes": effects.enabled_scenes()})
    form_class = FORMS[kind]
    insufficient = None
    if request.method == "POST":
        form = form_class(request.POST, request.FILES, user=request.user)
        if form.is_valid():
            try:
                generation = services.create_generation(
                    request.user,
                    kind,
                    form.cleaned_data,
                    form.cleaned_data.get("client_token") or "",
                    price_book=form.price_book,
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            except pricing.NotOffered as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            except ledger.InsufficientCredits as exc:
                insufficient = exc
            except ledger.AccountFrozen as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request, _("Your %(kind)s is on its way.") % {"kind": Kind(kind).label.lower()}
                )
                return redirect(generation.get_absolute_url())
    else:
        initial: dict[str, Any] = {}
        remix_id = request.GET.get("remix", "")
        if remix_id:
            if not remix_id.isdigit():
                raise Http404
            source = _owned(request, int(remix_id))
            if source.kind != kind:
                return redirect(source.remix_url)
            initial = services.remix_initial(source)
        if kind == Kind.LIP_SYNC:
            initial["session_id"] = request.GET.get("session_id", "")[:64]
        if kind in (Kind.VIDEO_EXTEND, Kind.VIDEO2AUDIO, Kind.MOTION_CONTROL, Kind.OMNI_VIDEO):
            # "Extend" / "Add sound" / "Use as motion reference" on a video's page opens
            # this with that video (Kling's id).
            initial["video_id"] = request.GET.get("video_id", "")[:64]
        if kind == Kind.VIDEO_EFFECTS:
            initial["effect_scene"] = request.GET.get("scene", "")[:64]
        if request.GET.get("picture", "").isdigit():
            # "Animate" / "Use as reference" on a finished picture's page.
            initial["picture_from"] = request.GET["picture"]
        form = form_class(initial=initial, user=request.user)
    context = _create_context(request, kind, form, insufficient=insufficient)
    return render(request, "generations/create.html", context)


@login_required
@require_POST
def find_faces(request: HttpRequest) -> HttpResponse:
    """Lip-sync's first step: Kling's identify-face on the chosen video (it answers at
    once); the lip-sync page then shows the faces it found to choose from."""
    face_form = FaceSearchForm(request.POST, request.FILES, user=request.user)
    if face_form.is_valid():
        try:
            session = services.identify_faces(
                request.user,
                video_id=face_form.cleaned_data.get("video_id") or "",
                upload=face_form.cleaned_data.get("video_url") or None,
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                face_form.add_error(field if field in face_form.fields else None, errors)
        else:
            media.keep_face_pictures(session)
            path = reverse("generations:create", args=[KIND_SLUGS[Kind.LIP_SYNC]])
            return redirect(path + "?" + urlencode({"session_id": session.session_id}))
    form = FORMS[Kind.LIP_SYNC](user=request.user)
    context = _create_context(request, Kind.LIP_SYNC, form, face_form=face_form)
    return render(request, "generations/create.html", context, status=400)


@login_required
@require_GET
def options(request: HttpRequest, kind_slug: str) -> HttpResponse:
    """The options section of a create form for the choices so far (htmx): dependent
    choices follow the model, and the price follows everything."""
    kind = _kind(kind_slug)
    initial = {key: value for key, value in request.GET.items() if key not in ("csrfmiddlewaretoken",)}
    form = FORMS[kind](initial=initial, user=request.user)
    response = render(request, "generations/create.html#options", _create_context(request, kind, form))
    response["Vary"] = "HX-Request"
    return response


# --- gallery and detail -----------------------------------------------------------------


def _with_assets(queryset):
    return queryset.prefetch_related(Prefetch("assets", queryset=Asset.objects.order_by("index")))


# What a gallery card reads (gallery.html's card, status_text, is_live, progress_for, an
# audio card's file name), and of its outputs. The rest (the provider's bookkeeping, Kling's
# result list, error texts) is left in the database: a page of 24 cards is read on every
# visit and every poll. tests/generations/test_pages.py renders a card of every kind and
# state with a constant number of queries, so a column the cards start to need and is
# missing here shows as a query per card.
CARD_FIELDS = (
    "id",
    "kind",
    "model_name",
    "mode",
    "duration",
    "prompt",
    "params",
    "status",
    "wait_reason",
    "assets_saved_at",
    "fetch_attempts",
    "created_at",
    "finished_at",
)
CARD_ASSET_FIELDS = (
    "id",
    "generation_id",
    "kind",
    "index",
    "thumbnail",
    "content_type",
    "width",
    "height",
    "duration",
)


def _for_cards(queryset):
    """`queryset` with what gallery cards show and nothing more, outputs included."""
    outputs = Asset.objects.order_by("index").only(*CARD_ASSET_FIELDS)
    return queryset.only(*CARD_FIELDS).prefetch_related(Prefetch("assets", queryset=outputs))


@login_required
@require_GET
def gallery(request: HttpRequest) -> HttpResponse:
    generations = Generation.objects.owned_by(request.user)
    kind = request.GET.get("kind", "")
    if kind in Kind.values:
        generations = generations.filter(kind=kind)
    else:
        kind = ""
    status = request.GET.get("status", "")
    if status in STATUS_FILTERS:
        generations = generations.filter(status__in=STATUS_FILTERS[status][1])
    else:
        status = ""
    page = Paginator(_for_cards(generations), GALLERY_PAGE_SIZE).get_page(request.GET.get("page"))
    cards = _cards(page.object_list)
    filters = urlencode([(k, v) for k, v in (("kind", kind), ("status", status)) if v])
    return render(
        request,
        "generations/gallery.html",
        {
            "page": page,
            "cards": cards,
            "kind": kind,
            "status": status,
            "kinds": Kind.choices,
            "status_filters": [(key, label) for key, (label, _) in STATUS_FILTERS.items()],
            "filters": filters,
            "live_query": _live_query(cards),
        },
    )


def _cards(generations) -> list[tuple[Generation, services.Progress | None]]:
    """Gallery cards: each generation with its progress (None once it has finished)."""
    items = list(generations)
    progress = services.progress_for(items)
    return [(generation, progress.get(generation.pk)) for generation in items]


def _live_query(cards: list[tuple[Generation, services.Progress | None]]) -> str:
    """The query string of the page's one poller: its live cards, or "" when none is live."""
    return urlencode([("id", g.pk) for g, _ in cards if g.is_live])


def _card_ids(values: list[str]) -> list[int] | None:
    """The ids a poller asked for; None when they are not ids or more than a page holds."""
    if len(values) > GALLERY_PAGE_SIZE or not all(
        v.isascii() and v.isdigit() and len(v) <= 18 for v in values
    ):
        return None
    return [int(v) for v in values]


@login_required
@require_GET
def live_cards(request: HttpRequest) -> HttpResponse:
    """Every live card of a gallery page in one answer: the page's one poller asks for them
    every few seconds, the cards come back as out-of-band swaps, and the poller comes back
    with the ids still live (no trigger once none is, so polling stops). Only the asker's
    own generations are answered; other ids are left out."""
    if not request.htmx:
        return redirect("generations:gallery")
    ids = _card_ids(request.GET.getlist("id"))
    if ids is None:
        return HttpResponseBadRequest("Ask for at most one page of generation ids.")
    cards = _cards(_for_cards(Generation.objects.owned_by(request.user).filter(pk__in=ids)))
    context = {"cards": cards, "live_query": _live_query(cards)}
    response = render(request, "generations/gallery.html#live_cards", context)
    response["Vary"] = "HX-Request"
    response["Cache-Control"] = "no-store"
    return response


def _label(text: str | None) -> str:
    """A label of capabilities.py (marked with gettext_noop), in the reader's language."""
    return _(text) if text else ""


def _seconds(value) -> str:
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        return f"{value} s"
    return ngettext("%(seconds)d second", "%(seconds)d seconds", seconds) % {"seconds": seconds}


def _credits(cost: int, what: str) -> str:
    if what == "charged":
        return ngettext("%(count)d credit charged", "%(count)d credits charged", cost) % {"count": cost}
    return ngettext("%(count)d credit refunded", "%(count)d credits refunded", cost) % {"count": cost}


def timeline(generation: Generation) -> list[dict[str, Any]]:
    """The steps a generation went through, for its page."""
    steps = [
        {
            "label": _("Created"),
            "at": generation.created_at,
            "note": _credits(generation.cost, "charged") if generation.cost else "",
            "state": "done",
        }
    ]
    if generation.submitted_at:
        note = (
            _("after %(count)d attempts") % {"count": generation.attempts} if generation.attempts > 1 else ""
        )
        steps.append(
            {"label": _("Sent to Kling"), "at": generation.submitted_at, "note": note, "state": "done"}
        )
    elif generation.status == Status.QUEUED:
        steps.append(
            {
                "label": _("Waiting to be sent"),
                "at": None,
                "note": generation.get_wait_reason_display(),
                "state": "now",
            }
        )
    if generation.started_at:
        steps.append(
            {"label": _("Kling started work"), "at": generation.started_at, "note": "", "state": "done"}
        )
    elif generation.status == Status.SUBMITTED:
        steps.append({"label": _("In Kling's queue"), "at": None, "note": "", "state": "now"})
    if generation.status == Status.PROCESSING:
        steps.append({"label": _("Generating"), "at": None, "note": "", "state": "now"})
    if generation.status == Status.SUCCEEDED:
        steps.append({"label": _("Finished"), "at": generation.finished_at, "note": "", "state": "done"})
        if generation.assets_saved_at:
            steps.append(
                {
                    "label": _("Saved to your gallery"),
                    "at": generation.assets_saved_at,
                    "note": "",
                    "state": "done",
                }
            )
        else:
            steps.append({"label": _("Saving to your gallery"), "at": None, "note": "", "state": "now"})
    if generation.status == Status.FAILED:
        note = _credits(generation.cost, "refunded") if generation.cost else ""
        steps.append({"label": _("Failed"), "at": generation.finished_at, "note": note, "state": "failed"})
    return steps


def parameters(generation: Generation) -> list[tuple[str, str]]:
    """The request in words, for its page."""
    params = generation.params or {}
    model = capabilities.get(generation.kind, generation.model_name, include_disabled=True)
    rows = [(_("Model"), model.label if model else generation.model_name)]
    if params.get("mode"):
        rows.append((_("Mode"), _(capabilities.MODE_LABELS.get(params["mode"], params["mode"]))))
    if params.get("duration"):
        rows.append((_("Length"), _seconds(params["duration"])))
    if params.get("aspect_ratio"):
        rows.append((_("Aspect ratio"), params["aspect_ratio"]))
    if "n" in params:
        rows.append((_("Images"), str(params["n"])))
    if params.get("series_amount"):
        amount = params["series_amount"]
        rows.append(
            (_("Series"), _("As many as Kling chose") if amount == capabilities.SERIES_AUTO else str(amount))
        )
    if params.get("resolution"):
        rows.append(
            (_("Resolution"), capabilities.RESOLUTION_LABELS.get(params["resolution"], params["resolution"]))
        )
    if "sound" in params:
        rows.append((_("Sound"), _("On") if params["sound"] == "on" else _("Off")))
    if "cfg_scale" in params:
        rows.append((_("Prompt strength"), f"{params['cfg_scale']:g}"))
    camera = params.get("camera_control")
    if camera:
        values = services.camera_form_values(camera)
        choice = values.get("camera_control", "")
        label = (
            _label(capabilities.CAMERA_PRESETS.get(choice, (None,))[0])
            or _label(capabilities.CAMERA_MOVEMENTS.get(choice))
            or (
                f"{_(capabilities.CAMERA_AXES[values['camera_axis']])}: {values['camera_value']:+g}"
                if "camera_axis" in values
                else _("Custom")
            )
        )
        rows.append((_("Camera"), label))
    if params.get("image_reference"):
        rows.append(
            (_("Reference"), _label(capabilities.IMAGE_REFERENCE_LABELS.get(params["image_reference"], "")))
        )
    if "image_fidelity" in params:
        rows.append((_("Reference strength"), f"{params['image_fidelity']:g}"))
    if "human_fidelity" in params:
        rows.append((_("Face likeness"), f"{params['human_fidelity']:g}"))
    if params.get("character_orientation"):
        rows.append(
            (
                "Character faces",
                _label(capabilities.CHARACTER_ORIENTATIONS.get(params["character_orientation"], "")).split(
                    " ("
                )[0],
            )
        )
    if params.get("keep_original_sound"):
        rows.append(
            (_("Video's sound"), _("Kept") if params["keep_original_sound"] == "yes" else _("Dropped"))
        )
    if generation.kind in capabilities.PER_SECOND_KINDS and generation.duration:
        rows.append((_("Billed length"), _seconds(generation.duration)))
    if params.get("garment_type"):
        garment = capabilities.GARMENT_LABELS.get(params["garment_type"])
        rows.append((_("Garment"), _(garment) if garment else params["garment_type"]))
    if params.get("effect_scene"):
        scene = effects.scene(params["effect_scene"], include_disabled=True)
        rows.append((_("Effect"), _(scene.label) if scene else params["effect_scene"]))
    if params.get("video_id"):
        rows.append((_("Kling video id"), params["video_id"]))
    if params.get("sound_effect_prompt"):
        rows.append((_("Sound effects"), params["sound_effect_prompt"]))
    if params.get("bgm_prompt"):
        rows.append((_("Music"), params["bgm_prompt"]))
    if "asmr_mode" in params:
        rows.append((_("ASMR mode"), _("On") if params["asmr_mode"] else _("Off")))
    if params.get("negative_prompt"):
        rows.append((_("Negative prompt"), params["negative_prompt"]))
    return rows


def open_with_video(
    generation: Generation, assets: list[Asset], kind: str, limits: capabilities.VideoLimits | None = None
) -> str:
    """The create page of `kind` with this generation's finished video as its input (by
    Kling's id), when Kling is offered and the video's length suits `limits`; else ""."""
    video = next(
        (
            a
            for a in assets
            if a.kind == Asset.Kind.VIDEO
            and a.video_id
            and (limits is None or (a.duration and limits.min_seconds <= a.duration <= limits.max_seconds))
        ),
        None,
    )
    if (
        video is None
        or generation.status != Status.SUCCEEDED
        or not providers.offers(capabilities.product_for(kind))
    ):
        return ""
    path = reverse("generations:create", args=[KIND_SLUGS[kind]])
    return path + "?" + urlencode({"video_id": video.video_id})


def extend_url(generation: Generation, assets: list[Asset]) -> str:
    """Extend, when Kling can extend this generation's model."""
    if capabilities.get(Kind.VIDEO_EXTEND, generation.model_name) is None:
        return ""
    return open_with_video(generation, assets, Kind.VIDEO_EXTEND)


def add_sound_url(generation: Generation, assets: list[Asset]) -> str:
    """Video to audio (Add sound), for a video of a length Kling can dub."""
    return open_with_video(generation, assets, Kind.VIDEO2AUDIO, capabilities.VIDEO_TO_AUDIO_LIMITS)


def lip_sync_url(generation: Generation, assets: list[Asset]) -> str:
    """Lip-sync, for a video Kling can find faces in (2-60 s)."""
    return open_with_video(generation, assets, Kind.LIP_SYNC, capabilities.FACE_VIDEO_LIMITS)


def lip_sync_face(generation: Generation) -> dict[str, Any] | None:
    """The face a lip-sync made speak, with its session's video, for its page."""
    if generation.kind != Kind.LIP_SYNC:
        return None
    session = FaceSession.objects.filter(
        owner_id=generation.owner_id, session_id=generation.params.get("session_id", "")
    ).first()
    chosen = (generation.params.get("face_choose") or [{}])[0]
    face = session.face(chosen.get("face_id", "")) if session is not None else None
    return {"session": session, "face": face, "choice": chosen}


def motion_reference_url(generation: Generation, assets: list[Asset]) -> str:
    """Motion control with this video as the motion reference (3-30 s)."""
    return open_with_video(generation, assets, Kind.MOTION_CONTROL, capabilities.MOTION_UPLOAD_LIMITS)


def omni_reference_url(generation: Generation, assets: list[Asset]) -> str:
    """Omni video with this video as its reference or base video (3-10 s)."""
    return open_with_video(generation, assets, Kind.OMNI_VIDEO, capabilities.OMNI_VIDEO_LIMITS)


def picture_urls(generation: Generation, assets: list[Asset]) -> dict[str, str]:
    """Image to video ("Animate") and omni video ("Use as reference") with this
    generation's first finished picture, where Kling offers them."""
    picture = next((a for a in assets if a.kind == Asset.Kind.IMAGE), None)
    if picture is None or generation.status != Status.SUCCEEDED:
        return {}
    urls = {}
    for name, kind in (("animate_url", Kind.IMAGE2VIDEO), ("reference_url", Kind.OMNI_VIDEO)):
        if providers.offers(capabilities.product_for(kind)) and capabilities.models_for(kind):
            path = reverse("generations:create", args=[KIND_SLUGS[kind]])
            urls[name] = path + "?" + urlencode({"picture": picture.pk})
    return urls


def extension_chain(generation: Generation) -> dict[str, Any]:
    """What this video continues and what continues it: the owner's own, not deleted."""
    own = Generation.objects.owned_by(generation.owner_id)
    parent = own.filter(pk=generation.parent_id).first() if generation.parent_id else None
    extensions = []
    if generation.status == Status.SUCCEEDED and generation.is_video:
        extensions = list(own.filter(parent=generation).order_by("created_at"))
    return {"parent": parent, "extensions": extensions}


def made_from(generation: Generation, lip_sync: dict[str, Any] | None = None) -> Generation | None:
    """The owner's own finished video this generation started from by Kling's video id
    ("Lip-sync" or "Add sound" on that video's page), for a link back to it; a lip-sync
    finds it through its face session (`lip_sync`: lip_sync_face()'s answer). An extension
    shows its whole chain instead; motion control and omni video send Kling a copy of the
    video and keep no link to where it came from."""
    video_id = (generation.params or {}).get("video_id") or ""
    if not video_id and lip_sync and lip_sync["session"] is not None:
        video_id = lip_sync["session"].video_id
    if not video_id or generation.kind == Kind.VIDEO_EXTEND:
        return None
    asset = (
        Asset.objects.filter(
            kind=Asset.Kind.VIDEO,
            video_id=video_id,
            generation__in=Generation.objects.owned_by(generation.owner_id),
        )
        .exclude(generation=generation)
        .select_related("generation")
        .first()
    )
    return asset.generation if asset is not None else None


def given_inputs(generation: Generation) -> list[InputFile]:
    """The person's uploads in the order the create page asked for them (the person before
    the garment, the subjects before the scene and the style), not by field name."""
    fields = FORMS[generation.kind].INPUT_FIELDS if generation.kind in FORMS else []
    rank = {field: place for place, field in enumerate(fields)}
    return sorted(generation.inputs.all(), key=lambda given: (rank.get(given.field, len(rank)), given.index))


def _detail_context(generation: Generation) -> dict[str, Any]:
    assets = list(generation.assets.all())
    lip_sync = lip_sync_face(generation)
    return {
        "generation": generation,
        "assets": assets,
        "inputs": given_inputs(generation),
        "extend_url": extend_url(generation, assets),
        "add_sound_url": add_sound_url(generation, assets),
        "motion_reference_url": motion_reference_url(generation, assets),
        "omni_reference_url": omni_reference_url(generation, assets),
        "lip_sync_url": lip_sync_url(generation, assets),
        "lip_sync": lip_sync,
        **picture_urls(generation, assets),
        **extension_chain(generation),
        "made_from": made_from(generation, lip_sync),
        "progress": services.progress_for([generation]).get(generation.pk),
        "timeline": timeline(generation),
        "parameters": parameters(generation),
    }


@login_required
@require_GET
def detail(request: HttpRequest, generation_id: int) -> HttpResponse:
    generation = get_object_or_404(_with_assets(Generation.objects.owned_by(request.user)), pk=generation_id)
    return render(request, "generations/detail.html", _detail_context(generation))


@login_required
@require_GET
def status(request: HttpRequest, generation_id: int) -> HttpResponse:
    """The live part of a generation's page or gallery card (htmx polls it every few
    seconds while it runs; the answer for a finished one has no trigger, so polling stops)."""
    if not request.htmx:
        return redirect("generations:detail", int(generation_id))
    generation = get_object_or_404(_with_assets(Generation.objects.owned_by(request.user)), pk=generation_id)
    # Gallery tabs opened before the page-wide poller (live_cards) still ask card by card.
    if request.GET.get("view") == "card":
        progress = services.progress_for([generation]).get(generation.pk)
        response = render(
            request, "generations/gallery.html#card", {"generation": generation, "progress": progress}
        )
    else:
        response = render(request, "generations/detail.html#live", _detail_context(generation))
    response["Vary"] = "HX-Request"
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest, generation_id: int) -> HttpResponse:
    generation = _owned(request, generation_id)
    if request.method == "POST":
        services.delete_generation(request.user, generation.pk)
        messages.success(request, _("The generation was deleted."))
        return redirect("generations:gallery")
    return render(request, "generations/delete.html", {"generation": generation})


# --- files ----------------------------------------------------------------------------

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def _chunks(handle: IO[bytes], length: int, size: int = 256 * 1024) -> Iterator[bytes]:
    try:
        while length > 0:
            data = handle.read(min(size, length))
            if not data:
                break
            length -= len(data)
            yield data
    finally:
        handle.close()


def serve_file(
    request: HttpRequest, field, content_type: str, filename: str, *, attachment: bool
) -> HttpResponse:
    """Stream one of our stored files, with single byte ranges (video seeking)."""
    if not field:
        raise Http404
    try:
        size = field.size
        handle = field.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404 from None
    match = _RANGE.fullmatch(request.headers.get("Range", "").strip())
    if match and size and (match.group(1) or match.group(2)):
        first, last = match.groups()
        if first:
            start, end = int(first), min(int(last) if last else size - 1, size - 1)
        else:
            start, end = max(0, size - int(last)), size - 1
        if start > end or start >= size:
            handle.close()
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        handle.seek(start)
        response = StreamingHttpResponse(
            _chunks(handle, end - start + 1), status=206, content_type=content_type
        )
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    else:
        response = FileResponse(handle, content_type=content_type)
        response["Content-Length"] = str(size)
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = content_disposition_header(attachment, filename)
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_GET
def asset_file(request: HttpRequest, generation_id: int, asset_id: int, filename: str) -> HttpResponse:
    generation = _owned(request, generation_id)
    asset = get_object_or_404(Asset, pk=asset_id, generation=generation)
    return serve_file(
        request,
        asset.file,
        asset.content_type,
        generation.download_name(asset),
        attachment=bool(request.GET.get("download")),
    )


@login_required
@require_GET
def asset_thumbnail(request: HttpRequest, generation_id: int, asset_id: int) -> HttpResponse:
    generation = _owned(request, generation_id)
    asset = get_object_or_404(Asset, pk=asset_id, generation=generation)
    return serve_file(request, asset.thumbnail, "image/jpeg", f"thumbnail-{asset.pk}.jpg", attachment=False)


@login_required
@require_GET
def input_file(request: HttpRequest, generation_id: int, which: str) -> HttpResponse:
    generation = _owned(request, generation_id)
    field = {"image": generation.input_image, "image_tail": generation.input_image_tail}.get(which)
    if field is None or not field:
        raise Http404
    content_type = mimetypes.guess_type(field.name)[0] or "application/octet-stream"
    if content_type not in ("image/jpeg", "image/png"):
        content_type = "application/octet-stream"
    return serve_file(
        request, field, content_type, f"{which}-{generation.pk}{_ext(field.name)}", attachment=False
    )


@login_required
@require_GET
def uploaded_input(request: HttpRequest, generation_id: int, input_id: int) -> HttpResponse:
    """A video, sound file or picture its owner gave for a generation (owner-only)."""
    generation = _owned(request, generation_id)
    given = get_object_or_404(InputFile, pk=input_id, generation=generation)
    name = f"{given.field}-{given.index + 1}-{generation.pk}{_ext(given.file.name)}"
    return serve_file(request, given.file, given.content_type, name, attachment=False)


@require_http_methods(["GET", "HEAD"])
def signed_input(request: HttpRequest, token: str, filename: str) -> HttpResponse:
    """An input file for Kling to fetch, by signed URL (generations.inputs): 404 for a
    forged token, 403 for an expired one."""
    try:
        given = inputs.resolve(token)
    except inputs.Expired:
        return HttpResponse("This link has expired.", status=403, content_type="text/plain")
    if given is None:
        raise Http404
    response = serve_file(request, given.file, given.content_type, filename, attachment=False)
    response["Cache-Control"] = "private, no-store"
    return response


def face_video(request: HttpRequest, token: str, filename: str) -> HttpResponse:
    """An uploaded video for Kling's identify-face to fetch (lip-sync's first step)."""
    try:
        session = inputs.resolve_face_video(token)
    except inputs.Expired:
        return HttpResponse("This link has expired.", status=403, content_type="text/plain")
    if session is None:
        raise Http404
    response = serve_file(
        request, session.video, session.video_content_type or "video/mp4", filename, attachment=False
    )
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def face_picture(request: HttpRequest, session_pk: int, face_id: str) -> HttpResponse:
    """Our copy of a face's thumbnail from Kling's identify-face (owner-only)."""
    session = get_object_or_404(FaceSession, pk=session_pk, owner=request.user)
    return serve_face_picture(request, session, face_id)


def serve_face_picture(request: HttpRequest, session: FaceSession, face_id: str) -> HttpResponse:
    """Stream our copy of one face's thumbnail; the caller has checked `session` is the
    requester's own (the page by its login, the API by its key). Http404 when not copied."""
    picture = media.face_picture(session, face_id)
    if picture is None:
        raise Http404
    content_type = session.face(face_id).get("picture_type") or "image/jpeg"
    if content_type not in ("image/jpeg", "image/png", "image/webp"):
        content_type = "application/octet-stream"
    return serve_file(request, picture, content_type, f"face-{face_id}{_ext(picture.name)}", attachment=False)


# What a scene preview staff upload may be served as; anything else is a plain download.
PREVIEW_TYPES = (
    "video/mp4",
    "video/webm",
    "video/quicktime",
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
)


@login_required
@require_GET
def effect_preview(request: HttpRequest, name: str) -> HttpResponse:
    """An effect scene's preview (a clip or a picture staff uploaded in admin), for the
    gallery of effects and the scene's form. Served here because the site never serves
    MEDIA_URL: the file storage is private, and results go through owner-checked views."""
    scene = get_object_or_404(EffectScene, name=name)
    content_type = mimetypes.guess_type(scene.preview.name)[0] if scene.preview else None
    if content_type not in PREVIEW_TYPES:
        content_type = "application/octet-stream"
    return serve_file(
        request, scene.preview, content_type, f"effect-{scene.pk}{_ext(scene.preview.name)}", attachment=False
    )


def _ext(name: str) -> str:
    return "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""

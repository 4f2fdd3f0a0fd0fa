"""The previews staff upload for effect scenes are shown in the gallery of effects and on a
scene's form from the site's own route: MEDIA_URL is never served (a preview linked there
was a broken picture outside the test server)."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from generations.models import EffectScene
from tests.media_files import picture_png, video_bytes


@pytest.fixture
def scenes(db):
    clip = EffectScene.objects.create(name="zoom_test", label="Zoom test", durations=[5], position=0)
    clip.preview.save("zoom.mp4", ContentFile(video_bytes(1, 160, 120, 12)))
    picture = EffectScene.objects.create(
        name="pair_test", label="Pair test", durations=[5], two_person=True, position=1
    )
    picture.preview.save("pair.png", ContentFile(picture_png(160, 120)))
    return clip, picture


def test_the_gallery_and_the_form_show_previews_from_the_site(alice_client, scenes):
    clip, picture = scenes
    gallery = alice_client.get("/generate/video-effects/").content.decode()
    clip_url = reverse("generations:effect_preview", args=[clip.name])
    picture_url = reverse("generations:effect_preview", args=[picture.name])
    assert f'<video src="{clip_url}"' in gallery and f'<img src="{picture_url}"' in gallery
    assert "/media/" not in gallery
    form = alice_client.get("/generate/video-effects/?scene=zoom_test").content.decode()
    assert f'<video src="{clip_url}"' in form

    served = alice_client.get(clip_url)
    assert served.status_code == 200 and served["Content-Type"] == "video/mp4"
    assert b"".join(served.streaming_content) == clip.preview.open("rb").read()
    assert alice_client.get(picture_url)["Content-Type"] == "image/png"
    # Seeking in the looping clip: a byte range.
    ranged = alice_client.get(clip_url, headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and ranged["Content-Length"] == "100"


def test_a_scene_without_a_preview_or_unknown_answers_404(alice_client, scenes):
    EffectScene.objects.create(name="bare", label="Bare", durations=[5])
    assert alice_client.get(reverse("generations:effect_preview", args=["bare"])).status_code == 404
    assert alice_client.get(reverse("generations:effect_preview", args=["nope"])).status_code == 404


def test_a_preview_of_another_type_is_not_served_as_a_page(alice_client, db):
    scene = EffectScene.objects.create(name="odd", label="Odd", durations=[5])
    scene.preview.save("odd.html", ContentFile(b"<script>alert(1)</script>"))
    served = alice_client.get(reverse("generations:effect_preview", args=["odd"]))
    assert served["Content-Type"] == "application/octet-stream"
    assert served["X-Content-Type-Options"] == "nosniff"

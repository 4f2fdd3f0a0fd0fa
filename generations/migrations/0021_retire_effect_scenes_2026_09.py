"""Effect scenes Kling no longer offers (docs/kling.md, section 8): the one-picture classics
and the classic two-person heart_gesture are gone from the effect_scene list of Kling's
Video Effects page (2026-09). Their rows are switched off, not deleted, so that old
generations still show their scene; staff may switch one back on in admin. Three one-picture
scenes on Kling's current list are added (with their default prices), so that the gallery
still has one-picture effects."""

from django.db import migrations

RETIRED = ("bloombloom", "dizzydizzy", "fuzzyfuzzy", "squish", "expansion", "heart_gesture")


def retire(apps, schema_editor):
    from generations import effects
    from generations.pricing import seed_default_prices

    scene = apps.get_model("generations", "EffectScene")
    scene.objects.filter(name__in=RETIRED, enabled=True).update(enabled=False)
    effects.seed_scenes(scene)
    seed_default_prices(apps.get_model("generations", "Price"), "video_effects")


class Migration(migrations.Migration):
    dependencies = [("generations", "0020_cheers_2026_two_people_five_seconds")]

    operations = [migrations.RunPython(retire, migrations.RunPython.noop)]

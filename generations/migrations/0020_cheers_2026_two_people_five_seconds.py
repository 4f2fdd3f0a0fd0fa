"""cheers_2026 is a two-person scene that makes 5 s clips only (Kling's Effects Center; its
Video Effects API page lists it with the dual-image scenes). It was first seeded as a
one-picture scene: the row is corrected. Its price rows (5 s, no mode) stay as they are."""

from django.db import migrations


def correct(apps, schema_editor):
    scene = apps.get_model("generations", "EffectScene")
    scene.objects.filter(name="cheers_2026").update(two_person=True, model_names=[], durations=[5])


class Migration(migrations.Migration):
    dependencies = [("generations", "0019_effect_prices_from_published_rates")]

    operations = [migrations.RunPython(correct, migrations.RunPython.noop)]

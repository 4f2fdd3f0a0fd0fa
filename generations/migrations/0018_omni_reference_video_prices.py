"""Prices of omni video with a reference or base video (Kling's `video_list`), which Kling
bills at 0.9 units a second in standard and 1.2 in professional mode: rows whose mode is
"std+video" / "pro+video" (pricing.WITH_VIDEO), never overwriting an edited row."""

from django.db import migrations


def add_prices(apps, schema_editor):
    from generations.pricing import seed_default_prices

    seed_default_prices(apps.get_model("generations", "Price"), "omni_video")


class Migration(migrations.Migration):
    dependencies = [("generations", "0017_lip_sync")]

    operations = [migrations.RunPython(add_prices, migrations.RunPython.noop)]

"""Video effect prices from the published rates (generations/effects.py, docs/kling.md
section 8): the classic Kling 1.6 scenes keep 0.4 units a second in std (and the one-picture
scenes) and 0.7 in pro; the newer templates whose price Kling does not publish (`*_pro`,
cheers_2026) move from the standard rate to the fallback, 0.7 units a second. A row whose
credits are not the old default was edited in admin and is left as it is."""

from decimal import Decimal

from django.db import migrations

# The rates the rows were first seeded with (0016_video_effects), per mode.
OLD_UNITS_PER_SECOND = {"": Decimal("0.4"), "std": Decimal("0.4"), "pro": Decimal("0.7")}


def reprice(apps, schema_editor):
    from generations.pricing import default_price_rows, seed_default_prices, video_credits

    price = apps.get_model("generations", "Price")
    for row in default_price_rows():
        if row["kind"] != "video_effects":
            continue
        old = video_credits(OLD_UNITS_PER_SECOND[row["mode"]] * row["duration"])
        price.objects.filter(
            kind=row["kind"],
            model_name=row["model_name"],
            mode=row["mode"],
            duration=row["duration"],
            credits=old,
        ).update(credits=row["credits"])
    seed_default_prices(price, "video_effects")


class Migration(migrations.Migration):
    dependencies = [("generations", "0018_omni_reference_video_prices")]

    operations = [migrations.RunPython(reprice, migrations.RunPython.noop)]

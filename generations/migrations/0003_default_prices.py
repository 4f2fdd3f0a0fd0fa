"""Seed one Price per combination the capability table allows (see generations.pricing).

The defaults live in one place, `pricing.default_price_rows()`; this migration inserts what
it says when the migration runs and never overwrites a row an operator has edited. Later
changes to the defaults reach existing databases only through a new migration.
"""

from django.db import migrations


def add_default_prices(apps, schema_editor):
    from generations.pricing import default_price_rows

    Price = apps.get_model("generations", "Price")
    for row in default_price_rows():
        Price.objects.get_or_create(
            kind=row["kind"],
            model_name=row["model_name"],
            mode=row["mode"],
            duration=row["duration"],
            audio=row["audio"],
            defaults={"credits": row["credits"]},
        )


class Migration(migrations.Migration):
    dependencies = [("generations", "0002_generation_follow_up_fields")]

    operations = [migrations.RunPython(add_default_prices, migrations.RunPython.noop)]

from django.db import migrations

# Prices in cents. Created only on a database without packs, so operators' own packs
# (and their edits) are never touched.
DEFAULT_PACKS = [
    {"name": "Starter", "credits": 500, "price_minor": 1000, "badge": "", "order": 10},
    {"name": "Creator", "credits": 1200, "price_minor": 2000, "badge": "Popular", "order": 20},
    {"name": "Studio", "credits": 3500, "price_minor": 5000, "badge": "Best value", "order": 30},
]


def create_default_packs(apps, schema_editor):
    CreditPack = apps.get_model("billing", "CreditPack")
    if CreditPack.objects.exists():
        return
    for pack in DEFAULT_PACKS:
        CreditPack.objects.create(currency="usd", active=True, **pack)


class Migration(migrations.Migration):

    dependencies = [
        ("billing", "0003_stripe_checkout"),
    ]

    operations = [
        migrations.RunPython(create_default_packs, migrations.RunPython.noop),
    ]

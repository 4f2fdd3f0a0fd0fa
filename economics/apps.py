from django.apps import AppConfig


class EconomicsConfig(AppConfig):
    name = "economics"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "Economics"

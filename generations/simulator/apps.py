from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    name = "generations.simulator"
    label = "simulator"
    verbose_name = "Kling simulator"
    default_auto_field = "django.db.models.BigAutoField"

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict:
    return {
        "SITE_NAME": settings.SITE_NAME,
        "DEMO_MODE": settings.DEMO_MODE,
        "STRIPE_DEMO": settings.STRIPE_DEMO,
        "KLING_PROVIDER": settings.KLING_PROVIDER,
        "WELCOME_CREDITS": settings.WELCOME_CREDITS,
    }

from functools import cache

from django.conf import settings
from django.http import HttpRequest
from django.urls import URLResolver

# The main navigation item each page belongs to, by its URL name. Every allauth page
# (log in, email, password, ...) and every page of the accounts app belong to "account".
NAV_SECTIONS = {
    "generations:choose": "generate",
    "generations:create": "generate",
    "generations:options": "generate",
    "generations:gallery": "gallery",
    "generations:detail": "gallery",
    "generations:status": "gallery",
    "generations:delete": "gallery",
    "generations:input": "gallery",
    "generations:thumbnail": "gallery",
    "generations:file": "gallery",
    "subjects:index": "subjects",
    "subjects:delete": "subjects",
    "billing:credits": "credits",
    "billing:purchases": "credits",
}


def _names(patterns) -> set[str]:
    names = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            names |= _names(pattern.url_patterns)
        elif pattern.name:
            names.add(pattern.name)
    return names


@cache
def allauth_url_names() -> frozenset[str]:
    from allauth import urls

    return frozenset(_names(urls.urlpatterns))


def nav_section(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:  # a page that matched no URL (404)
        return ""
    if match.view_name in NAV_SECTIONS:
        return NAV_SECTIONS[match.view_name]
    if "accounts" in match.namespaces or (not match.namespaces and match.url_name in allauth_url_names()):
        return "account"
    return ""


def site(request: HttpRequest) -> dict:
    match = getattr(request, "resolver_match", None)
    return {
        "SITE_NAME": settings.SITE_NAME,
        "DEMO_MODE": settings.DEMO_MODE,
        "STRIPE_DEMO": settings.STRIPE_DEMO,
        "KLING_PROVIDER": settings.KLING_PROVIDER,
        "WELCOME_CREDITS": settings.WELCOME_CREDITS,
        # The resolved URL name ("generations:detail", "account_login"): templates mark the
        # current page by it, never by comparing paths.
        "current_view": match.view_name if match else "",
        "nav_section": nav_section(request),
    }

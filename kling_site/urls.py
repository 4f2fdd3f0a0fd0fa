from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from accounts.views import set_language
from kling_site import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("pulse/", views.pulse, name="pulse"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("admin/economics/", include("economics.urls")),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("account/webhooks/", include("outbound_webhooks.urls")),
    path("account/", include("accounts.urls")),
    path("api/", include("api.urls")),
    path("", include("billing.urls")),
    path("", include("batches.urls")),
    path("", include("subjects.urls")),
    path("", include("generations.urls")),
]

if settings.KLING_PROVIDER == "simulator":
    urlpatterns.append(path("_sim/kling/", include("generations.simulator.urls")))

handler404 = "kling_site.views.page_not_found"
handler500 = "kling_site.views.server_error"

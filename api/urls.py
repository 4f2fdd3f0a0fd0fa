from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from api import batch_views, views

app_name = "api"
urlpatterns = [
    path("", views.guide, name="guide"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("v1/models", views.ModelsView.as_view(), name="models"),
    path("v1/quote", views.QuoteView.as_view(), name="quote"),
    path("v1/generations", views.GenerationListView.as_view(), name="generations"),
    path("v1/generations/<int:generation_id>", views.GenerationDetailView.as_view(), name="generation"),
    path("v1/credits", views.CreditsView.as_view(), name="credits"),
    path("v1/faces", views.FacesView.as_view(), name="faces"),
    path(
        "v1/faces/<str:session_id>/<str:face_id>/picture",
        views.FacePictureView.as_view(),
        name="face_picture",
    ),
    path("v1/files/<str:token>", views.signed_file, name="file"),
    path("v1/batches", batch_views.BatchListView.as_view(), name="batches"),
    path("v1/batches/<int:batch_id>", batch_views.BatchDetailView.as_view(), name="batch"),
    re_path(r"^v1/(?P<rest>.*)$", views.unknown_endpoint),
]

from django.urls import path

from billing import views

app_name = "billing"
urlpatterns = [
    path("credits/", views.credits, name="credits"),
    path("credits/export.csv", views.export_csv, name="export_csv"),
]

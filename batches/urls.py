from django.urls import path

from batches import views

app_name = "batches"
urlpatterns = [
    path("batches/", views.index, name="index"),
    path("batches/new/", views.new, name="new"),
    path("batches/new/<slug:kind_slug>/", views.new, name="new_kind"),
    path("batches/<int:batch_id>/", views.detail, name="detail"),
    path("batches/<int:batch_id>/retry/", views.retry, name="retry"),
    path("batches/<int:batch_id>/download/", views.download, name="download"),
]

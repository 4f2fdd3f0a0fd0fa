from django.urls import path

from subjects import views

app_name = "subjects"
urlpatterns = [
    path("subjects/", views.index, name="index"),
    path("subjects/<int:subject_id>/delete/", views.delete, name="delete"),
    path("subjects/<int:subject_id>/pictures/<int:position>/", views.picture, name="picture"),
]

from django.contrib import admin
from django.urls import path

from economics import views

app_name = "economics"

urlpatterns = [
    path("", admin.site.admin_view(views.index), name="dashboard"),
    path("refresh/", admin.site.admin_view(views.refresh), name="refresh"),
    path("by-day.csv", admin.site.admin_view(views.export_csv), name="csv"),
]

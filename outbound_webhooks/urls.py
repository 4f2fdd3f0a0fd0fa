from django.urls import path

from . import views

app_name = "outbound_webhooks"

urlpatterns = [
    path("", views.endpoint, name="endpoint"),
    path("secret/", views.rotate_secret, name="rotate_secret"),
    path("test/", views.send_test, name="send_test"),
    path("deliveries/<int:pk>/", views.delivery_detail, name="delivery"),
    path("deliveries/<int:pk>/again/", views.send_again, name="send_again"),
]

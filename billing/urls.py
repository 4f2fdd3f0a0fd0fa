from django.urls import path

from billing import views

app_name = "billing"

urlpatterns = [
    path("credits/", views.credits, name="credits"),
    path("credits/export.csv", views.export_csv, name="export_csv"),
    # -- Buying credits (Stripe Checkout) ---------------------------------------------------
    path("credits/buy/", views.buy, name="buy"),
    path("credits/buy/success/", views.buy_success, name="buy_success"),
    path("credits/buy/cancel/", views.buy_cancel, name="buy_cancel"),
    path("credits/purchases/", views.purchases, name="purchases"),
    path("credits/purchases/<int:purchase_id>/status/", views.purchase_status, name="purchase_status"),
    # Stripe posts here; with or without the final slash, never a redirect (a POST
    # redirect loses its body, and Stripe counts a 3xx as a failure).
    path("billing/stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
    path("billing/stripe/webhook", views.stripe_webhook),
    path("billing/demo/checkout/<str:session_id>/", views.demo_checkout_page, name="demo_checkout"),
    path("billing/demo/receipt/<str:charge_id>/", views.demo_receipt, name="demo_receipt"),
]

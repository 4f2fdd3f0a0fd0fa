"""The simulated Kling, mounted at /_sim/kling/ only when KLING_PROVIDER=simulator."""

from django.urls import path, re_path

from generations.simulator import catalog, views

app_name = "kling_sim"

urlpatterns = [
    path("", views.index, name="index"),
    path(f"v1/{catalog.IDENTIFY_FACE}", views.identify_face, name="identify_face"),
]
for _product in catalog.PRODUCTS:
    urlpatterns += [
        path(f"v1/{_product}", views.product_root, {"product": _product}),
        path(f"v1/{_product}/<str:reference>", views.task_detail, {"product": _product}),
    ]
urlpatterns += [
    path("v1/general/advanced-custom-elements", views.custom_elements),
    path("v1/general/advanced-custom-elements/<str:reference>", views.custom_element),
    path("v1/general/delete-advanced-elements", views.delete_elements),
    path("account/costs", views.account_costs, name="account_costs"),
    path("cdn/<str:token>/<str:filename>", views.cdn, name="cdn"),
    re_path(r"^(?P<rest>(v1|account)/.*)$", views.unknown),
]

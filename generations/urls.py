from django.urls import path, re_path

from generations import callbacks, views

app_name = "generations"
urlpatterns = [
    path("generate/", views.choose_kind, name="choose"),
    path("generate/lip-sync/faces/", views.find_faces, name="find_faces"),
    path("generate/<slug:kind_slug>/", views.create, name="create"),
    path("generate/<slug:kind_slug>/options/", views.options, name="options"),
    path("generations/", views.gallery, name="gallery"),
    path("generations/live/", views.live_cards, name="live_cards"),
    path("generations/<int:generation_id>/", views.detail, name="detail"),
    path("generations/<int:generation_id>/status/", views.status, name="status"),
    path("generations/<int:generation_id>/delete/", views.delete, name="delete"),
    path("generations/<int:generation_id>/inputs/<str:which>/", views.input_file, name="input"),
    path(
        "generations/<int:generation_id>/input-files/<int:input_id>/", views.uploaded_input, name="input_file"
    ),
    # Kling fetches videos and sound from here (no login: the signature grants access).
    path("inputs/<str:token>/<str:filename>", views.signed_input, name="signed_input"),
    path("inputs/faces/<str:token>/<str:filename>", views.face_video, name="face_video"),
    path("faces/<int:session_pk>/<str:face_id>/picture/", views.face_picture, name="face_picture"),
    path("effects/<path:name>/preview/", views.effect_preview, name="effect_preview"),
    path(
        "generations/<int:generation_id>/files/<int:asset_id>/thumbnail/",
        views.asset_thumbnail,
        name="thumbnail",
    ),
    path(
        "generations/<int:generation_id>/files/<int:asset_id>/<str:filename>", views.asset_file, name="file"
    ),
    # Kling posts wherever we said, with or without the slash; never redirect a POST. The
    # named one (with the slash) is the URL we give Kling.
    re_path(
        r"^callbacks/kling/(?P<generation_id>[0-9]+)/(?P<token>[A-Za-z0-9_-]+)/$",
        callbacks.kling_callback,
        name="callback",
    ),
    re_path(
        r"^callbacks/kling/(?P<generation_id>[0-9]+)/(?P<token>[A-Za-z0-9_-]+)$",
        callbacks.kling_callback,
    ),
]

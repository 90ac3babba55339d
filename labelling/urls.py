"""Labelling pages (desktop): projects, a project, the item screen, and the screen's lock and
queue endpoints (``labelling.screen_views``)."""

from django.urls import path

from labelling import screen_views, views

ITEM = "<str:project_id>/items/<str:item_id>/"

urlpatterns = [
    path("", views.project_list, name="labelling-projects"),
    path("<str:project_id>/", views.project_detail, name="labelling-project"),
    path("<str:project_id>/queue/next/", screen_views.queue_next, name="labelling-queue-next"),
    path(ITEM, views.item_screen, {"mode": "label"}, name="labelling-item"),
    path(
        "<str:project_id>/qa/<str:item_id>/",
        views.item_screen,
        {"mode": "qa"},
        name="labelling-qa-item",
    ),
    path(ITEM + "lock/", screen_views.item_lock, name="labelling-item-lock"),
]

"""Adjuster pages (desktop): the queue and the review screen."""

from django.urls import path

from review import views

urlpatterns = [
    path("", views.queue, name="review-queue"),
    path("claims/<uuid:claim_id>/", views.screen, name="review-screen"),
]

"""Customer-facing pages (mobile web)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from claims import views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/register/", views.register, name="register"),
    path("claims/new/", views.claim_new, name="claim-new"),
    path("claims/<uuid:claim_id>/", views.claim_status, name="claim-status"),
    path("claims/<uuid:claim_id>/photos/", views.claim_photos, name="claim-photos"),
    path("claims/<uuid:claim_id>/review/", views.claim_review, name="claim-review"),
]

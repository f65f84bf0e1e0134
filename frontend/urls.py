from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from domainsieve.auth import ANNOTATOR, role_required

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("guidelines/", views.guidelines, name="guidelines"),
    path("account/", views.account, name="account"),
    path("account/token/revoke/", views.account_token_revoke, name="account-token-revoke"),
    path("account/password/", role_required(ANNOTATOR)(auth_views.PasswordChangeView.as_view(
        template_name="registration/change_password.html", success_url=reverse_lazy("account"))),
        name="password-change"),
    # One-time links from create_users; the form applies AUTH_PASSWORD_VALIDATORS.
    path("set-password/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(
        template_name="registration/set_password.html", success_url=reverse_lazy("login")),
        name="set-password"),
    path("users/new/", views.users_bulk_create, name="users-bulk-create"),
    path("users/<str:username>/token/revoke/", views.user_token_revoke, name="user-token-revoke"),
]

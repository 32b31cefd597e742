from django.contrib import admin
from django.urls import path

from api import views
from platform_core.consent import consent_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("internal/telemetry-consent.json", consent_view),
    path("api/health", views.health),
    path("api/ok", views.ok),
    path("api/login", views.login_view),
    path("api/search", views.search),
    path("api/chat", views.chat),
    path("api/documents/<str:owner>/", views.upload_document),
    path("api/payments", views.payments),
    path("api/reports/activity", views.activity_report),
    path("api/folders/tree", views.folder_tree),
]

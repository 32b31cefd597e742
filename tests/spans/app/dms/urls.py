from django.urls import path

from dms import views

urlpatterns = [
    path("companies/<int:company_id>/documents/", views.document_search),
    path("companies/<int:company_id>/documents/<slug:slug>/", views.document_detail),
    path("billing/payment-method/", views.payment_method),
    path("api/assistant/chat/", views.assistant_chat),
]

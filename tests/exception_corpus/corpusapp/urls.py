from django.http import HttpResponse
from django.urls import path


def view(request, **kwargs):
    return HttpResponse("ok")


urlpatterns = [
    path("people/<slug:slug>/", view, name="profile"),
    path("documents/<int:pk>/", view, name="document"),
    path("search/", view, name="search"),
]

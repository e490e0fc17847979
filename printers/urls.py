from django.urls import path

from printers.views import FarmView

urlpatterns = [path("", FarmView.as_view(), name="farm")]

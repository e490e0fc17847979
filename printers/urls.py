from django.urls import path

from printers.views import FarmTilesView, FarmView

urlpatterns = [
    path("", FarmView.as_view(), name="farm"),
    path("farm/tiles", FarmTilesView.as_view(), name="farm-tiles"),
]

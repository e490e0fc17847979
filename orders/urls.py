from django.urls import re_path

from orders.views import EtsyCallbackView

# Etsy compares the callback with the registered one exactly (no extra slash); both answer here.
urlpatterns = [re_path(r"^etsy/callback/?$", EtsyCallbackView.as_view(), name="etsy-callback")]

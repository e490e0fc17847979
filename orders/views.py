"""Server-rendered pages of the orders app."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View

from orders.services.etsy import EtsyConnectFailed, etsy_connect_finish


class EtsyCallbackView(View):
    """Where Etsy sends the owner back after "Allow access" (or a refusal).

    Needs no login: the single-use ``state`` alone says whose shop it is (it was bound to the
    owner who asked). A refusal or a bad state is a clear page, and nothing is stored.
    """

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        params = request.GET
        try:
            connection = etsy_connect_finish(
                state=params.get("state", ""),
                code=params.get("code", ""),
                error=params.get("error", ""),
                error_description=params.get("error_description", ""),
            )
        except EtsyConnectFailed as failed:
            context = {"ok": False, "message": str(failed)}
            return render(request, "orders/etsy_callback.html", context, status=400)
        context = {"ok": True, "connection": connection}
        return render(request, "orders/etsy_callback.html", context)

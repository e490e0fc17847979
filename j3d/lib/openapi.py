"""The OpenAPI AutoSchema of the REST API: every operation documents the errors it can answer.

drf-spectacular documents the success response of each operation; the errors come from here, as
shared response components (j3d.lib.schema.ERROR_RESPONSES), so a client (and schemathesis) knows
every status code an operation may answer:

- 401 everywhere (no or wrong credentials; the token URLs answer 401 for a wrong password too);
- 406 everywhere (an Accept header that names no type the operation answers in);
- 400 where the client sends something to refuse: a body (POST, PUT, PATCH) or query parameters;
- 404 where the path names an object (another owner's object is a 404 too);
- 429 where a throttle applies;
- anything else a view declares in `extra_error_responses` (`{"PUT": ("409",)}`), such as 409
  where a status move or a busy printer can refuse the change.
"""

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.plumbing import ResolvedComponent

from j3d.lib.schema import ERROR_RESPONSES, error_response_components


class AutoSchema(openapi.AutoSchema):
    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        self._register_error_responses()
        for code in self._error_codes():
            responses.setdefault(code, {"$ref": f"#/components/responses/{_name(code)}"})
        return dict(sorted(responses.items()))

    def _error_codes(self) -> list[str]:
        codes = ["401", "406"]
        has_query = any(parameter["in"] == "query" for parameter in self._get_parameters())
        if self.method in ("POST", "PUT", "PATCH") or has_query:
            codes.append("400")
        if "{" in self.path:
            codes.append("404")
        if self.view.get_throttles():
            codes.append("429")
        extra = getattr(self.view, "extra_error_responses", {})
        codes.extend(extra.get(self.method, ()))
        return codes

    def _register_error_responses(self) -> None:
        for name, response in error_response_components():
            self.registry.register_on_missing(
                ResolvedComponent(name, ResolvedComponent.RESPONSE, schema=response, object=name)
            )


def _name(code: str) -> str:
    return ERROR_RESPONSES[code][0]


def drop_binary_patterns(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: a file field's extension check is about its name, not its bytes, so
    it is no `pattern` of the binary content (which a client could neither meet nor break)."""
    for component in result.get("components", {}).get("schemas", {}).values():
        for prop in component.get("properties", {}).values():
            if prop.get("format") == "binary":
                prop.pop("pattern", None)
    return result

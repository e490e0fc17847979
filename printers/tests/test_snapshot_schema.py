import pytest

from printers.bambu.snapshot import Snapshot


@pytest.mark.django_db
def test_the_openapi_schema_documents_every_snapshot_field(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    snapshot = schema["components"]["schemas"]["PrinterStatus"]["properties"]["snapshot"]

    assert set(snapshot["properties"]) == set(Snapshot().to_dict())
    tray = snapshot["properties"]["ams"]["items"]["properties"]["trays"]["items"]
    assert tray["properties"]["slot"] == {"type": "integer", "nullable": True}
    assert snapshot["properties"]["state"]["type"] == "string"

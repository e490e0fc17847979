import io
import zipfile
from hashlib import md5
from types import SimpleNamespace

import pytest
from django.core.management import call_command

from j3d.management.commands.run_demo import DEMO_PRINTERS, demo_print_file, seed_demo_shop
from orders.models import Order, ProductProfile
from printers.models import Printer


def test_demo_print_file_is_a_sliced_3mf_with_the_plate_md5():
    archive = zipfile.ZipFile(io.BytesIO(demo_print_file()))
    gcode = archive.read("Metadata/plate_1.gcode")
    assert archive.read("Metadata/plate_1.gcode.md5").decode() == md5(gcode).hexdigest().upper()


@pytest.mark.django_db
def test_demo_seed_points_the_demo_printers_at_this_runs_simulators(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    call_command("setup_demo", stdout=io.StringIO())
    broker = SimpleNamespace(host="127.0.0.1", port=18883)
    simulators = [SimpleNamespace(ftps_port=2000 + i) for i in range(len(DEMO_PRINTERS))]

    seed_demo_shop(broker, simulators)
    seed_demo_shop(SimpleNamespace(host="127.0.0.1", port=18884), simulators)  # a second run

    printers = Printer.objects.filter(user__username="demo").order_by("serial")
    assert printers.count() == len(DEMO_PRINTERS)
    assert {p.mqtt_port for p in printers} == {18884}
    assert all(p.access_code and p.status for p in printers)
    assert ProductProfile.objects.get(user__username="demo").print_file.name.endswith(".3mf")
    assert Order.objects.filter(user__username="demo").count() == 1
    # Fresh simulators have clear plates: the demo's planned jobs start without a click.
    assert all(p.planning.plate_clear for p in printers)


def test_demo_etsy_serves_valid_recent_receipts_and_points_j3d_at_itself(monkeypatch):
    import httpx

    from j3d.management.commands.run_demo import DEMO_SHOP_ID, demo_etsy
    from orders.etsy.receipts import parse_receipt

    for name in ("ETSY_KEYSTRING", "ETSY_SHARED_SECRET", "ETSY_API_URL", "ETSY_CONNECT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ETSY_REDIRECT_URI", "")

    with demo_etsy("127.0.0.1:8000") as fake:
        import os

        assert os.environ["ETSY_API_URL"] == fake.url
        assert os.environ["ETSY_REDIRECT_URI"] == "http://127.0.0.1:8000/etsy/callback"
        receipts = list(fake.receipts[DEMO_SHOP_ID].values())
        assert len(receipts) == 27
        assert all(parse_receipt(r) for r in receipts)
        ping = httpx.get(
            f"{fake.url}/v3/application/openapi-ping",
            headers={"x-api-key": f"{fake.keystring}:{fake.shared_secret}"},
        )
        assert ping.status_code == 200

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

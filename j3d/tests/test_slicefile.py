"""The sliced-file reader: Bambu Studio's real layout, older files, bad and hostile archives."""

import io
import zipfile
from decimal import Decimal

import pytest

from j3d.lib import slicefile
from j3d.lib.slicefile import SliceFileError, read_sliced_file
from j3d.tests.factories import sliced_3mf

# slice_info.config as Bambu Studio 2.2 writes it (bbs_3mf.cpp,
# _add_slice_info_config_file_to_archive): two plates, a filament colour with an alpha byte.
REAL_SLICE_INFO = """<?xml version="1.0" encoding="UTF-8"?>
<config>
  <header>
    <header_item key="X-BBL-Client-Type" value="slicer"/>
    <header_item key="X-BBL-Client-Version" value="02.02.01.60"/>
  </header>
  <plate>
    <metadata key="index" value="1"/>
    <metadata key="extruder_type" value="0"/>
    <metadata key="nozzle_volume_type" value="0"/>
    <metadata key="printer_model_id" value="C12"/>
    <metadata key="nozzle_diameters" value="0.4"/>
    <metadata key="timelapse_type" value="0"/>
    <metadata key="prediction" value="5025"/>
    <metadata key="weight" value="23.45"/>
    <metadata key="outside" value="false"/>
    <metadata key="support_used" value="false"/>
    <metadata key="label_object_enabled" value="true"/>
    <metadata key="filament_maps" value="1 1"/>
    <object identify_id="101" name="Stand &amp; clip.stl" skipped="false" />
    <filament id="1" tray_info_idx="GFA00" type="PLA" color="#161616" used_m="7.53"
 used_g="22.46" />
    <filament id="3" tray_info_idx="GFG99" type="PETG HF" color="#F2F2F2FF" used_m="0.33"
 used_g="0.99" />
    <warning msg="bed_temperature_too_high_than_filament" level="1" error_code ="1000C001"  />
  </plate>
  <plate>
    <metadata key="index" value="2"/>
    <metadata key="prediction" value="600"/>
    <metadata key="weight" value="5.00"/>
    <filament id="1" tray_info_idx="GFA00" type="PLA" color="#161616" used_m="1.60" used_g="5.00" />
  </plate>
</config>
"""


def zipped(members: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_reads_each_plate_of_bambu_studios_slice_info():
    sliced = read_sliced_file(sliced_3mf(slice_info=REAL_SLICE_INFO), name="stand.gcode.3mf")

    assert sliced.slicer == "02.02.01.60"
    assert sliced.plate_count == 2
    first, second = sliced.plates
    assert (first.index, first.seconds, first.grams) == (1, 5025, Decimal("23.45"))
    assert [(f.slot, f.type, f.color, f.grams) for f in first.filaments] == [
        (1, "PLA", "#161616", Decimal("22.46")),
        (3, "PETG HF", "#F2F2F2", Decimal("0.99")),
    ]
    assert (second.index, second.seconds, second.grams) == (2, 600, Decimal("5.00"))
    assert sliced.seconds == 5625 and sliced.grams == Decimal("28.45")


def test_filaments_add_up_over_plates_by_type_and_colour():
    sliced = read_sliced_file(sliced_3mf(slice_info=REAL_SLICE_INFO), name="stand.3mf")

    assert [(f.type, f.color, f.grams) for f in sliced.filaments()] == [
        ("PLA", "#161616", Decimal("27.46")),
        ("PETG HF", "#F2F2F2", Decimal("0.99")),
    ]


def test_missing_prediction_is_taken_from_the_plate_gcode_header():
    data = sliced_3mf(
        [{"seconds": None, "header_seconds": 5410, "filaments": [("PLA", "#FF8800", "12.5")]}]
    )

    plate = read_sliced_file(data, name="old.3mf").plates[0]

    assert plate.seconds == 5410  # 1h 30m 10s
    assert plate.grams == Decimal("12.50")


def test_a_file_object_is_read_and_left_at_its_start():
    handle = io.BytesIO(sliced_3mf())

    read_sliced_file(handle, name="a.3mf")

    assert handle.tell() == 0


def test_bambu_gcode_header_alone_gives_time_and_grams():
    gcode = (
        b"; HEADER_BLOCK_START\n; BambuStudio 01.09.01.67\n"
        b"; model printing time: 1h 20m 6s; total estimated time: 1h 24m 52s\n"
        b"; total filament weight [g] : 19.55,0.45\n; HEADER_BLOCK_END\nG28\n"
    )

    sliced = read_sliced_file(gcode, name="plate.gcode")

    assert sliced.slicer == "BambuStudio 01.09.01.67"
    assert (sliced.seconds, sliced.grams) == (5092, Decimal("20.00"))


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (b"; sliced by something\nG28\n", "x.3mf", "not a zip"),
        (b"G28\nG1 X0\n", "x.gcode", "no Bambu Studio / OrcaSlicer header"),
        (zipped({"3D/3dmodel.model": "<model/>"}), "prusa.3mf", "no Metadata/slice_info.config"),
        (zipped({slicefile.SLICE_INFO: "<config><plate>"}), "x.3mf", "not valid XML"),
        (zipped({slicefile.SLICE_INFO: "<model/>"}), "x.3mf", "not a Bambu slice info"),
        (zipped({slicefile.SLICE_INFO: "<config/>"}), "x.3mf", "no sliced plate"),
        (
            sliced_3mf(
                slice_info='<config><plate><metadata key="prediction" value="soon"/>'
                "</plate></config>"
            ),
            "x.3mf",
            "prediction 'soon' is not a number",
        ),
        (
            sliced_3mf(
                slice_info='<config><plate><filament id="1" type="PLA" color="red"'
                ' used_g="3"/></plate></config>'
            ),
            "x.3mf",
            "is not #RRGGBB",
        ),
        (
            sliced_3mf(
                slice_info='<config><plate><filament id="1" type="PLA" used_g="-3"/>'
                "</plate></config>"
            ),
            "x.3mf",
            "out of range",
        ),
        (
            sliced_3mf(
                slice_info='<config><plate><filament id="1" type="PLA" used_g="NaN"/>'
                "</plate></config>"
            ),
            "x.3mf",
            "out of range",
        ),
    ],
)
def test_malformed_or_foreign_files_are_refused_naming_the_file(data, name, reason):
    with pytest.raises(SliceFileError) as refused:
        read_sliced_file(data, name=name)

    assert name in str(refused.value) and reason in str(refused.value)


def test_xml_entity_expansion_is_refused():
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE config [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><config>&b;</config>'
    )

    with pytest.raises(SliceFileError, match="not valid XML"):
        read_sliced_file(zipped({slicefile.SLICE_INFO: bomb}), name="laughs.3mf")


def test_a_zip_bomb_member_is_refused_before_inflating():
    bomb = zipped({slicefile.SLICE_INFO: "<config/>", "Metadata/plate_1.gcode": b"\0" * 50_000_000})

    with pytest.raises(SliceFileError, match="zip bomb"):
        read_sliced_file(bomb, name="bomb.3mf")


def test_a_huge_member_is_refused(monkeypatch):
    monkeypatch.setattr(slicefile, "MAX_MEMBER_BYTES", 1000)
    data = zipped({slicefile.SLICE_INFO: "<config/>", "3D/big.model": b"x" * 1001})

    with pytest.raises(SliceFileError, match="too big"):
        read_sliced_file(data, name="big.3mf")


def test_a_slice_info_that_lies_about_its_size_is_cut_off(monkeypatch):
    monkeypatch.setattr(slicefile, "MAX_CONFIG_BYTES", 100)
    data = bytearray(zipped({slicefile.SLICE_INFO: "<config>" + " " * 500 + "</config>"}))
    # Shrink the declared size in the central directory: the reader must not trust it.
    directory = data.rfind(b"PK\x01\x02")
    data[directory + 24 : directory + 28] = (50).to_bytes(4, "little")

    with pytest.raises(SliceFileError):
        read_sliced_file(bytes(data), name="liar.3mf")


def test_too_many_members_are_refused(monkeypatch):
    monkeypatch.setattr(slicefile, "MAX_MEMBERS", 5)
    data = zipped({f"Metadata/{n}.txt": "x" for n in range(6)})

    with pytest.raises(SliceFileError, match="6 files inside"):
        read_sliced_file(data, name="many.3mf")

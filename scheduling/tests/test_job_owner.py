"""Tenant consistency below the API: a job's printer, order, item and profile are its owner's."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile

from j3d.lib.errors import NotFound
from j3d.tests.factories import make_job, make_order, make_printer, make_profile
from scheduling.models import ScheduledPrint
from scheduling.services.dispatch import job_dispatch
from scheduling.services.jobs import (
    job_create,
    job_update,
    order_schedule_prints,
    schedule_order_prints,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def printer(owner):
    return make_printer(owner)


@pytest.fixture
def theirs(other_owner):
    """One of each of the other owner's rows a job can point to."""
    order = make_order(other_owner, order_number="9001")
    return {
        "printer": make_printer(other_owner, serial="THEIRS01"),
        "order": order,
        "order_item": order.items.get(),
        "product_profile": make_profile(other_owner, name="Their dragon"),
    }


def test_job_create_with_another_owners_printer_is_refused(owner, theirs):
    with pytest.raises(ValidationError) as error:
        job_create(user=owner, printer=theirs["printer"], job_name="Sneaky")

    assert "printer" in error.value.message_dict
    assert not ScheduledPrint.objects.exists()


@pytest.mark.parametrize("field", ["order", "order_item", "product_profile"])
def test_job_create_linking_another_owners_row_is_refused(owner, printer, theirs, field):
    with pytest.raises(ValidationError) as error:
        job_create(user=owner, printer=printer, job_name="Sneaky", **{field: theirs[field]})

    assert field in error.value.message_dict
    assert not ScheduledPrint.objects.exists()


@pytest.mark.parametrize("field", ["printer", "order", "order_item", "product_profile"])
def test_job_update_linking_another_owners_row_is_refused(owner, printer, theirs, field):
    job = make_job(owner, printer)

    with pytest.raises(ValidationError) as error:
        job_update(job=job, **{field: theirs[field]})

    assert field in error.value.message_dict
    job.refresh_from_db()
    assert job.printer == printer and job.order_id is None and job.product_profile_id is None


def test_an_item_of_another_order_of_the_same_owner_is_refused(owner, printer):
    first, second = make_order(owner), make_order(owner, order_number="1002")

    with pytest.raises(ValidationError) as error:
        job_create(
            user=owner, printer=printer, job_name="X", order=first, order_item=(second.items.get())
        )

    assert "order_item" in error.value.message_dict


def test_job_create_with_the_owners_own_rows_is_accepted(owner, printer):
    order = make_order(owner)
    profile = make_profile(owner)

    job = job_create(
        user=owner,
        printer=printer,
        job_name="Mine",
        order=order,
        order_item=order.items.get(),
        product_profile=profile,
    )

    assert (job.printer, job.order, job.product_profile) == (printer, order, profile)


def test_job_dispatch_to_another_owners_printer_is_refused(owner, theirs, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    profile = make_profile(owner)
    profile.print_file.save("dragon.3mf", ContentFile(b"PK sliced"))
    job = make_job(owner, None, product_profile=profile)

    with pytest.raises(ValidationError) as error:
        job_dispatch(job=job, printer=theirs["printer"])

    assert "printer" in error.value.message_dict
    job.refresh_from_db()
    assert job.printer_id is None and job.printer_subtask_id == ""


def test_scheduling_an_order_on_another_owners_printer_is_refused(owner, theirs):
    order = make_order(owner)

    with pytest.raises(ValidationError) as error:
        order_schedule_prints(order=order, printer=theirs["printer"])

    assert "printer" in error.value.message_dict
    assert not ScheduledPrint.objects.exists()


def test_the_guides_alias_refuses_another_owners_printer_as_not_found(owner, theirs):
    with pytest.raises(NotFound):
        schedule_order_prints(owner.id, make_order(owner).id, theirs["printer"].id)

"""The staff admin: every page loads, the queue actions and 'schedule prints' work."""

import pytest
from django.contrib.auth import get_user_model

from j3d.tests.factories import ACCESS_CODE, make_job, make_material, make_order, make_printer
from printers.admin import PrinterAdminForm
from printers.models import Printer
from scheduling.models import ScheduledPrint

Status = ScheduledPrint.Status


@pytest.fixture
def staff_client(client, owner):
    staff = get_user_model().objects.create_superuser("staff", "staff@example.com", "staff-pass-1")
    client.force_login(staff)
    return client


@pytest.fixture
def printer(owner):
    printer = make_printer(owner)
    make_material(printer)
    return printer


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/admin/",
        "/admin/printers/printer/",
        "/admin/printers/printer/add/",
        "/admin/printers/bambumaterial/",
        "/admin/printers/printercommand/",
        "/admin/printers/printerlease/",
        "/admin/scheduling/scheduledprint/",
        "/admin/orders/order/",
        "/admin/orders/productprofile/",
        "/admin/orders/orderitem/?matched=no",
        "/admin/orders/etsyconnection/",
        "/admin/orders/etsyauthorization/",
        "/admin/notifications/printnotification/",
    ],
)
def test_admin_pages_load(staff_client, printer, url):
    assert staff_client.get(url).status_code == 200


@pytest.mark.django_db
def test_printer_page_shows_slots_inline_and_never_the_access_code(staff_client, printer):
    page = staff_client.get(f"/admin/printers/printer/{printer.id}/change/").content.decode()
    assert "materials-0-slot" in page
    assert "notification_settings" in page
    assert ACCESS_CODE not in page


@pytest.mark.django_db
def test_saving_a_printer_with_an_empty_access_code_box_keeps_the_code(printer):
    fields = PrinterAdminForm.Meta.fields
    data = {name: getattr(printer, name) for name in fields if name != "user"}
    data.update(user=printer.user_id, name="Renamed", access_code="", cloud_token="")
    form = PrinterAdminForm(data, instance=printer)

    assert form.is_valid(), form.errors
    form.save()

    printer.refresh_from_db()
    assert printer.name == "Renamed"
    assert printer.access_code == ACCESS_CODE


def _action(client, url, action, ids, **extra):
    return client.post(url, {"action": action, "_selected_action": ids, **extra}, follow=True)


@pytest.mark.django_db
def test_queue_actions_cancel_requeue_and_refuse_illegal_moves(staff_client, owner, printer):
    waiting = make_job(owner, printer)
    done = make_job(owner, printer, status=Status.COMPLETED)
    url = "/admin/scheduling/scheduledprint/"

    response = _action(staff_client, url, "cancel", [waiting.id, done.id])

    waiting.refresh_from_db(), done.refresh_from_db()
    assert waiting.status == Status.CANCELLED
    assert done.status == Status.COMPLETED  # refused, with a message
    assert "cannot become cancelled" in response.content.decode()
    _action(staff_client, url, "requeue", [waiting.id])
    waiting.refresh_from_db()
    assert waiting.status == Status.QUEUED


@pytest.mark.django_db
def test_move_action_moves_jobs_only_to_their_owners_printers(
    staff_client, owner, other_owner, printer
):
    job = make_job(owner, printer)
    mine = make_printer(owner, serial="MINE2", name="Second")
    theirs = make_printer(other_owner, serial="THEIRS")
    url = "/admin/scheduling/scheduledprint/"

    _action(staff_client, url, "move_to_printer", [job.id], printer=theirs.id)
    job.refresh_from_db()
    assert job.printer_id == printer.id
    _action(staff_client, url, "move_to_printer", [job.id], printer=mine.id)
    job.refresh_from_db()
    assert job.printer_id == mine.id


@pytest.mark.django_db
def test_schedule_prints_action_queues_one_job_per_item(staff_client, owner, printer):
    order = make_order(owner, items=[{"title": "Dragon"}, {"title": "Stand", "quantity": 2}])

    _action(staff_client, "/admin/orders/order/", "schedule_prints", [order.id], printer=printer.id)

    jobs = ScheduledPrint.objects.filter(order=order).order_by("-priority")
    assert [job.job_name for job in jobs] == ["Order #1001 - Dragon", "Order #1001 - Stand"]
    assert all(job.printer_id == printer.id for job in jobs)
    assert Printer.objects.count() == 1


@pytest.mark.django_db
def test_a_material_added_on_the_printer_page_belongs_to_the_printers_owner(
    staff_client, owner, printer
):
    status = printer.status
    data = {name: getattr(printer, name) for name in PrinterAdminForm.Meta.fields}
    data.update(user=owner.pk, access_code="", cloud_token="", ca_cert="")
    data.update(
        {
            "status-TOTAL_FORMS": 1,
            "status-INITIAL_FORMS": 1,
            "status-0-id": status.pk,
            "status-0-printer": printer.pk,
            "materials-TOTAL_FORMS": 1,
            "materials-INITIAL_FORMS": 0,
            "materials-0-slot": 5,
            "materials-0-material_type": "PETG",
            "materials-0-loaded_at_0": "2030-01-01",
            "materials-0-loaded_at_1": "09:00:00",
            "notification_settings-TOTAL_FORMS": 0,
            "notification_settings-INITIAL_FORMS": 0,
        }
    )
    data = {key: "" if value is None else value for key, value in data.items()}

    response = staff_client.post(f"/admin/printers/printer/{printer.id}/change/", data)

    assert response.status_code == 302, response.content.decode()[-3000:]
    assert printer.materials.get(slot=5).user == owner


def test_cross_app_pages_are_assembled_in_one_place_not_patched_into_the_lower_apps():
    from django.contrib import admin

    from notifications.admin import PrintNotificationInline
    from orders import admin as orders_admin
    from orders.models import Order
    from printers import admin as printers_admin
    from scheduling.admin import schedule_prints

    assert PrintNotificationInline not in printers_admin.PrinterAdmin.inlines
    assert schedule_prints not in (orders_admin.OrderAdmin.actions or [])
    assert PrintNotificationInline in admin.site._registry[Printer].inlines
    assert schedule_prints in admin.site._registry[Order].actions


@pytest.mark.django_db
def test_a_jobs_page_shows_its_upload_progress_and_error_but_not_the_claim(
    staff_client, owner, printer
):
    job = make_job(
        owner,
        printer,
        upload_state=ScheduledPrint.Upload.UPLOADING,
        upload_bytes_sent=1_500_000,
        upload_bytes_total=6_000_000,
        upload_attempts=2,
        upload_error="The worker stopped during attempt 1, at 300 of 6000000 bytes; restarted.",
        upload_claim="secret-claim-token",
    )

    page = staff_client.get(f"/admin/scheduling/scheduledprint/{job.pk}/change/")
    listing = staff_client.get("/admin/scheduling/scheduledprint/?upload_state=uploading")

    text = page.content.decode()
    assert page.status_code == 200
    assert "1,500,000 of 6,000,000 bytes (25%)" in text
    assert "stopped during attempt 1" in text
    assert "secret-claim-token" not in text
    assert job.job_name in listing.content.decode()


@pytest.mark.django_db
def test_a_jobs_status_is_not_a_form_field_it_moves_through_the_actions(
    staff_client, owner, printer
):
    job = make_job(owner, printer, status=Status.COMPLETED)

    page = staff_client.get(f"/admin/scheduling/scheduledprint/{job.pk}/change/")

    form = page.context["adminform"].form
    assert "status" not in form.fields and "failed_reason" not in form.fields
    assert "priority" in form.fields

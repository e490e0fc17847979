"""The Etsy receipt sync against the fake: first sync, re-syncs, faults, races, bad data."""

import copy
import io
import threading
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command
from django.db.models import Count

from j3d.lib.errors import Conflict
from j3d.schedules import SCHEDULES
from j3d.tests.factories import make_job, make_profile
from orders.etsy.fake import example_response, generate_receipts, make_receipt
from orders.etsy.receipts import parse_receipt
from orders.models import EtsyConnection, Order, OrderItem, ProductProfile
from orders.services.etsy import etsy_sync_orders, order_upsert_from_etsy
from orders.tests.conftest import SHOP
from scheduling.models import ScheduledPrint

pytestmark = pytest.mark.django_db

EXAMPLE = example_response()["results"]
PAID, COMPLETED, CANCELED = (r["receipt_id"] for r in EXAMPLE)


def sync(api, **body):
    answer = api.post("/api/etsy/sync-orders", body, format="json")
    assert answer.status_code in (200, 502), answer.content
    return answer.json()


def no_duplicates() -> None:
    assert not Order.objects.values("external_id").annotate(n=Count("id")).filter(n__gt=1)
    assert not OrderItem.objects.values("external_id").annotate(n=Count("id")).filter(n__gt=1)


def test_first_sync_imports_every_receipt_with_items_money_and_personalization(
    connected, etsy, api, owner
):
    etsy.put_receipts(SHOP, EXAMPLE + generate_receipts(120))

    result = sync(api)

    assert result["complete"] and result["error"] == ""
    assert result["created"] == 123 and result["skipped"] == []
    assert result["items"] == OrderItem.objects.count() == result["unmatched_items"] == 244
    order = Order.objects.get(external_id=str(PAID))
    assert (order.user, order.source, order.order_number) == (owner, "etsy", str(PAID))
    assert (order.status, order.is_paid, order.is_shipped) == ("paid", True, False)
    assert order.total_amount == Decimal("68.47") and order.currency == "USD"
    assert (order.total_minor, order.total_divisor) == (6847, 100)
    assert order.due_by.timestamp() == 1767484800
    assert order.buyer_message.startswith("Could you print the planter in matte")
    planter = order.items.get(external_id="4567890123")
    assert (planter.listing_id, planter.product_id, planter.sku) == (
        "1789012345",
        "20123456789",
        "PLANTER-M-SAGE",
    )
    assert (planter.quantity, planter.unit_price, planter.unit_price_minor) == (
        2,
        Decimal("22.00"),
        2200,
    )
    assert planter.personalization == "MARIA"
    assert planter.variation_label == "Sage Green / Medium (10 cm)"
    assert [v["formatted_value"] for v in planter.variations] == ["Sage Green", "Medium (10 cm)"]
    assert Order.objects.get(external_id=str(COMPLETED)).status == "shipped"
    canceled = Order.objects.get(external_id=str(CANCELED))  # from the was_canceled pass
    assert canceled.status == "cancelled" and canceled.cancel_reason == "Cancelled on Etsy"
    connected.refresh_from_db()
    assert connected.sync_high_water == max(
        r["updated_timestamp"] for r in etsy.receipts[SHOP].values()
    )
    assert connected.last_sync_at and connected.sync_resume_from is None


def test_resync_with_an_updated_and_a_cancelled_receipt(
    connected, etsy, api, owner, django_capture_on_commit_callbacks
):
    receipts = generate_receipts(30)
    etsy.put_receipts(SHOP, receipts)
    sync(api)
    cancelled_id, updated_id = receipts[3]["receipt_id"], receipts[7]["receipt_id"]
    order = Order.objects.get(external_id=str(cancelled_id))
    waiting = make_job(owner, None, order=order)
    printing = make_job(owner, None, order=order, job_name="Running", status="started")
    etsy.cancel(SHOP, cancelled_id)
    etsy.touch(SHOP, updated_id, name="Renamed Buyer", message_from_buyer="Blue please")
    seen = len(etsy.requests)

    with django_capture_on_commit_callbacks(execute=True):
        result = sync(api)

    assert (result["created"], result["updated"], result["cancelled"]) == (0, 2, 1)
    assert len(etsy.receipt_pages_served(since=seen)) == 2  # one page per pass
    updated = Order.objects.get(external_id=str(updated_id))
    assert (updated.buyer_name, updated.buyer_message) == ("Renamed Buyer", "Blue please")
    order.refresh_from_db()
    assert order.status == "cancelled" and order.cancelled_at
    waiting.refresh_from_db()
    printing.refresh_from_db()
    assert waiting.status == "cancelled" and printing.status == "started"
    assert [m.subject for m in mail.outbox] == [f"[J3D] Order #{order.order_number} was cancelled"]
    assert Order.objects.count() == 30
    no_duplicates()


def test_resync_with_nothing_changed_reads_one_page_per_pass_and_writes_nothing(
    connected, etsy, api
):
    etsy.put_receipts(SHOP, generate_receipts(250))
    sync(api)
    before = list(Order.objects.values_list("id", "updated_at").order_by("id"))
    seen = len(etsy.requests)

    result = sync(api)

    assert (result["created"], result["updated"], result["items"]) == (0, 0, 0)
    assert len(etsy.receipt_pages_served(since=seen)) == 2
    assert list(Order.objects.values_list("id", "updated_at").order_by("id")) == before


def test_token_refresh_mid_sync(connected, etsy, api):
    etsy.put_receipts(SHOP, generate_receipts(250))
    etsy.on_receipts_page = lambda fake, shop, page: page == 1 and fake.expire_access_tokens()
    old_refresh = connected.refresh_token

    result = sync(api)

    assert result["complete"] and result["created"] == 250
    connected.refresh_from_db()
    assert connected.refresh_token != old_refresh  # the rotated token was saved
    no_duplicates()


def test_429_mid_sync_waits_and_goes_on(connected, etsy, api):
    etsy.put_receipts(SHOP, generate_receipts(250))
    etsy.on_receipts_page = lambda fake, shop, page: (
        page == 1 and fake.fail_next(429, path="/receipts", retry_after=1)
    )

    result = sync(api)

    assert result["complete"] and result["created"] == 250
    assert [s.status for s in etsy.requests].count(429) == 1


def test_a_500_page_keeps_the_high_water_mark_then_the_next_sync_recovers(connected, etsy, api):
    etsy.put_receipts(SHOP, generate_receipts(250))
    etsy.on_receipts_page = lambda fake, shop, page: (
        page == 1
        and fake.fail_next(500, path="/receipts", count=5)  # the first try and every retry
    )

    failed = api.post("/api/etsy/sync-orders", {}, format="json")

    assert failed.status_code == 502
    assert not failed.json()["complete"] and "500" in failed.json()["error"]
    assert failed.json()["created"] == 100  # the first page got in
    connected.refresh_from_db()
    assert connected.sync_high_water is None and connected.sync_resume_from
    assert "500" in connected.last_error

    etsy.on_receipts_page = None
    recovered = sync(api)

    assert recovered["complete"] and recovered["created"] == 150
    assert Order.objects.count() == 250
    no_duplicates()


def test_duplicate_pages_and_offset_drift_make_no_duplicates(connected, etsy, api):
    receipts = generate_receipts(320)
    etsy.put_receipts(SHOP, receipts)

    def drift(fake, shop, page):
        if page <= 3:
            fake.touch(shop, receipts[page]["receipt_id"], message_from_buyer=f"edit {page}")
        if page == 2:
            fake.repeat_next_page()

    etsy.on_receipts_page = drift

    result = sync(api)

    assert result["complete"] and result["created"] == 320
    assert Order.objects.count() == 320
    assert Order.objects.get(external_id=str(receipts[3]["receipt_id"])).buyer_message == "edit 3"
    no_duplicates()


@pytest.mark.django_db(transaction=True)
def test_two_syncs_at_once_never_duplicate(connected, etsy, owner):
    etsy.put_receipts(SHOP, generate_receipts(300))
    outcomes: list = []

    def run() -> None:
        try:
            outcomes.append(etsy_sync_orders(user=owner))
        except Conflict as refused:
            outcomes.append(refused)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    finished = [o for o in outcomes if not isinstance(o, Conflict)]
    assert len(outcomes) == 2 and finished and all(o.complete for o in finished)
    assert Order.objects.count() == 300
    no_duplicates()


@pytest.mark.django_db(transaction=True)
def test_the_same_receipt_imported_twice_at_once_is_one_order(owner):
    receipt = parse_receipt(EXAMPLE[0])
    outcomes, barrier = [], threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        outcomes.append(
            order_upsert_from_etsy(user_id=owner.id, receipt=receipt, digest="d", link=lambda i: 0)
        )

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(o[0] for o in outcomes) == ["created", "unchanged", "unchanged", "unchanged"]
    assert Order.objects.count() == 1 and OrderItem.objects.count() == 2


def test_bad_receipts_are_skipped_with_a_reason_and_nothing_partial(connected, etsy, api):
    good = generate_receipts(5)
    unknown = make_receipt(3600000001, created=1767225600, status="Lost in transit")
    half = make_receipt(3600000002, created=1767225601, items=2)
    half["transactions"][1]["price"] = {"amount": "12", "divisor": 100, "currency_code": "USD"}
    missing = make_receipt(3600000003, created=1767225602)
    del missing["is_paid"]
    too_many = make_receipt(3600000004, created=1767225603)
    too_many["transactions"][0]["quantity"] = 100000
    shouting = make_receipt(3600000005, created=1767225604, status="PAID")
    etsy.put_receipts(SHOP, [*good, unknown, half, missing, too_many, shouting])

    result = sync(api)

    assert result["complete"] and result["created"] == 6
    reasons = {s["receipt_id"]: s["reason"] for s in result["skipped"]}
    assert set(reasons) == {3600000001, 3600000002, 3600000003, 3600000004}
    assert "unknown status" in reasons[3600000001]
    assert "transactions[1].price" in reasons[3600000002]
    assert "is_paid is missing" in reasons[3600000003]
    assert "quantity" in reasons[3600000004]
    skipped = [str(rid) for rid in reasons]
    assert not Order.objects.filter(external_id__in=skipped)
    assert not OrderItem.objects.filter(order__external_id__in=skipped)
    assert not OrderItem.objects.filter(external_id__in=["36000000020", "36000000021"])
    assert Order.objects.get(external_id="3600000005").status == "paid"


def test_refund_without_a_timestamp_change_is_caught_by_a_full_sync(connected, etsy, api):
    receipts = generate_receipts(3, step=3600)  # the oldest is outside the re-read overlap
    etsy.put_receipts(SHOP, receipts)
    sync(api)
    etsy.refund_in_full(SHOP, receipts[0]["receipt_id"])

    incremental = sync(api)
    full = sync(api, full=True)

    assert incremental["updated"] == 0  # Etsy did not bump updated_timestamp (GH#513)
    assert (full["updated"], full["cancelled"]) == (1, 1)
    order = Order.objects.get(external_id=str(receipts[0]["receipt_id"]))
    assert order.status == "cancelled" and order.cancel_reason == "Fully refunded on Etsy"


def test_items_find_profiles_by_listing_and_variation_then_sku(connected, etsy, api, owner):
    sage = make_profile(
        owner,
        name="Planter sage",
        etsy_listing_id="1789012345",
        etsy_variation="sage green / medium (10 cm)",
    )
    planter = make_profile(owner, name="Planter", etsy_listing_id="1789012345")
    dragon = make_profile(owner, name="Dragon", sku="dragon-silk-rainbow")
    other = copy.deepcopy(EXAMPLE[0])
    other.update(receipt_id=3456789099)
    for index, transaction in enumerate(other["transactions"]):
        transaction.update(transaction_id=4567899000 + index, receipt_id=3456789099)
    other["transactions"][0]["variations"][0]["formatted_value"] = "Black"
    etsy.put_receipts(SHOP, [EXAMPLE[0], other])

    result = sync(api)

    assert result["unmatched_items"] == 0
    items = {i.external_id: i.product_profile for i in OrderItem.objects.all()}
    assert items["4567890123"] == sage and items["4567899000"] == planter
    assert items["4567890124"] == dragon == items["4567899001"]


def test_unmatched_items_list_and_create_profile_in_one_step(connected, etsy, api, other_api):
    etsy.put_receipts(SHOP, generate_receipts(12))
    sync(api)

    listed = api.get("/api/orders/unmatched-items")
    first = listed.json()[0]
    created = api.post(
        f"/api/orders/unmatched-items/{first['id']}/create-profile", {}, format="json"
    )

    assert listed.status_code == 200 and int(listed["X-Total-Count"]) == 24
    assert created.status_code == 201
    profile = ProductProfile.objects.get(pk=created.json()["id"])
    assert (profile.name, profile.etsy_listing_id) == (first["title"], first["listing_id"])
    same_listing = OrderItem.objects.filter(listing_id=first["listing_id"])
    assert all(i.product_profile == profile for i in same_listing)
    assert int(api.get("/api/orders/unmatched-items")["X-Total-Count"]) == 24 - same_listing.count()
    # another owner sees none of it and cannot use the item
    assert other_api.get("/api/orders/unmatched-items").json() == []
    item = OrderItem.objects.filter(product_profile__isnull=True).first()
    theirs = other_api.post(
        f"/api/orders/unmatched-items/{item.id}/create-profile", {}, format="json"
    )
    assert theirs.status_code == 404


def test_sync_before_connecting_is_400(api):
    answer = api.post("/api/etsy/sync-orders", {}, format="json")

    assert answer.status_code == 400
    assert "Etsy is not connected" in answer.json()["detail"]


def test_management_command_syncs_one_owner(connected, etsy, owner):
    etsy.put_receipts(SHOP, generate_receipts(4))
    out = io.StringIO()

    call_command("sync_etsy_orders", "--user", "owner", "--full", stdout=out)

    assert '"created": 4' in out.getvalue()
    assert Order.objects.filter(user=owner).count() == 4


def test_the_schedule_syncs_connected_shops_every_five_minutes(connected, etsy, settings):
    from orders.tasks import etsy_sync_shop

    etsy.put_receipts(SHOP, generate_receipts(2))
    declared = {p.name: p for p in SCHEDULES}

    assert declared["etsy-sync"].minutes == 5
    assert etsy_sync_shop(connected.pk)["created"] == 2
    EtsyConnection.objects.update(reconnect_needed=True)
    assert etsy_sync_shop(connected.pk) is None
    assert ScheduledPrint.objects.count() == 0


def test_order_paid_is_announced_for_orders_to_print_when_the_owner_schedules_paid_orders(
    connected, etsy, api
):
    from j3d.models import Event

    receipts = generate_receipts(3)
    unpaid = make_receipt(3600000009, created=1767225600, status="Open", is_paid=False)
    etsy.put_receipts(SHOP, [*receipts[:2], unpaid])
    sync(api)
    assert not Event.objects.filter(type="order.paid").exists()  # nobody asked for it

    api.patch("/api/etsy/connection", {"schedule_paid_orders": True}, format="json")
    etsy.put_receipts(SHOP, receipts[2:])
    etsy.touch(SHOP, 3600000009, status="Paid", is_paid=True)
    sync(api)

    announced = Event.objects.filter(type="order.paid").order_by("id")
    numbers = sorted(e.payload["order_number"] for e in announced)
    assert numbers == [str(receipts[2]["receipt_id"]), "3600000009"]


def ready(order: Order) -> Order:
    Order.objects.filter(pk=order.pk).update(status="ready", jobs_total=1, jobs_done=1)
    return order


def test_a_printed_etsy_order_is_marked_shipped_on_etsy_too(etsy, api, client, owner):
    from orders.tests.conftest import callback_path, follow_authorize

    client.get(callback_path(follow_authorize(api, {"mark_shipped": True})))
    etsy.put_receipts(SHOP, [EXAMPLE[0]])
    sync(api)
    order = ready(Order.objects.get(external_id=str(PAID)))

    answer = api.post(
        f"/api/orders/{order.id}/ship",
        {"carrier_name": "usps", "tracking_code": "9400111"},
        format="json",
    )

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["status"], body["is_shipped"], body["tracking_code"]) == (
        "shipped",
        True,
        "9400111",
    )
    on_etsy = etsy.receipts[SHOP][PAID]
    assert on_etsy["is_shipped"] and on_etsy["shipments"][-1]["tracking_code"] == "9400111"


def test_etsy_refusing_the_shipment_is_502_and_changes_nothing(etsy, api, client, owner):
    from orders.tests.conftest import callback_path, follow_authorize

    client.get(callback_path(follow_authorize(api, {"mark_shipped": True})))
    etsy.put_receipts(SHOP, [EXAMPLE[0]])
    sync(api)
    order = ready(Order.objects.get(external_id=str(PAID)))

    answer = api.post(f"/api/orders/{order.id}/ship", {}, format="json")  # US, over $10

    assert answer.status_code == 502
    assert "Tracking code and carrier are required" in answer.json()["detail"]
    order.refresh_from_db()
    assert order.status == "ready" and not order.is_shipped


def test_an_order_is_shipped_only_when_printed_and_only_by_its_owner(api, other_api, owner):
    from j3d.tests.factories import make_order

    waiting = make_order(owner)
    printed = ready(make_order(owner))

    early = api.post(f"/api/orders/{waiting.id}/ship", {}, format="json")
    theirs = other_api.post(f"/api/orders/{printed.id}/ship", {}, format="json")
    done = api.post(f"/api/orders/{printed.id}/ship", {"carrier_name": "dhl"}, format="json")

    assert early.status_code == 409 and "every print job" in early.json()["detail"]
    assert theirs.status_code == 404
    assert done.status_code == 200 and done.json()["status"] == "shipped"


@pytest.mark.parametrize(
    "body",
    ["<html><body>Etsy is having a moment</body></html>", {"results": "none"}, ["a"], {"n": 1}],
    ids=["html", "results-not-a-list", "json-array", "no-results"],
)
def test_a_malformed_page_stops_the_sync_with_a_reason_and_writes_nothing(
    connected, etsy, api, body
):
    etsy.put_receipts(SHOP, generate_receipts(3))
    etsy.fail_next(200, path="/receipts", body=body)

    answer = api.post("/api/etsy/sync-orders", {}, format="json")

    assert answer.status_code == 502
    assert not answer.json()["complete"] and "Etsy" in answer.json()["error"]
    assert not Order.objects.exists()
    connected.refresh_from_db()
    assert connected.sync_high_water is None and connected.last_error
    # The next sync starts from the same place and gets everything.
    assert sync(api)["created"] == 3


def test_receipts_beyond_the_models_bounds_are_skipped_whole(connected, etsy, api):
    rich = make_receipt(3600000011, created=1767225600)
    rich["grandtotal"] = {"amount": 10**13, "divisor": 100, "currency_code": "USD"}
    dear = make_receipt(3600000012, created=1767225601, items=2)
    dear["transactions"][1]["price"] = {"amount": 10**13, "divisor": 100, "currency_code": "USD"}
    crowded = make_receipt(3600000013, created=1767225602)
    crowded["transactions"] = [
        {**crowded["transactions"][0], "transaction_id": 7000000000 + n} for n in range(201)
    ]
    twice = make_receipt(3600000014, created=1767225603, items=2)
    twice["transactions"][1]["transaction_id"] = twice["transactions"][0]["transaction_id"]
    etsy.put_receipts(SHOP, [*generate_receipts(2), rich, dear, crowded, twice])

    result = sync(api)

    assert result["complete"] and result["created"] == 2
    reasons = {s["receipt_id"]: s["reason"] for s in result["skipped"]}
    assert "total_amount" in reasons[3600000011]
    assert "unit_price" in reasons[3600000012]
    assert "200 items" in reasons[3600000013]
    assert "appears twice" in reasons[3600000014]
    assert not Order.objects.filter(external_id__startswith="36000000")
    assert OrderItem.objects.count() == sum(len(r["transactions"]) for r in generate_receipts(2))
    no_duplicates()


def test_bad_data_in_a_changed_receipt_leaves_the_stored_order_as_it_was(connected, etsy, api):
    receipts = generate_receipts(2)
    etsy.put_receipts(SHOP, receipts)
    sync(api)
    rid = receipts[0]["receipt_id"]
    before = Order.objects.get(external_id=str(rid))
    items_before = list(before.items.values_list("external_id", "quantity", "unit_price"))
    etsy.touch(SHOP, rid, status="Lost in the post", name="Someone Else")

    result = sync(api)

    assert result["complete"] and result["updated"] == 0
    assert [s["receipt_id"] for s in result["skipped"]] == [rid]
    after = Order.objects.get(external_id=str(rid))
    assert (after.status, after.buyer_name, after.external_digest) == (
        before.status,
        before.buyer_name,
        before.external_digest,
    )
    assert list(after.items.values_list("external_id", "quantity", "unit_price")) == items_before


def test_paid_orders_go_to_the_farm_pool_by_themselves_and_a_cancel_takes_them_back(
    connected, etsy, api, owner, django_capture_on_commit_callbacks
):
    """End to end with the fake Etsy: "schedule paid orders automatically" puts a paid receipt's
    jobs in the farm pool, once however often it is announced; a cancel on Etsy cancels the jobs
    not yet printing, is recorded, and the owner is told."""
    from j3d import events
    from j3d.models import Event
    from scheduling.models import FarmPlan
    from scheduling.receivers import on_order_paid

    api.patch("/api/etsy/connection", {"schedule_paid_orders": True}, format="json")
    receipt = make_receipt(3600000077, created=1767225600, items=2, seed=5)
    etsy.put_receipts(SHOP, [receipt])
    with django_capture_on_commit_callbacks(execute=True):
        sync(api)
    order = Order.objects.get(external_id="3600000077")
    plates = sum(order.items.values_list("quantity", flat=True))
    jobs = ScheduledPrint.objects.filter(order=order)
    assert jobs.count() == plates >= 2
    assert all(j.printer_id is None and j.status == "queued" for j in jobs)
    assert FarmPlan.objects.filter(user=owner).exists()  # the pool was planned
    assert all(j.waiting_reason for j in jobs)  # no printer yet: each says why it waits

    replay = events.OrderPaid(user_id=owner.pk, order_id=order.pk, order_number="3600000077")
    with django_capture_on_commit_callbacks(execute=True):
        on_order_paid(replay)
        sync(api)
    assert jobs.count() == plates  # idempotent

    printing = jobs.order_by("id").first()
    ScheduledPrint.objects.filter(pk=printing.pk).update(status="started")
    etsy.cancel(SHOP, 3600000077)
    with django_capture_on_commit_callbacks(execute=True):
        result = sync(api)
    assert result["cancelled"] == 1
    statuses = dict(jobs.values_list("id", "status"))
    assert statuses.pop(printing.pk) == "started"  # a person stops a running print
    assert set(statuses.values()) == {"cancelled"}
    assert Event.objects.filter(type="order.cancelled", order_id=order.pk).count() == 1
    assert [m.subject for m in mail.outbox] == [f"[J3D] Order #{order.order_number} was cancelled"]


def test_a_ship_by_date_moved_or_a_cancel_on_etsy_re_plans_the_farm(
    connected, etsy, api, owner, django_capture_on_commit_callbacks
):
    """The Etsy sync is a door to the plan like the API and the admin: a receipt whose ship-by
    date moves announces order.changed, a cancelled one order.cancelled, and the farm is
    re-planned from those events, so the jobs' expected times follow."""
    from datetime import timedelta

    from django.utils import timezone

    from j3d.models import Event
    from j3d.tests.factories import make_material, make_printer
    from printers.models import PrinterStatus
    from scheduling.services.planning import farm_replan

    printer = make_printer(owner, name="A", serial="A1", model="P1S")
    PrinterStatus.objects.filter(printer=printer).update(online=True, state="idle")
    make_material(printer, slot=0, material_type="PLA", color_hex="#FFFFFF")
    now = timezone.now()
    relaxed, urgent = (
        make_receipt(3600000100 + n, created=int(now.timestamp()), seed=n) for n in range(2)
    )
    etsy.put_receipts(SHOP, [relaxed, urgent])
    sync(api)
    orders = [Order.objects.get(external_id=str(r["receipt_id"])) for r in (relaxed, urgent)]
    assert orders[0].due_by == orders[1].due_by  # both ship in three days
    first, second = (
        make_job(owner, None, job_name=o.order_number, order=o, estimated_duration_minutes=60)
        for o in orders
    )
    farm_replan(user_id=owner.pk, now=now - timedelta(minutes=5))

    def expected(job):
        job.refresh_from_db()
        return job.expected_start

    assert expected(first) < expected(second)  # equal ship-by dates: in the order they came

    soon = int((now + timedelta(minutes=90)).timestamp())
    moved = [dict(t, expected_ship_date=soon) for t in urgent["transactions"]]
    etsy.touch(SHOP, urgent["receipt_id"], transactions=moved)
    with django_capture_on_commit_callbacks(execute=True):
        assert sync(api)["updated"] == 1
    changed = Event.objects.get(type="order.changed", order_id=orders[1].pk)
    assert changed.payload["fields"] == ["due_by"]
    assert expected(second) < expected(first)  # the plan heard of it: the urgent one first
    waited = expected(first)

    etsy.cancel(SHOP, urgent["receipt_id"])
    with django_capture_on_commit_callbacks(execute=True):
        assert sync(api)["cancelled"] == 1
    second.refresh_from_db()
    assert second.status == "cancelled" and second.expected_start is None
    assert expected(first) < waited  # its printer is free for it again

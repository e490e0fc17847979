"""Printers, their live status and the materials loaded in their AMS slots."""

from decimal import Decimal

from cryptography import x509
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from j3d.lib import limits
from j3d.lib.constraints import ChecksInOneQuery, FieldUniqueConstraint
from j3d.lib.crypto import EncryptedTextField
from j3d.lib.limits import between, between_q
from j3d.lib.ownership import OwnedQuerySet, linked, validate_same_owner

# J3D slot numbers (see shared/reference/bambu-protocol.md, "J3D conventions"): AMS, AMS 2 Pro or
# AMS lite unit u (0-3) tray t (0-3) is u*4+t; an AMS HT unit (one tray) is its unit id 128-135;
# the external spool is 254 (and 255 for the H2D's second external spool).
AMS_SLOTS = range(0, 16)
AMS_HT_SLOTS = range(128, 136)
EXTERNAL_SLOTS = (254, 255)
SLOT_TAKEN = "This slot of the printer already holds a material; update or unload it."
SLOT_HELP = "0-15 for AMS trays (unit x 4 + tray), 128-135 for AMS HT units, 254/255 external spool"


def is_valid_slot(slot: int) -> bool:
    return slot in AMS_SLOTS or slot in AMS_HT_SLOTS or slot in EXTERNAL_SLOTS


def validate_slot(slot: int) -> None:
    if not is_valid_slot(slot):
        raise ValidationError(f"Slot {slot} does not exist: use {SLOT_HELP}.")


def valid_slot_q(field: str) -> Q:
    """The database check for a slot column named `field` (same rule as is_valid_slot)."""
    return (
        Q(**{f"{field}__gte": 0, f"{field}__lte": 15})
        | Q(**{f"{field}__gte": 128, f"{field}__lte": 135})
        | Q(**{f"{field}__in": EXTERNAL_SLOTS})
    )


hex_colour_validator = RegexValidator(
    r"^#[0-9A-Fa-f]{6}$", "Use a hex colour like #FF8800.", code="invalid_colour"
)
serial_validator = RegexValidator(
    r"^[A-Za-z0-9_-]{1,32}$",
    "A serial number is 1-32 letters, digits, '-' or '_'.",
    code="invalid_serial",
)


def validate_pem_certificates(value: str) -> None:
    if value.strip():
        try:
            x509.load_pem_x509_certificates(value.encode())
        except ValueError:
            raise ValidationError("Paste the CA certificate in PEM form.") from None


def claim_for_printer_owner(row: models.Model) -> None:
    """The rule of every row that hangs off a printer: it belongs to the printer's owner. A row
    whose owner is not set yet (an admin inline under the printer) takes it from the printer."""
    if row.user_id is None and row.printer_id is not None:
        printer = linked(row, "printer")
        row.user_id = printer.user_id if printer is not None else None
    validate_same_owner(row, row.user_id, "printer")


class PrinterQuerySet(OwnedQuerySet):
    def enabled(self) -> "PrinterQuerySet":
        return self.filter(enabled=True)


class Printer(ChecksInOneQuery, models.Model):
    class Model(models.TextChoices):
        X1C = "X1C", "X1 Carbon"
        X1E = "X1E", "X1E"
        X1 = "X1", "X1"
        P1S = "P1S", "P1S"
        P1P = "P1P", "P1P"
        P2S = "P2S", "P2S"
        A1 = "A1", "A1"
        A1_MINI = "A1 mini", "A1 mini"
        H2D = "H2D", "H2D"
        H2S = "H2S", "H2S"

    class ConnectionType(models.TextChoices):
        LAN = "lan", "LAN (printer's own MQTT broker)"
        CLOUD = "cloud", "Bambu Cloud"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="printers"
    )
    name = models.CharField(max_length=100)
    model = models.CharField(max_length=16, choices=Model.choices)
    serial = models.CharField(max_length=32, validators=[serial_validator])
    connection_type = models.CharField(
        max_length=8, choices=ConnectionType.choices, default=ConnectionType.LAN
    )
    host = models.CharField(max_length=255, blank=True, help_text="IP address or host name (LAN)")
    mqtt_port = models.PositiveIntegerField(
        default=8883, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    access_code = EncryptedTextField(blank=True, help_text="LAN access code, shown on the printer")
    # Printers serve FTPS on 990; a different port is for simulators and port forwards.
    ftps_port = models.PositiveIntegerField(
        default=990, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    cloud_user_id = models.CharField(max_length=32, blank=True, help_text="Bambu Cloud uid (cloud)")
    cloud_token = EncryptedTextField(blank=True, help_text="Bambu Cloud access token (cloud)")
    tls_verify = models.BooleanField(
        default=False, help_text="Verify the printer's certificate (needs the CA below)"
    )
    ca_cert = models.TextField(
        blank=True,
        validators=[validate_pem_certificates],
        help_text="PEM certificate of the printer's CA",
    )
    enabled = models.BooleanField(default=True)
    # What an hour of this printer costs (wear, depreciation, the operator's share); blank takes
    # the farm's default (scheduling's FarmSettings). Watts: its average draw while printing.
    hourly_rate = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=between(Decimal(0), limits.MAX_MONEY),
        help_text="Machine cost per printing hour; blank uses the farm's default",
    )
    power_watts = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=between(0, 5000),
        help_text="Average power while printing (energy cost); blank leaves energy out",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PrinterQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            FieldUniqueConstraint(
                fields=["user", "serial"],
                name="printers_printer_serial_per_user",
                violation_error_message="You already have a printer with this serial number.",
            ),
            models.CheckConstraint(
                condition=Q(mqtt_port__gte=1, mqtt_port__lte=65535),
                name="printers_printer_port_range",
            ),
            models.CheckConstraint(
                condition=Q(ftps_port__gte=1, ftps_port__lte=65535),
                name="printers_printer_ftps_port_range",
            ),
            models.CheckConstraint(
                condition=between_q("hourly_rate", 0, limits.MAX_MONEY, null=True),
                name="printers_printer_hourly_rate_range",
            ),
            models.CheckConstraint(
                condition=between_q("power_watts", 0, 5000, null=True),
                name="printers_printer_power_watts_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.model} {self.serial})"

    def clean(self) -> None:
        """How J3D reaches the printer: a LAN printer by its host and access code, a cloud printer
        by the owner's Bambu Cloud uid and token; verifying its certificate needs the CA."""
        if self.connection_type == self.ConnectionType.CLOUD:
            needed = {
                "cloud_user_id": "A cloud printer needs the Bambu Cloud user id.",
                "cloud_token": "A cloud printer needs a Bambu Cloud access token.",
            }
        else:
            needed = {
                "host": "A LAN printer needs its IP address or host name.",
                "access_code": "A LAN printer needs its access code (on its screen).",
            }
        errors = {name: message for name, message in needed.items() if not getattr(self, name)}
        if self.tls_verify and not self.ca_cert.strip():
            errors["ca_cert"] = "Verifying the printer's certificate needs its CA certificate."
        if errors:
            raise ValidationError(errors)


class PrinterStatus(models.Model):
    """What the printer link last heard from a printer; one row per printer, written by the link."""

    class State(models.TextChoices):
        IDLE = "idle"
        PREPARE = "prepare"
        RUNNING = "running"
        PAUSE = "pause"
        FINISH = "finish"
        FAILED = "failed"
        SLICING = "slicing"
        OFFLINE = "offline"
        UNKNOWN = "unknown"

    # The printer has a job on its plate and refuses a new one ("device busy"); the one list,
    # used by the dispatcher and the planner.
    BUSY_STATES = frozenset({State.PREPARE, State.RUNNING, State.PAUSE, State.SLICING})

    class LinkErrorKind(models.TextChoices):
        """Why the link cannot reach the printer (the MQTT hub's failure kinds, and silence)."""

        NO_ROUTE = "no_route", "no route to the printer"
        REFUSED = "refused", "connection refused"
        TIMEOUT = "timeout", "no answer (timeout)"
        TLS = "tls", "TLS handshake failed"
        AUTH = "auth", "access code refused"
        SILENT = "silent", "connected but silent"
        CONFIG = "config", "unusable settings"
        ERROR = "error", "connection error"

    printer = models.OneToOneField(Printer, on_delete=models.CASCADE, related_name="status")
    state = models.CharField(max_length=16, choices=State.choices, default=State.UNKNOWN)
    online = models.BooleanField(default=False)
    snapshot = models.JSONField(default=dict, blank=True)
    last_report_at = models.DateTimeField(null=True, blank=True)
    # The connection outcome: since when the link is up, or why it is not (the last error, its
    # kind, since when it fails, and when the link tries again).
    connected_since = models.DateTimeField(null=True, blank=True)
    link_error = models.CharField(max_length=255, blank=True)
    link_error_kind = models.CharField(max_length=16, choices=LinkErrorKind.choices, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "printer statuses"

    def __str__(self) -> str:
        return f"{self.printer_id}: {self.state}"


class BambuMaterial(ChecksInOneQuery, models.Model):
    """A spool in one slot of a printer: typed by a person or synced from the AMS."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="materials"
    )
    printer = models.ForeignKey(Printer, on_delete=models.CASCADE, related_name="materials")
    slot = models.PositiveSmallIntegerField(validators=[validate_slot], help_text=SLOT_HELP)
    material_type = models.CharField(max_length=32, blank=True)
    color = models.CharField(max_length=50, blank=True)
    color_hex = models.CharField(max_length=7, blank=True, validators=[hex_colour_validator])
    weight_grams = models.DecimalField(
        max_digits=8,
        decimal_places=1,
        null=True,
        blank=True,
        validators=between(Decimal(0), limits.MAX_SPOOL_GRAMS),
    )
    # None means unknown (the AMS cannot always tell, see the protocol notes on `remain`).
    # Hundredths of a percent: J3D takes each print's grams off spools the AMS cannot measure,
    # and a 3 g print is 0.3% of a 1 kg spool.
    remaining_pct = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=between(Decimal(0), Decimal(100)),
    )
    vendor = models.CharField(max_length=100, blank=True)
    cost_per_kg = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=between(Decimal(0), limits.MAX_MONEY),
    )
    notes = models.TextField(blank=True)
    is_empty = models.BooleanField(default=False, help_text="The AMS reports no spool in this slot")
    loaded_at = models.DateTimeField(default=timezone.now)
    last_synced = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["printer_id", "slot"]
        constraints = [
            FieldUniqueConstraint(
                fields=["printer", "slot"],
                name="printers_bambumaterial_one_per_slot",
                violation_error_message=SLOT_TAKEN,
            ),
            models.CheckConstraint(
                condition=valid_slot_q("slot"), name="printers_bambumaterial_slot_valid"
            ),
            models.CheckConstraint(
                condition=between_q("remaining_pct", 0, 100, null=True),
                name="printers_bambumaterial_remaining_pct_range",
            ),
            models.CheckConstraint(
                condition=between_q("weight_grams", 0, limits.MAX_SPOOL_GRAMS, null=True),
                name="printers_bambumaterial_weight_range",
            ),
            models.CheckConstraint(
                condition=between_q("cost_per_kg", 0, limits.MAX_MONEY, null=True),
                name="printers_bambumaterial_cost_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.printer_id} slot {self.slot}: {self.material_type} {self.color}".strip()

    def clean(self) -> None:
        claim_for_printer_owner(self)

    @property
    def remaining_grams(self) -> float | None:
        if self.weight_grams is None or self.remaining_pct is None:
            return None
        return float(self.weight_grams * self.remaining_pct / 100)


class PrinterLeaseQuerySet(models.QuerySet):
    def claimable_by(self, holder: str, now) -> "PrinterLeaseQuerySet":
        """Free, expired, or already ours: the condition of the claiming UPDATE."""
        return self.filter(Q(holder="") | Q(holder=holder) | Q(expires_at__lt=now))


class PrinterLease(models.Model):
    """Which process talks to a printer: one link process or one q2 poll at a time.

    Claimed and renewed with a conditional UPDATE (see printers/services/leases.py); a holder that
    dies stops renewing and its lease expires, so another process takes the printer over.
    """

    printer = models.OneToOneField(
        Printer, on_delete=models.CASCADE, primary_key=True, related_name="lease"
    )
    holder = models.CharField(max_length=100, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PrinterLeaseQuerySet.as_manager()

    class Meta:
        indexes = [
            # Renewal and reconcile: "the leases this holder has" (filter(holder=me)).
            models.Index(fields=["holder", "expires_at"], name="printers_lease_holder"),
        ]

    def __str__(self) -> str:
        return f"{self.printer_id}: {self.holder or 'free'}"


class PrinterCommandQuerySet(OwnedQuerySet):
    def pending(self) -> "PrinterCommandQuerySet":
        return self.filter(status=PrinterCommand.Status.PENDING)

    def sent(self) -> "PrinterCommandQuerySet":
        return self.filter(status=PrinterCommand.Status.SENT)


class PrinterCommand(ChecksInOneQuery, models.Model):
    """The outbox: a command a person (or the dispatcher) asked for, sent once by the link."""

    class Action(models.TextChoices):
        PAUSE = "pause"
        RESUME = "resume"
        STOP = "stop"
        REFRESH = "refresh"
        SPEED = "speed"
        PROJECT_FILE = "project_file"

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        ACKNOWLEDGED = "acknowledged"
        FAILED = "failed"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="printer_commands"
    )
    printer = models.ForeignKey(Printer, on_delete=models.CASCADE, related_name="commands")
    action = models.CharField(max_length=16, choices=Action.choices)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # The MQTT sequence_id the printer echoes in its reply (a string below 2**31 on the wire).
    sequence_id = models.CharField(max_length=16, blank=True)
    reason = models.CharField(max_length=255, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    acked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PrinterCommandQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "sent", "acknowledged", "failed"]),
                name="printers_printercommand_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(
                    action__in=["pause", "resume", "stop", "refresh", "speed", "project_file"]
                ),
                name="printers_printercommand_action_valid",
            ),
        ]
        indexes = [
            # The link's outbox scan and reply matching: commands still pending or sent per printer.
            models.Index(
                fields=["printer", "status", "created_at"],
                name="printers_command_outbox",
                condition=Q(status__in=["pending", "sent"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} -> {self.printer_id} [{self.status}]"

    def clean(self) -> None:
        claim_for_printer_owner(self)


class SpareSpool(ChecksInOneQuery, models.Model):
    """Spools on the shelf, not in any printer: a person records them; stock counts them."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="spare_spools"
    )
    material_type = models.CharField(max_length=32)
    color = models.CharField(max_length=50, blank=True)
    color_hex = models.CharField(max_length=7, blank=True, validators=[hex_colour_validator])
    vendor = models.CharField(max_length=100, blank=True)
    quantity = models.PositiveIntegerField(default=1, validators=between(0, 1000))
    grams_per_spool = models.DecimalField(
        max_digits=8,
        decimal_places=1,
        default=Decimal(1000),
        validators=between(Decimal(0), limits.MAX_SPOOL_GRAMS),
    )
    cost_per_kg = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=between(Decimal(0), limits.MAX_MONEY),
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["material_type", "color_hex", "id"]
        constraints = [
            models.CheckConstraint(
                condition=between_q("quantity", 0, 1000), name="printers_sparespool_quantity_range"
            ),
            models.CheckConstraint(
                condition=between_q("grams_per_spool", 0, limits.MAX_SPOOL_GRAMS),
                name="printers_sparespool_grams_range",
            ),
            models.CheckConstraint(
                condition=between_q("cost_per_kg", 0, limits.MAX_MONEY, null=True),
                name="printers_sparespool_cost_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.material_type} {self.color or self.color_hex}".strip()

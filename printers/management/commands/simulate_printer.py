"""Run simulated Bambu printers against an MQTT broker until Ctrl-C (a thin door).

    python manage.py simulate_printer --host 127.0.0.1 --port 8883 --access-code 12345678 \\
        --ca /path/ca.pem --model X1C --count 3 --serial-prefix SIM --time-scale 60

``--with-broker`` starts a throwaway TLS Mosquitto first and prints its port and CA file,
so one command gives a development farm.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from j3d.lib.mosquitto import MosquittoBroker
from j3d.lib.signals import StopRequest
from printers.bambu.simulator import MODEL_SAMPLES, SimulatedFarm, normalize_model


class Command(BaseCommand):
    help = "Run N simulated Bambu printers (MQTT + FTPS) until interrupted."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="broker host")
        parser.add_argument("--port", type=int, default=8883, help="broker port")
        parser.add_argument("--access-code", default="12345678", help="LAN access code")
        parser.add_argument("--ca", default=None, help="broker CA PEM (no verification if unset)")
        parser.add_argument(
            "--model", default="X1C", help=f"one of {', '.join(sorted(MODEL_SAMPLES))}"
        )
        parser.add_argument("--count", type=int, default=1)
        parser.add_argument("--serial-prefix", default="SIM")
        parser.add_argument("--first-number", type=int, default=1)
        parser.add_argument("--time-scale", type=float, default=60.0, help="simulated s per s")
        parser.add_argument("--job-minutes", type=float, default=10.0, help="simulated minutes")
        parser.add_argument("--delta-interval", type=float, default=1.5, help="seconds")
        parser.add_argument("--no-ftps", action="store_true", help="no FTPS server per printer")
        parser.add_argument(
            "--a1-quirk", action="store_true", help="protected FTPS data channel hangs"
        )
        parser.add_argument(
            "--with-broker", action="store_true", help="start a throwaway TLS Mosquitto too"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            model = normalize_model(options["model"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if options["count"] < 1:
            raise CommandError("--count must be at least 1")
        broker = self._maybe_start_broker(options)
        try:
            self._run(model, broker, options)
        finally:
            if broker is not None:
                broker.close()

    def _maybe_start_broker(self, options: dict[str, Any]) -> MosquittoBroker | None:
        if not options["with_broker"]:
            return None
        broker = MosquittoBroker(options["access_code"], port=options["port"])
        broker.start()
        options.update(host=broker.host, port=broker.port, ca=str(broker.ca_path))
        self.stdout.write(f"broker {broker.host}:{broker.port} ca={broker.ca_path}")
        return broker

    def _run(self, model: str, broker: MosquittoBroker | None, options: dict[str, Any]) -> None:
        farm = SimulatedFarm(
            options["count"],
            serial_prefix=options["serial_prefix"],
            first_number=options["first_number"],
            host=options["host"],
            port=options["port"],
            access_code=options["access_code"],
            ca_path=options["ca"],
            model=model,
            time_scale=options["time_scale"],
            job_duration=options["job_minutes"] * 60,
            delta_interval=options["delta_interval"],
            ftps=not options["no_ftps"],
            a1_data_channel_hangs=options["a1_quirk"],
        )
        stop = StopRequest().install()
        farm.start(wait=False)
        for printer in farm:
            ftps = f"ftps=127.0.0.1:{printer.ftps_port}" if printer.ftps else "ftps=off"
            root = f" root={printer.ftps.root}" if printer.ftps else ""
            self.stdout.write(f"{printer.serial} {model} {ftps}{root}")
        try:
            farm.wait_connected(timeout=30)
            self.stdout.write(f"{len(farm)} printer(s) connected; Ctrl-C to stop")
        except TimeoutError:
            self.stderr.write("not all printers connected yet; they keep retrying")
        stop.wait()
        self.stdout.write("stopping")
        farm.stop()

"""The ``aios-agent`` command line. Each sub-command group lives in its own module and is
registered here explicitly."""

from __future__ import annotations

import typer

from aios.agent.cli import detect, doctor, enroll, model, run, service, status

app = typer.Typer(
    name="aios-agent",
    help="AIOS edge agent: cameras in, YOLOv8 detections and events out over MQTT.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain help: Typer's rich help formatter alone costs more than the 1 s start-up budget
    # on a small device (it imports rich.markdown and pygments).
    rich_markup_mode=None,
)
detect.register(app)
model.register(app)
run.register(app)
enroll.register(app)
status.register(app)
doctor.register(app)
service.register(app)


def main() -> None:
    app()

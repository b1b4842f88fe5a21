"""Structured data records in the dashboard's model, without a terminal: a sample carries them
to the model and through a recording, and their keys without a network are a notice."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from tests.tui.helpers import record_notifications, run_app
from tui.app import VaultnetApp
from tui.model import NetworkModel, Sample, StructuredRow
from tui.recording import decode_sample, encode_sample
from vaultnet.xor import name_of

ROW = StructuredRow(name_of(b"profile"), bytes(32), True, 3, 25,
                    (name_of(b"a"), name_of(b"b")), 1)


def test_a_sample_brings_the_records_to_the_model_and_the_next_one_replaces_them() -> None:
    model = NetworkModel(1000)
    model.apply(Sample((), (), (), (), None, structured=(ROW,)))
    assert model.structured == (ROW,)
    model.apply(Sample((), (), (), (), None))  # the record was deleted
    assert model.structured == ()


def test_a_recorded_sample_keeps_its_records_and_an_older_recording_has_none() -> None:
    sample = Sample((), (), (), (), None, structured=(ROW,))
    encoded = encode_sample(sample)
    assert decode_sample(encoded) == sample
    del encoded["structured"]  # written before the dashboard showed records
    assert decode_sample(encoded).structured == ()


def test_the_record_keys_without_a_network_are_a_notice() -> None:
    app = VaultnetApp(model=NetworkModel(1000))
    texts = record_notifications(app)

    async def body(pilot: Pilot[Any]) -> None:
        await pilot.press("6", "s", "u", "X")

    run_app(app, body)
    assert texts == ["the network is not running yet"] * 3

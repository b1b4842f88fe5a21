"""What the put prompt does with answers that cannot be a chunk, on the frozen model (the answer
is checked before the network is needed): one short plain-text notice each."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.tui.frozen import frozen_model
from tests.tui.helpers import answer, record_notifications, wait_until
from tui.app import VaultnetApp
from tui.views.chunks import NOTICE_CHARS, PutInputError, clip, data_for


def test_clip_keeps_short_text_and_both_ends_of_long_text() -> None:
    assert clip("short") == "short"
    long = "cannot read /" + "a" * 5000 + ": File name too long"
    clipped = clip(long)
    assert len(clipped) == NOTICE_CHARS
    assert clipped.startswith("cannot read /aaa") and clipped.endswith("File name too long")
    assert "…" in clipped


@pytest.mark.parametrize("path", ["/" + "a" * 5000, "/no/such/file", "/"])
def test_a_path_that_cannot_be_read_is_a_put_input_error(path: str) -> None:
    with pytest.raises(PutInputError, match="cannot read"):
        data_for(path)


def test_a_huge_path_and_a_missing_one_give_one_short_notice_each(tmp_path: Path) -> None:
    app = VaultnetApp(model=frozen_model())
    texts = record_notifications(app)
    missing = tmp_path / "missing [b]file[/b]"

    async def main() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            await answer(pilot, "p", "/" + "x" * 5000)
            await wait_until(pilot, lambda: len(texts) == 1, "the first notice")
            await answer(pilot, "p", str(missing))
            await wait_until(pilot, lambda: len(texts) == 2, "the second notice")
            await answer(pilot, "p", "12 bananas")
            await wait_until(pilot, lambda: len(texts) == 3, "the third notice")
            assert len(app.screen_stack) == 1

    asyncio.run(main())
    huge, absent, size = texts
    assert len(huge) <= NOTICE_CHARS and "File name too long" in huge
    assert str(missing) in absent and "No such file" in absent
    assert "not a size" in size
    assert app.return_code in (None, 0)


def test_the_notice_is_plain_text(tmp_path: Path) -> None:
    """A path with square brackets is shown as typed, not read as markup."""
    app = VaultnetApp(model=frozen_model())
    shown: list[Any] = []
    notify = app.notify

    def recording(message: str, *args: Any, **kwargs: Any) -> None:
        shown.append(kwargs.get("markup", True))
        notify(message, *args, **kwargs)

    app.notify = recording  # type: ignore[method-assign]

    async def main() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            await answer(pilot, "p", str(tmp_path / "[red]x[/red]"))
            await wait_until(pilot, lambda: bool(shown), "the notice")

    asyncio.run(main())
    assert shown == [False]

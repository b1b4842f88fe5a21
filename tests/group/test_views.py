"""GroupViews: a lookup's findings cover the groups whose neighbourhood lies inside them."""

from __future__ import annotations

import random

from vaultnet.group.views import EVERYWHERE, GroupViews
from vaultnet.xor import NAME_SIZE, Name, closest, distance


def name(value: int) -> Name:
    return value.to_bytes(NAME_SIZE, "big")


def views(limit: int = 8) -> GroupViews:
    return GroupViews(ttl=30.0, limit=limit, complete_after=3)


def test_radius_reaches_the_complete_after_th_closest_found() -> None:
    ball = views().record(name(0), [name(1), name(5), name(9), name(200)], now=0.0)
    assert ball.radius == 9
    assert name(200) in ball.names


def test_the_looked_up_name_itself_is_not_counted() -> None:
    ball = views().record(name(0), [name(0), name(1), name(5), name(9)], now=0.0)
    assert ball.radius == 9
    assert name(0) not in ball.names


def test_a_lookup_that_found_fewer_vaults_than_asked_saw_everything() -> None:
    ball = views().record(name(0), [name(1), name(5)], now=0.0)
    assert ball.radius == EVERYWHERE


def test_covers_a_nearby_group_only_when_its_neighbourhood_fits_inside() -> None:
    v = views()
    v.record(name(0), [name(1), name(5), name(64)], now=0.0)  # radius 64
    assert v.covering(name(2), 60, now=1.0) is not None  # 2 + 60 <= 64
    assert v.covering(name(2), 63, now=1.0) is None  # 2 + 63 > 64: a vault at 65 may exist
    assert v.covering(name(100), 0, now=1.0) is None


def test_coverage_is_sound_against_every_vault_in_the_network() -> None:
    """With the true k closest found, any covered (group, radius) has every vault within radius
    of the group among the ball's names: the XOR triangle inequality the class relies on."""
    rng = random.Random(7)
    everyone = [rng.randbytes(NAME_SIZE) for _ in range(200)]
    v = GroupViews(ttl=30.0, limit=64, complete_after=8)
    for _ in range(40):
        centre = rng.randbytes(NAME_SIZE)
        v.record(centre, closest(centre, everyone, 8), now=0.0)
    checked = 0
    for _ in range(2000):
        group = rng.randbytes(NAME_SIZE)
        sender = rng.choice(everyone)
        radius = distance(group, sender)
        ball = v.covering(group, radius, now=0.0)
        if ball is None:
            continue
        checked += 1
        inside = {n for n in everyone if distance(group, n) <= radius}
        assert inside <= ball.names
    assert checked > 0


def test_views_expire_and_are_bounded() -> None:
    v = views(limit=2)
    for i in range(3):
        centre = 1000 * (i + 1)
        v.record(name(centre), [name(centre + 1), name(centre + 2), name(centre + 3)],
                 now=float(i))
    assert len(v) == 2
    assert v.covering(name(1000), 0, now=2.0) is None  # the oldest was dropped
    assert v.covering(name(3000), 0, now=2.0) is not None
    assert v.covering(name(3000), 0, now=40.0) is None  # older than the ttl
    assert len(v) == 0


def test_near_gathers_the_vaults_of_every_ball_holding_the_group() -> None:
    v = views()
    v.record(name(0), [name(1), name(2), name(8)], now=0.0)
    v.record(name(3), [name(4), name(6), name(7)], now=0.0)
    v.record(name(1 << 20), [name((1 << 20) + 1)], now=0.0)
    near = v.near(name(1), now=0.0)
    assert {name(1), name(2), name(8), name(4), name(6), name(7)} <= near
    assert name((1 << 20) + 1) in near  # that ball saw everything, so it holds every group

"""--ram-limit picks the cheapest execution that fits (planner.plan's limit): layer by layer
if its arena fits, else with streams, else with the peak layer unpaired, else with fused
blocks; without a limit, or when none fits, the smallest arena."""

import pytest
from helpers import EXAMPLES

from mcugen import pipeline, planner
from mcugen.errors import LimitError


@pytest.fixture(scope="module")
def digits_v2():
    return pipeline.front(EXAMPLES / "digits_mobilenet_v2.onnx")[0]


def test_a_loose_limit_keeps_every_layer_whole(digits_v2):
    smallest = planner.plan(digits_v2)
    whole = planner.plan(digits_v2, stream=False)
    assert smallest.streamed and smallest.fused  # the default spends instructions on bytes
    loose = planner.plan(digits_v2, limit=whole.arena_size)
    assert loose.arena_size == whole.arena_size and not loose.streamed and not loose.unpaired and not loose.fused


def test_each_tighter_limit_buys_the_next_step_and_no_more(digits_v2):
    *_, unpaired, smallest = planner.cheapest_first(digits_v2, planner.INT8, True, 0)  # the last two steps
    assert unpaired.unpaired and not unpaired.fused and smallest.fused
    paired = planner.plan(digits_v2, limit=unpaired.arena_size + 16)  # one pixel of 16 channels more
    assert paired.streamed == unpaired.streamed and not paired.unpaired
    assert unpaired.arena_size < paired.arena_size <= unpaired.arena_size + 16
    tight = planner.plan(digits_v2, limit=unpaired.arena_size)
    assert (tight.arena_size, tight.streamed, tight.unpaired) == (unpaired.arena_size, unpaired.streamed,
                                                                 unpaired.unpaired)
    fused = planner.plan(digits_v2, limit=unpaired.arena_size - 4)  # only the fused blocks fit
    assert fused.fused and fused.arena_size < unpaired.arena_size
    # the fused blocks cover the unpaired layer: it runs row by row there
    assert all(not a <= step < b for step in fused.unpaired for a, b in fused.fused)


def test_a_limit_nothing_meets_gives_the_smallest_plan_for_the_refusal(digits_v2):
    smallest = planner.plan(digits_v2)
    under = planner.plan(digits_v2, limit=smallest.arena_size - 4)
    assert under.arena_size == smallest.arena_size
    with pytest.raises(LimitError):
        planner.check_limit(digits_v2, under, str(smallest.arena_size - 4))

"""--ram-limit picks the cheapest execution that fits (planner.plan's limit): layer by layer
if its arena fits, else with streams, else with the peak layer unpaired; without a limit,
or when none fits, the smallest arena."""

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
    assert smallest.streamed and smallest.unpaired  # the default spends instructions on bytes
    loose = planner.plan(digits_v2, limit=whole.arena_size)
    assert loose.arena_size == whole.arena_size and not loose.streamed and not loose.unpaired


def test_each_tighter_limit_buys_the_next_step_and_no_more(digits_v2):
    smallest = planner.plan(digits_v2)
    paired = planner.plan(digits_v2, limit=smallest.arena_size + 16)  # one pixel of 16 channels more
    assert paired.streamed == smallest.streamed and not paired.unpaired
    assert smallest.arena_size < paired.arena_size <= smallest.arena_size + 16
    tight = planner.plan(digits_v2, limit=smallest.arena_size)
    assert (tight.arena_size, tight.streamed, tight.unpaired) == (smallest.arena_size, smallest.streamed,
                                                                 smallest.unpaired)


def test_a_limit_nothing_meets_gives_the_smallest_plan_for_the_refusal(digits_v2):
    smallest = planner.plan(digits_v2)
    under = planner.plan(digits_v2, limit=smallest.arena_size - 4)
    assert under.arena_size == smallest.arena_size
    with pytest.raises(LimitError):
        planner.check_limit(digits_v2, under, str(smallest.arena_size - 4))

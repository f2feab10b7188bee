"""The trade-state picture is drawn from the one state table, which matches the contract."""

from __future__ import annotations

import re

from p2pescrow._artifacts import load_artifact
from p2pescrow.diagram import render
from p2pescrow.states import TRANSITIONS, TradeState
from tools import diagram


def test_every_action_in_the_state_table_is_a_function_of_the_escrow() -> None:
    functions = {e["name"] for e in load_artifact("P2PEscrow")["abi"] if e["type"] == "function"}

    named = {action for transition in TRANSITIONS for action in transition.actions}

    assert named - functions == set()


def test_every_state_can_be_reached_and_every_state_that_is_not_final_has_a_way_out() -> None:
    reached = {t.target for t in TRANSITIONS}
    left = {t.source for t in TRANSITIONS if t.source is not None and t.target is not t.source}

    assert reached == set(TradeState) - {TradeState.NONE}
    assert left == {s for s in TradeState if s is not TradeState.NONE and not s.is_terminal}


def test_the_committed_picture_is_what_the_table_draws() -> None:
    assert diagram.PICTURE.read_text() == render()
    assert diagram.main(["--check"]) == 0


def test_a_highlighted_state_is_marked_and_no_other() -> None:
    svg = render(highlight=TradeState.DISPUTED)

    marked = re.findall(r'data-state="(\w+)"><rect class="box current"', svg)

    assert marked == ["DISPUTED"]
    assert "box current" not in render()


def test_every_transition_is_labelled_with_its_calls() -> None:
    svg = render()

    assert all(action in svg for transition in TRANSITIONS for action in transition.actions)

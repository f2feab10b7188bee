"""The nonce manager: the node's pending count wins, the local counter only bridges a stale node."""

from p2pescrow.transport.nonces import NonceManager

KEY = (31337, "0x" + "11" * 20)


def test_a_stale_pending_count_right_after_a_send_is_bridged_by_the_local_counter():
    nonces = NonceManager()
    nonces.commit(KEY, nonces.next(KEY, lambda: 7))
    assert nonces.next(KEY, lambda: 7) == 8  # the node has not counted our tx yet


def test_a_node_that_went_backwards_is_believed_once_the_hint_expires(monkeypatch):
    nonces = NonceManager()
    nonces.commit(KEY, 41)
    monkeypatch.setattr(NonceManager, "LOCAL_HINT_SECONDS", 0.0)
    assert nonces.next(KEY, lambda: 0) == 0  # a reset dev chain: start again from its count


def test_the_node_count_wins_when_it_is_ahead():
    nonces = NonceManager()
    nonces.commit(KEY, 3)
    assert nonces.next(KEY, lambda: 10) == 10  # another process sent from the same account

"""The nonce manager: the node is asked once, the local counter follows while it is fresh, and
anything unusual (a refusal, a taken nonce, a transaction not seen mined) makes it ask again."""

from p2pescrow.transport.nonces import NonceManager

KEY = (31337, "0x" + "ab" * 32, "http://127.0.0.1:8545", "0x" + "11" * 20)  # chain, genesis, endpoint, account


def asked_never() -> int:
    raise AssertionError("the node was asked for the pending count")


def test_the_first_nonce_is_the_nodes_pending_count():
    nonces = NonceManager()
    assert nonces.next(KEY, lambda: 7) == 7


def test_after_a_send_the_next_nonce_is_local_without_asking_the_node():
    nonces = NonceManager()
    nonces.commit(KEY, nonces.next(KEY, lambda: 7))
    assert nonces.next(KEY, asked_never) == 8
    assert nonces.cached(KEY) == 8


def test_a_stale_pending_count_is_bridged_by_the_local_counter():
    nonces = NonceManager()
    nonces.commit(KEY, 7)
    assert nonces.choose(KEY, 7) == 8  # the node has not counted our tx yet


def test_a_node_that_went_backwards_is_believed_once_the_hint_expires(monkeypatch):
    nonces = NonceManager()
    nonces.commit(KEY, 41)
    monkeypatch.setattr(NonceManager, "LOCAL_HINT_SECONDS", 0.0)
    assert nonces.next(KEY, lambda: 0) == 0  # a reset dev chain: start again from its count


def test_once_released_the_node_count_wins_when_it_is_ahead():
    """Another program sent from the account: our local nonce is refused as taken (NonceConflict,
    nothing sent), the path releases it, and the retry asks the node."""
    nonces = NonceManager()
    nonces.commit(KEY, 3)
    nonces.release(KEY)
    assert nonces.next(KEY, lambda: 10) == 10


def test_two_nodes_with_one_chain_id_keep_their_own_nonces():
    nonces = NonceManager()
    other_node = (KEY[0], "0x" + "cd" * 32, KEY[2], KEY[3])
    nonces.commit(KEY, 41)
    assert nonces.next(other_node, lambda: 0) == 0  # a fresh Anvil: its own count, not 42


def test_releasing_by_chain_id_and_address_forgets_every_node_of_that_chain():
    nonces = NonceManager()
    nonces.commit(KEY, 41)
    nonces.release((KEY[0], KEY[3]))
    assert nonces.cached(KEY) is None

from pulse_gateway.live.token_bucket import TokenBucket


def test_a_burst_is_allowed_then_refused_until_tokens_come_back() -> None:
    bucket = TokenBucket(rate=1e-9, burst=3)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]


def test_tokens_come_back_at_the_rate() -> None:
    bucket = TokenBucket(rate=1e9, burst=1)
    assert bucket.take()
    assert bucket.take()  # a billion a second: refilled by the next call

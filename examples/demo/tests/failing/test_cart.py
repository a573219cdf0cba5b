"""Cart checks, one of which fails (a rounding bug, on purpose)."""


def total(prices):
    return int(sum(prices))  # the bug: drops the cents


def test_empty_cart():
    assert total([]) == 0


def test_whole_prices():
    assert total([2, 3]) == 5


def test_cents_are_kept():
    assert total([1.25, 1.25]) == 2.5

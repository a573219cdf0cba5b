def test_one():
    assert 1 + 1 == 2


def test_two():
    assert "qf".upper() == "QF"


def test_three():
    assert sorted([3, 1, 2]) == [1, 2, 3]

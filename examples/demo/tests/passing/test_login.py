"""Login checks that pass."""


def login(user, password):
    return user == "alice" and password == "s3cret"


def test_valid_login():
    assert login("alice", "s3cret")


def test_wrong_password():
    assert not login("alice", "nope")


def test_unknown_user():
    assert not login("mallory", "s3cret")

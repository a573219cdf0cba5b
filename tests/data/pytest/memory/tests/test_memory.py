def test_allocates_2_gib():
    data = bytearray(2 << 30)
    assert len(data) == 2 << 30

import os


def test_environment_is_scrubbed():
    seen = sorted(k for k in os.environ)
    with open(os.path.join(os.environ["QF_ARTIFACT_DIR"], "env.txt"), "w") as f:
        f.write("\n".join(seen) + "\n")
    assert "QF_TEST_SECRET" not in os.environ
    assert "AWS_SECRET_ACCESS_KEY" not in os.environ
    assert "QF_DATABASE_URL" not in os.environ
    assert "QF_AMQP_URL" not in os.environ
    assert os.environ.get("ALLOWED_X") == "visible"

import pytest

from tests.deploy.support import Cluster, flush_redis


@pytest.fixture
def cluster(database_url, tmp_path):
    """App hosts and nginx started by the test; all stopped afterwards, whatever happened."""
    flush_redis()
    started = Cluster(database_url, tmp_path)
    try:
        yield started
    finally:
        started.stop()

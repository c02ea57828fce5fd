import attr
import pytest
import responses

from feishu_msgres import Client
from feishu_msgres.testing import FeishuEmulator
from feishu_msgres.transport import make_retry
from helpers import SECRET


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def client():
    """A client for the mocked Feishu host; retries without backoff so tests are quick."""
    with Client("cli_test", SECRET, retries=make_retry(3, backoff_factor=0)) as c:
        yield c


@pytest.fixture
def emu():
    with FeishuEmulator() as server:
        yield server


@pytest.fixture
def emu_client(emu):
    with emu.client(retries=make_retry(3, backoff_factor=0), timeout=(2, 5)) as c:
        c.download_settings = attr.evolve(c.download_settings, resume_backoff=0)
        yield c

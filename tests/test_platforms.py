"""Lark, the BOSS Hi gateway and store (ISV) apps, against the emulator's dialects."""
import json

import pytest
import responses

import feishu_msgres as fm
from feishu_msgres.testing import FeishuEmulator

SEED_003_ITEM = {
    "message_id": "c909a40e9ed292b31kEWDPHnxajTLa0~",
    "root_id": "07b5df7e131fbe2e1w~~",
    "parent_id": "07b5df7e131fbe2e1w~~",
    "msg_type": "text",
    "create_time": "1680593068000",
    "update_time": "1680593068000",
    "deleted": False,
    "updated": False,
    "chat_id": None,
    "sender": {"id": None, "idType": None, "senderType": "IM机器人", "tenantKey": "327ab1e8160c0b783kUZ"},
    "body": {"content": json.dumps({"atIdList": ["-1"], "text": " @所有人 test"}, ensure_ascii=False)},
    "mentions": [{"id": "-1", "id_type": "open_id", "tenant_key": "327ab1e8160c0b783kUZ"}],
    "upper_message_id": None,
}


def test_lark_uses_larksuite_with_the_same_paths():
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, "https://open.larksuite.com/open-apis/auth/v3/tenant_access_token/internal",
                 json={"code": 0, "tenant_access_token": "t-lark", "expire": 7200})
        mock.add(responses.GET, "https://open.larksuite.com/open-apis/im/v1/messages/om_1",
                 json={"code": 0, "data": {"items": [{"message_id": "om_1", "msg_type": "text"}]}})
        assert fm.Client("cli_a", "s", platform="lark").get_message("om_1").message_id == "om_1"


def test_bosshi_seed_example_with_the_mocked_gateway():
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, "https://hi-gw.weizhipin.com/open-apis/auth/tenant_access_token/internal",
                 json={"code": 0, "success": True, "traceId": "tr-1",
                       "data": {"tenant_access_token": "t-hi", "expire": 7140}})
        mock.add(responses.GET, "https://hi-gw.weizhipin.com/open-apis/im/messages/c909a40e9ed292b31kEWDPHnxajTLa0~",
                 json={"code": 0, "traceId": "_Ao59UOIBLPCeAAu", "success": True, "data": SEED_003_ITEM,
                       "msg": "操作成功"})
        msg = fm.Client("cli_hi", "s", platform="bosshi").get_message("c909a40e9ed292b31kEWDPHnxajTLa0~")
        assert mock.calls[1].request.headers["Authorization"] == "Bearer t-hi"
    assert msg.sender.sender_type == "IM机器人" and msg.sender.tenant_key == "327ab1e8160c0b783kUZ"
    assert msg.chat_id is None and msg.upper_message_id is None
    assert msg.content["text"] == " @所有人 test"
    assert [m.id for m in msg.mentions] == ["-1"]


def test_bosshi_errors_carry_the_trace_id_as_log_id():
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, "https://hi-gw.weizhipin.com/open-apis/auth/tenant_access_token/internal",
                 json={"code": 0, "data": {"tenant_access_token": "t", "expire": 7140}})
        mock.add(responses.GET, "https://hi-gw.weizhipin.com/open-apis/im/messages/m1",
                 json={"code": 230002, "msg": "bot not in chat", "success": False, "traceId": "trace-42"})
        with pytest.raises(fm.PermissionDeniedError) as info:
            fm.Client("cli_hi", "s", platform="bosshi").get_message("m1")
    assert info.value.log_id == "trace-42" and "trace-42" in str(info.value)


@pytest.fixture
def hi():
    with FeishuEmulator(dialect="bosshi") as emu:
        yield emu


def test_bosshi_over_sockets(hi):
    mid = hi.add_message("text", {"text": "你好"})
    card = hi.add_message("compressive_card", "")
    with hi.client() as client:
        msg = client.get_message(mid, user_id_type="open_id")
        assert msg.text == "你好"
        assert msg.sender.id == "ou_emulator_sender" and msg.sender.id_type == "open_id"
        assert client.get_message(card).content == {}  # cards come with empty content
        with pytest.raises(fm.InvalidRequestError) as info:
            client.get_message("nope")
    assert info.value.log_id.startswith("emu-trace-")
    assert hi.count("token") == 1
    assert hi.requests[1].path == "/open-apis/im/messages/" + mid
    assert hi.requests[1].query == {"user_id_type": "open_id"}


def test_bosshi_documents_no_resource_or_history_endpoint(hi, tmp_path):
    with hi.client() as client:
        with pytest.raises(fm.ConfigError, match="documents no endpoint"):
            client.download_resource("m", "k", "file", tmp_path)
        with pytest.raises(fm.ConfigError, match="documents no endpoint"):
            list(client.iter_messages("oc_1"))
    assert hi.count() == 0


def test_bosshi_expired_tokens_are_replaced(hi):
    mid = hi.add_message("text", {"text": "x"})
    with hi.client() as client:
        client.get_message(mid)
        hi.expire_tokens()
        client.get_message(mid)
    assert hi.count("token") == 2


# -- store (ISV) apps ---------------------------------------------------------------------------------


def test_store_app_tokens_over_sockets(emu):
    mid = emu.add_message("text", {"text": "hi"})
    with emu.client(app_ticket=emu.app_ticket, tenant_key="tk_emulator") as client:
        assert client.get_message(mid).text == "hi"
        assert client.get_message(mid).text == "hi"
        assert "ticket" not in repr(client)
    kinds = [r.kind for r in emu.requests]
    assert kinds == ["app_token", "store_token", "message", "message"]
    assert emu.requests[-1].headers["Authorization"].startswith("Bearer t-")


def test_store_app_ticket_can_be_updated_live(emu):
    mid = emu.add_message("text", {"text": "hi"})
    with emu.client(app_ticket="stale-ticket", tenant_key="tk_emulator") as client:
        with pytest.raises(fm.AuthError) as info:
            client.get_message(mid)
        assert info.value.code == 10012
        client.app_ticket = emu.app_ticket  # the hourly event brought a new one
        assert client.get_message(mid).text == "hi"


def test_store_app_refetches_both_tokens_when_they_expire(emu):
    mid = emu.add_message("text", {"text": "hi"})
    with emu.client(app_ticket=emu.app_ticket, tenant_key="tk_emulator") as client:
        client.get_message(mid)
        emu.expire_tokens()
        assert client.get_message(mid).text == "hi"
    assert [r.kind for r in emu.requests].count("app_token") == 2


def test_store_app_unknown_tenant_and_bad_setups(emu):
    with emu.client(app_ticket=emu.app_ticket, tenant_key="tk_stranger") as client:
        with pytest.raises(fm.APIError) as info:
            client.get_message(emu.add_message("text", {}))
        assert info.value.code == 10005
    with pytest.raises(fm.ConfigError):
        fm.Client("cli", "s", tenant_key=None, app_ticket="t")
    with pytest.raises(fm.ConfigError):
        fm.Client("cli", "s", platform="bosshi", app_ticket="t", tenant_key="tk")
    with pytest.raises(fm.ConfigError, match="app_ticket"):
        fm.Client("cli", "s", tenant_key="tk", base_url=emu.url).get_message("om_1")

import json

import pytest
import responses
from responses import matchers

import feishu_msgres as fm
from helpers import BASE, SECRET, add_token

MSG_URL = BASE + "/open-apis/im/v1/messages/om_1"


def test_platforms_and_base_url():
    assert fm.Client("a", "b").base_url == "https://open.feishu.cn"
    assert fm.Client("a", "b", platform="lark").base_url == "https://open.larksuite.com"
    assert fm.Client("a", "b", base_url="http://127.0.0.1:8080/").base_url == "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "FEISHU_APP_ID"),
        ({"app_id": "a"}, "app_secret"),
        ({"app_id": "a", "app_secret": "b", "platform": "wechat"}, "unknown platform"),
        ({"app_id": "a", "app_secret": "b", "base_url": "open.feishu.cn"}, "http"),
    ],
)
def test_bad_configuration_is_refused(kwargs, message):
    with pytest.raises(fm.ConfigError, match=message):
        fm.Client(**kwargs)


def test_repr_shows_no_secret():
    client = fm.Client("cli_abc", SECRET)
    assert "cli_abc" in repr(client)
    assert SECRET not in repr(client)
    assert SECRET not in repr(client.__dict__)  # not even in the token machinery's reprs


def test_from_env_with_overrides():
    env = {
        "FEISHU_APP_ID": "cli_env",
        "FEISHU_APP_SECRET": "env-secret",
        "FEISHU_PLATFORM": "lark",
        "FEISHU_BASE_URL": "",
    }
    client = fm.Client.from_env(env)
    assert client.app_id == "cli_env"
    assert client.base_url == "https://open.larksuite.com"
    assert fm.Client.from_env(env, base_url="http://127.0.0.1:9").base_url == "http://127.0.0.1:9"
    user = fm.Client.from_env({"FEISHU_USER_ACCESS_TOKEN": "u-1"})
    assert "user token" in repr(user)
    with pytest.raises(fm.ConfigError):
        fm.Client.from_env({})


def test_from_env_reads_os_environ(monkeypatch):
    monkeypatch.setenv("FEISHU_APP_ID", "cli_os")
    monkeypatch.setenv("FEISHU_APP_SECRET", "x")
    monkeypatch.delenv("FEISHU_BASE_URL", raising=False)
    monkeypatch.delenv("FEISHU_PLATFORM", raising=False)
    assert fm.Client.from_env().app_id == "cli_os"


def test_context_manager_closes_its_own_session_only():
    import requests

    mine = requests.Session()
    closed = []
    mine.close = lambda: closed.append("mine")
    with fm.Client("a", "b", session=mine) as client:
        assert client.session is mine
    assert closed == []
    client = fm.Client("a", "b")
    client.session.close = lambda: closed.append("own")
    with client:
        pass
    assert closed == ["own"]


def test_get_message_sends_user_id_type_and_parses(mock, client):
    add_token(mock)
    mock.add(
        responses.GET,
        MSG_URL,
        match=[matchers.query_param_matcher({"user_id_type": "union_id"})],
        json={"code": 0, "msg": "success", "data": {"items": [
            {"message_id": "om_1", "msg_type": "image", "body": {"content": json.dumps({"image_key": "img_1"})}},
        ]}},
    )
    msg = client.get_message("om_1", user_id_type="union_id")
    assert msg.resources == (fm.Resource("om_1", "img_1", "image"),)


def test_get_message_with_merge_forward_children(mock, client):
    add_token(mock)
    mock.add(responses.GET, MSG_URL, json={"code": 0, "data": {"items": [
        {"message_id": "om_1", "msg_type": "merge_forward", "body": {"content": "Merged and Forwarded Message"}},
        {"message_id": "om_c", "msg_type": "image", "upper_message_id": "om_1",
         "body": {"content": '{"image_key":"img_c"}'}},
    ]}})
    msg = client.get_message("om_1")
    assert [c.message_id for c in msg.children] == ["om_c"]
    assert msg.children[0].resources[0].file_key == "img_c"


@pytest.mark.parametrize(
    "status, code, cls",
    [
        (400, 230110, fm.NotFoundError),
        (400, 230002, fm.PermissionDeniedError),
        (400, 230001, fm.InvalidRequestError),
        (400, 230050, fm.PermissionDeniedError),
        (400, 99991672, fm.PermissionDeniedError),
        (400, 123456, fm.InvalidRequestError),  # unknown code: the status decides
        (403, 123456, fm.PermissionDeniedError),
        (200, 123456, fm.APIError),  # an error code inside a 200
    ],
)
def test_get_message_errors_are_typed(mock, client, status, code, cls):
    add_token(mock)
    mock.add(responses.GET, MSG_URL, status=status, json={"code": code, "msg": "nope"},
             headers={"X-Tt-Logid": "20240101abc"})
    with pytest.raises(cls) as info:
        client.get_message("om_1")
    err = info.value
    assert type(err) is cls
    assert (err.code, err.msg, err.log_id, err.http_status) == (code, "nope", "20240101abc", status)
    text = str(err)
    assert str(code) in text and "nope" in text and "20240101abc" in text and "HTTP %d" % status in text


def test_log_id_from_the_body_when_the_header_is_missing(mock, client):
    add_token(mock)
    mock.add(responses.GET, MSG_URL, status=400,
             json={"code": 230110, "msg": "deleted", "error": {"log_id": "body-log"}})
    with pytest.raises(fm.NotFoundError) as info:
        client.get_message("om_1")
    assert info.value.log_id == "body-log"
    assert "deleted or recalled" in str(info.value)  # the hint from the seed's table


def test_empty_items_is_a_clear_error(mock, client):
    add_token(mock)
    mock.add(responses.GET, MSG_URL, json={"code": 0, "data": {"items": []}})
    with pytest.raises(fm.APIError, match="holds no message"):
        client.get_message("om_1")


@pytest.mark.parametrize("bad", ["", "  ", "om/1", "../om", "om?x=1", "om#1", "om 1", "om%2f", "..", None, 5])
def test_bad_message_ids_are_refused_before_any_request(mock, client, bad):
    with pytest.raises(fm.ConfigError):
        client.get_message(bad)
    assert len(mock.calls) == 0


def test_ids_are_quoted_into_the_path(mock, client):
    add_token(mock)
    mock.add(responses.GET, BASE + "/open-apis/im/v1/messages/c909a40e9ed~", json={
        "code": 0, "data": {"items": [{"message_id": "c909a40e9ed~"}]}})
    assert client.get_message("c909a40e9ed~").message_id == "c909a40e9ed~"

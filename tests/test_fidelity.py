"""The client against what the service documents and does (issue 13): each case failed once."""
import hashlib

import pytest
import responses

import feishu_msgres as fm
from feishu_msgres.models import Message
from helpers import BASE, add_token

MSG_URL = BASE + "/open-apis/im/v1/messages/om_top"


def test_get_message_finds_the_message_asked_for_whatever_the_order(mock, client):
    # seed 001 promises the message and its children in items, not that it comes first
    add_token(mock)
    mock.add(responses.GET, MSG_URL, json={"code": 0, "data": {"items": [
        {"message_id": "om_child", "msg_type": "image", "upper_message_id": "om_top",
         "body": {"content": '{"image_key": "img_c"}'}},
        {"message_id": "om_top", "msg_type": "merge_forward", "body": {"content": "Merged and Forwarded Message"}},
    ]}})
    message = client.get_message("om_top")
    assert message.message_id == "om_top" and message.msg_type == "merge_forward"
    assert [c.message_id for c in message.children] == ["om_child"]
    assert message.children[0].resources[0].container_id == "om_top"


def test_a_deleted_message_keeps_its_content_but_offers_no_resources():
    item = {"message_id": "om_d", "msg_type": "file", "deleted": True,
            "body": {"content": '{"file_key": "file_x", "file_name": "a.pdf"}'}}
    message = Message.from_api(item)
    assert message.deleted and message.content == {"file_key": "file_x", "file_name": "a.pdf"}
    assert message.resources == ()  # the service answers 230110 for them


def test_download_all_of_a_deleted_message_asks_for_nothing(emu, tmp_path):
    mid = emu.add_message("file", {"file_key": "file_x"}, deleted=True)
    emu.add_resource(mid, "file_x", b"gone")
    with emu.client() as client:
        assert client.download_all(mid, tmp_path) == []
    assert [r.kind for r in emu.requests if r.kind == "resource"] == []


def test_a_video_message_offers_its_file_and_cover():
    content = '{"file_key": "file_v", "image_key": "img_v", "file_name": "clip.mp4", "duration": 3000}'
    message = Message.from_api({"message_id": "om_v", "msg_type": "video", "body": {"content": content}})
    assert [(r.file_key, r.type, r.name) for r in message.resources] == [
        ("file_v", "file", "clip.mp4"), ("img_v", "image", None)]


@pytest.fixture
def forwarded(emu):
    top = emu.add_message("merge_forward", "Merged and Forwarded Message")
    inner = emu.add_message("merge_forward", "Merged and Forwarded Message", upper_message_id=top)
    child = emu.add_message("file", {"file_key": "file_f", "file_name": "f.pdf"}, upper_message_id=inner)
    emu.add_resource(child, "file_f", b"forwarded bytes", filename="f.pdf")
    return top, child


def test_a_forwarded_file_refused_under_its_own_id_is_served_under_the_containers(emu, forwarded, tmp_path):
    top, child = forwarded
    emu.forwarded_served_by_container = True  # as the live service does, by field reports
    with emu.client() as client:
        (outcome,) = client.download_all(top, tmp_path)
    assert outcome.ok, outcome.error
    assert outcome.resource.container_id == top  # the outermost, not the inner forward
    assert outcome.result.message_id == top  # which id served it
    assert (tmp_path / "f.pdf").read_bytes() == b"forwarded bytes"
    asked = [r.path.split("/")[5] for r in emu.requests if r.kind == "resource"]
    assert asked == [child, top]


def test_where_the_container_is_refused_too_the_error_stays_and_nothing_more_is_asked(emu, forwarded, tmp_path):
    top, child = forwarded  # the document's behaviour: 234043 for both ids
    with emu.client() as client:
        (outcome,) = client.download_all(top, tmp_path)
    assert isinstance(outcome.error, fm.APIError) and outcome.error.code == 234043
    assert len([r for r in emu.requests if r.kind == "resource"]) == 2


def test_a_message_of_its_own_is_served_under_its_own_id(emu, tmp_path):
    mid = emu.add_message("file", {"file_key": "file_o"})
    emu.add_resource(mid, "file_o", b"own")
    with emu.client() as client:
        result = client.download_resource(mid, "file_o", "file", tmp_path / "o.bin", checksum=True)
    assert result.message_id == mid and result.sha256 == hashlib.sha256(b"own").hexdigest()


def test_the_command_line_of_a_forwarded_file_says_which_id_served_it(emu, forwarded, tmp_path):
    top, child = forwarded
    emu.forwarded_served_by_container = True
    with emu.client() as client:
        (outcome,) = client.download_all(top, tmp_path)
    line = outcome.to_dict()
    assert line["message_id"] == child and line["served_by"] == top


# -- error classes by code, whatever the HTTP status (the server error code list) --------------

TOKEN_CODES = [99991661, 99991663, 99991664, 99991665, 99991668, 99991671, 99991677]


@pytest.mark.parametrize("code", TOKEN_CODES)
def test_token_codes_are_auth_errors_on_http_400(mock, code):
    mock.add(responses.GET, MSG_URL, status=400, json={"code": code, "msg": "token problem"})
    with fm.Client(user_access_token="u-static") as client:  # nothing to refetch: raised as is
        with pytest.raises(fm.AuthError) as info:
            client.get_message("om_top")
    assert info.value.code == code and info.value.http_status == 400


@pytest.mark.parametrize("code", [99991672, 99991676])
def test_scope_codes_are_permission_errors(mock, client, code):
    add_token(mock)
    mock.add(responses.GET, MSG_URL, status=400, json={"code": code, "msg": "no permission"})
    with pytest.raises(fm.PermissionDeniedError):
        client.get_message("om_top")


@pytest.mark.parametrize("code", [99991665, 99991671, 99991677])
def test_more_tenant_token_codes_drop_the_token_and_resend(mock, client, code):
    add_token(mock, "t-old")
    add_token(mock, "t-new")
    mock.add(responses.GET, MSG_URL, status=400, json={"code": code, "msg": "token problem"})
    mock.add(responses.GET, MSG_URL, json={"code": 0, "data": {"items": [{"message_id": "om_top"}]}})
    assert client.get_message("om_top").message_id == "om_top"


@pytest.fixture
def quick_retries(monkeypatch):
    import feishu_msgres.auth as auth

    monkeypatch.setattr(auth, "RETRY_LATER_BACKOFF", 0.01)


def test_rate_limit_code_on_http_400_is_retried_after_the_wait_it_asks(mock, client, quick_retries):
    add_token(mock)
    mock.add(responses.GET, MSG_URL, status=400, json={"code": 99991400, "msg": "request trigger frequency limit"},
             headers={"x-ogw-ratelimit-reset": "0"})
    mock.add(responses.GET, MSG_URL, json={"code": 0, "data": {"items": [{"message_id": "om_top"}]}})
    assert client.get_message("om_top").message_id == "om_top"
    assert len([c for c in mock.calls if c.request.method == "GET"]) == 2


def test_a_rate_limit_that_persists_is_a_rate_limit_error_after_three_resends(mock, client, quick_retries):
    add_token(mock)
    for _ in range(4):
        mock.add(responses.GET, MSG_URL, status=400, json={"code": 99991400, "msg": "request trigger frequency limit"})
    with pytest.raises(fm.RateLimitError):
        client.get_message("om_top")
    assert len([c for c in mock.calls if c.request.method == "GET"]) == 4


def test_234019_on_a_download_is_retried_as_the_document_advises(emu, tmp_path, quick_retries):
    mid = emu.add_message("file", {"file_key": "file_r"})
    emu.add_resource(mid, "file_r", b"retried bytes")
    emu.fail("resource", 400, times=2, code=234019, msg="scope CheckAppTenant fail.")
    with emu.client() as client:
        result = client.download_resource(mid, "file_r", "file", tmp_path / "r.bin")
    assert (tmp_path / "r.bin").read_bytes() == b"retried bytes" and result.size == 13
    assert len([r for r in emu.requests if r.kind == "resource"]) == 3


def test_a_store_app_drops_an_app_token_the_service_calls_invalid(emu):
    # the emulator answers a stale app token with 99991664, as the server code list says
    mid = emu.add_message("text", {"text": "hi"})
    with emu.client(app_ticket=emu.app_ticket, tenant_key="tk_emulator") as client:
        client.get_message(mid)
        emu.expire_tokens()
        assert client.get_message(mid).text == "hi"
    kinds = [r.kind for r in emu.requests]
    assert kinds.count("app_token") == 2 and kinds.count("store_token") == 3


# -- threads: a chat lists a thread's first message; its replies are listed by thread ---------

LIST_URL = BASE + "/open-apis/im/v1/messages"


def _page(items, token=None):
    data = {"has_more": token is not None, "items": items}
    if token:
        data["page_token"] = token
    return {"code": 0, "data": data}


def _item(mid, thread=None, **extra):
    return dict({"message_id": mid, "msg_type": "text", "body": {"content": '{"text": "%s"}' % mid}},
                **({"thread_id": thread} if thread else {}), **extra)


def test_iter_messages_expands_threads_after_their_first_message(mock, client):
    from responses import matchers

    add_token(mock)
    chat = matchers.query_param_matcher({"container_id_type": "chat", "container_id": "oc_1",
                                         "sort_type": "ByCreateTimeAsc", "page_size": "50"})
    mock.add(responses.GET, LIST_URL, match=[chat], json=_page([_item("om_a"), _item("om_root", "omt_1"),
                                                                _item("om_b"), _item("om_root2", "omt_1")]))
    thread = matchers.query_param_matcher({"container_id_type": "thread", "container_id": "omt_1",
                                           "sort_type": "ByCreateTimeAsc", "page_size": "50"})
    mock.add(responses.GET, LIST_URL, match=[thread], json=_page(
        [_item("om_root", "omt_1"), _item("om_r1", "omt_1", root_id="om_root")], token="pt_1"))
    thread_next = matchers.query_param_matcher({"container_id_type": "thread", "container_id": "omt_1",
                                                "sort_type": "ByCreateTimeAsc", "page_size": "50",
                                                "page_token": "pt_1"})
    mock.add(responses.GET, LIST_URL, match=[thread_next], json=_page([_item("om_r2", "omt_1", root_id="om_root")]))
    ids = [m.message_id for m in client.iter_messages("oc_1", expand_threads=True)]
    # each thread once, its replies right after the message that opened it, nothing twice
    assert ids == ["om_a", "om_root", "om_r1", "om_r2", "om_b", "om_root2"]
    assert [m.message_id for m in client.iter_messages("oc_1")] == ["om_a", "om_root", "om_b", "om_root2"]

"""The official SDK, lark-oapi, unmodified, against feishu_msgres.testing.FeishuEmulator.

Run by ``tox -e sdk`` (lark-oapi is installed there and nowhere else). One emulator per test
and one SDK token cache for the whole process (lark-oapi ``TokenManager.cache`` is keyed by
app id only): the tests after the first present the token an earlier emulator issued, which
every emulator of the process accepts.
"""
import json

import lark_oapi as lark
import pytest
from lark_oapi.api.auth.v3 import InternalTenantAccessTokenRequest, InternalTenantAccessTokenRequestBody
from lark_oapi.api.im.v1 import GetMessageRequest, GetMessageResourceRequest, ListMessageRequest
from lark_oapi.core.token.manager import TokenManager

from feishu_msgres.testing import FeishuEmulator

NAMES = ["季度报告 2024（终版）.pdf", "Расходы и доходы.xlsx", "تقرير المبيعات.pdf", "🎉 party plan 🥳.txt",
         "議事録 第3回.docx", "plain name.txt"]


@pytest.fixture
def emu():
    with FeishuEmulator() as server:
        yield server


def sdk_for(emu):
    return (lark.Client.builder().app_id(emu.app_id).app_secret(emu.app_secret).domain(emu.url)
            .log_level(lark.LogLevel.ERROR).build())


@pytest.fixture
def sdk(emu):
    return sdk_for(emu)


def get_message(sdk, message_id, **options):
    builder = GetMessageRequest.builder().message_id(message_id)
    if "user_id_type" in options:
        builder = builder.user_id_type(options["user_id_type"])
    return sdk.im.v1.message.get(builder.build())


def test_the_tenant_token_endpoint(emu, sdk):
    body = InternalTenantAccessTokenRequestBody.builder().app_id(emu.app_id).app_secret(emu.app_secret).build()
    answer = sdk.auth.v3.tenant_access_token.internal(InternalTenantAccessTokenRequest.builder()
                                                      .request_body(body).build())
    assert answer.code == 0 and answer.msg == "ok"
    raw = json.loads(answer.raw.content)
    assert raw["tenant_access_token"].startswith("t-") and raw["expire"] == 7200
    assert answer.get_log_id() == emu.requests[-1].log_id


def test_the_sdks_own_token_is_taken_by_every_emulator_of_the_process(emu, sdk):
    token = TokenManager.get_self_tenant_token(sdk._config)  # cached for the process, by app id
    mid = emu.add_message("text", {"text": "first"})
    assert get_message(sdk, mid).success()
    with FeishuEmulator() as later:  # a new server, the SDK's cached token
        asked = later.add_message("text", {"text": "second"})
        answer = get_message(sdk_for(later), asked)
        assert answer.success(), (answer.code, answer.msg)
        assert later.count("token") == 0
        assert later.requests[-1].headers["Authorization"] == "Bearer " + token


def test_message_get_with_merge_forward_children(emu, sdk):
    top = emu.add_message("merge_forward", "Merged and Forwarded Message")
    emu.add_message("text", {"text": "转发的第一条"}, upper_message_id=top)
    emu.add_message("image", {"image_key": "img_fw"}, upper_message_id=top)
    answer = get_message(sdk, top, user_id_type="union_id")
    assert answer.success() and answer.get_log_id()
    items = answer.data.items
    assert [i.msg_type for i in items] == ["merge_forward", "text", "image"]
    assert [i.upper_message_id for i in items] == [None, top, top]
    assert json.loads(items[1].body.content) == {"text": "转发的第一条"}
    assert items[0].sender.id_type == "union_id" and items[0].sender.id.startswith("on_")


@pytest.mark.parametrize("form", ["rfc5987", "raw_utf8"])
def test_resource_download_name_and_bytes(emu, sdk, form):
    emu.content_disposition = form
    mid = emu.add_message("text", {"text": "files"})
    for n, name in enumerate(NAMES):
        emu.add_resource(mid, "file_%d" % n, name.encode("utf-8") * 1000, filename=name)
    emu.add_resource(mid, "img_1", b"\x89PNG\r\n" + bytes(2000), type="image", content_type="image/png")
    for n, name in enumerate(NAMES):
        answer = sdk.im.v1.message_resource.get(GetMessageResourceRequest.builder().message_id(mid)
                                                .file_key("file_%d" % n).type("file").build())
        assert answer.success() and answer.file_name == name
        assert answer.file.read() == name.encode("utf-8") * 1000
        assert answer.get_log_id() == emu.requests[-1].log_id  # 200 answers carry one too
    image = sdk.im.v1.message_resource.get(GetMessageResourceRequest.builder().message_id(mid)
                                           .file_key("img_1").type("image").build())
    assert image.success() and image.file.read().startswith(b"\x89PNG") and image.file_name is None


def test_list_paging_with_page_token(emu, sdk):
    ids = emu.add_realistic_chat("oc_sdk", n=45, seed=3)
    seen, token, pages = [], None, 0
    while True:
        builder = (ListMessageRequest.builder().container_id_type("chat").container_id("oc_sdk")
                   .sort_type("ByCreateTimeAsc").page_size(20))
        if token:
            builder = builder.page_token(token)
        answer = sdk.im.v1.message.list(builder.build())
        assert answer.success(), (answer.code, answer.msg)
        pages += 1
        seen += [item.message_id for item in answer.data.items]
        if not answer.data.has_more:
            break
        token = answer.data.page_token
    assert seen == ids and pages == 3


def test_errors_as_the_sdk_reports_them(emu, sdk):
    missing = get_message(sdk, "om_nope")
    assert not missing.success()
    # Feishu's "how to resolve error 230001" page: a message_id that names no message
    assert (missing.code, missing.msg) == (
        230001, "Your request contains an invalid request parameter, ext=invalid message_id.")
    # lark-oapi leaves ``error`` the body's dict (the responses' _types name only data), so
    # get_troubleshooter() cannot read it; the log id in it is the answer's header's
    assert missing.error["log_id"] == missing.get_log_id() == emu.requests[-1].log_id
    assert missing.get_log_id() in missing.error["troubleshooter"]
    mid = emu.add_message("file", {"file_key": "file_x"})
    emu.add_resource(mid, "file_x", b"x")
    for key, type_, code, msg in [("file_nope", "file", 234003, "File not in message."),
                                  ("file_x", "audio", 234001, "Invalid request param.")]:
        answer = sdk.im.v1.message_resource.get(GetMessageResourceRequest.builder().message_id(mid)
                                                .file_key(key).type(type_).build())
        assert (answer.code, answer.msg) == (code, msg)
        assert answer.error["log_id"] == answer.get_log_id() == emu.requests[-1].log_id

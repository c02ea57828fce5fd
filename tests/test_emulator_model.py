"""The emulator against the documents it models (issue 13), over real sockets.

Each behaviour has a case that failed before the emulator followed the document it cites:
seed 000 (message resource get), seed 001 (message get), lark-oapi (the official SDK) and
lark-cli. A few cases beside them pin what stays: 234003 for a valid type that is not the
resource's, a resource of exactly 100 MB served, a quoted raw UTF-8 name read whole, another
app's token refused.
"""
import http.client
import json
import os
from urllib.parse import urlsplit

import pytest
import requests

import feishu_msgres as fm
from feishu_msgres._names import choose_filename, parse_content_disposition
from feishu_msgres.testing import FeishuEmulator
from feishu_msgres.testing._users import derived_ids

MiB = 1024 * 1024


def bearer(emu):
    answer = requests.post(emu.url + "/open-apis/auth/v3/tenant_access_token/internal",
                           json={"app_id": emu.app_id, "app_secret": emu.app_secret})
    return {"Authorization": "Bearer " + answer.json()["tenant_access_token"]}


def get(emu, path, headers=None, **params):
    return requests.get(emu.url + path, params=params, headers=dict(bearer(emu), **(headers or {})))


def resource(emu, mid, key, headers=None, **params):
    return get(emu, "/open-apis/im/v1/messages/%s/resources/%s" % (mid, key), headers, **params)


@pytest.fixture
def doc(emu):
    mid = emu.add_message("file", {"file_key": "file_1", "file_name": "a.pdf"})
    emu.add_resource(mid, "file_1", b"%PDF-1.7 " * 40000, filename="a.pdf", content_type="application/pdf")
    return mid


# -- 1. every answer its own log id; an error body's log id is its answer's --------------------------


def test_every_answer_carries_its_own_log_id_206_and_200_included(emu, doc):
    img = emu.add_message("image", {"image_key": "img_1"})
    emu.add_resource(img, "img_1", b"\x89PNG" + bytes(5000), type="image", content_type="image/png")
    answers = [
        resource(emu, doc, "file_1", {"Range": "bytes=0-131071"}, type="file"),  # 206
        resource(emu, img, "img_1", type="image"),  # 200
        resource(emu, doc, "file_1", {"Range": "bytes=999999999-"}, type="file"),  # 416
        get(emu, "/open-apis/im/v1/messages/" + doc),  # JSON
        resource(emu, doc, "file_nope", type="file"),  # an error
    ]
    assert [a.status_code for a in answers] == [206, 200, 416, 200, 400]
    logged = [a.headers.get("X-Tt-Logid") for a in answers]
    assert all(logged) and len(set(logged)) == len(logged)
    # and each is the one the emulator recorded for that request
    assert set(logged) <= {r.log_id for r in emu.requests}


def test_an_error_bodys_log_id_is_the_header_of_its_own_answer(emu, doc):
    first = resource(emu, doc, "file_nope", type="file")
    second = resource(emu, doc, "file_other", type="file")
    for answer in (first, second):
        assert answer.json()["code"] == 234003
        assert answer.json()["error"]["log_id"] == answer.headers["X-Tt-Logid"]
    assert first.json()["error"]["log_id"] != second.json()["error"]["log_id"]


def test_the_clients_error_names_the_answers_log_id(emu, emu_client, doc, tmp_path):
    with pytest.raises(fm.APIError) as info:
        emu_client.download_resource(doc, "file_nope", "file", tmp_path)
    last = [r for r in emu.requests if r.kind == "resource"][-1]
    assert info.value.log_id == last.log_id


def test_a_fault_answer_and_a_gateway_page_carry_a_log_id_too(emu, doc):
    emu.fail("resource", 503)
    emu.fail("message", 400, code=230002, msg="The bot can not be outside the group.")
    page = resource(emu, doc, "file_1", type="file")
    refused = get(emu, "/open-apis/im/v1/messages/" + doc)
    assert page.status_code == 503 and page.headers["X-Tt-Logid"]
    assert refused.json()["error"]["log_id"] == refused.headers["X-Tt-Logid"] != page.headers["X-Tt-Logid"]


# -- 2. the type parameter (seed 000 "查询参数" and its error table) ----------------------------------


@pytest.mark.parametrize("params", [{}, {"type": ""}, {"type": "audio"}, {"type": "video"}, {"type": "IMAGE"}])
def test_a_missing_or_invalid_type_is_an_invalid_request_param(emu, doc, params):
    answer = resource(emu, doc, "file_1", **params)
    assert (answer.status_code, answer.json()["code"], answer.json()["msg"]) == (400, 234001, "Invalid request param.")


def test_a_valid_type_that_is_not_the_resources_is_file_not_in_message(emu, doc):
    answer = resource(emu, doc, "file_1", type="image")
    assert (answer.status_code, answer.json()["code"]) == (400, 234003)
    assert resource(emu, doc, "file_elsewhere", type="file").json()["code"] == 234003


# -- 3. user_id_type (seed 001) ---------------------------------------------------------------------


@pytest.fixture
def greeting(emu):
    emu.add_user("ou_alice", union_id="on_alice", user_id="alice01")
    return emu.add_message("text", {"text": "@_user_1 @_user_2 hello"}, sender_id="ou_alice", mentions=[
        {"key": "@_user_1", "id": "ou_bob", "id_type": "open_id", "name": "Bob", "tenant_key": "tk_emulator"},
        {"key": "@_user_2", "id": "cli_bot", "id_type": "app_id", "name": "Bot", "tenant_key": "tk_emulator"}])


@pytest.mark.parametrize("id_type, alice, bob", [
    (None, "ou_alice", "ou_bob"),
    ("open_id", "ou_alice", "ou_bob"),
    ("union_id", "on_alice", derived_ids("ou_bob")["union_id"]),
    ("user_id", "alice01", derived_ids("ou_bob")["user_id"]),
])
def test_sender_and_mention_ids_follow_user_id_type(emu, greeting, id_type, alice, bob):
    params = {"user_id_type": id_type} if id_type else {}
    item = get(emu, "/open-apis/im/v1/messages/" + greeting, **params).json()["data"]["items"][0]
    assert item["sender"]["id"] == alice and item["sender"]["id_type"] == (id_type or "open_id")
    assert [(m["id"], m["id_type"]) for m in item["mentions"]] == [(bob, id_type or "open_id"), ("cli_bot", "app_id")]
    listed = get(emu, "/open-apis/im/v1/messages", container_id_type="chat", container_id="oc_emulator",
                 **params).json()["data"]["items"][0]
    assert listed["sender"] == item["sender"] and listed["mentions"] == item["mentions"]


def test_an_app_sender_keeps_its_app_id_and_derived_ids_are_stable(emu):
    mid = emu.add_message("text", {"text": "deployed"}, sender={
        "id": "cli_deployer", "id_type": "app_id", "sender_type": "app", "tenant_key": "tk_emulator"})
    item = get(emu, "/open-apis/im/v1/messages/" + mid, user_id_type="user_id").json()["data"]["items"][0]
    assert item["sender"]["id"] == "cli_deployer" and item["sender"]["id_type"] == "app_id"
    ids = derived_ids("ou_someone")
    assert ids == derived_ids("ou_someone") and ids["union_id"].startswith("on_") and len(ids["user_id"]) == 8
    with FeishuEmulator() as other:
        assert other.add_user("ou_someone") == ids


def test_the_client_gets_the_id_type_it_asks_for(emu, emu_client, greeting):
    message = emu_client.get_message(greeting, user_id_type="union_id")
    assert (message.sender.id, message.sender.id_type) == ("on_alice", "union_id")


@pytest.mark.parametrize("path", ["/open-apis/im/v1/messages/{mid}", "/open-apis/im/v1/messages"])
def test_an_invalid_user_id_type_is_a_parameter_error(emu, greeting, path):
    answer = get(emu, path.format(mid=greeting), user_id_type="email", container_id_type="chat",
                 container_id="oc_emulator")
    assert (answer.status_code, answer.json()["code"]) == (400, 230001)


def test_bosshi_sender_follows_user_id_type(greeting):
    with FeishuEmulator(dialect="bosshi") as hi:
        hi.add_user("ou_alice", union_id="on_alice")
        mid = hi.add_message("text", {"text": "你好"}, sender_id="ou_alice")
        with hi.client() as client:
            assert client.get_message(mid, user_id_type="union_id").sender.id == "on_alice"


# -- 4. the 100 MB limit and stickers (seed 000 "使用限制") ------------------------------------------


@pytest.fixture
def huge(emu):
    mid = emu.add_message("file", {"file_key": "file_huge", "file_name": "huge.bin"})
    emu.add_resource(mid, "file_huge", bytes(100 * MiB + 1))  # calloc'd: no 100 MB is written
    return mid


@pytest.mark.parametrize("headers", [{}, {"Range": "bytes=0-131071"}, {"Range": "bytes=-1"}])
def test_a_resource_over_100_mb_is_refused_whole_and_in_ranges(emu, huge, headers):
    answer = resource(emu, huge, "file_huge", headers, type="file")
    assert (answer.status_code, answer.json()["code"]) == (400, 234037)
    assert answer.json()["msg"] == "Downloaded file size exceeds limit."


def test_a_resource_of_exactly_100_mb_is_served(emu):
    mid = emu.add_message("file", {"file_key": "file_max"})
    emu.add_resource(mid, "file_max", bytes(100 * MiB))
    answer = resource(emu, mid, "file_max", {"Range": "bytes=0-131071"}, type="file")
    assert answer.status_code == 206 and answer.headers["Content-Range"] == "bytes 0-131071/%d" % (100 * MiB)


def test_the_client_gets_too_large_at_once(emu, emu_client, huge, tmp_path):
    with pytest.raises(fm.TooLargeError):
        emu_client.download_resource(huge, "file_huge", "file", tmp_path)
    assert emu.count("resource") == 1 and os.listdir(str(tmp_path)) == []


def test_the_limit_is_a_setting_and_the_gateway_cap_fault_stays(emu, doc):
    emu.max_resource_size = 1000
    assert resource(emu, doc, "file_1", {"Range": "bytes=0-9"}, type="file").json()["code"] == 234037
    emu.max_resource_size = 100 * MiB
    emu.refuse_larger_than(10, "file_1")
    assert resource(emu, doc, "file_1", {"Range": "bytes=0-9"}, type="file").status_code == 206
    assert resource(emu, doc, "file_1", {"Range": "bytes=0-10"}, type="file").json()["code"] == 234037


@pytest.mark.parametrize("type_", ["file", "image"])
def test_stickers_are_an_unsupported_message_type(emu, type_):
    mid = emu.add_message("sticker", {"file_key": "file_v2_sticker"})
    emu.add_resource(mid, "file_v2_sticker", b"GIF89a", type=type_, content_type="image/gif")
    answer = resource(emu, mid, "file_v2_sticker", type=type_)
    assert (answer.status_code, answer.json()["code"], answer.json()["msg"]) == (400, 234043,
                                                                                  "Unsupported message type.")


# -- 5. Content-Disposition as servers send it ------------------------------------------------------

# "х", "Р" and "待" end in the bytes 0x85 and 0xA0, NEL and NBSP once read as latin-1
NAMES = ["季度报告 2024（终版）.pdf", "Расходы и доходы.xlsx", "تقرير المبيعات.pdf", "🎉 party plan 🥳.txt",
         "議事録 第3回.docx", "회의록 최종.hwp", "naïve café menu.pdf", "minutes; final.txt", "期待", "Товар Р"]


@pytest.mark.parametrize("form", ["rfc5987", "raw_utf8"])
def test_the_client_names_files_from_either_form(form, tmp_path):
    with FeishuEmulator(content_disposition=form) as emu:
        mid = emu.add_message("text", {"text": "files"})
        for n, name in enumerate(NAMES):
            emu.add_resource(mid, "file_%d" % n, name.encode("utf-8"), filename=name)
        with emu.client() as client:
            for n, name in enumerate(NAMES):
                result = client.download_resource(mid, "file_%d" % n, "file", tmp_path)
                assert os.path.basename(result.path) == name and result.filename == name
                assert (tmp_path / name).read_bytes() == name.encode("utf-8")


def test_the_raw_form_sends_the_utf8_bytes_and_no_filename_star(emu):
    emu.content_disposition = "raw_utf8"
    mid = emu.add_message("text", {"text": "files"})
    emu.add_resource(mid, "file_r", b"x", filename=NAMES[1])
    split = urlsplit(emu.url)
    conn = http.client.HTTPConnection(split.hostname, split.port, timeout=5)
    conn.request("GET", "/open-apis/im/v1/messages/%s/resources/file_r?type=file" % mid, headers=bearer(emu))
    header = conn.getresponse().getheader("Content-Disposition")
    conn.close()
    assert header.encode("latin-1") == ('attachment; filename="%s"' % NAMES[1]).encode("utf-8")
    emu.content_disposition = "rfc5987"
    assert "filename*=UTF-8''" in resource(emu, mid, "file_r", type="file").headers["Content-Disposition"]
    with pytest.raises(ValueError):
        emu.content_disposition = "utf-16"


@pytest.mark.parametrize("name", ["期待", "Товар Р", "Смех", "季度报告.pdf"])
@pytest.mark.parametrize("form", ['attachment; filename=%s', 'attachment; filename="%s"', "attachment;\tfilename = %s"])
def test_a_raw_utf8_name_is_read_whole_quoted_or_not(name, form):
    # http.client reads headers as latin-1: the bytes 0x85 and 0xA0 ending "待", "Р", "х"
    # arrive as NEL and NBSP, which are not HTTP whitespace (RFC 9110 5.6.3) and stay
    header = (form % name).encode("utf-8").decode("latin-1")
    assert parse_content_disposition(header) == name
    assert choose_filename("file_k", header, "text/plain")[1] == name


# -- 6. real sizes: a chat of every message type, pages over 64 KiB ---------------------------------

EVERY_TYPE = {"text", "post", "image", "file", "audio", "media", "video", "sticker", "interactive", "merge_forward",
              "share_chat", "share_user", "system", "location", "todo", "vote", "hongbao", "share_calendar_event",
              "calendar", "general_calendar", "video_chat", "folder"}


@pytest.fixture
def chat(emu):
    return emu.add_realistic_chat("oc_busy", n=160, seed=13)


def test_a_realistic_chat_is_listed_whole_by_the_client(emu, emu_client, chat):
    listed = list(emu_client.iter_messages("oc_busy"))
    assert [m.message_id for m in listed] == chat
    assert {m.msg_type for m in listed} == EVERY_TYPE
    assert sum(m.deleted for m in listed) == 1
    assert [m.create_time for m in listed] == sorted(m.create_time for m in listed)
    assert emu.count("list") == 4  # 50 + 50 + 50 + 10


def test_its_pages_of_50_are_over_64_kib(emu, chat):
    token, sizes = None, []
    while True:
        params = dict(container_id_type="chat", container_id="oc_busy", page_size=50)
        if token:
            params["page_token"] = token
        answer = get(emu, "/open-apis/im/v1/messages", **params)
        sizes.append(len(answer.content))
        data = answer.json()["data"]
        token = data.get("page_token")
        if not data["has_more"]:
            break
    assert len(sizes) == 4 and min(sizes[:3]) > 64 * 1024


def test_its_posts_are_long_and_in_many_scripts(emu, emu_client, chat):
    posts = [m for m in emu_client.iter_messages("oc_busy") if m.msg_type == "post"]
    text = json.dumps([p.content for p in posts], ensure_ascii=False)
    for sample in ("季度", "会議", "회의", "отчёт", "التقرير", "रिपोर्ट", "รายงาน", "αναφορά", "🚀"):
        assert sample in text, sample
    assert max(len(json.dumps(p.content, ensure_ascii=False).encode("utf-8")) for p in posts) > 4000


def test_its_forwards_have_children_and_its_files_download(emu, emu_client, chat, tmp_path):
    forward = next(m for m in emu_client.iter_messages("oc_busy") if m.msg_type == "merge_forward")
    assert len(emu_client.get_message(forward.message_id).children) == 4
    files = [m for m in emu_client.iter_messages("oc_busy") if m.msg_type in ("file", "image", "media", "audio")]
    outcomes = [o for m in files[:6] for o in emu_client.download_all(m.message_id, tmp_path / m.message_id)]
    assert outcomes and all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]


def test_the_same_seed_makes_the_same_chat(chat):
    with FeishuEmulator() as other:
        assert other.add_realistic_chat("oc_busy", n=160, seed=13) == chat
        assert other.add_realistic_chat("oc_else", n=30, seed=14) != chat[:30]


# -- 7. tokens are the process's, as the official SDK caches them ----------------------------------


def test_a_token_from_one_emulator_is_valid_in_another_of_the_same_process(emu, doc):
    issued = bearer(emu)
    with FeishuEmulator() as later:
        mid = later.add_message("text", {"text": "hi"})
        answer = requests.get(later.url + "/open-apis/im/v1/messages/" + mid, headers=issued)
        assert answer.status_code == 200 and answer.json()["code"] == 0
        later.expire_tokens()  # this emulator's view only: the first one still takes the token
        assert requests.get(later.url + "/open-apis/im/v1/messages/" + mid, headers=issued).json()["code"] == 99991663
    assert requests.get(emu.url + "/open-apis/im/v1/messages/" + doc, headers=issued).json()["code"] == 0


def test_a_token_of_another_app_is_refused(emu, doc):
    with FeishuEmulator(app_id="cli_other") as other:
        answer = requests.get(emu.url + "/open-apis/im/v1/messages/" + doc, headers=bearer(other))
    assert (answer.status_code, answer.json()["code"]) == (400, 99991663)

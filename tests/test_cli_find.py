"""Finding things: the chats the app is in (``chats``, ``Client.iter_chats``), a chat's
messages page by page (``messages``, ``Client.list_messages_page``), every message as plain
text (``Message.text``) and a forwarded message as a tree (``get --tree``)."""
import json

import pytest

import feishu_msgres as fm
from feishu_msgres import endpoints
from feishu_msgres.cli import main
from feishu_msgres.content import plain_text
from feishu_msgres.errors import ConfigError, PermissionDeniedError
from feishu_msgres.platforms import PLATFORMS


@pytest.fixture
def chats(emu):
    """Three chats the app is in (one named only by its messages), a public one it is not in,
    a private one it is not in, and a p2p chat."""
    emu.add_chat("oc_team", "产品研发 Team", description="weekly", owner_id="ou_owner")
    emu.add_chat("oc_ops", "Ops war room", external=True)
    for n in range(7):
        emu.add_message("text", {"text": "team %d" % n}, chat_id="oc_team", create_time=1717200000000 + n * 60000)
    emu.add_message("text", {"text": "hi"}, chat_id="oc_unnamed")
    emu.add_chat("oc_public", "Team lounge", chat_type="public", member=False)
    emu.add_chat("oc_secret", "Team secrets", member=False)
    emu.add_message("text", {"text": "not for the bot"}, chat_id="oc_secret", message_id="om_secret")
    emu.add_resource("om_secret", "file_s", b"x")
    emu.add_chat("oc_p2p", "Tom", chat_mode="p2p")
    return emu


def cli(monkeypatch, capsys, emu, *args):
    """Run the command in this process against ``emu``: (exit status, stdout, stderr)."""
    for name in list(fm.Client.ENV.values()):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FEISHU_BASE_URL", emu.url)
    monkeypatch.setenv("FEISHU_APP_ID", emu.app_id)
    monkeypatch.setenv("FEISHU_APP_SECRET", emu.app_secret)
    try:
        status = main(list(args))
    except SystemExit as exc:  # argparse's usage errors
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# -- the library -------------------------------------------------------------------------------


def test_iter_chats_lists_the_groups_the_app_is_in_following_pages(chats, emu_client):
    found = list(emu_client.iter_chats(page_size=1))
    assert [c.chat_id for c in found] == ["oc_team", "oc_ops", "oc_unnamed"]  # not p2p, not the others
    assert chats.count("chats") == 3  # one page each: page_token followed while has_more
    team = found[0]
    assert isinstance(team, fm.Chat) and team.name == "产品研发 Team" and team.description == "weekly"
    assert team.owner_id == "ou_owner" and team.owner_id_type == "open_id" and team.chat_status == "normal"
    assert found[1].external is True and found[1].owner_id is None  # a bot-owned chat has no owner_id
    assert found[2].name == "oc_unnamed"  # known from its messages only
    assert team.to_dict()["chat_id"] == "oc_team" and "raw" not in team.to_dict()


def test_iter_chats_searches_by_name_among_visible_chats(chats, emu_client):
    assert [c.chat_id for c in emu_client.iter_chats(query="team")] == ["oc_team", "oc_public"]
    assert [c.chat_id for c in emu_client.iter_chats(query="LOUNGE")] == ["oc_public"]
    assert list(emu_client.iter_chats(query="nothing like it")) == []
    assert chats.requests[-1].path == "/open-apis/im/v1/chats/search"
    assert chats.requests[-1].query["query"] == "nothing like it"


def test_owner_ids_follow_user_id_type(chats, emu_client):
    chats.add_user("ou_owner", union_id="on_owner", user_id="u_owner")
    (team,) = [c for c in emu_client.iter_chats(user_id_type="union_id") if c.chat_id == "oc_team"]
    assert (team.owner_id, team.owner_id_type) == ("on_owner", "union_id")


def test_chat_calls_are_checked_before_any_request():
    feishu = PLATFORMS["feishu"]
    for bad in (dict(page_size=0), dict(page_size=101), dict(query=""), dict(query=" "), dict(query="x" * 65),
                dict(user_id_type="email")):
        with pytest.raises(ConfigError):
            endpoints.chats_page(feishu, **bad)
    with pytest.raises(ConfigError, match="bosshi"):
        endpoints.chats_page(PLATFORMS["bosshi"])
    assert endpoints.chats_page(feishu, "产品", 5).params == {"page_size": 5, "query": "产品"}
    with pytest.raises(ConfigError):
        endpoints.messages_page(feishu, "oc_1", user_id_type="email")


def test_a_page_of_messages_and_the_token_of_the_next(chats, emu_client):
    first = emu_client.list_messages_page("oc_team", page_size=3, sort="desc")
    assert isinstance(first, fm.MessagePage) and first.has_more
    assert [m.text for m in first.messages] == ["team 6", "team 5", "team 4"]
    second = emu_client.list_messages_page("oc_team", page_size=3, sort="desc", page_token=first.page_token)
    third = emu_client.list_messages_page("oc_team", page_size=3, sort="desc", page_token=second.page_token)
    assert [m.text for m in second.messages + third.messages] == ["team 3", "team 2", "team 1", "team 0"]
    assert third.page_token is None and not third.has_more
    # iter_messages follows the same pages
    assert [m.text for m in emu_client.iter_messages("oc_team", sort="desc", page_size=3)] == \
        ["team %d" % n for n in range(6, -1, -1)]


def test_user_id_type_reaches_every_list_call(emu, emu_client):
    emu.add_user("ou_a", union_id="on_a", user_id="u_a")
    root = emu.add_message("text", {"text": "q"}, sender_id="ou_a", thread_id="omt_1")
    emu.add_message("text", {"text": "a"}, sender_id="ou_a", thread_id="omt_1", root_id=root, parent_id=root)
    page = emu_client.list_messages_page("oc_emulator", user_id_type="user_id")
    assert page.messages[0].sender.id == "u_a"
    got = list(emu_client.iter_messages("oc_emulator", expand_threads=True, user_id_type="union_id"))
    assert [m.sender.id for m in got] == ["on_a", "on_a"]  # the thread's reply too
    assert {r.query.get("user_id_type") for r in emu.requests if r.kind == "list"} == {"user_id", "union_id"}


def test_the_emulator_refuses_chats_the_app_is_not_in(chats, emu_client):
    with pytest.raises(PermissionDeniedError) as info:
        emu_client.get_message("om_secret")
    assert info.value.code == 230002  # seed 001: the bot must be in the chat
    with pytest.raises(PermissionDeniedError) as info:
        list(emu_client.iter_messages("oc_secret"))
    assert info.value.code == 230002
    with pytest.raises(PermissionDeniedError) as info:
        emu_client.read_resource("om_secret", "file_s", "file")
    assert info.value.code == 234004  # seed 000: App not in chat.


# -- plain text ------------------------------------------------------------------------------


POST = {"title": "Launch", "content": [
    [{"tag": "at", "user_id": "@_user_1", "user_name": "张伟"}, {"tag": "text", "text": " please read "},
     {"tag": "a", "href": "https://example.com/doc", "text": "the doc"}],
    [{"tag": "img", "image_key": "img_1"}],
    [{"tag": "text", "text": "thanks"}, {"tag": "emotion", "emoji_type": "THUMBSUP"}]]}


@pytest.mark.parametrize("msg_type, content, text", [
    ("text", {"text": "@_user_1 hi"}, "@_user_1 hi"),  # as sent: Message.text has always been that
    ("post", POST, "Launch\n@张伟 please read the doc\n[Image]\nthanks:THUMBSUP:"),
    ("post", {"en_us": {"title": "T", "content": [[{"tag": "text", "text": "body"}]]}}, "T\nbody"),
    ("post", {"content": [[{"tag": "at", "user_id": "@_all"}, {"tag": "text", "text": " meeting"}]]}, "@all meeting"),
    ("interactive", {"title": "Deploy", "elements": [[{"tag": "text", "text": "v2 is out"}],
                                                     [{"tag": "button", "text": "Approve"}]]}, "Deploy\nv2 is out"),
    ("interactive", {"header": {"title": {"tag": "plain_text", "content": "Alert"}},
                     "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": "**CPU** 95%"}},
                                  {"tag": "markdown", "content": "see dashboard"}]},
     "Alert\n**CPU** 95%\nsee dashboard"),
    ("interactive", {"elements": [[{"tag": "button", "text": "OK"}]]}, "[Card]"),
    ("image", {"image_key": "img_1"}, "[Image]"),
    ("file", {"file_key": "f", "file_name": "a.pdf"}, "[File: a.pdf]"),
    ("audio", {"file_key": "f", "duration": 2500}, "[Voice: 2s]"),
    ("media", {"file_key": "f", "file_name": "v.mp4", "image_key": "i"}, "[Video: v.mp4]"),
    ("sticker", {"file_key": "f"}, "[Sticker]"),
    ("system", {"template": "{from_user} invited {to_chatters} to this chat.", "from_user": ["A"],
                "to_chatters": ["B", "C"]}, "A invited B, C to this chat."),
    ("vote", {"topic": "Lunch?", "options": ["noodles", "rice"], "status": 1}, "Lunch?\n• noodles\n• rice\n(Closed)"),
    ("hongbao", {"text": "恭喜发财"}, "恭喜发财"),
    ("location", {"name": "Office"}, "[Location: Office]"),
    ("brand_new_type", {"x": 1}, "[brand_new_type]"),
    ("text", {}, None),
])
def test_every_message_has_a_plain_text(msg_type, content, text):
    item = {"message_id": "om_1", "msg_type": msg_type, "body": {"content": json.dumps(content)}}
    assert fm.Message.from_api(item).text == text


def test_recalled_and_forwarded_messages():
    assert plain_text("text", {"text": "gone"}, deleted=True) is None
    recalled = fm.Message.from_api({"message_id": "om_1", "msg_type": "post", "deleted": True, "body": {"content": ""}})
    assert recalled.text is None
    forward = fm.Message.from_api({"message_id": "om_1", "msg_type": "merge_forward",
                                   "body": {"content": "Merged and Forwarded Message"}})
    assert forward.text == "[Merged and forwarded messages]"


def test_every_message_of_a_realistic_chat_has_text_unless_recalled(emu, emu_client):
    emu.add_realistic_chat("oc_real", n=60, seed=3)
    for message in emu_client.iter_messages("oc_real"):
        assert (message.text is None) == message.deleted, message.msg_type
        if message.msg_type in ("post", "interactive"):
            assert message.text and not message.text.startswith("[")


# -- the commands -----------------------------------------------------------------------------


def test_chats_command_prints_one_json_line_per_chat(monkeypatch, capsys, chats):
    status, out, err = cli(monkeypatch, capsys, chats, "chats")
    assert status == 0 and err == ""
    got = json_lines(out)
    assert [c["chat_id"] for c in got] == ["oc_team", "oc_ops", "oc_unnamed"]
    assert got[0]["name"] == "产品研发 Team" and got[0]["owner_id"] == "ou_owner" and got[1]["external"] is True
    status, out, _ = cli(monkeypatch, capsys, chats, "chats", "--limit", "2")
    assert status == 0 and [c["chat_id"] for c in json_lines(out)] == ["oc_team", "oc_ops"]
    assert chats.requests[-1].query["page_size"] == "2"  # no larger a page than the limit needs
    status, out, _ = cli(monkeypatch, capsys, chats, "chats", "--query", "lounge")
    assert status == 0 and [c["name"] for c in json_lines(out)] == ["Team lounge"]


@pytest.mark.parametrize("args", [["--page-size", "101"], ["--page-size", "0"], ["--limit", "0"],
                                  ["--query", ""], ["--query", "x" * 65], ["--platform", "bosshi"]])
def test_chats_usage_errors_exit_2_before_any_request(monkeypatch, capsys, emu, args):
    status, out, err = cli(monkeypatch, capsys, emu, "chats", *args)
    assert status == 2 and out == "" and "error:" in err
    assert emu.count() == 0


def test_messages_command_prints_messages_then_the_token_on_stderr(monkeypatch, capsys, chats):
    status, out, err = cli(monkeypatch, capsys, chats, "messages", "--chat-id", "oc_team", "--limit", "4")
    assert status == 0
    got = json_lines(out)
    assert [m["text"] for m in got] == ["team 6", "team 5", "team 4", "team 3"]  # newest first, as lark-cli
    assert all("resources" in m and m["chat_id"] == "oc_team" for m in got)
    summary = json.loads(err.strip().splitlines()[-1])
    assert summary["messages"] == 4 and summary["has_more"] is True and summary["page_token"]
    # the token goes on exactly where the run stopped
    status, out, err = cli(monkeypatch, capsys, chats, "messages", "--chat-id", "oc_team",
                           "--page-token", summary["page_token"])
    assert status == 0 and [m["text"] for m in json_lines(out)] == ["team 2", "team 1", "team 0"]
    assert json.loads(err) == {"messages": 3, "has_more": False, "page_token": None}


def test_messages_pages_no_larger_than_the_limit_needs(monkeypatch, capsys, chats):
    status, out, _ = cli(monkeypatch, capsys, chats, "messages", "--chat-id", "oc_team", "--page-size", "3",
                         "--limit", "5", "--sort", "asc")
    assert status == 0 and [m["text"] for m in json_lines(out)] == ["team %d" % n for n in range(5)]
    assert [r.query["page_size"] for r in chats.requests if r.kind == "list"] == ["3", "2"]


def test_messages_time_window_user_ids_and_threads(monkeypatch, capsys, emu):
    emu.add_user("ou_a", union_id="on_a", user_id="u_a")
    root = emu.add_message("text", {"text": "question"}, sender_id="ou_a", thread_id="omt_1",
                           create_time=1717200000000)
    emu.add_message("text", {"text": "answer"}, thread_id="omt_1", root_id=root, parent_id=root,
                    create_time=1717200060000)
    emu.add_message("text", {"text": "later"}, create_time=1717300000000)
    status, out, _ = cli(monkeypatch, capsys, emu, "messages", "--chat-id", "oc_emulator", "--sort", "asc",
                         "--expand-threads", "--user-id-type", "user_id")
    got = json_lines(out)
    assert [m["text"] for m in got] == ["question", "answer", "later"] and got[0]["sender"]["id"] == "u_a"
    status, out, _ = cli(monkeypatch, capsys, emu, "messages", "--chat-id", "oc_emulator",
                         "--start-time", "1717250000", "--end-time", "1717400000")
    assert [m["text"] for m in json_lines(out)] == ["later"]
    status, out, _ = cli(monkeypatch, capsys, emu, "messages", "--thread-id", "omt_1", "--sort", "asc")
    assert status == 0 and [m["text"] for m in json_lines(out)] == ["question", "answer"]


@pytest.mark.parametrize("args", [
    [],  # neither --chat-id nor --thread-id
    ["--chat-id", "oc_1", "--thread-id", "omt_1"],
    ["--thread-id", "omt_1", "--start-time", "2024-01-01"],  # Feishu does not filter threads by time
    ["--chat-id", "oc_1", "--page-size", "51"],
    ["--chat-id", "oc_1", "--sort", "newest"],
    ["--chat-id", "oc/1"],
    ["--chat-id", "oc_1", "--start-time", "yesterday"],
])
def test_messages_usage_errors_exit_2_before_any_request(monkeypatch, capsys, emu, args):
    status, out, err = cli(monkeypatch, capsys, emu, "messages", *args)
    assert status == 2 and out == ""
    assert err.strip().splitlines()[-1].startswith("feishu-msgres messages: error:")
    assert emu.count() == 0


def test_messages_refused_by_the_service_is_one_line(monkeypatch, capsys, chats):
    status, out, err = cli(monkeypatch, capsys, chats, "messages", "--chat-id", "oc_secret")
    assert status == 1 and out == ""
    (line,) = err.strip().splitlines()
    assert "230002" in line and "log_id" in line


def test_get_tree_shows_the_forwarded_children(monkeypatch, capsys, emu):
    top = emu.add_message("merge_forward", "Merged and Forwarded Message", sender_id="ou_fwd")
    emu.add_message("text", {"text": "first line\nsecond line"}, upper_message_id=top, message_id="om_c1")
    inner = emu.add_message("merge_forward", "Merged and Forwarded Message", upper_message_id=top,
                            message_id="om_c2")
    emu.add_message("file", {"file_key": "file_q", "file_name": "q.pdf"}, upper_message_id=inner, message_id="om_c3")
    status, out, err = cli(monkeypatch, capsys, emu, "get", "--message-id", top, "--tree")
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith(top + "  merge_forward  ") and "ou_fwd" in lines[0]
    assert any(line.startswith("├── om_c1  text") for line in lines)
    assert any(line.startswith("└── om_c2  merge_forward") for line in lines)
    assert any(line.startswith("    └── om_c3  file") for line in lines)
    assert any(line.endswith("│       second line") for line in lines)  # under om_c1, beside om_c2's branch
    assert any(line.endswith("        resource file_q (file, q.pdf)") for line in lines)
    # without --tree: the JSON, as before
    status, out, _ = cli(monkeypatch, capsys, emu, "get", "--message-id", top)
    assert json.loads(out)["children"][1]["children"][0]["message_id"] == "om_c3"


def test_new_commands_have_help_with_examples(monkeypatch, capsys, emu):
    for command in ("chats", "messages", "emulator"):
        status, out, _ = cli(monkeypatch, capsys, emu, command, "--help")
        assert status == 0 and "examples:" in out, command
    _, out, _ = cli(monkeypatch, capsys, emu, "messages", "--help")
    assert "page_token" in out and "stderr" in out


import datetime
import json

import attr
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feishu_msgres import Message, Resource
from feishu_msgres.models import Mention, Sender

SEED_ITEM = {
    "message_id": "om_dc13264520392913993dd051dba21dcf",
    "root_id": "om_40eb06e7b84dc71c03e009ad3c754195",
    "parent_id": "om_d4be107c616aed9c1da8ed8068570a9f",
    "thread_id": "omt_d4be107c616a",
    "msg_type": "text",
    "create_time": "1615380573411",
    "update_time": "1615380573411",
    "deleted": False,
    "updated": False,
    "chat_id": "oc_5ad11d72b830411d72b836c20",
    "sender": {
        "id": "cli_9f427eec54ae901b",
        "id_type": "app_id",
        "sender_type": "app",
        "tenant_key": "736588c9260f175e",
    },
    "body": {"content": '{"text":"test content"}'},
    "mentions": [
        {
            "key": "@_user_1",
            "id": "ou_155184d1e73cbfb8973e5a9e698e74f2",
            "id_type": "open_id",
            "name": "Tom",
            "tenant_key": "736588c9260f175e",
        }
    ],
    "upper_message_id": "om_40eb06e7b84dc71c03e009ad3c754195",
}


def item(msg_type, content, message_id="om_1", **extra):
    base = {"message_id": message_id, "msg_type": msg_type, "body": {"content": json.dumps(content)}}
    base.update(extra)
    return base


def test_every_field_of_the_seed_example():
    msg = Message.from_api(SEED_ITEM)
    assert msg.message_id == "om_dc13264520392913993dd051dba21dcf"
    assert msg.root_id == "om_40eb06e7b84dc71c03e009ad3c754195"
    assert msg.parent_id == "om_d4be107c616aed9c1da8ed8068570a9f"
    assert msg.thread_id == "omt_d4be107c616a"
    assert msg.msg_type == "text"
    assert msg.chat_id == "oc_5ad11d72b830411d72b836c20"
    assert msg.upper_message_id == "om_40eb06e7b84dc71c03e009ad3c754195"
    assert msg.create_time == datetime.datetime(2021, 3, 10, 12, 49, 33, 411000, tzinfo=datetime.timezone.utc)
    assert msg.update_time == msg.create_time
    assert msg.deleted is False and msg.updated is False
    assert msg.sender.id == "cli_9f427eec54ae901b"
    assert msg.sender.id_type == "app_id"
    assert msg.sender.sender_type == "app"
    assert msg.sender.tenant_key == "736588c9260f175e"
    assert msg.content == {"text": "test content"}
    assert msg.text == "test content"
    (mention,) = msg.mentions
    assert (mention.key, mention.id, mention.id_type, mention.name, mention.tenant_key) == (
        "@_user_1",
        "ou_155184d1e73cbfb8973e5a9e698e74f2",
        "open_id",
        "Tom",
        "736588c9260f175e",
    )
    assert msg.resources == ()
    assert msg.raw["thread_id"] == "omt_d4be107c616a"


def test_message_is_frozen():
    msg = Message.from_api(SEED_ITEM)
    with pytest.raises(attr.exceptions.FrozenInstanceError):
        msg.message_id = "other"


@pytest.mark.parametrize(
    "msg_type, content, expected",
    [
        ("image", {"image_key": "img_1"}, [("img_1", "image", None)]),
        ("file", {"file_key": "file_1", "file_name": "a.pdf"}, [("file_1", "file", "a.pdf")]),
        ("audio", {"file_key": "file_a", "duration": 2000}, [("file_a", "file", None)]),
        (
            "media",
            {"file_key": "file_v", "image_key": "img_cover", "file_name": "v.mp4", "duration": 9},
            [("file_v", "file", "v.mp4"), ("img_cover", "image", None)],
        ),
        ("sticker", {"file_key": "file_sticker"}, []),
        ("folder", {"file_key": "file_folder", "file_name": "dir"}, []),
        ("interactive", {"elements": [{"tag": "img", "img_key": "img_card"}]}, []),
        ("share_chat", {"chat_id": "oc_1"}, []),
        ("text", {"text": "hi"}, []),
        ("a_type_from_the_future", {"image_key": "img_x"}, []),
        ("image", {}, []),
        ("image", {"image_key": 5}, []),
    ],
)
def test_resources_by_type(msg_type, content, expected):
    msg = Message.from_api(item(msg_type, content))
    assert [(r.file_key, r.type, r.name) for r in msg.resources] == expected
    assert all(r.message_id == "om_1" for r in msg.resources)


POST_ELEMENTS = [
    [{"tag": "text", "text": "look"}, {"tag": "img", "image_key": "img_p1"}],
    [{"tag": "media", "file_key": "file_pm", "image_key": "img_pm_cover"}],
    [{"tag": "img", "image_key": "img_p1"}],  # the same image twice is offered once
]


@pytest.mark.parametrize(
    "content",
    [
        {"title": "t", "content": POST_ELEMENTS},
        {"zh_cn": {"title": "t", "content": POST_ELEMENTS}},
    ],
)
def test_post_resources_in_both_shapes(content):
    msg = Message.from_api(item("post", content))
    assert [(r.file_key, r.type) for r in msg.resources] == [
        ("img_p1", "image"),
        ("file_pm", "file"),
        ("img_pm_cover", "image"),
    ]


@pytest.mark.parametrize(
    "body",
    [{"content": "not json"}, {"content": "[1, 2]"}, {"content": ""}, {}, None, "text"],
)
def test_content_that_is_not_a_json_object_parses_as_empty(body):
    msg = Message.from_api({"message_id": "om_1", "msg_type": "image", "body": body})
    assert msg.content == {}
    assert msg.resources == ()


def test_recalled_message():
    msg = Message.from_api({"message_id": "om_1", "msg_type": "image", "deleted": True, "body": {}})
    assert msg.deleted is True
    assert msg.resources == ()


def test_unknown_fields_and_missing_fields_do_not_break():
    msg = Message.from_api({"message_id": "om_1", "brand_new_field": {"x": 1}, "create_time": "soon",
                            "sender": "not a dict", "mentions": [None, {"id": "ou_1"}]})
    assert msg.msg_type is None
    assert msg.create_time is None
    assert msg.sender.id is None
    assert [m.id for m in msg.mentions] == ["ou_1"]
    assert msg.raw["brand_new_field"] == {"x": 1}


def test_camel_case_sender_keys():
    msg = Message.from_api({"message_id": "m", "sender": {"id": None, "idType": None,
                                                          "senderType": "IM机器人", "tenantKey": "tk"}})
    assert msg.sender.sender_type == "IM机器人"
    assert msg.sender.tenant_key == "tk"
    assert msg.sender.id is None


def test_merge_forward_children_form_a_tree():
    items = [
        item("merge_forward", "Merged and Forwarded Message", "om_top"),
        item("image", {"image_key": "img_a"}, "om_a", upper_message_id="om_top"),
        item("merge_forward", "Merged and Forwarded Message", "om_inner", upper_message_id="om_top"),
        item("file", {"file_key": "file_b", "file_name": "b.txt"}, "om_b", upper_message_id="om_inner"),
        # upper message unknown: hangs under the top
        item("text", {"text": "orphan"}, "om_orphan", upper_message_id="om_elsewhere"),
    ]
    top = Message.from_items(items)
    assert top.message_id == "om_top"
    assert [c.message_id for c in top.children] == ["om_a", "om_inner", "om_orphan"]
    inner = top.children[1]
    assert [c.message_id for c in inner.children] == ["om_b"]
    assert [m.message_id for m in top.walk()] == ["om_top", "om_a", "om_inner", "om_b", "om_orphan"]
    # forwarded: the resource API may serve it only under the outermost container's id
    assert inner.children[0].resources == (Resource("om_b", "file_b", "file", "b.txt", "om_top"),)
    assert top.resources == ()


def test_from_items_survives_a_cycle_and_refuses_nothing():
    items = [
        item("merge_forward", "x", "om_top"),
        item("merge_forward", "x", "om_a", upper_message_id="om_top"),
        item("text", {"text": "x"}, "om_self", upper_message_id="om_self"),
    ]
    top = Message.from_items(items)
    assert sorted(m.message_id for m in top.walk()) == ["om_a", "om_self", "om_top"]
    with pytest.raises(ValueError):
        Message.from_items([])


# -- from_dict: the inverse of to_dict (an export's messages.jsonl is read back with it) ----------

_ids = st.text(max_size=8)
_maybe = st.none() | _ids
_times = st.none() | st.datetimes(timezones=st.just(datetime.timezone.utc))
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8)


def _messages(children):
    return st.builds(
        Message, message_id=_ids, msg_type=_maybe, chat_id=_maybe, root_id=_maybe, parent_id=_maybe,
        thread_id=_maybe, upper_message_id=_maybe, create_time=_times, update_time=_times, deleted=st.booleans(),
        updated=st.booleans(), sender=st.builds(Sender, _maybe, _maybe, _maybe, _maybe),
        mentions=st.lists(st.builds(Mention, _maybe, _maybe, _maybe, _maybe, _maybe), max_size=2).map(tuple),
        content=st.dictionaries(st.text(max_size=5), _json, max_size=3),
        resources=st.lists(st.builds(Resource, _ids, _ids, st.sampled_from(["image", "file"]), _maybe),
                           max_size=2).map(tuple),
        children=children)


_trees = st.recursive(_messages(st.just(())), lambda inner: _messages(st.lists(inner, max_size=2).map(tuple)),
                      max_leaves=4)


def _contents(msg):
    return [m.content for m in msg.walk()]


@settings(max_examples=200, deadline=None)
@given(_trees)
def test_from_dict_inverts_to_dict(msg):
    data = msg.to_dict()
    back = Message.from_dict(json.loads(json.dumps(data)))  # through a JSON line, as an export keeps it
    assert back == msg and _contents(back) == _contents(msg)
    assert back.to_dict() == data


@pytest.mark.parametrize("items", [
    [SEED_ITEM],
    [item("post", {"title": "t", "content": POST_ELEMENTS}, create_time="1615380573411")],
    [item("merge_forward", "Merged and Forwarded Message", "om_top", create_time="1615380573000"),
     item("media", {"file_key": "file_v", "image_key": "img_c", "file_name": "v.mp4"}, "om_a",
          upper_message_id="om_top"),
     item("file", {"file_key": "file_b", "file_name": "报告.pdf"}, "om_b", upper_message_id="om_a")],
    [{"message_id": "om_1", "msg_type": "image", "deleted": True, "body": {}}],
])
def test_from_dict_of_real_shapes(items):
    msg = Message.from_items(items)
    back = Message.from_dict(msg.to_dict())
    assert back == msg and _contents(back) == _contents(msg)
    assert [m.resources for m in back.walk()] == [m.resources for m in msg.walk()]
    assert back.create_time is None or back.create_time.tzinfo is not None
    assert back.raw == {}  # not in the data: to_dict leaves it out


def test_from_dict_tolerates_unknown_and_missing_keys():
    assert Message.from_dict({}) == Message.from_api({})
    msg = Message.from_dict({
        "message_id": "om_1", "brand_new": {"x": 1}, "create_time": "not a time", "update_time": 1615380573411,
        "sender": "not a dict", "mentions": [None, {"id": "ou_1", "extra": 1}], "content": [1],
        "resources": [{"file_key": "k"}, {"file_key": "k2", "type": "file"}, "junk"],
        "children": [None, {"message_id": "om_c", "create_time": "2021-03-10T12:49:33"}], "children_error": "x",
    })
    assert (msg.create_time, msg.update_time, msg.content) == (None, None, {})
    assert msg.sender == Sender(None, None, None, None)
    assert msg.mentions == (Mention(None, "ou_1", None, None, None),)
    assert msg.resources == (Resource("om_1", "k2", "file"),)  # no type: nothing to download by; its message's
    (child,) = msg.children
    assert child.create_time == datetime.datetime(2021, 3, 10, 12, 49, 33, tzinfo=datetime.timezone.utc)

"""A chat as people fill it: what ``FeishuEmulator.add_realistic_chat`` adds.

The content of each msg_type is shaped as the receive-content document has it ("接收消息内容
结构", open.feishu.cn/document/server-docs/im-v1/message-content-description/message_content)
and as lark-cli reads it: ``shortcuts/im/convert_lib/content_convert.go`` lists the types
(text, post, image, file, audio, media, video, sticker, interactive, share_chat, share_user,
location, merge_forward, folder, share_calendar_event, calendar, general_calendar,
video_chat, system, todo, vote, hongbao) and its ``media.go``, ``misc.go``, ``text.go`` and
``merge.go`` the fields of each. Sizes are real ones: posts run to many paragraphs in many
scripts, so that a page of 50 messages is well over 64 KiB.
"""
from __future__ import annotations

import random
from typing import Any, Callable, Dict, List, Optional, Tuple

# Sentences people write, in the scripts a Feishu tenant sees.
SENTENCES = [
    "本季度华东区的销售额同比增长了百分之十二，主要得益于新客户的持续增加和老客户的复购。",
    "请各位在周五下班前把评审意见填到共享文档里，我们下周一上午十点统一过一遍。",
    "来週の定例会議では、新しいプロジェクトの進捗状況と課題について詳しく報告してください。",
    "資料の最新版を共有フォルダにアップロードしましたので、ご確認をお願いいたします。",
    "다음 주 회의에서는 신규 프로젝트의 진행 상황과 남은 과제를 자세히 공유해 주세요.",
    "Пожалуйста, подготовьте подробный отчёт о ходе работ и расходах к следующему понедельнику.",
    "Мы перенесли релиз на четверг: нужно ещё раз проверить миграции базы данных.",
    "يرجى مراجعة التقرير المرفق وإرسال ملاحظاتكم قبل نهاية الأسبوع حتى نتمكن من اعتماده.",
    "אנא עברו על המסמך המצורף ושלחו הערות עד יום חמישי בצהריים.",
    "कृपया संलग्न रिपोर्ट की समीक्षा करें और सप्ताह के अंत तक अपनी टिप्पणियाँ भेजें।",
    "กรุณาตรวจสอบรายงานที่แนบมาและส่งความคิดเห็นกลับมาภายในสิ้นสัปดาห์นี้ครับ",
    "Παρακαλώ ελέγξτε τη συνημμένη αναφορά και στείλτε τα σχόλιά σας έως την Παρασκευή.",
    "Vui lòng xem lại báo cáo đính kèm và gửi góp ý trước thứ Sáu tuần này.",
    "Please review the attached report and leave your comments before Friday's sync.",
    "The staging cluster was rolled back at 14:05 after p99 latency went above 800 ms.",
    "🎉🚀 Great work everyone on the launch! 👏👏 Let's keep the momentum going 💪🔥",
    "Bitte prüft die Zahlen für Q3 noch einmal, bevor wir sie an die Geschäftsführung schicken.",
    "Merci à toute l'équipe pour ce trimestre : les résultats dépassent nos prévisions ! 🥂",
]
TITLES = ["2024 年第三季度经营分析报告", "週次レポート：開発チーム", "Отчёт о релизе 2.4", "تحديث المشروع الأسبوعي",
          "Post-mortem: staging outage 🔥", "주간 업무 보고", "Roadmap H2 — 下半年规划"]
# (file name, content type): names in many scripts, with spaces, as users upload them
FILES = [("2024年度财务报告（最终版）.pdf", "application/pdf"), ("Расходы и доходы за квартал.xlsx",
         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
         ("تقرير المبيعات السنوي.pdf", "application/pdf"), ("議事録 第3回 定例会議.docx",
         "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
         ("회의록 2024-06-01.txt", "text/plain"), ("🎉 launch party plan 🥳.pptx",
         "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
         ("design review notes v2.md", "text/markdown"), ("Ελληνικά σημειώσεις.zip", "application/zip")]
PEOPLE = [("ou_7d8a6e6df7621556ce0d21922b676706", "张伟"), ("ou_155184d1e73cbfb8973e5a9e698e74f2", "Tom Baker"),
          ("ou_2f9c3e8a4b5d6c7e8f9a0b1c2d3e4f5a", "佐藤 花子"),
          ("ou_9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d", "Алексей Петров"),
          ("ou_4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b", "فاطمة الزهراء"), ("ou_0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d", "김민준")]
BOT = {"id": "cli_a5e7b3c9d1f2e4a6", "id_type": "app_id", "sender_type": "app", "tenant_key": "tk_emulator"}
# How often each type comes once every type has come once: a chat is mostly text and posts.
WEIGHTS = {"text": 30, "post": 30, "image": 8, "file": 6, "audio": 3, "media": 2, "video": 1, "sticker": 4,
           "interactive": 3, "merge_forward": 2, "share_chat": 1, "share_user": 1, "system": 2, "location": 1,
           "todo": 1, "vote": 1, "hongbao": 1, "share_calendar_event": 1, "calendar": 1, "general_calendar": 1,
           "video_chat": 1, "folder": 1}
# A resource to store with a message: (file_key, type, size, content type, file name)
Resource = Tuple[str, str, int, str, Optional[str]]


class _Chat:
    """One chat being filled: its random source, clock, people and the emulator it fills."""

    def __init__(self, emu: Any, chat_id: str, rng: random.Random, start_ms: int) -> None:
        self.emu, self.chat_id, self.rng, self.clock = emu, chat_id, rng, start_ms
        self.resources: List[Resource] = []
        self.mentions: List[Dict[str, Any]] = []
        self.last_id: Optional[str] = None
        for open_id, _ in PEOPLE:
            emu.add_user(open_id)

    def hex(self, bits: int = 128) -> str:
        return "%0*x" % (bits // 4, self.rng.getrandbits(bits))

    def key(self, prefix: str) -> str:
        """A key as the service makes them: ``img_v3_02ab_…`` / ``file_v3_00cd_…``."""
        h = self.hex()
        return "%s_v3_%s_%s-%s-%s-%s-%sg" % (prefix, h[:4], h[4:12], h[12:16], h[16:20], h[20:24], h[24:])

    def sentences(self, low: int, high: int) -> str:
        return " ".join(self.rng.choice(SENTENCES) for _ in range(self.rng.randint(low, high)))

    def mention(self) -> Tuple[str, str]:
        """``(@_user_N, name)`` for someone, with the mention seed 001 lists beside the message."""
        open_id, name = self.rng.choice(PEOPLE)
        key = "@_user_%d" % (len(self.mentions) + 1)
        self.mentions.append({"key": key, "id": open_id, "id_type": "open_id", "name": name,
                              "tenant_key": "tk_emulator"})
        return key, name

    def image(self) -> str:
        key = self.key("img")
        self.resources.append((key, "image", self.rng.randint(4, 40) * 1024, "image/png", None))
        return key

    def file(self, name: str, content_type: str, kilobytes: Tuple[int, int] = (8, 160)) -> str:
        key = self.key("file")
        self.resources.append((key, "file", self.rng.randint(*kilobytes) * 1024, content_type, name))
        return key

    def add(self, msg_type: str, upper: Optional[str] = None, deleted: bool = False) -> str:
        """One message of ``msg_type`` (with its resources, a forward with its children)."""
        self.resources, self.mentions = [], []
        content = BUILDERS[msg_type](self)
        self.clock += self.rng.randint(5, 900) * 1000 + self.rng.randint(0, 999)
        who = self.rng.randrange(len(PEOPLE) + 1)
        sender = dict(BOT) if who == len(PEOPLE) or msg_type in ("interactive", "system") else {
            "id": PEOPLE[who][0], "id_type": "open_id", "sender_type": "user", "tenant_key": "tk_emulator"}
        fields: Dict[str, Any] = {"sender": sender, "mentions": [] if deleted else self.mentions}
        if upper is None and msg_type == "text" and self.last_id and self.rng.random() < 0.15:
            fields.update(root_id=self.last_id, parent_id=self.last_id)  # a reply (seed 001: root_id, parent_id)
        mid = self.emu.add_message(msg_type, content, message_id="om_" + self.hex(), chat_id=self.chat_id,
                                   upper_message_id=upper, create_time=self.clock, deleted=deleted, **fields)
        for key, type_, size, content_type, name in self.resources:
            data = self.rng.getrandbits(size * 8).to_bytes(size, "little")
            self.emu.add_resource(mid, key, data, type=type_, content_type=content_type, filename=name)
        if msg_type == "merge_forward":  # seed 001: the sub-messages come back with it, by upper_message_id
            for child_type in self.rng.sample(["text", "post", "image", "file", "text", "audio"], 4):
                self.add(child_type, upper=mid)
        if upper is None:
            self.last_id = mid
        return str(mid)


def _text(chat: _Chat) -> Dict[str, Any]:
    # the receive-content document: @ becomes @_user_N, links [text](url)
    text = chat.sentences(1, 3)
    if chat.rng.random() < 0.4:
        text = "%s %s" % (chat.mention()[0], text)
    if chat.rng.random() < 0.2:
        text += " [飞书开放平台](https://open.feishu.cn/document)"
    return {"text": text}


def _paragraph(chat: _Chat) -> List[Dict[str, Any]]:
    """One line of a post: text runs, now and then a link, a mention or an emoji."""
    line: List[Dict[str, Any]] = [{"tag": "text", "text": chat.sentences(2, 4), "style": []}]
    roll = chat.rng.random()
    if roll < 0.2:
        key, name = chat.mention()
        line.insert(0, {"tag": "at", "user_id": key, "user_name": name, "style": []})
    elif roll < 0.35:
        line.append({"tag": "a", "href": "https://example.feishu.cn/docx/" + chat.hex(64), "text": "详细文档 / details",
                     "style": ["underline"]})
    elif roll < 0.45:
        line.append({"tag": "emotion", "emoji_type": chat.rng.choice(["THUMBSUP", "SMILE", "PARTY", "FIRE"])})
    elif roll < 0.55:
        line[0]["style"] = ["bold"]
    return line


def _post(chat: _Chat) -> Dict[str, Any]:
    """A long rich-text post: title, paragraphs, images, a video, code, rules."""
    content: List[List[Dict[str, Any]]] = []
    for _ in range(chat.rng.randint(8, 16)):
        content.append(_paragraph(chat))
        roll = chat.rng.random()
        if roll < 0.15:
            content.append([{"tag": "img", "image_key": chat.image(), "width": 1280, "height": 720}])
        elif roll < 0.2:
            content.append([{"tag": "code_block", "language": "PYTHON",
                             "text": "for row in rows:\n    total += row.amount  # 合计\nprint(total)\n"}])
        elif roll < 0.25:
            content.append([{"tag": "hr"}])
        elif roll < 0.27:
            content.append([{"tag": "media", "file_key": chat.file("clip.mp4", "video/mp4", (200, 600)),
                             "image_key": chat.image()}])
    return {"title": chat.rng.choice(TITLES), "content": content}


def _file(chat: _Chat) -> Dict[str, Any]:
    name, content_type = chat.rng.choice(FILES)
    return {"file_key": chat.file(name, content_type), "file_name": name}


def _media(chat: _Chat) -> Dict[str, Any]:
    name = chat.rng.choice(["产品演示.mp4", "Демо версия 2.mp4", "screen recording 2024-05-30.mp4"])
    return {"file_key": chat.file(name, "video/mp4", (200, 800)), "image_key": chat.image(), "file_name": name,
            "duration": chat.rng.randint(3000, 180000)}


def _calendar(chat: _Chat) -> Dict[str, Any]:
    start = chat.clock // 1000 + 86400
    return {"summary": chat.rng.choice(TITLES), "start_time": str(start), "end_time": str(start + 3600),
            "open_calendar_id": "feishu.cn_%s@group.calendar.feishu.cn" % chat.hex(64),
            "open_event_id": "%s_0" % chat.hex(64)}


def _todo(chat: _Chat) -> Dict[str, Any]:
    return {"task_id": chat.hex(), "due_time": str(chat.clock + 3 * 86400000),
            "summary": {"title": chat.rng.choice(TITLES), "content": [_paragraph(chat)]}}


def _card(chat: _Chat) -> Dict[str, Any]:
    # seed 001: a card's content is not the card JSON it was sent as, but its elements
    return {"title": "部署通知 Deployment notice", "elements": [
        [{"tag": "text", "text": chat.sentences(1, 2)}],
        [{"tag": "a", "href": "https://example.feishu.cn/deploy/" + chat.hex(64), "text": "查看详情 View details"}],
        [{"tag": "button", "text": "Approve 批准"}, {"tag": "button", "text": "Reject 拒绝"}]]}


def _system(chat: _Chat) -> Dict[str, Any]:
    names = [name for _, name in chat.rng.sample(PEOPLE, 3)]
    return {"template": "{from_user} invited {to_chatters} to this chat.", "from_user": names[:1],
            "to_chatters": names[1:], "divider_text": {}}


BUILDERS: Dict[str, Callable[[_Chat], Any]] = {
    "text": _text,
    "post": _post,
    "image": lambda c: {"image_key": c.image()},
    "file": _file,
    "audio": lambda c: {"file_key": c.file("voice.opus", "audio/opus", (6, 60)),
                        "duration": c.rng.randint(1000, 60000)},
    "media": _media,
    "video": _media,
    "sticker": lambda c: {"file_key": c.key("file")},  # no bytes: the resource API refuses stickers
    "interactive": _card,
    "merge_forward": lambda c: "Merged and Forwarded Message",
    "share_chat": lambda c: {"chat_id": "oc_" + c.hex()},
    "share_user": lambda c: {"user_id": c.rng.choice(PEOPLE)[0]},
    "system": _system,
    "location": lambda c: {"name": "上海市徐汇区 · 漕河泾开发区", "longitude": "121.403600", "latitude": "31.169000"},
    "todo": _todo,
    "vote": lambda c: {"topic": "团建去哪儿？Where for the offsite?", "options": ["杭州 🏞", "Сочи", "Bali 🌴"],
                       "status": 0},
    "hongbao": lambda c: {"text": "恭喜发财，大吉大利 🧧"},
    "share_calendar_event": _calendar,
    "calendar": _calendar,
    "general_calendar": _calendar,
    "video_chat": lambda c: {"topic": "Weekly sync 周会", "start_time": str(c.clock)},
    "folder": lambda c: {"file_key": c.key("file"), "file_name": "设计稿 Design"},
}


# Names of team chats, in the scripts of a tenant (the chat list shows them): one per seed.
CHAT_NAMES = ["产品研发 · Product & Engineering", "営業チーム 定例", "Отдел продаж — Q3", "Design crit 🎨",
              "فريق التسويق", "Launch war room 🚀"]


def fill_chat(emu: Any, chat_id: str, n: int, seed: int, start_ms: int) -> List[str]:
    """``n`` top-level messages in ``chat_id``: every type once first, then one recalled
    text (seed 001: ``deleted``, its content gone), then by ``WEIGHTS``. A chat not added
    yet is added with a name, owned by the first of ``PEOPLE``."""
    if chat_id not in emu._chats:  # its own random source is left alone: the same seed, the same chat
        emu.add_chat(chat_id, CHAT_NAMES[seed % len(CHAT_NAMES)], description=TITLES[seed % len(TITLES)],
                     owner_id=PEOPLE[0][0])
    chat = _Chat(emu, chat_id, random.Random(seed), start_ms)
    kinds = list(BUILDERS)
    weights = [WEIGHTS[k] for k in kinds]
    ids = []
    for i in range(n):
        if i == len(kinds):
            ids.append(chat.add("text", deleted=True))
            continue
        kind = kinds[i] if i < len(kinds) else chat.rng.choices(kinds, weights)[0]
        ids.append(chat.add(kind))
    return ids

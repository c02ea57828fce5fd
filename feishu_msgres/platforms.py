"""The systems this client speaks to: where each one's endpoints are and how it answers.

Feishu and Lark are one API on two hosts. The BOSS Hi gateway (seed 003) moves the paths,
nests the token under ``data``, and returns one message object directly in ``data``; it
documents no endpoint for message resources or chat history, so none is guessed here.
"""
from __future__ import annotations

from typing import Dict, NamedTuple, Optional


class Platform(NamedTuple):
    name: str
    base_url: str
    token_path: str  # tenant_access_token of an internal app
    message_path: str  # % message_id
    list_path: Optional[str] = None  # chat history; None: not documented there
    resource_path: Optional[str] = None  # % (message_id, file_key); None: not documented there
    token_in_data: bool = False  # the token answer nests its fields under "data"
    store_apps: bool = False  # app_access_token + tenant_key (ISV apps)


_FEISHU_PATHS = dict(
    token_path="/open-apis/auth/v3/tenant_access_token/internal",
    message_path="/open-apis/im/v1/messages/%s",
    list_path="/open-apis/im/v1/messages",
    resource_path="/open-apis/im/v1/messages/%s/resources/%s",
    store_apps=True,
)

PLATFORMS: Dict[str, Platform] = {
    "feishu": Platform("feishu", "https://open.feishu.cn", **_FEISHU_PATHS),  # type: ignore[arg-type]
    "lark": Platform("lark", "https://open.larksuite.com", **_FEISHU_PATHS),  # type: ignore[arg-type]
    "bosshi": Platform(
        "bosshi",
        "https://hi-gw.weizhipin.com",
        token_path="/open-apis/auth/tenant_access_token/internal",
        message_path="/open-apis/im/messages/%s",
        token_in_data=True,
    ),
}

# Store (ISV) apps: an app_access_token from the pushed app_ticket, then a tenant's token.
APP_TOKEN_PATH = "/open-apis/auth/v3/app_access_token"
STORE_TENANT_TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token"

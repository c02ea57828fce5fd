"""feishu_msgres: get chat messages and their attachments out of Feishu / Lark.

This module only re-exports; each name lives in the module that owns it.
"""
__version__ = "0.1.0"

from typing import Any, List

from .client import Client
from .errors import (
    APIError,
    AuthError,
    ConfigError,
    DestinationExistsError,
    FeishuError,
    IntegrityError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResourceChangedError,
    TooLargeError,
    TransportError,
    UnsupportedMessageError,
)
from .listing import Chat, MessagePage
from .models import DownloadResult, Mention, Message, Resource, ResourceDownload, Sender
from .ratelimit import RateLimiter

# Loaded on first use, to keep ``import feishu_msgres`` light: the export pulls in threads,
# DingTalk its own client, the download front its engine.
_LAZY = {
    "DingTalkClient": "dingtalk",
    "RobotFile": "dingtalk",
    "robot_files": "dingtalk",
    "ExportProgress": "export",
    "ExportSummary": "export",
    "ResourceData": "resources",
    "ResourceStream": "resources",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError("module 'feishu_msgres' has no attribute %r" % name)
    import importlib

    value = getattr(importlib.import_module("." + module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(__all__)


__all__ = [
    "APIError",
    "AuthError",
    "Chat",
    "Client",
    "ConfigError",
    "DestinationExistsError",
    "DingTalkClient",
    "DownloadResult",
    "ExportProgress",
    "ExportSummary",
    "FeishuError",
    "IntegrityError",
    "InvalidRequestError",
    "Mention",
    "Message",
    "MessagePage",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimiter",
    "ResourceChangedError",
    "Resource",
    "RobotFile",
    "ResourceData",
    "ResourceDownload",
    "ResourceStream",
    "Sender",
    "TooLargeError",
    "TransportError",
    "UnsupportedMessageError",
    "__version__",
    "robot_files",
]

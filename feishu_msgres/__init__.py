"""feishu_msgres: get chat messages and their attachments out of Feishu / Lark.

This module only re-exports; each name lives in the module that owns it.
"""
__version__ = "0.1.0"

from .client import Client
from .dingtalk import DingTalkClient, RobotFile, robot_files
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
    TooLargeError,
    TransportError,
    UnsupportedMessageError,
)
from .export import ExportProgress, ExportSummary
from .models import DownloadResult, Mention, Message, Resource, ResourceDownload, Sender
from .ratelimit import RateLimiter
from .resources import ResourceData, ResourceStream

__all__ = [
    "APIError",
    "AuthError",
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
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimiter",
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

"""feishu_msgres: get chat messages and their attachments out of Feishu / Lark.

This module only re-exports; each name lives in the module that owns it.
"""
__version__ = "0.1.0"

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
    TooLargeError,
    TransportError,
    UnsupportedMessageError,
)
from .models import DownloadResult, Mention, Message, Resource, ResourceDownload, Sender

__all__ = [
    "APIError",
    "AuthError",
    "Client",
    "ConfigError",
    "DestinationExistsError",
    "DownloadResult",
    "FeishuError",
    "IntegrityError",
    "InvalidRequestError",
    "Mention",
    "Message",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "Resource",
    "ResourceDownload",
    "Sender",
    "TooLargeError",
    "TransportError",
    "UnsupportedMessageError",
    "__version__",
]

"""feishu_msgres: get chat messages and their attachments out of Feishu / Lark.

This module only re-exports; each name lives in the module that owns it.
"""
__version__ = "0.1.0"

from .client import Client
from .ratelimit import RateLimiter
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

__all__ = [
    "APIError",
    "AuthError",
    "Client",
    "ConfigError",
    "DestinationExistsError",
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
    "ResourceDownload",
    "Sender",
    "TooLargeError",
    "TransportError",
    "UnsupportedMessageError",
    "__version__",
]

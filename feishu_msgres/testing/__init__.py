"""Test against a real server: ``from feishu_msgres.testing import FeishuEmulator``.

Not imported by ``import feishu_msgres``, so it costs nothing unless used.
``python -m feishu_msgres.testing`` (or ``feishu-msgres emulator``) serves one until stopped.
"""
from .emulator import FeishuEmulator, Request

__all__ = ["FeishuEmulator", "Request"]

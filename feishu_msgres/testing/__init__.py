"""Test against a real server: ``from feishu_msgres.testing import FeishuEmulator``.

Not imported by ``import feishu_msgres``, so it costs nothing unless used.
"""
from .emulator import FeishuEmulator, Request

__all__ = ["FeishuEmulator", "Request"]

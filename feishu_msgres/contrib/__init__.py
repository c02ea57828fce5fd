"""Glue for frameworks; nothing here is imported by ``import feishu_msgres``."""

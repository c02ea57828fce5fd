"""File names from the server, treated as hostile input (pure functions, no I/O).

RFC 6266 Content-Disposition with RFC 5987 ``filename*``; names cut to their last path
component; extensions from Content-Type.
"""
from __future__ import annotations

import re
from typing import Dict, Optional, Tuple
from urllib.parse import quote, unquote

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
# Whitespace between parameters is HTTP's OWS, spaces and tabs only (RFC 9110 5.6.3): a raw
# UTF-8 name reaches us latin-1 decoded, and bytes 0x85 and 0xA0 ("х", "Р", "待" end in them)
# are then NEL and NBSP, which ``\s`` and ``str.strip()`` would take for whitespace and cut.
_OWS = " \t"
_PARAM = re.compile(r';[ \t]*(%s)[ \t]*=[ \t]*("(?:[^"\\]|\\.)*"|[^;]*)' % _TOKEN)
_EXT_VALUE = re.compile(r"^\s*([!#$&+^_`{}~0-9A-Za-z-]*)'[^']*'(.*?)\s*$")
_PCT = re.compile(r"%[0-9A-Fa-f]{2}")
_UNSAFE_CHARS = re.compile(r'[<>:"|?*]')
MAX_NAME_BYTES = 255

# The types chat attachments come as, where mimetypes' first guess is odd (.jpe, .mpga …).
_EXTENSIONS: Dict[str, str] = {
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/bmp": ".bmp",
    "image/heic": ".heic",
    "image/svg+xml": ".svg",
    "image/tiff": ".tiff",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
    "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a",
    "audio/ogg": ".ogg",
    "audio/opus": ".opus",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/amr": ".amr",
    "application/pdf": ".pdf",
    "application/zip": ".zip",
    "application/json": ".json",
    "text/plain": ".txt",
    "text/csv": ".csv",
}


def parse_content_disposition(value: Optional[str]) -> Optional[str]:
    """The file name a Content-Disposition header offers, ``filename*`` first; else None.

    The name is returned as sent (decoded), not yet made safe: see ``safe_filename``.
    """
    if not value:
        return None
    head, _, rest = value.partition(";")
    # The disposition type may be missing (``filename="a.pdf"`` alone): then all are params.
    params_text = ";" + (value if "=" in head else rest)
    params: Dict[str, str] = {}
    for name, raw in _PARAM.findall(params_text):
        params.setdefault(name.lower(), raw.strip(_OWS))
    extended = params.get("filename*")
    if extended is not None:
        decoded = _decode_ext_value(_unquote_string(extended))
        if decoded:
            return decoded
    plain = params.get("filename")
    if plain is None:
        return None
    return _repair(_unquote_string(plain)) or None


def _unquote_string(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    return raw


def _decode_ext_value(raw: str) -> Optional[str]:
    """RFC 5987 ``charset'lang'pct-encoded``; None when malformed or in an unknown charset."""
    match = _EXT_VALUE.match(raw)
    if not match:
        return None
    charset = match.group(1).lower() or "utf-8"
    try:
        return unquote(match.group(2), encoding=charset, errors="strict")
    except (LookupError, UnicodeDecodeError):
        return None


def _repair(name: str) -> str:
    """Undo the two ways servers misencode a plain ``filename``.

    UTF-8 bytes sent raw reach Python as latin-1 text (mojibake); some servers percent-encode
    the name without ``filename*``. Either is decoded when it decodes cleanly as UTF-8.
    """
    try:
        name = name.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    if _PCT.search(name):
        try:
            name = unquote(name, encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            pass
    return name


def safe_filename(name: Optional[str]) -> Optional[str]:
    """A name that is safe as one file in a chosen folder, or None if none can be made.

    Only the last path component is kept (``/`` and ``\\`` both count); characters Windows
    forbids become ``_``; names that are empty, ``.``/``..`` or hold control characters
    are refused; a name longer than 255 UTF-8 bytes is shortened, keeping its extension.
    A leading dot becomes ``_``: a server never plants a hidden file (``.bash_profile``),
    and hidden names in a download folder are this library's own temporary files.
    """
    if not name:
        return None
    base = re.split(r"[/\\]", name)[-1].strip()
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in base):
        return None
    base = _UNSAFE_CHARS.sub("_", base).rstrip(". ")
    if base in ("", ".", ".."):
        return None
    if base.startswith("."):
        base = "_" + base.lstrip(".")
    return shorten(base)


def shorten(name: str) -> str:
    """``name`` cut to 255 UTF-8 bytes, keeping its extension."""
    if len(name.encode("utf-8")) <= MAX_NAME_BYTES:
        return name
    stem, ext = split_ext(name)
    if len(ext.encode("utf-8")) > 32:
        stem, ext = name, ""
    budget = MAX_NAME_BYTES - len(ext.encode("utf-8"))
    return stem.encode("utf-8")[:budget].decode("utf-8", "ignore") + ext


def numbered(name: str, n: int) -> str:
    """``report (2).pdf`` for ``report.pdf``, the stem cut so that it stays within 255 bytes."""
    stem, ext = split_ext(name)
    suffix = " (%d)%s" % (n, ext)
    room = MAX_NAME_BYTES - len(suffix.encode("utf-8"))
    return stem.encode("utf-8")[:room].decode("utf-8", "ignore") + suffix


def split_ext(name: str) -> Tuple[str, str]:
    """``("report", ".pdf")``; a leading dot alone (``.bashrc``) is not an extension."""
    dot = name.rfind(".")
    if dot <= 0 or dot == len(name) - 1:
        return name, ""
    return name[:dot], name[dot:]


def extension_for(content_type: Optional[str]) -> str:
    """``.png`` for ``image/png; charset=…``; "" for unknown types and octet-stream."""
    if not content_type:
        return ""
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime in _EXTENSIONS:
        return _EXTENSIONS[mime]
    if mime == "application/octet-stream":
        return ""
    import mimetypes  # rarely needed: the table above has the usual types

    return mimetypes.guess_extension(mime, strict=False) or ""


def choose_filename(
    file_key: str, content_disposition: Optional[str], content_type: Optional[str]
) -> Tuple[str, Optional[str]]:
    """``choose_name`` for the name a Content-Disposition header offers."""
    return choose_name(file_key, parse_content_disposition(content_disposition), content_type)


def choose_name(fallback: str, offered: Optional[str], content_type: Optional[str]) -> Tuple[str, Optional[str]]:
    """``(name to save as, the server's safe name or None)``.

    The name the server offers when it is usable (with an extension from Content-Type when
    it has none); else ``fallback`` (the file_key) plus that extension.
    """
    server_name = safe_filename(offered)
    ext = extension_for(content_type)
    if server_name:
        if not split_ext(server_name)[1] and ext:
            return shorten(server_name + ext), server_name
        return server_name, server_name
    fallback = safe_filename(fallback) or "resource"
    return shorten(fallback + ext), None


def content_disposition(name: str, attachment: bool = True) -> str:
    """A Content-Disposition header for ``name``: an ASCII ``filename`` for old clients and
    the exact name as RFC 5987 ``filename*``."""
    kind = "attachment" if attachment else "inline"
    fallback = name.encode("ascii", "replace").decode("ascii").replace('"', "_").replace("\\", "_") or "file"
    return "%s; filename=\"%s\"; filename*=UTF-8''%s" % (kind, fallback, quote(name, safe=""))

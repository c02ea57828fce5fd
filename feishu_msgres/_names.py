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
# Invisible characters that change how a name reads (lark-cli's isDangerousUnicode):
# "invoice\u202efdp.exe" shows as "invoiceexe.pdf". Zero-width characters, the bidi embeddings,
# overrides and isolates, and the byte order mark.
_SPOOFING = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
# Control characters: C0, DEL, C1 (NEL is U+0085), and the line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Names Windows keeps for devices, with or without an extension (CON, nul.txt, COM1.log).
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3])(\..*)?$",
                       re.IGNORECASE)

# Extensions for the types chat attachments come as: one table, the same on every machine
# (the standard library's mimetypes reads /etc/mime.types where there is one, and without it
# docx, xlsx, pptx, ogg and wav lose theirs, while application/xml gets ".xsl").
_EXTENSIONS: Dict[str, str] = {
    # images
    "image/jpeg": ".jpg", "image/jpg": ".jpg", "image/pjpeg": ".jpg", "image/png": ".png", "image/gif": ".gif",
    "image/webp": ".webp", "image/bmp": ".bmp", "image/x-ms-bmp": ".bmp", "image/heic": ".heic",
    "image/heif": ".heif", "image/avif": ".avif", "image/svg+xml": ".svg", "image/tiff": ".tiff",
    "image/x-icon": ".ico", "image/vnd.microsoft.icon": ".ico",
    # video
    "video/mp4": ".mp4", "video/quicktime": ".mov", "video/webm": ".webm", "video/3gpp": ".3gp",
    "video/3gpp2": ".3g2", "video/x-msvideo": ".avi", "video/x-matroska": ".mkv", "video/mpeg": ".mpeg",
    "video/x-flv": ".flv", "video/x-ms-wmv": ".wmv", "video/ogg": ".ogv",
    # audio
    "audio/mpeg": ".mp3", "audio/mp3": ".mp3", "audio/mp4": ".m4a", "audio/x-m4a": ".m4a", "audio/aac": ".aac",
    "audio/ogg": ".ogg", "application/ogg": ".ogg", "audio/opus": ".opus", "audio/wav": ".wav",
    "audio/x-wav": ".wav", "audio/wave": ".wav", "audio/vnd.wave": ".wav", "audio/amr": ".amr",
    "audio/flac": ".flac", "audio/x-flac": ".flac", "audio/webm": ".weba", "audio/3gpp": ".3gp",
    # documents
    "application/pdf": ".pdf", "application/msword": ".doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.ms-powerpoint": ".ppt",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "application/vnd.oasis.opendocument.text": ".odt", "application/vnd.oasis.opendocument.spreadsheet": ".ods",
    "application/vnd.oasis.opendocument.presentation": ".odp", "application/rtf": ".rtf", "text/rtf": ".rtf",
    "application/epub+zip": ".epub", "application/vnd.apple.pages": ".pages",
    "application/vnd.apple.numbers": ".numbers", "application/vnd.apple.keynote": ".key",
    # archives
    "application/zip": ".zip", "application/x-zip-compressed": ".zip", "application/x-rar-compressed": ".rar",
    "application/vnd.rar": ".rar", "application/x-7z-compressed": ".7z", "application/gzip": ".gz",
    "application/x-gzip": ".gz", "application/x-tar": ".tar", "application/x-bzip2": ".bz2",
    "application/x-xz": ".xz",
    # text and data
    "text/plain": ".txt", "text/csv": ".csv", "text/markdown": ".md", "text/html": ".html", "text/css": ".css",
    "application/json": ".json", "application/xml": ".xml", "text/xml": ".xml", "application/yaml": ".yaml",
    "text/yaml": ".yaml", "application/javascript": ".js", "text/javascript": ".js", "text/calendar": ".ics",
    "text/vcard": ".vcf", "text/x-vcard": ".vcf",
    # installers and packages people send
    "application/vnd.android.package-archive": ".apk", "application/x-apple-diskimage": ".dmg",
    "application/x-msdownload": ".exe", "application/x-msi": ".msi",
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
    forbids become ``_``; names that are empty, ``.``/``..`` or hold control characters (C0,
    DEL, C1, U+2028/U+2029) are refused; invisible characters that change how a name reads
    (bidi controls, zero-width characters) are removed; Windows' device names (``CON``,
    ``nul.txt``, ``COM1``) get a ``_`` before them; trailing dots and spaces go; a name longer
    than 255 UTF-8 bytes is shortened, keeping its extension.
    A leading dot becomes ``_``: a server never plants a hidden file (``.bash_profile``),
    and hidden names in a download folder are this library's own temporary files.
    """
    if not name:
        return None
    base = re.split(r"[/\\]", name)[-1]
    if _CONTROL.search(base):
        return None
    base = _SPOOFING.sub("", base).strip()
    base = _UNSAFE_CHARS.sub("_", base).rstrip(". ")
    if base in ("", ".", ".."):
        return None
    if base.startswith("."):
        base = "_" + base.lstrip(".")
    if _RESERVED.match(base):
        base = "_" + base
    return shorten(base)


def spoofing_or_control(text: str) -> Optional[Tuple[str, str]]:
    """The first control or spoofing character in ``text`` and what it is, or None."""
    found = _CONTROL.search(text)
    if found:
        return found.group(), "a control character"
    found = _SPOOFING.search(text)
    if found:
        return found.group(), "an invisible character that changes how it reads"
    return None


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
    """``.png`` for ``image/png; charset=…``; "" for types not in the table (octet-stream)."""
    if not content_type:
        return ""
    mime = content_type.split(";", 1)[0].strip().lower()
    return _EXTENSIONS.get(mime, "")  # an unknown type (octet-stream too) says nothing


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

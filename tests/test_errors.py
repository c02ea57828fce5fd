import pytest

import feishu_msgres as fm
from feishu_msgres.dingtalk import DINGTALK
from feishu_msgres.errors import parse_code
from feishu_msgres.platforms import BOSSHI, FEISHU


def api_error(code, msg, log_id, status):
    return FEISHU.errors.error(code, msg, log_id, status)


def test_every_error_is_a_feishu_error():
    for cls in (fm.APIError, fm.AuthError, fm.PermissionDeniedError, fm.NotFoundError, fm.RateLimitError,
                fm.TooLargeError, fm.UnsupportedMessageError, fm.InvalidRequestError, fm.TransportError,
                fm.IntegrityError, fm.ConfigError, fm.DestinationExistsError):
        assert issubclass(cls, fm.FeishuError)
    assert issubclass(fm.ConfigError, ValueError)
    assert issubclass(fm.DestinationExistsError, FileExistsError)


@pytest.mark.parametrize(
    "code, cls",
    [
        (230110, fm.NotFoundError),
        (234001, fm.InvalidRequestError),
        # seed 002 (lark-cli): "no access to this chat or file was deleted", not credentials
        (234002, fm.PermissionDeniedError),
        (234003, fm.NotFoundError),
        (234004, fm.PermissionDeniedError),
        (234009, fm.PermissionDeniedError),
        (234019, fm.PermissionDeniedError),
        (234037, fm.TooLargeError),
        (234038, fm.PermissionDeniedError),
        (234040, fm.PermissionDeniedError),
        (234041, fm.APIError),
        (234042, fm.APIError),
        (234043, fm.UnsupportedMessageError),
        (230001, fm.InvalidRequestError),
        (230002, fm.PermissionDeniedError),
        (230006, fm.PermissionDeniedError),
        (230013, fm.PermissionDeniedError),
        (230027, fm.PermissionDeniedError),
        (230050, fm.PermissionDeniedError),
        (99991400, fm.RateLimitError),
        (99991663, fm.AuthError),
        (99991661, fm.AuthError),
        (99991668, fm.AuthError),
    ],
)
def test_seed_codes_map_to_classes(code, cls):
    err = api_error(code, "m", "log", 400)
    assert type(err) is cls
    assert err.hint  # every mapped code explains itself


def test_str_names_code_msg_log_id_and_status():
    err = api_error(234037, "Downloaded file size exceeds limit.", "log-1", 400)
    assert str(err) == (
        "code 234037: Downloaded file size exceeds limit. (HTTP 400, log_id log-1). "
        "The API serves resources up to 100 MB only"
    )
    assert str(api_error(None, "boom", None, 502)) == "no API code: boom (HTTP 502, log_id -)"


def test_each_dialect_reads_its_own_error_bodies():
    err = DINGTALK.error({"code": "invalidParameter", "message": "bad robot", "requestid": "r-1"}, 400, "hdr")
    assert type(err) is fm.InvalidRequestError
    assert (err.code, err.msg, err.log_id) == ("invalidParameter", "bad robot", "r-1")
    err = BOSSHI.error({"code": 500, "msg": "x", "traceId": "trace-1"}, 200, None)
    assert err.log_id == "trace-1"
    assert FEISHU.error({"code": 1, "log_id": "b"}, 400, "header").log_id == "header"
    assert FEISHU.error({"code": 1, "error": {"log_id": "inner"}}, 400, None).log_id == "inner"


def test_a_230001_naming_the_message_id_is_not_found():
    # Feishu's "how to resolve error 230001" page: "ext=invalid message_id" means the id names
    # no message; any other 230001 stays a parameter error
    msg = "Your request contains an invalid request parameter, ext=invalid message_id."
    err = api_error(230001, msg, "log", 400)
    assert type(err) is fm.NotFoundError and "message_id" in err.hint
    other = api_error(230001, "Your request contains an invalid request parameter, ext=invalid receive_id.", None, 400)
    assert type(other) is fm.InvalidRequestError
    # the BOSS Hi gateway documents no such answer
    assert type(BOSSHI.errors.error(230001, msg, None, 400)) is fm.InvalidRequestError


def test_a_nonexistent_message_is_not_found_from_the_emulator(emu, emu_client):
    with pytest.raises(fm.NotFoundError) as info:
        emu_client.get_message("om_does_not_exist")
    assert (info.value.code, info.value.http_status) == (230001, 400)
    assert "ext=invalid message_id" in info.value.msg


def test_234002_is_permission_denied_not_a_rejected_token(emu, emu_client):
    mid = emu.add_message("file", {"file_key": "file_x"})
    emu.add_resource(mid, "file_x", b"x")
    emu.fail("resource", 401, code=234002, msg="Unauthorized.")
    with pytest.raises(fm.PermissionDeniedError) as info:
        emu_client.read_resource(mid, "file_x", "file")
    assert not isinstance(info.value, fm.AuthError) and info.value.code == 234002
    assert emu.count("token") == 1  # no token was dropped and fetched again for it


def test_the_code_decides_first_the_status_second():
    # a known code wins over any status; an unknown code falls back on the status
    assert type(FEISHU.errors.error(230110, "m", None, 200)) is fm.NotFoundError
    assert type(FEISHU.errors.error(999, "m", None, 403)) is fm.PermissionDeniedError
    assert type(FEISHU.errors.error(999, "m", None, 200)) is fm.APIError
    assert type(DINGTALK.errors.error("Throttling.Api", "m", None, 400)) is fm.RateLimitError
    assert type(DINGTALK.errors.error("somethingNew", "m", None, 429)) is fm.RateLimitError


def test_errors_name_the_call():
    err = FEISHU.errors.error(234003, "File not in message.", "log-9", 400, "GET", "/open-apis/im/v1/messages/om_1")
    assert (err.method, err.path) == ("GET", "/open-apis/im/v1/messages/om_1")
    assert str(err).startswith("code 234003: File not in message. (GET /open-apis/im/v1/messages/om_1, HTTP 400,")


@pytest.mark.parametrize("value, code", [(5, 5), ("7", 7), (None, None), ("x", None), (True, None)])
def test_parse_code(value, code):
    assert parse_code(value) == code


def test_feishu_errors_read_message_when_msg_is_missing():
    assert FEISHU.error({"code": 1, "message": "from a gateway"}, 400, None).msg == "from a gateway"

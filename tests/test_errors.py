import pytest

import feishu_msgres as fm
from feishu_msgres.errors import api_error, error_from_body, parse_code


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
        (234002, fm.AuthError),
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


def test_error_from_gateway_shaped_bodies():
    err = error_from_body({"code": "invalidParameter", "message": "bad robot", "requestid": "r-1"}, 400, None)
    assert (err.code, err.msg, err.log_id) == (None, "bad robot", "r-1")
    err = error_from_body({"code": 500, "msg": "x", "traceId": "trace-1"}, 200, None)
    assert err.log_id == "trace-1"
    assert error_from_body({"code": 1, "log_id": "b"}, 400, "header").log_id == "header"


@pytest.mark.parametrize("value, code", [(5, 5), ("7", 7), (None, None), ("x", None), (True, None)])
def test_parse_code(value, code):
    assert parse_code(value) == code

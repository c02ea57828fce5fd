"""DingTalk robot files: the client against the emulator over real sockets, a few with responses."""
import hashlib
import io
import os

import attr
import pytest
import responses
from responses import matchers

import feishu_msgres.dingtalk as dt
from feishu_msgres.errors import (
    APIError,
    AuthError,
    ConfigError,
    DestinationExistsError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)
from feishu_msgres.testing.dingtalk import DingTalkEmulator
from feishu_msgres.transport import make_retry

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 2000  # ~0.5 MB, every byte value
SECRET = "dingtalk-s3cr3t-value"
TOKEN_HEADER = "x-acs-dingtalk-access-token"


@pytest.fixture
def ding_emu():
    with DingTalkEmulator() as server:
        server.add_file("dc_png", PNG, content_type="image/png")
        yield server


@pytest.fixture
def ding_client(ding_emu):
    with ding_emu.client(retries=make_retry(3, backoff_factor=0), timeout=(2, 5)) as c:
        # Small chunks, so a dropped body leaves some bytes to resume from; no resume wait.
        c.download_settings = attr.evolve(c.download_settings, chunk_size=64 * 1024, resume_backoff=0)
        yield c


def leftovers(folder):
    return sorted(n for n in os.listdir(str(folder)) if n.endswith(".part"))


def lower_headers(request):
    return {k.lower(): v for k, v in request.headers.items()}


# -- tokens and the download URL ----------------------------------------------------------


def test_token_is_fetched_once_and_cached(ding_emu, ding_client):
    ding_client.get_download_url("dc_png")
    ding_client.get_download_url("dc_png")
    ding_client.download("dc_png", io.BytesIO())
    assert ding_emu.count("token") == 1
    assert ding_emu.of_kind("token")[0].json == {"appKey": "ding_emulator", "appSecret": "emulator-secret"}
    tokens = {lower_headers(r)[TOKEN_HEADER] for r in ding_emu.of_kind("download_url")}
    assert len(tokens) == 1 and tokens != {""}


def test_a_token_store_shares_one_token_between_clients(ding_emu):
    class Store(dict):
        def get(self, key, default=None):
            return dict.get(self, key, default)

        def set(self, key, value, timeout):
            self[key] = value

    store = Store()
    with ding_emu.client(token_store=store) as a, ding_emu.client(token_store=store) as b:
        a.get_download_url("dc_png")
        b.get_download_url("dc_png")
    assert ding_emu.count("token") == 1
    (key,) = store
    assert key.startswith("feishu_msgres:dingtalk:%s:ding_emulator:" % ding_emu.url)
    assert "emulator-secret" not in key


def test_get_download_url(ding_emu, ding_client):
    url = ding_client.get_download_url("dc_png")
    assert url.startswith(ding_emu.url + "/oss/") and ".file?" in url and "Signature=" in url
    (call,) = ding_emu.of_kind("download_url")
    assert call.json == {"downloadCode": "dc_png", "robotCode": "robot_emulator"}
    assert lower_headers(call)[TOKEN_HEADER].startswith("dt-emulator-")
    assert "authorization" not in lower_headers(call)


def test_robot_code_per_call_overrides_the_clients(ding_emu, ding_client):
    ding_emu.add_file("dc_other", b"other robot", robot_code="robot_other")
    assert ding_client.get_download_url("dc_other", robot_code="robot_other").startswith(ding_emu.url)
    assert ding_emu.of_kind("download_url")[0].json["robotCode"] == "robot_other"


def test_an_invalid_token_is_refetched_once(ding_emu, ding_client):
    ding_client.get_download_url("dc_png")
    ding_emu.expire_tokens()  # the cached token is now answered 401 InvalidAuthentication
    ding_client.get_download_url("dc_png")
    assert ding_emu.count("token") == 2
    calls = ding_emu.of_kind("download_url")
    assert len(calls) == 3  # ok, refused, retried with the new token
    assert lower_headers(calls[1])[TOKEN_HEADER] != lower_headers(calls[2])[TOKEN_HEADER]


def test_a_token_refused_twice_is_an_auth_error(ding_emu, ding_client):
    ding_emu.fail("download_url", status=401, code="InvalidAuthentication", message="bad token", times=None)
    with pytest.raises(AuthError) as info:
        ding_client.get_download_url("dc_png")
    assert info.value.code == "InvalidAuthentication"
    assert ding_emu.count("download_url") == 2 and ding_emu.count("token") == 2  # one retry, no loop


def test_wrong_app_secret_is_an_auth_error(ding_emu):
    with ding_emu.client(app_secret=SECRET) as c:
        with pytest.raises(AuthError) as info:
            c.get_download_url("dc_png")
    text = str(info.value)
    assert "invalidClientIdOrSecret" in text and "DINGTALK_APP_SECRET" in text
    assert ding_emu.of_kind("token")[0].request_id in text
    assert SECRET not in text and SECRET not in repr(info.value)


# -- errors -------------------------------------------------------------------------------


def test_a_bad_robot_code_is_permission_denied_with_the_request_id(ding_emu, ding_client):
    ding_emu.add_file("dc_theirs", b"x", robot_code="robot_someone_else")
    with pytest.raises(PermissionDeniedError) as info:
        ding_client.get_download_url("dc_theirs")
    err = info.value
    request_id = ding_emu.of_kind("download_url")[0].request_id
    assert err.code == "invalidParameter.robotCode.auth"
    assert err.log_id == request_id and err.http_status == 400
    text = str(err)
    for part in ("invalidParameter.robotCode.auth", "does not match the bot robotCode", request_id, "HTTP 400"):
        assert part in text


def test_an_unknown_or_expired_download_code_is_not_found(ding_emu, ding_client):
    with pytest.raises(NotFoundError) as info:
        ding_client.download("dc_expired", io.BytesIO())
    assert info.value.code == "invalidParameter.robotCode.downloadCode"
    assert "incorrect or has expired" in str(info.value)
    assert ding_emu.count("file") == 0


def test_throttling_is_a_rate_limit_error(ding_emu):
    ding_emu.fail("download_url", status=429, code="Throttling.Api", message="too fast", times=None)
    with ding_emu.client(retries=0) as c:
        with pytest.raises(RateLimitError) as info:
            c.get_download_url("dc_png")
    assert info.value.code == "Throttling.Api" and info.value.http_status == 429


@pytest.mark.parametrize(
    "code, status, cls",
    [
        ("InvalidAuthentication", 401, AuthError),
        ("invalidParameter.robotCode.downloadCode", 400, NotFoundError),
        ("invalidParameter.robotCode.auth", 400, PermissionDeniedError),
        ("invalidParameter.robotCode.empty", 400, InvalidRequestError),
        ("Throttling.Api", 400, RateLimitError),
        ("Forbidden.AccessDenied.QpsLimitForApi", 403, RateLimitError),
        ("Forbidden.AccessDenied.AccessTokenPermissionDenied", 403, PermissionDeniedError),
        ("somethingNew", 500, APIError),
        (None, 429, RateLimitError),
    ],
)
def test_dingtalk_codes_map_to_error_classes(code, status, cls):
    err = dt.DINGTALK.errors.error(code, "msg", "req-1", status)
    assert type(err) is cls
    assert err.code == code and err.log_id == "req-1" and err.http_status == status


def test_a_gateway_page_is_a_clear_error(ding_emu, ding_client):
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, ding_emu.url + dt.TOKEN_PATH, body="<html>502</html>", status=502,
                 content_type="text/html")
        with pytest.raises(APIError) as info:
            ding_client.get_download_url("dc_png")
    assert info.value.http_status == 502 and "not the API's JSON" in str(info.value)


def test_missing_robot_code_is_refused_before_any_request(ding_emu):
    with ding_emu.client(robot_code=None) as c:
        with pytest.raises(ConfigError, match="robot_code"):
            c.get_download_url("dc_png")
        with pytest.raises(ConfigError, match="robot_code"):
            c.download("dc_png", io.BytesIO())
    assert ding_emu.requests == []


@pytest.mark.parametrize("code", ["", "   ", None])
def test_an_empty_download_code_is_refused_before_any_request(ding_emu, ding_client, code):
    with pytest.raises(ConfigError, match="download_code"):
        ding_client.download(code, io.BytesIO())
    assert ding_emu.requests == []


def test_bad_configuration_is_refused():
    with pytest.raises(ConfigError):
        dt.DingTalkClient("", SECRET)
    with pytest.raises(ConfigError, match="http"):
        dt.DingTalkClient("ding_key", SECRET, base_url="api.dingtalk.com")


def test_repr_shows_no_secret():
    client = dt.DingTalkClient("ding_key", SECRET, "robot_1")
    assert "ding_key" in repr(client) and "robot_1" in repr(client)
    assert SECRET not in repr(client)
    assert SECRET not in repr(client.__dict__)  # not even in the token machinery's reprs


def test_from_env():
    env = {"DINGTALK_APP_KEY": "k", "DINGTALK_APP_SECRET": SECRET, "DINGTALK_ROBOT_CODE": "r",
           "DINGTALK_BASE_URL": "http://127.0.0.1:9/"}
    client = dt.DingTalkClient.from_env(env, robot_code="r2")
    assert (client.app_key, client.robot_code, client.base_url) == ("k", "r2", "http://127.0.0.1:9")
    assert dt.DingTalkClient.from_env({"DINGTALK_APP_KEY": "k", "DINGTALK_APP_SECRET": "s"}).base_url == (
        "https://api.dingtalk.com"
    )


# -- downloads ----------------------------------------------------------------------------


def test_download_to_a_folder_takes_the_extension_from_content_type(ding_emu, ding_client, tmp_path):
    url = ding_client.get_download_url("dc_png")
    stem = url.split("?")[0].rsplit("/", 1)[-1][: -len(".file")]
    res = ding_client.download("dc_png", tmp_path)
    assert res.path == str(tmp_path / (stem + ".png"))
    assert os.listdir(str(tmp_path)) == [stem + ".png"]
    assert (tmp_path / (stem + ".png")).read_bytes() == PNG
    assert res.content_type == "image/png" and res.filename is None


def test_download_to_a_folder_without_a_known_type_has_no_placeholder_extension(ding_emu, ding_client, tmp_path):
    ding_emu.add_file("dc_bin", b"binary", content_type="application/octet-stream")
    res = ding_client.download("dc_bin", tmp_path)
    assert not res.path.endswith(".file") and "." not in os.path.basename(res.path)


def test_a_store_name_ending_in_file_gets_the_real_extension(ding_emu, ding_client, tmp_path):
    ding_emu.add_file("dc_pdf", b"%PDF-1.7", content_type="application/pdf", filename="季度报告.file")
    res = ding_client.download("dc_pdf", tmp_path)
    assert res.path == str(tmp_path / "季度报告.pdf")


def test_download_to_a_path_with_checksum(ding_emu, ding_client, tmp_path):
    target = tmp_path / "picture.png"
    res = ding_client.download("dc_png", target, checksum=True)
    assert target.read_bytes() == PNG
    assert res.path == str(target) and res.size == len(PNG)
    assert res.sha256 == hashlib.sha256(PNG).hexdigest()
    assert leftovers(tmp_path) == []


def test_download_to_a_file_object_with_progress(ding_emu, ding_client):
    buf, seen = io.BytesIO(), []
    res = ding_client.download("dc_png", buf, progress=lambda done, total: seen.append((done, total)))
    assert buf.getvalue() == PNG
    assert res.path is None and res.sha256 is None
    assert seen[-1] == (len(PNG), len(PNG))


def test_an_existing_file_is_refused_before_any_request(ding_emu, ding_client, tmp_path):
    target = tmp_path / "taken.png"
    target.write_bytes(b"mine")
    with pytest.raises(DestinationExistsError):
        ding_client.download("dc_png", target)
    assert ding_emu.requests == [] and target.read_bytes() == b"mine"
    ding_client.download("dc_png", target, overwrite=True)
    assert target.read_bytes() == PNG


def test_the_file_host_never_sees_the_access_token(ding_emu, ding_client, tmp_path):
    ding_emu.drop_after(100 * 1000)  # a resume, too, must go without the token
    ding_client.download("dc_png", tmp_path / "a.png")
    file_requests = ding_emu.of_kind("file")
    assert len(file_requests) == 2
    for request in file_requests:
        headers = lower_headers(request)
        assert TOKEN_HEADER not in headers and "authorization" not in headers
        # If-Range, like Range, is outside what the URL's signature covers
        assert set(headers) <= {"host", "user-agent", "accept-encoding", "accept", "connection", "range", "if-range"}
    assert TOKEN_HEADER in lower_headers(ding_emu.of_kind("download_url")[0])  # the API did get it


def test_a_dropped_body_resumes_with_range(ding_emu, ding_client, tmp_path):
    ding_emu.drop_after(200 * 1000)
    res = ding_client.download("dc_png", tmp_path / "a.png", checksum=True)
    assert res.sha256 == hashlib.sha256(PNG).hexdigest()
    first, second = ding_emu.of_kind("file")
    assert "Range" not in first.headers  # a plain GET first
    start = int(second.headers["Range"][len("bytes="):].split("-")[0])
    assert 0 < start <= 200 * 1000
    assert ding_emu.count("download_url") == 1  # the same URL: it had not expired


def test_a_url_expired_before_use_is_renewed_once(ding_emu, ding_client, monkeypatch):
    asked = []
    original = ding_client.get_download_url

    def get_then_expire(*args, **kwargs):
        url = original(*args, **kwargs)
        asked.append(url)
        if len(asked) == 1:
            ding_emu.expire_urls()  # the URL dies between the API's answer and the GET
        return url

    monkeypatch.setattr(ding_client, "get_download_url", get_then_expire)
    buf = io.BytesIO()
    ding_client.download("dc_png", buf)
    assert buf.getvalue() == PNG
    assert len(asked) == 2 and asked[0] != asked[1]
    assert [r.query["Signature"] for r in ding_emu.of_kind("file")] == [u.rsplit("=", 1)[1] for u in asked]


def test_a_url_expiring_mid_download_resumes_with_a_fresh_one(ding_emu, ding_client, tmp_path):
    ding_emu.drop_after(200 * 1000)
    ding_emu.fail_file(times=1, status=403, after=1)  # the resume finds the URL expired
    res = ding_client.download("dc_png", tmp_path / "a.png", checksum=True)
    assert res.sha256 == hashlib.sha256(PNG).hexdigest()
    assert ding_emu.count("download_url") == 2
    plain, refused, resumed = ding_emu.of_kind("file")
    assert refused.headers["Range"] == resumed.headers["Range"] != "bytes=0-%d" % (len(PNG) - 1)
    assert refused.query["Signature"] != resumed.query["Signature"]


def test_a_403_that_persists_is_an_api_error_and_leaves_nothing(ding_emu, ding_client, tmp_path):
    ding_emu.fail_file(times=None, status=403)
    with pytest.raises(PermissionDeniedError) as info:
        ding_client.download("dc_png", tmp_path / "a.png")
    err = info.value
    assert err.code == "AccessDenied" and err.http_status == 403
    assert err.log_id == ding_emu.of_kind("file")[-1].request_id
    assert "Request has expired" in str(err) and "HTTP 403" in str(err)
    assert ding_emu.count("download_url") == 2 and ding_emu.count("file") == 2  # renewed once, not more
    assert os.listdir(str(tmp_path)) == []


def test_a_missing_object_is_not_found(ding_emu, ding_client, tmp_path):
    ding_emu.fail_file(times=1, status=404, code="NoSuchKey", message="The specified key does not exist.")
    with pytest.raises(NotFoundError, match="NoSuchKey"):
        ding_client.download("dc_png", tmp_path)
    assert ding_emu.count("download_url") == 1 and os.listdir(str(tmp_path)) == []


def test_the_default_host_and_a_foreign_file_host_with_responses():
    base = "https://api.dingtalk.com"
    file_url = "https://static.example-oss.com/ddmedia/iAEIabc.file?Expires=1&Signature=s%2Bg"
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, base + dt.TOKEN_PATH, json={"accessToken": "tok-1", "expireIn": 7200},
                 match=[matchers.json_params_matcher({"appKey": "ding_key", "appSecret": SECRET})])
        mock.add(responses.POST, base + dt.DOWNLOAD_PATH, json={"downloadUrl": file_url},
                 match=[matchers.header_matcher({TOKEN_HEADER: "tok-1"}),
                        matchers.json_params_matcher({"downloadCode": "dc", "robotCode": "robot_1"})])
        mock.add(responses.GET, file_url, body=b"RIFF....WAVE", content_type="audio/wav")
        buf = io.BytesIO()
        with dt.DingTalkClient("ding_key", SECRET, "robot_1") as client:
            client.download("dc", buf)
        file_call = mock.calls[2].request
    assert buf.getvalue() == b"RIFF....WAVE"
    assert file_call.url == file_url  # the signed query reached the store untouched
    assert TOKEN_HEADER not in file_call.headers and "Authorization" not in file_call.headers


def test_an_answer_without_a_download_url_is_an_api_error(ding_emu, ding_client):
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, ding_emu.url + dt.TOKEN_PATH, json={"accessToken": "t", "expireIn": 7200})
        mock.add(responses.POST, ding_emu.url + dt.DOWNLOAD_PATH, json={"requestid": "r-9"})
        with pytest.raises(APIError, match="no downloadUrl"):
            ding_client.get_download_url("dc_png")


def test_the_log_id_is_dingtalks_requestid_even_beside_a_gateway_header(ding_emu, ding_client):
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, ding_emu.url + dt.TOKEN_PATH, json={"accessToken": "t", "expireIn": 7200})
        mock.add(responses.POST, ding_emu.url + dt.DOWNLOAD_PATH, status=400, headers={"X-Request-Id": "gw-1"},
                 json={"code": "invalidParameter.robotCode.empty", "message": "The bot robotCode is empty.",
                       "requestid": "r-42"})
        with pytest.raises(InvalidRequestError) as info:
            ding_client.get_download_url("dc_png")
    assert info.value.log_id == "r-42" and "r-42" in str(info.value)


# -- robot callbacks ----------------------------------------------------------------------


def test_robot_files_of_each_msgtype():
    assert dt.robot_files({"msgtype": "picture", "content": {"downloadCode": "p1", "pictureDownloadCode": "pp1"}}) == [
        dt.RobotFile("p1", "picture", None, "pp1")
    ]
    assert dt.robot_files(
        {"msgtype": "file", "content": {"downloadCode": "f1", "fileName": "合同.pdf", "spaceId": "1"}}
    ) == [dt.RobotFile("f1", "file", "合同.pdf")]
    assert dt.robot_files({"msgtype": "audio", "content": {"downloadCode": "a1", "duration": 3}}) == [
        dt.RobotFile("a1", "audio")
    ]
    assert dt.robot_files({"msgtype": "video", "content": {"downloadCode": "v1", "videoType": "mp4"}}) == [
        dt.RobotFile("v1", "video")
    ]
    rich = {
        "msgtype": "richText",
        "content": {
            "richText": [
                {"text": "see"},
                {"type": "picture", "downloadCode": "r1", "pictureDownloadCode": "rp1"},
                {"type": "picture", "pictureDownloadCode": "rp2"},
                {"downloadCode": "r1"},  # the same picture twice: listed once
                {"type": "picture"},  # no code at all
                "junk",
            ]
        },
    }
    assert dt.robot_files(rich) == [
        dt.RobotFile("r1", "richText", None, "rp1"),
        dt.RobotFile("rp2", "richText", None, "rp2"),
    ]


def test_robot_files_accepts_json_strings():
    callback = '{"msgtype": "file", "content": "{\\"downloadCode\\": \\"f1\\", \\"fileName\\": \\"a.txt\\"}"}'
    assert dt.robot_files(callback) == [dt.RobotFile("f1", "file", "a.txt")]


@pytest.mark.parametrize(
    "callback",
    [
        None, 42, "not json", b"\xff\xfe", [], {}, {"msgtype": "text", "content": {"content": "hi"}},
        {"msgtype": "markdown", "content": {"downloadCode": "x"}}, {"msgtype": "file"},
        {"msgtype": "file", "content": "not json"}, {"msgtype": "file", "content": {"downloadCode": 5}},
        {"msgtype": "picture", "content": {"downloadCode": "  "}}, {"msgtype": ["file"], "content": {}},
        {"msgtype": "richText", "content": {"richText": "nope"}}, {"msgtype": "richText", "content": None},
    ],
)
def test_robot_files_of_junk_is_empty(callback):
    assert dt.robot_files(callback) == []


def test_robot_file_names_only_for_files():
    assert dt.robot_files({"msgtype": "file", "content": {"downloadCode": "f", "fileName": ""}})[0].name is None
    assert dt.robot_files({"msgtype": "video", "content": {"downloadCode": "v", "fileName": "x"}})[0].name is None


def test_the_old_dingtalk_error_still_works_and_says_it_is_deprecated():
    with pytest.warns(DeprecationWarning):
        err = dt.dingtalk_error("Throttling.Api", "slow down", "req-1", 400)
    assert type(err) is RateLimitError and err.log_id == "req-1"


def test_the_old_dingtalk_error_keeps_its_default_class():
    with pytest.warns(DeprecationWarning):
        err = dt.dingtalk_error("unknownCode", "m", None, 404, default=AuthError, default_hint="check it")
    assert type(err) is AuthError and err.hint == "check it"

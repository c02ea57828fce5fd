"""Shared test constants and helpers (tests import the installed package, not the tree)."""
import responses

BASE = "https://open.feishu.cn"
TOKEN_URL = BASE + "/open-apis/auth/v3/tenant_access_token/internal"
SECRET = "s3cr3t-app-secret-value"


def add_token(mock, token="t-first", expire=7200, **kwargs):
    mock.add(
        responses.POST,
        TOKEN_URL,
        json={"code": 0, "msg": "ok", "tenant_access_token": token, "expire": expire},
        **kwargs
    )


def sigint_as_usual():
    """For Popen(preexec_fn=...): a shell that runs CI in the background makes its children
    ignore SIGINT and SIGHUP (as nohup does), and Python then keeps ignoring them; a person's
    Ctrl-C and a terminal that hangs up are what we test."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)

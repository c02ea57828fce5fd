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


class RawServer:
    """A loopback server that answers every connection with ``answer(conn)``: for answers
    no HTTP server library would send (a body that trickles, lies about its length)."""

    def __init__(self, answer):
        import socket
        import threading

        self.answer = answer
        self.requests = []  # the raw bytes of each request's head (and what came with it)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    self.requests.append(conn.recv(65536))  # the request: its head fits in one read here
                    self.answer(conn)
                except OSError:
                    pass

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.sock.close()


def json_head(length, status="200 OK"):
    return ("HTTP/1.1 %s\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: %d\r\n\r\n"
            % (status, length)).encode()


# Coverage's ways into a child: coverage >= 7.10 (patch = subprocess) and pytest-cov < 7.
_COVERAGE_ENV = ("COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START", "COV_CORE_SOURCE", "COV_CORE_CONFIG",
                 "COV_CORE_DATAFILE", "COV_CORE_BRANCH", "COV_CORE_CONTEXT")


def unmeasured(env):
    """``env`` for a child the test will signal, without coverage. A signal handler that
    raises (Ctrl-C, SIGTERM, SIGHUP all unwind the command) can strike inside coverage's
    tracer while it holds its data lock; the tracer then waits on that lock for ever (seen
    in CI: py-spy showed the child in ``Collector.lock_data`` under ``AtomicFile.discard``)."""
    return {k: v for k, v in env.items() if k not in _COVERAGE_ENV}

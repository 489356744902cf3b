"""Under `make dev` the console is served at /console/ beside the API, and the site's root goes there."""

from __future__ import annotations

import urllib.request

from tests.servers import DevServer


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_the_root_redirects_to_the_console_which_asks_for_a_sign_in(dev_server: DevServer):
    root = _get(f"{dev_server.base}/")
    console = _get(f"{dev_server.base}/console/")
    form = _get(f"{dev_server.base}/console/login")
    asset = _get(f"{dev_server.base}/console/assets/console.css")

    assert (root[0], root[1]["Location"]) == (302, "/console/")
    assert console[0] == 302 and console[1]["Location"] == "/console/login?next=/console/"
    assert form[0] == 200 and b"<h1>Sign in</h1>" in form[2]
    assert 'action="/console/login"' in form[2].decode()  # links carry the mount point
    assert asset[0] == 200 and asset[1]["Content-Type"].startswith("text/css")
    assert _get(f"{dev_server.base}/nowhere")[0] == 404  # anything else is still the API's 404

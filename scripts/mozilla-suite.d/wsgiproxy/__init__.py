"""wsgiproxy.HostProxy: a WSGI application that forwards to an HTTP server.

WebTest's TestApp, given a URL instead of an application, wraps it in
WSGIProxy2's HostProxy; Mozilla's tokenserver tests drive tokend that way.
Debian has no WSGIProxy2, so scripts/mozilla-suite puts this directory on
PYTHONPATH for the suite's run only.  This is tokend's own small
equivalent: one request per connection through http.client, plain HTTP
(or HTTPS) to the URL's host, the request's method, path, query, headers
and body passed on, the answer's status, headers and body handed back.
"""

import http.client
import urllib.parse

__all__ = ["HostProxy"]

# Headers that describe one connection, not the message (RFC 9110 7.6.1):
# never passed on in either direction.
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate",
               "proxy-authorization", "te", "trailer", "transfer-encoding",
               "upgrade"}


class HostProxy:
    """HostProxy(url, client="httplib"): forwards every request to url."""

    def __init__(self, uri, client="httplib", timeout=60, **_ignored):
        u = urllib.parse.urlsplit(uri)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"HostProxy: not an http(s) URL: {uri!r}")
        self.scheme = u.scheme
        self.host = u.hostname
        self.port = u.port
        self.timeout = timeout

    def _connection(self):
        cls = (http.client.HTTPSConnection if self.scheme == "https"
               else http.client.HTTPConnection)
        return cls(self.host, self.port, timeout=self.timeout)

    @staticmethod
    def _target(environ):
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        path = urllib.parse.quote(path.encode("latin-1"),
                                  safe="/;=,:@$!~*'()+&")
        if not path.startswith("/"):
            path = "/" + path
        query = environ.get("QUERY_STRING", "")
        return path + ("?" + query if query else "")

    @staticmethod
    def _headers(environ):
        headers = {}
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                name = key[5:].replace("_", "-").title()
                if name.lower() not in _HOP_BY_HOP:
                    headers[name] = value
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        return headers

    @staticmethod
    def _body(environ):
        length = environ.get("CONTENT_LENGTH") or "0"
        n = int(length) if length.isdigit() else 0
        return environ["wsgi.input"].read(n) if n > 0 else None

    def __call__(self, environ, start_response):
        conn = self._connection()
        try:
            conn.request(environ["REQUEST_METHOD"], self._target(environ),
                         body=self._body(environ),
                         headers=self._headers(environ))
            resp = conn.getresponse()
            body = resp.read()
            status = f"{resp.status} {resp.reason or 'Unknown'}"
            headers = [(k, v) for k, v in resp.getheaders()
                       if k.lower() not in _HOP_BY_HOP
                       and k.lower() != "content-length"]
        finally:
            conn.close()
        headers.append(("Content-Length", str(len(body))))
        start_response(status, headers)
        return [body]

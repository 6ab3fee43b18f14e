"""moto's server, answering one request at a time.

moto's own server (`moto_server`) handles requests on many threads, and its DynamoDB conditional
writes are not atomic then: eight concurrent `UpdateItem ADD` calls conditioned on a maximum of 3
admitted 5. DynamoDB itself evaluates a condition and writes atomically. Serializing the requests
gives the tests DynamoDB's semantics (and IAM's, SSM's, SNS's); every request still runs on the
threaded server, so slow clients and keep-alive connections do not block one another.

Usage: python scripts/moto_server.py HOST PORT
"""

import signal
import sys
import threading

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app


class Serialized:
    """A WSGI application that runs `app` for one request at a time."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            # The whole body is made inside the lock.
            return list(self.app(environ, start_response))


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, Serialized(app), threaded=True)


if __name__ == "__main__":
    main()

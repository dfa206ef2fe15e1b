"""moto's server, with each DynamoDB request applied atomically as DynamoDB applies it.

moto serves requests on threads and its DynamoDB backend takes no lock, so two concurrent
conditional writes (or transactions) can both find their condition true, which real DynamoDB never
allows. This wrapper serialises DynamoDB requests (X-Amz-Target DynamoDB_*) and leaves every other
service concurrent: Step Functions executions call back into the server while requests run.
Arguments are moto_server's.
"""
import sys
import threading

from moto import server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_dynamodb = threading.Lock()
_dispatch = DomainDispatcherApplication.__call__


def _call(self, environ, start_response):
    if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
        with _dynamodb:
            # Consume the body inside the lock: the request is done when its answer is.
            return list(_dispatch(self, environ, start_response))
    return _dispatch(self, environ, start_response)


DomainDispatcherApplication.__call__ = _call

if __name__ == "__main__":
    server.main(sys.argv[1:])

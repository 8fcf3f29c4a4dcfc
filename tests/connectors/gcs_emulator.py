"""gcp-storage-emulator with GCS's upload preconditions, run as ``python gcs_emulator.py PORT``.

The emulator ignores ``ifGenerationMatch`` on uploads, which the object-store delivery commits
its manifest with. This wraps its upload handler with the rule GCS documents: the upload
happens only when the object's current generation equals the value (0: only when there is no
such object); otherwise 412 Precondition Failed and nothing changes. Everything else is the
emulator's own.
"""

from __future__ import annotations

import sys
import time
from http import HTTPStatus

from gcp_storage_emulator import server
from gcp_storage_emulator.exceptions import NotFound
from gcp_storage_emulator.handlers import objects


def _object_name(request) -> str | None:
    if "name" in request.query:
        return request.query["name"][0]
    if request.query.get("uploadType") == ["multipart"]:
        return request.data["meta"].get("name")
    return None


def _generation(storage, bucket: str, name: str) -> int:
    try:
        return int(storage.get_file_obj(bucket, name).get("generation") or 0)
    except NotFound:
        return 0


def insert_with_preconditions(request, response, storage, *args, **kwargs):
    expected = request.query.get("ifGenerationMatch")
    name = _object_name(request)
    bucket = request.params["bucket_name"]
    if expected and name is not None and _generation(storage, bucket, name) != int(expected[0]):
        response.status = HTTPStatus.PRECONDITION_FAILED
        response.json({"error": {"code": 412, "message": "Precondition Failed"}})
        return None
    return objects.insert(request, response, storage, *args, **kwargs)


def main(port: int) -> None:
    for _, handlers in server.HANDLERS:
        for method, handler in list(handlers.items()):
            if handler is objects.insert:
                handlers[method] = insert_with_preconditions
    server.create_server("127.0.0.1", port, in_memory=True).start()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main(int(sys.argv[1]))

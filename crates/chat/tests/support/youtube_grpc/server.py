"""A local YouTube streaming-chat server for Marquee's tests: Python's grpcio serving
youtube.api.v3.V3DataLiveChatMessageService/StreamList from the messages protoc generates
out of stream_list.proto (beside this file).

    python3 server.py GENERATED_DIR SCENARIO.json

Prints {"port": N} once listening, then one JSON line per call it receives (the request's
fields and the x-goog-api-key metadata). The scenario lists the calls in order (the last one
repeats): each has "responses" (LiveChatMessageListResponse pages in proto3 JSON; a page with
"wait": true is sent only after a line arrives on standard input) and an optional "status"
(a grpc.StatusCode name) with "message" to end the call with; without a status it ends OK.
With "unimplemented": true the server has no such method (grpcio answers UNIMPLEMENTED).
"""

import json
import sys
import threading
from concurrent import futures

import grpc
from google.protobuf import json_format

sys.path.insert(0, sys.argv[1])
import stream_list_pb2 as pb  # noqa: E402

scenario = json.load(open(sys.argv[2]))
calls = scenario.get("calls", [])
lock = threading.Lock()
count = [0]


def stream_list(request, context):
    with lock:
        i = count[0]
        count[0] += 1
    spec = calls[min(i, len(calls) - 1)]
    metadata = dict(context.invocation_metadata())
    print(json.dumps({
        "call": i,
        "live_chat_id": request.live_chat_id,
        "page_token": request.page_token if request.HasField("page_token") else None,
        "part": list(request.part),
        "api_key": metadata.get("x-goog-api-key"),
    }), flush=True)
    for r in spec.get("responses", []):
        if r.get("wait"):
            sys.stdin.readline()
        yield json_format.ParseDict(r["page"], pb.LiveChatMessageListResponse())
    if spec.get("status"):
        context.abort(grpc.StatusCode[spec["status"]], spec.get("message", ""))


server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
if not scenario.get("unimplemented"):
    handler = grpc.method_handlers_generic_handler(
        "youtube.api.v3.V3DataLiveChatMessageService",
        {
            "StreamList": grpc.unary_stream_rpc_method_handler(
                stream_list,
                request_deserializer=pb.LiveChatMessageListRequest.FromString,
                response_serializer=pb.LiveChatMessageListResponse.SerializeToString,
            )
        },
    )
    server.add_generic_rpc_handlers((handler,))
port = server.add_insecure_port("127.0.0.1:0")
server.start()
print(json.dumps({"port": port}), flush=True)
server.wait_for_termination()

"""Local stand-ins for the services the capture app calls (127.0.0.1 only): the OpenAI chat
completions API, the Anthropic messages API and a partner search API. The vendors' APIs
cannot be reached here; the answers have the vendors' JSON shape, with `usage` token counts,
so the SDK's AI integrations record what they record in production.

A chat prompt containing "LONGPROMPT" gets OpenAI's context-length error (400), so one
scenario has a failed gen_ai span.
"""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from span_canaries import value

OPENAI_USAGE = {"prompt_tokens": 182, "completion_tokens": 64, "total_tokens": 246}
ANTHROPIC_USAGE = {"input_tokens": 97, "output_tokens": 41}


def openai_completion(request):
    return {
        "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
        "object": "chat.completion",
        "created": 1767225600,
        "model": request.get("model", "gpt-4o-mini") + "-2024-07-18",
        "system_fingerprint": "fp_44709d6fcb",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": value("answer"), "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": dict(
            OPENAI_USAGE,
            prompt_tokens_details={"cached_tokens": 0, "audio_tokens": 0},
            completion_tokens_details={"reasoning_tokens": 0, "audio_tokens": 0},
        ),
        "service_tier": "default",
    }


def openai_context_error():
    return {
        "error": {
            "message": "This model's maximum context length is 128000 tokens. However, your messages resulted in 131072 tokens.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        }
    }


def anthropic_message(request):
    return {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": request.get("model", "claude-sonnet-4-5") + "-20250929",
        "content": [{"type": "text", "text": value("answer")}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": dict(ANTHROPIC_USAGE, cache_creation_input_tokens=0, cache_read_input_tokens=0),
    }


class FakeServices:
    def __init__(self):
        self.calls = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _reply(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if self.path.startswith("/v1/chat"):
                    self.send_header("x-request-id", "req_7f3a9c2e1b4d")
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                outer.calls.append(("GET", self.path.split("?")[0]))
                if self.path.startswith("/partner/search"):
                    return self._reply(200, {"hits": [{"id": "p-311", "score": 0.82}, {"id": "p-127", "score": 0.4}]})
                self._reply(404, {"detail": "not found"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                request = json.loads(self.rfile.read(length) or b"{}")
                path = self.path.split("?")[0]
                outer.calls.append(("POST", path))
                if path == "/v1/chat/completions":
                    if "LONGPROMPT" in json.dumps(request):
                        return self._reply(400, openai_context_error())
                    return self._reply(200, openai_completion(request))
                if path == "/v1/messages":
                    return self._reply(200, anthropic_message(request))
                self._reply(404, {"detail": "not found"})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

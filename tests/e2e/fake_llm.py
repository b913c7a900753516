#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# A stand-in for an OpenAI-compatible chat-completions server on loopback,
# with canned answers, for testing the openai provider of `moonwire
# generate`. It records every request (GET /_requests lists them).
#
# Usage: fake_llm.py [--mode repair|invalid|garbage]   prints its port.
#   repair   the first answer does not validate; an answer to a repair
#            message (one that quotes validation errors) is valid
#   invalid  every answer has the same validation errors
#   garbage  every answer is prose, not JSON
# The valid workflow is built from the URLs in the user's prompt: the first
# is POSTed to on the first share (the response's id saved), the second is
# PUT to on later shares, with <id> or {id} read as the saved ID.
import argparse
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
SEEN = []


def urls_in(text):
    return [u.rstrip(".,;)") for u in re.findall(r"https?://\S+", text)]


def workflow_for(prompt):
    urls = urls_in(prompt) or ["{{integration.base_url}}/tickets"]
    create = urls[0]
    update = urls[1] if len(urls) > 1 else create + "/<id>"
    update = re.sub(r"<[^>]*>|\{[a-z_ ]*\}", "{{externalId}}", update)
    headers = {"Content-Type": "application/json"}
    if "{{integration.api_key}}" in prompt:
        headers["X-Api-Key"] = "{{integration.api_key}}"
    return {
        "format": 1,
        "name": "Tickets from the model",
        "nodes": [
            {"id": "route", "type": "flow_control",
             "config": {"source": "metadata.firstTime",
                        "routes": [{"port": "new", "value": True},
                                   {"port": "update", "value": False}]}},
            {"id": "create", "type": "http_request",
             "config": {"method": "POST", "url": create, "headers": headers,
                        "body": "{\"incident_id\": \"{{incident.id}}\", "
                                "\"status\": \"{{incident.status}}\"}",
                        "output": "createResponse"}},
            {"id": "save", "type": "save_id",
             "config": {"external_id": "createResponse.id"}},
            {"id": "update", "type": "http_request",
             "config": {"method": "PUT", "url": update, "headers": headers,
                        "body": "{\"status\": \"{{incident.status}}\"}",
                        "output": "updateResponse"}},
        ],
        "connections": [
            {"from": "route", "port": "new", "to": "create"},
            {"from": "create", "port": "next", "to": "save"},
            {"from": "route", "port": "update", "to": "update"},
        ],
    }


def broken(doc):
    """The same workflow with two mistakes a model makes: a connection to a
    node that does not exist, and a route with no value."""
    doc = json.loads(json.dumps(doc))
    doc["connections"].append({"from": "save", "port": "next", "to": "notify"})
    del doc["nodes"][0]["config"]["routes"][1]["value"]
    return doc


def answer(mode, messages):
    user = next((m["content"] for m in messages if m["role"] == "user"), "")
    last = messages[-1]["content"] if messages else ""
    if mode == "garbage":
        return "Sure! Here is how I would build that integration..."
    doc = workflow_for(user)
    repairing = "import validator" in last
    if mode == "invalid" or not repairing:
        doc = broken(doc)
    return "```json\n" + json.dumps({
        "workflow": doc,
        "explanation": "Creates a ticket on the first share, then updates it.",
        "warnings": []}) + "\n```"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    mode = "repair"

    def log_message(self, *args):
        pass

    def reply(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/_requests":
            with LOCK:
                return self.reply(200, SEEN)
        self.reply(404, {"error": "not found"})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8", "replace") if n else ""
        with LOCK:
            SEEN.append({"path": self.path, "body": body,
                         "headers": {k.lower(): v for k, v in self.headers.items()}})
        if not self.path.endswith("/chat/completions"):
            return self.reply(404, {"error": {"message": "unknown path"}})
        try:
            req = json.loads(body)
        except ValueError:
            return self.reply(400, {"error": {"message": "body is not JSON"}})
        content = answer(self.mode, req.get("messages", []))
        self.reply(200, {
            "id": "chatcmpl-fake", "object": "chat.completion",
            "model": req.get("model"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}]})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", default="repair",
                    choices=["repair", "invalid", "garbage"])
    ap.add_argument("--port", type=int, default=0)
    opts = ap.parse_args()
    Handler.mode = opts.mode
    server = ThreadingHTTPServer(("127.0.0.1", opts.port), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

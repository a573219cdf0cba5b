#!/usr/bin/python3
"""A webhook receiver for the tests: webhook_receiver.py PORT FAILS SECRET
OUT. Answers the first FAILS posts with 500, every later one with 200, and
appends one JSON line per post to OUT: the path, the qf headers, whether
X-QF-Signature-256 is the HMAC-SHA256 of the body under SECRET, and the
body. Prints "ready" once it listens."""
import hashlib, hmac, http.server, json, sys

port, fails, secret, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
seen = [0]


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        sig = self.headers.get("X-QF-Signature-256", "")
        want = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        seen[0] += 1
        status = 500 if seen[0] <= fails else 200
        with open(out, "a") as f:
            f.write(json.dumps({
                "path": self.path, "status": status,
                "event": self.headers.get("X-QF-Event"),
                "delivery": self.headers.get("X-QF-Delivery"),
                "user_agent": self.headers.get("User-Agent"),
                "signature_ok": hmac.compare_digest(sig, want),
                "body": json.loads(body)}) + "\n")
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", port), Hook)
print("ready", flush=True)
server.serve_forever()

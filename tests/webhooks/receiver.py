"""A webhook receiver for the tests, run as its own process: `python receiver.py FOLDER`.
It listens on 127.0.0.1 (a free port, written to FOLDER/port), appends each request it gets to
FOLDER/requests.jsonl (path, headers, body) and answers with the statuses programmed in
FOLDER/program.json for that path ({"/flaky": [500, 500]}: two 500s, then 200s); a 3xx answer
carries a Location header to show that it is not followed. /drip answers one byte of its
status line every DRIP_S, for up to a minute, as a receiver that never finishes would."""

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Lock

FOLDER = Path(sys.argv[1])
LOCK = Lock()
DRIP_S = 0.2


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with LOCK:
            program = json.loads((FOLDER / "program.json").read_text())
            statuses = program.get(self.path, [])
            status = statuses.pop(0) if statuses else 200
            (FOLDER / "program.json").write_text(json.dumps(program))
            record = {
                "path": self.path,
                "headers": dict(self.headers.items()),
                "body": body.decode(),
                "status": status,
            }
            with (FOLDER / "requests.jsonl").open("a") as log:
                log.write(json.dumps(record) + "\n")
        if self.path == "/drip":
            for byte in (b"HTTP/1.1 200 OK\r\nX-Pad: " + b"x" * 60_000)[: int(60 / DRIP_S)]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(DRIP_S)
            return
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    (FOLDER / "port.tmp").write_text(str(server.server_address[1]))
    (FOLDER / "port.tmp").rename(FOLDER / "port")
    server.serve_forever()

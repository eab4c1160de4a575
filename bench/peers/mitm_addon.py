"""The mitmproxy contender of the Chaperone benchmark (bench/peers/peers.ts starts it).

What a governance sidecar built on mitmproxy does with each call to an LLM provider, and no more:
the host is checked against a small deny list, the JSON request body is parsed (model, number of
messages, tool names, stream flag), a non-streamed JSON answer is parsed for its usage, a
streamed answer (text/event-stream) is passed through as it arrives, and one audit line (JSON) per
call is appended to a file. The other contenders do at least this much.

Options (--set NAME=VALUE):
  bench_resolve  HOST=IP:PORT[,HOST=IP:PORT...]  send HOST's traffic to IP:PORT (the Host header is
                 kept, and over TLS the upstream SNI and certificate check stay HOST), as the other
                 contenders' --resolve does; only loopback addresses are accepted
  bench_audit    FILE  the audit lines (JSON, one per call)
"""
import json
import time

from mitmproxy import ctx, http

LLM_HOSTS = {"api.openai.com", "api.anthropic.com"}
DENY_HOSTS = {"pastebin.com", "metadata.google.internal"}


class Governance:
    def __init__(self):
        self.resolve = {}
        self.audit = None
        self.calls = 0

    def load(self, loader):
        loader.add_option("bench_resolve", str, "", "HOST=IP:PORT,... send HOST's traffic to IP:PORT")
        loader.add_option("bench_audit", str, "", "audit file (JSON lines)")

    def configure(self, updated):
        if "bench_resolve" in updated:
            self.resolve = {}
            for spec in filter(None, ctx.options.bench_resolve.split(",")):
                host, _, addr = spec.partition("=")
                ip, _, port = addr.rpartition(":")
                if not (ip.startswith("127.") or ip == "::1"):
                    raise ValueError(f"bench_resolve {spec}: loopback addresses only")
                self.resolve[host.lower()] = (ip, int(port))
        if "bench_audit" in updated and ctx.options.bench_audit:
            if self.audit:
                self.audit.close()
            self.audit = open(ctx.options.bench_audit, "a", encoding="utf-8")

    def request(self, flow: http.HTTPFlow):
        host = (flow.request.host_header or flow.request.host).split(":")[0].lower()
        meta = {"host": host, "path": flow.request.path, "start": time.time()}
        flow.metadata["governance"] = meta
        if host in DENY_HOSTS:
            flow.response = http.Response.make(403, b'{"error":"denied by policy"}', {"content-type": "application/json"})
            meta["decision"] = "deny"
            return
        meta["decision"] = "allow"
        if host in LLM_HOSTS and flow.request.method == "POST":
            try:
                body = json.loads(flow.request.get_content() or b"null")
            except ValueError:
                body = None
            if isinstance(body, dict):
                messages = body.get("messages") or []
                tools = body.get("tools") or []
                meta["model"] = body.get("model")
                meta["messages"] = len(messages) if isinstance(messages, list) else 0
                meta["tools"] = [
                    (t.get("function") or {}).get("name") or t.get("name")
                    for t in tools
                    if isinstance(t, dict)
                ]
                meta["stream"] = bool(body.get("stream"))
        target = self.resolve.get(host)
        if target:
            host_header = flow.request.host_header
            flow.request.host, flow.request.port = target
            flow.request.host_header = host_header

    def server_connect(self, data):
        server = data.server
        if not server.address:
            return
        host, port = server.address
        target = self.resolve.get(str(host).lower())
        if target:
            # A connection to a provider's name that no request hook redirected (mitmproxy opening
            # one at CONNECT time): never resolve a public name, send it where bench_resolve says.
            server.address = target
            server.sni = server.sni or host
            return
        # Intercepted TLS redirected by the request hook: mitmproxy would send the fake upstream's IP
        # as SNI and verify the certificate against it. Keep the name the client asked for, as the
        # other proxies' --resolve does (and as mitmproxy itself does in transparent mode).
        sni = (data.client.sni or "").lower()
        if sni and self.resolve.get(sni) == (host, port):
            server.sni = sni

    def responseheaders(self, flow: http.HTTPFlow):
        # Server-sent events go through as they arrive; anything else is buffered (mitmproxy's default).
        if "text/event-stream" in flow.response.headers.get("content-type", ""):
            flow.response.stream = True

    def response(self, flow: http.HTTPFlow):
        meta = flow.metadata.get("governance") or {}
        if not flow.response.stream and "json" in flow.response.headers.get("content-type", ""):
            try:
                answer = json.loads(flow.response.get_content() or b"null")
            except ValueError:
                answer = None
            if isinstance(answer, dict) and isinstance(answer.get("usage"), dict):
                meta["usage"] = answer["usage"]
        meta["status"] = flow.response.status_code
        meta["ms"] = round((time.time() - meta.get("start", time.time())) * 1000, 3)
        self.calls += 1
        if self.audit:
            self.audit.write(json.dumps(meta, separators=(",", ":")) + "\n")

    def done(self):
        if self.audit:
            self.audit.close()
            self.audit = None


addons = [Governance()]

# A Python agent with only the standard library: urllib honours the injected HTTPS_PROXY/NO_PROXY,
# and ssl's default context the injected SSL_CERT_FILE (the trust bundle with the namespace CA).
# Runs in the e2e agent image (python3 -c); prints one JSON line with what each call got.
import json
import ssl
import urllib.error
import urllib.request


def call(path, body):
    req = urllib.request.Request(
        "https://api.openai.com" + path,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "authorization": "Bearer sk-e2e-python-not-logged"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, context=ssl.create_default_context(), timeout=20) as resp:
            data = json.loads(resp.read())
            content = (data.get("choices") or [{}])[0].get("message", {}).get("content")
            return {"status": resp.status, "decision": resp.headers.get("x-chaperone-decision"), "content": content}
    except urllib.error.HTTPError as err:
        return {"status": err.code, "decision": err.headers.get("x-chaperone-decision"), "error": err.read().decode(errors="replace")}
    except Exception as err:  # noqa: BLE001 - the test wants to see whatever went wrong
        return {"status": 0, "error": repr(err)}


def chat(content):
    return call("/v1/chat/completions", {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]})


print(json.dumps({
    "allow": chat("python: summarise the news"),
    "redact": chat("python: charge card 4111 1111 1111 1111 please"),
    "deny": call("/v1/embeddings", {"model": "text-embedding-3-small", "input": "python: embed me"}),
}))

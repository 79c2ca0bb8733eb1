#!/usr/bin/env python3
"""Takes docs/demo.png: the demo's dashboard with the inactivity warning up.

Starts the demo with short timings on a free port and throwaway databases,
logs in as alice through ChromeDriver (plain WebDriver over HTTP, no extra
packages), waits for the warning and saves a screenshot.
Usage: python3 scripts/screenshot.py  (needs chromium and chromium-driver)
"""
import base64, json, os, socket, subprocess, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)["value"]


def wait_http(url, limit=300):
    start = time.time()
    while time.time() - start < limit:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except Exception:
            time.sleep(0.5)
    raise SystemExit(f"{url} did not answer")


def main():
    tmp = tempfile.mkdtemp(prefix="demo-shot-")
    app_port, driver_port = free_port(), free_port()
    env = dict(os.environ,
               ROCKET_PORT=str(app_port),
               ROCKET_LOG_LEVEL="off",
               ROCKET_SESSION_SECURITY="{warn_after=3,expire_after=40}",
               ROCKET_DATABASES=f'{{crm={{url="sqlite://{tmp}/crm.sqlite"}},'
                                f'session_security={{url="sqlite://{tmp}/ss.sqlite"}}}}')
    app = subprocess.Popen(["cargo", "run", "-q", "-p", "demo-app"], cwd=ROOT, env=env)
    driver = subprocess.Popen(["chromedriver", f"--port={driver_port}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        site = f"http://127.0.0.1:{app_port}"
        wait_http(site + "/login")
        wd = f"http://127.0.0.1:{driver_port}"
        wait_http(wd + "/status", 20)
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                "--window-size=1280,860", f"--user-data-dir={tmp}/profile"]
        caps = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": "/usr/bin/chromium", "args": args}}}}
        session = call(wd, "POST", "/session", caps)["sessionId"]
        s = f"/session/{session}"
        call(wd, "POST", s + "/url", {"url": site + "/login"})

        def find(css):
            return list(call(wd, "POST", s + "/element", {"using": "css selector", "value": css}).values())[0]

        call(wd, "POST", s + f"/element/{find('input[name=username]')}/value", {"text": "alice"})
        call(wd, "POST", s + f"/element/{find('input[name=password]')}/value", {"text": "alice-demo-pass"})
        call(wd, "POST", s + f"/element/{find('button[type=submit]')}/click", {})
        time.sleep(7)  # past warn_after: the warning and its countdown are up
        png = call(wd, "GET", s + "/screenshot")
        out = os.path.join(ROOT, "docs", "demo.png")
        with open(out, "wb") as f:
            f.write(base64.b64decode(png))
        call(wd, "DELETE", s)
        print("wrote", out)
    finally:
        driver.terminate()
        app.terminate()
        app.wait()


if __name__ == "__main__":
    main()

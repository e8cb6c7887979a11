"""The real npm ``akismet-api`` client (version 6, what Coral Talk uses) against the service.

It sends the key only as the host's first label (``KEY.rest.akismet.com``), never in the body.
The client is installed from the package index into a temporary folder (CI has that access)
and run by Node; only its host is changed, and the test resolves ``*.rest.akismet.test`` to
127.0.0.1 inside that Node process, as a DNS entry would. Required in CI; skipped with the
reason elsewhere when Node or npm is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from moderation.services.sitekeys import create_site_key
from moderation.web.database import get_session
from tests.conftest import IN_CI, served, sqlite_app

pytestmark = [pytest.mark.functional, pytest.mark.slow]

SCRIPT = r"""
const dns = require("dns");
const lookup = dns.lookup;
dns.lookup = (host, options, callback) => {
  if (typeof options === "function") { callback = options; options = {}; }
  if (host.endsWith(".rest.akismet.test") || host === "rest.akismet.test") {
    return options && options.all
      ? callback(null, [{ address: "127.0.0.1", family: 4 }])
      : callback(null, "127.0.0.1", 4);
  }
  return lookup(host, options, callback);
};
const { AkismetClient } = require("akismet-api");
const [key, port] = process.argv.slice(2);
const host = `rest.akismet.test:${port}`;
const options = { blog: "https://news.example", host, protocol: "http" };
const client = new AkismetClient({ key, ...options });
const wrong = new AkismetClient({ key: "0123456789ab", ...options });
const reader = { ip: "198.51.100.23", useragent: "Mozilla/5.0 (X11; Linux x86_64)" };
(async () => {
  const out = {};
  out.verify = await client.verifyKey();
  out.verifyWrong = await wrong.verifyKey();
  out.spam = await client.checkSpam({ ...reader, type: "comment", name: "cheap pills",
    email: "sales@pills-now.xyz", url: "https://pills-now.xyz",
    content: "Cheap v1agra, best prices, buy now at https://pills-now.xyz/buy" });
  out.civil = await client.checkSpam({ ...reader, type: "comment", name: "Ann",
    email: "ann@example.org", content: "Thanks, a fair and careful article about the budget." });
  out.abuse = await client.checkSpam({ ...reader, type: "comment", name: "Troll",
    email: "troll@example.org", content: "Shut up, you stupid idiot, nobody asked you." });
  await client.submitHam({ ...reader, type: "comment", name: "Ann", email: "ann@example.org",
    content: "I think the council is wrong to close the libraries." });
  out.submitted = true;
  try { await wrong.checkSpam({ ...reader, content: "hello there" }); out.wrongCheck = "no error"; }
  catch (error) { out.wrongCheck = String(error.message || error); }
  console.log(JSON.stringify(out));
})().catch((error) => { console.error(error); process.exit(1); });
"""


def _missing(what: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} is required in CI")
    pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="module")
def client_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        _missing("Node and npm")
    folder = tmp_path_factory.mktemp("akismet-api")
    (folder / "package.json").write_text('{"name": "akismet-api-check", "private": true}')
    installed = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--silent", "akismet-api@6"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if installed.returncode != 0:
        message = f"npm install akismet-api@6 failed: {installed.stderr[-500:]}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    (folder / "check.js").write_text(SCRIPT)
    return folder


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    app = sqlite_app(tmp_path_factory.mktemp("service") / "akismet.db", RATELIMIT_ENABLED=False)
    with app.app_context():
        session = get_session()
        _, key = create_site_key(session, name="coral")
        session.commit()
    with served(app) as base:
        yield base, key


def test_akismet_api_6_checks_and_submits_with_the_key_in_the_host(
    client_dir: Path, service: tuple[str, str]
) -> None:
    base, key = service
    port = base.rsplit(":", 1)[1]
    run = subprocess.run(
        ["node", "check.js", key, port],
        cwd=client_dir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "NODE_NO_WARNINGS": "1"},
    )
    assert run.returncode == 0, run.stderr
    out: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["verify"] is True
    assert out["verifyWrong"] is False
    assert out["spam"] is True
    assert out["civil"] is False
    assert out["abuse"] is True  # what POST /comments would refuse is spam to an Akismet client
    assert out["submitted"] is True
    assert "invalid" in out["wrongCheck"].lower()

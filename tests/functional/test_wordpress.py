"""End to end with a real WordPress and our plugin (integrations/wordpress/moderation-service).

Debian's packages (``wordpress``, ``php-cli`` with ``php-mysql``, ``mariadb-server``) make the
site: a private MariaDB server, a private copy of /usr/share/wordpress with its own
wp-config.php (``WP_HTTP_BLOCK_EXTERNAL``: it reaches nothing but 127.0.0.1), installed
unattended from the PHP CLI, the plugin activated, served by ``php -S``. The service runs as
``make run`` runs it (gunicorn with the project's config) on SQLite, with a site key, a
moderator and the webhook pointed at the plugin's REST route.

Then, as people would: the admin saves the settings page and tests the connection; readers
post through the theme's own comment form (plain HTML posts, no JavaScript) from different
addresses, and each comment lands where the service decided; the service's webhooks arrive
signed and change nothing they should not; a comment posted while the service is down is held,
then decided by WP-Cron once it is back; a decision made with the moderators' API reaches
WordPress through the webhook; a WordPress moderator's Spam and Trash reach the service as
labels (and, with the moderator token, as a decision).

Everything listens on 127.0.0.1, on free ports, in temporary folders; every process is
stopped at the end. Without php, the wordpress package or MariaDB the test is skipped with the
reason, except in CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from moderation.services import webhooks
from tests.conftest import IN_CI, ROOT, free_port

pytestmark = [pytest.mark.functional, pytest.mark.slow]

PLUGIN = ROOT / "integrations" / "wordpress" / "moderation-service"
PLUGIN_FILE = "moderation-service/moderation-service.php"
WORDPRESS = Path("/usr/share/wordpress")
BIN = Path(sys.executable).parent
ADMIN_PASSWORD = secrets.token_urlsafe(12)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

CIVIL = (
    "Thanks for the clear write-up. "
    "The chart on council spending finally made the budget make sense to me."
)
LINK_SPAM = (
    "Great post! Buy cheap v1agra and cialis online, no prescription needed: "
    "https://pills-discount.example.xyz/buy-now best prices"
)
ABUSE = "You are a pathetic moron and everyone here knows it."
GERMAN = (
    "Ich finde den Artikel sehr interessant, aber die Zahlen zur Arbeitslosigkeit in der "
    "zweiten Grafik stimmen leider nicht."
)
WHILE_DOWN = (
    "I visited the new library on Saturday; the reading room is lovely and the staff were helpful."
)


# --------------------------------------------------------------------------- prerequisites


def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")


def _missing() -> list[str]:
    missing = []
    php = _which("php")
    if php is None:
        missing.append("php (php-cli)")
    else:
        loaded = subprocess.run(
            [php, "-r", 'exit(extension_loaded("mysqli") ? 0 : 1);'], capture_output=True
        )
        if loaded.returncode != 0:
            missing.append("PHP's mysqli extension (php-mysql)")
    if not (WORDPRESS / "wp-settings.php").is_file():
        missing.append(f"{WORDPRESS} (the wordpress package)")
    for tool in ("mariadbd", "mariadb-install-db"):
        if _which(tool) is None:
            missing.append(f"{tool} (mariadb-server)")
    return missing


def _require_tools() -> None:
    missing = _missing()
    if missing:
        message = (
            "the real-WordPress test needs "
            + ", ".join(missing)
            + " (apt-get install wordpress php-cli php-mysql mariadb-server)"
        )
        if IN_CI:
            pytest.fail(message + "; CI=true: this test must run")
        pytest.skip(message)


# --------------------------------------------------------------------------- processes


@dataclass
class Process:
    """A server in its own process group, its output in a log file."""

    name: str
    args: list[str]
    log: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.args,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self) -> None:
        popen, self.popen = self.popen, None
        if popen is None:
            return
        if popen.poll() is None:
            for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
                try:
                    os.killpg(popen.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    popen.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        popen.wait(timeout=10)
        # Anything the server left behind in its group (gunicorn's workers, php -S's workers).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGKILL)

    def tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""


def _wait_for(what: str, check: Any, process: Process, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.running():
            pytest.fail(f"{what} exited:\n{process.tail()}")
        try:
            if check():
                return
        except (OSError, httpx.HTTPError):
            pass
        time.sleep(0.2)
    pytest.fail(f"{what} did not start within {timeout:.0f} s:\n{process.tail()}")


def _run(args: list[str], *, env: dict[str, str] | None = None, stdin: str = "") -> str:
    result = subprocess.run(
        args, env=env, cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        pytest.fail(f"{' '.join(args[:4])} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout


# --------------------------------------------------------------------------- HTML forms


@dataclass
class Form:
    attrs: dict[str, str]
    fields: list[tuple[str, str]] = field(default_factory=list)
    submits: list[tuple[str, str]] = field(default_factory=list)


class _Page(HTMLParser):
    """The forms (with what a browser would send) and the links of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.links: list[str] = []
        self._form: Form | None = None
        self._textarea: list[str] | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "form":
            self._form = Form(a)
            self.forms.append(self._form)
            return
        if self._form is None or not a.get("name"):
            return
        name = a["name"]
        if tag == "input":
            kind = a.get("type", "text").lower()
            if kind in ("submit", "image"):
                self._form.submits.append((name, a.get("value", "")))
            elif kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._form.fields.append((name, a.get("value", "on")))
            elif kind not in ("button", "reset", "file"):
                self._form.fields.append((name, a.get("value", "")))
        elif tag == "textarea":
            self._textarea = [name, ""]
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select is not None and "selected" in a:
            self._form.fields.append((self._select, a.get("value", "")))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            self._form.fields.append((self._textarea[0], self._textarea[1]))
            self._textarea = None
        elif tag == "select":
            self._select = None


def _page(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def _form(html: str, predicate: Any, what: str) -> Form:
    for form in _page(html).forms:
        if predicate(form):
            return form
    pytest.fail(f"no {what} on the page:\n{html[:3000]}")


def _submit(
    client: httpx.Client,
    page_url: str,
    form: Form,
    values: dict[str, str],
    *,
    click: str | None = None,
) -> httpx.Response:
    """Post the form as a browser does: its fields, the values typed, the button clicked."""
    data: dict[str, str] = {}
    for name, value in form.fields:
        data.setdefault(name, value)
    data.update(values)
    for name, value in form.submits:
        if click is None or name == click:
            data.setdefault(name, value)
            break
    action = urljoin(page_url, form.attrs.get("action") or page_url)
    return client.post(action, data=data, headers={"Referer": page_url})


# --------------------------------------------------------------------------- the site


@dataclass
class Site:
    """WordPress, the service and the plugin between them."""

    tmp: Path
    wordpress: Path
    url: str
    service_url: str
    service: Process
    service_env: dict[str, str]
    site_key: str
    moderator_token: str
    webhook_secret: str
    admin: httpx.Client | None = None
    post_url: str = ""

    # -- WordPress from the inside (the PHP CLI) --

    def php(self, code: str, *, installing: bool = False) -> Any:
        env = {**os.environ, "WP_TEST_INSTALLING": "1" if installing else ""}
        result = subprocess.run(
            ["php", str(self.wordpress / "test-cli.php")],
            input=code,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        out = result.stdout
        if result.returncode != 0 or "@@RESULT@@" not in out:
            pytest.fail(
                f"PHP failed ({result.returncode}):\n{out[-3000:]}\n{result.stderr[-3000:]}"
            )
        return json.loads(out.rsplit("@@RESULT@@", 1)[1])

    def comments(self) -> dict[str, dict[str, Any]]:
        """Every comment by its text: comment_approved and the plugin's meta."""
        rows = self.php(
            """
            global $wpdb;
            $rows = $wpdb->get_results(
                "SELECT comment_ID, comment_parent, comment_approved, comment_content
                 FROM {$wpdb->comments} ORDER BY comment_ID", ARRAY_A);
            foreach ($rows as $i => $row) {
                $meta = array();
                foreach (get_comment_meta((int) $row['comment_ID']) as $key => $values) {
                    $meta[$key] = maybe_unserialize($values[0]);
                }
                $rows[$i]['meta'] = (object) $meta;
            }
            return $rows;
            """
        )
        return {row["comment_content"]: row for row in rows}

    # -- the service --

    def moderation(self, *args: str) -> str:
        return _run([str(BIN / "moderation"), *args], env=self.service_env)

    def deliver_webhooks(self) -> str:
        out = self.moderation("webhooks", "deliver", "--once")
        assert "to retry 0, given up 0" in out, out
        return out

    def start_service(self) -> None:
        self.service.start()
        _wait_for(
            "the service",
            lambda: httpx.get(self.service_url + "/readyz", timeout=2).status_code == 200,
            self.service,
        )

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return httpx.request(
            method,
            self.service_url + path,
            json=body,
            headers={"Authorization": f"Bearer {self.moderator_token}"},
            timeout=20,
        )

    # -- readers --

    def reader(self, number: int) -> httpx.Client:
        """A browser on its own loopback address (127.0.0.N): each commenter is a person."""
        return httpx.Client(
            transport=httpx.HTTPTransport(local_address=f"127.0.0.{number}"),
            headers={"User-Agent": BROWSER},
            timeout=60,
        )

    def post_comment(
        self,
        number: int,
        author: str,
        email: str,
        text: str,
        *,
        url: str = "",
        reply_to: int | None = None,
    ) -> httpx.Response:
        """GET the post, fill in the theme's comment form and post it, like a browser."""
        page_url = self.post_url + (f"&replytocom={reply_to}" if reply_to else "")
        with self.reader(number) as browser:
            page = browser.get(page_url)
            assert page.status_code == 200, page.text[:2000]
            form = _form(page.text, lambda f: f.attrs.get("id") == "commentform", "comment form")
            if reply_to:
                assert ("comment_parent", str(reply_to)) in form.fields
            response = _submit(
                browser,
                page_url,
                form,
                {"author": author, "email": email, "url": url, "comment": text},
            )
            assert response.status_code == 302, response.text[:3000]
            return response


def _write_wordpress(site_dir: Path, *, wp_port: int, socket_path: Path, debug_log: Path) -> None:
    def ignore(folder: str, names: list[str]) -> set[str]:
        # Translations are not needed; Debian's wp-config.php reads /etc/wordpress.
        if Path(folder) == WORDPRESS / "wp-content":
            return {"languages"}
        if Path(folder) == WORDPRESS:
            return {"wp-config.php"}
        return set()

    shutil.copytree(WORDPRESS, site_dir, symlinks=True, ignore=ignore)
    shutil.copytree(PLUGIN, site_dir / "wp-content" / "plugins" / "moderation-service")
    salts = "\n".join(
        f"define('{name}', '{secrets.token_hex(32)}');"
        for name in (
            "AUTH_KEY",
            "SECURE_AUTH_KEY",
            "LOGGED_IN_KEY",
            "NONCE_KEY",
            "AUTH_SALT",
            "SECURE_AUTH_SALT",
            "LOGGED_IN_SALT",
            "NONCE_SALT",
        )
    )
    (site_dir / "wp-config.php").write_text(
        f"""<?php
define('DB_NAME', 'wordpress');
define('DB_USER', 'root');
define('DB_PASSWORD', '');
define('DB_HOST', 'localhost:{socket_path}');
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
{salts}
$table_prefix = 'wp_';
define('WP_HOME', 'http://127.0.0.1:{wp_port}');
define('WP_SITEURL', 'http://127.0.0.1:{wp_port}');
// WordPress reaches nothing but this machine's loopback (itself and the service).
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('WP_ACCESSIBLE_HOSTS', '127.0.0.1,localhost');
// The test runs WP-Cron itself (GET /wp-cron.php), when it means to.
define('DISABLE_WP_CRON', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_AUTO_UPDATE_CORE', false);
define('WP_DEBUG', true);
define('WP_DEBUG_LOG', '{debug_log}');
define('WP_DEBUG_DISPLAY', false);
if (!defined('ABSPATH')) {{
    define('ABSPATH', __DIR__ . '/');
}}
require_once ABSPATH . 'wp-settings.php';
"""
    )
    # No mail leaves a test site.
    mu_plugins = site_dir / "wp-content" / "mu-plugins"
    mu_plugins.mkdir()
    (mu_plugins / "test-no-mail.php").write_text(
        "<?php\nadd_filter('pre_wp_mail', '__return_false');\n"
    )
    # The test's window into WordPress: runs the PHP it reads from stdin, prints JSON.
    (site_dir / "test-cli.php").write_text(
        f"""<?php
if (PHP_SAPI !== 'cli') {{ exit; }}
$_SERVER['HTTP_HOST'] = '127.0.0.1:{wp_port}';
$_SERVER['SERVER_NAME'] = '127.0.0.1';
$_SERVER['SERVER_PORT'] = '{wp_port}';
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
$_SERVER['REMOTE_ADDR'] = '127.0.0.1';
if (getenv('WP_TEST_INSTALLING')) {{ define('WP_INSTALLING', true); }}
require __DIR__ . '/wp-load.php';
$result = eval(stream_get_contents(STDIN));
echo "\\n@@RESULT@@", json_encode($result);
"""
    )


def _mariadb(tmp: Path, socket_path: Path) -> Process:
    """A private MariaDB server: its own data folder, socket and port, no other config."""
    as_root = ["--user=root"] if os.geteuid() == 0 else []
    return Process(
        "mariadbd",
        [
            str(_which("mariadbd")),
            "--no-defaults",
            *as_root,
            f"--datadir={tmp / 'mariadb'}",
            f"--socket={socket_path}",
            "--skip-networking=0",
            "--bind-address=127.0.0.1",
            f"--port={free_port()}",
            f"--pid-file={tmp / 'mariadb.pid'}",
            "--skip-log-bin",
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=32M",
            "--innodb-flush-log-at-trx-commit=0",
        ],
        tmp / "mariadb.log",
    )


def _start_mariadb(server: Process, tmp: Path, socket_path: Path) -> None:
    as_root = ["--user=root"] if os.geteuid() == 0 else []
    _run(
        [
            str(_which("mariadb-install-db")),
            "--no-defaults",
            f"--datadir={tmp / 'mariadb'}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *as_root,
        ]
    )
    server.start()

    def ready() -> bool:
        if not socket_path.exists():
            return False
        create = subprocess.run(
            [
                "php",
                "-r",
                f'$db = @new mysqli("localhost", "root", "", "", 0, "{socket_path}");'
                ' exit($db->query("CREATE DATABASE IF NOT EXISTS wordpress'
                ' CHARACTER SET utf8mb4") ? 0 : 1);',
            ],
            capture_output=True,
        )
        return create.returncode == 0

    _wait_for("MariaDB", ready, server, timeout=60)


def _service_env(tmp: Path, port: int, webhook_url: str, secret: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MODERATION_") and k != "PROMETHEUS_MULTIPROC_DIR"
    }
    env.update(
        {
            "MODERATION_DATABASE_URL": f"sqlite:///{tmp / 'service.db'}",
            "MODERATION_SECRET_KEY": secrets.token_hex(32),
            "MODERATION_FLOOD_SECONDS": "0",
            "MODERATION_RATELIMIT_ENABLED": "false",
            "MODERATION_WEBHOOK_URL": webhook_url,
            "MODERATION_WEBHOOK_SECRETS": json.dumps([secret]),
            "MODERATION_WEBHOOK_TIMEOUT": "20",
            "MODERATION_WORKERS": "2",
            "HOST": "127.0.0.1",
            "PORT": str(port),
        }
    )
    return env


@contextlib.contextmanager
def running_site(
    tmp_path_factory: pytest.TempPathFactory,
    *,
    plugin: str = PLUGIN_FILE,
    setup_php: str = "",
    mu_plugins: Callable[[str], dict[str, str]] | None = None,
) -> Iterator[Site]:
    """The service, MariaDB and WordPress (``plugin`` active), served by ``php -S``, the admin
    logged in; everything stopped on the way out.

    ``setup_php`` runs after the install (options of the scenario); ``mu_plugins`` gets the
    service's URL and returns more must-use plugins (file name: PHP).
    """
    _require_tools()
    tmp = tmp_path_factory.mktemp("wordpress")
    socket_dir = Path(tempfile.mkdtemp(prefix="wpdb-"))  # a socket path must be short
    wp_port, service_port = free_port(), free_port()
    wp_url = f"http://127.0.0.1:{wp_port}"
    service_url = f"http://127.0.0.1:{service_port}"
    secret = webhooks.new_secret()  # what `moderation webhooks new-secret` prints
    env = _service_env(
        tmp, service_port, f"{wp_url}/?rest_route=/moderation-service/v1/webhook", secret
    )
    service = Process(
        "gunicorn",
        [str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", "wsgi:app"],
        tmp / "service.log",
        env=env,
        cwd=ROOT,
    )
    web = Process(
        "php -S",
        ["php", "-S", f"127.0.0.1:{wp_port}", "-t", str(tmp / "site")],
        tmp / "php-server.log",
        env={**os.environ, "PHP_CLI_SERVER_WORKERS": "4"},
        cwd=tmp,
    )
    database = _mariadb(tmp, socket_dir / "db.sock")
    admin: httpx.Client | None = None
    try:

        def set_up_service() -> tuple[str, str]:
            moderation = str(BIN / "moderation")
            _run([moderation, "db", "upgrade"], env=env)
            key = _run([moderation, "site-key", "create", "wordpress"], env=env).split()[-1]
            password = secrets.token_urlsafe(16)
            _run([moderation, "moderator", "create", "maria"], env=env, stdin=password + "\n")
            token = _run([moderation, "moderator", "token", "maria"], env=env).split()[-1]
            service.start()
            return key, token

        def set_up_wordpress() -> None:
            _write_wordpress(
                tmp / "site",
                wp_port=wp_port,
                socket_path=socket_dir / "db.sock",
                debug_log=tmp / "debug.log",
            )
            for name, code in (mu_plugins(service_url) if mu_plugins else {}).items():
                (tmp / "site" / "wp-content" / "mu-plugins" / name).write_text(code)
            _start_mariadb(database, tmp, socket_dir / "db.sock")

        with ThreadPoolExecutor(2) as pool:
            service_setup = pool.submit(set_up_service)
            wordpress_setup = pool.submit(set_up_wordpress)
            wordpress_setup.result()
            key, token = service_setup.result()
        assert re.fullmatch(r"[0-9a-f]{12}", key), key

        site = Site(
            tmp=tmp,
            wordpress=tmp / "site",
            url=wp_url,
            service_url=service_url,
            service=service,
            service_env=env,
            site_key=key,
            moderator_token=token,
            webhook_secret=secret,
        )
        installed = site.php(
            f"""
            function wp_new_blog_notification() {{}}
            require_once ABSPATH . 'wp-admin/includes/upgrade.php';
            require_once ABSPATH . 'wp-admin/includes/plugin.php';
            $user = wp_install('Moderation test', 'admin', 'admin@example.org', true, '',
                               '{ADMIN_PASSWORD}');
            update_option('permalink_structure', '');
            update_option('comments_notify', 0);
            update_option('moderation_notify', 0);
            $activated = activate_plugin('{plugin}');
            {setup_php}
            $post = get_posts(array('post_type' => 'post', 'numberposts' => 1));
            return array(
                'activated' => is_wp_error($activated) ? $activated->get_error_message() : true,
                'plugins' => get_option('active_plugins'),
                'post' => $post[0]->ID,
            );
            """,
            installing=True,
        )
        assert installed["activated"] is True, installed
        assert installed["plugins"] == [plugin]
        site.post_url = f"{wp_url}/?p={installed['post']}"

        web.start()
        _wait_for(
            "php -S",
            lambda: httpx.get(site.post_url, timeout=5).status_code == 200,
            web,
        )
        _wait_for(
            "the service",
            lambda: httpx.get(site.service_url + "/readyz", timeout=2).status_code == 200,
            service,
        )
        site.admin = admin = _log_in(site)
        yield site
    finally:
        if admin is not None:
            admin.close()
        for process in (web, service, database):
            process.stop()
        shutil.rmtree(socket_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with running_site(tmp_path_factory) as site:
        _configure(site)
        yield site


def _log_in(site: Site) -> httpx.Client:
    admin = httpx.Client(base_url=site.url, headers={"User-Agent": BROWSER}, timeout=60)
    admin.get("/wp-login.php")  # sets WordPress's test cookie
    response = admin.post(
        "/wp-login.php",
        data={
            "log": "admin",
            "pwd": ADMIN_PASSWORD,
            "wp-submit": "Log In",
            "redirect_to": f"{site.url}/wp-admin/",
            "testcookie": "1",
        },
    )
    assert response.status_code == 302, response.text[:2000]
    return admin


def _configure(site: Site) -> None:
    """Settings > Moderation service, filled in and saved by the admin."""
    assert site.admin is not None
    page_url = f"{site.url}/wp-admin/options-general.php?page=moderation-service"
    page = site.admin.get(page_url)
    assert page.status_code == 200, page.text[:2000]
    form = _form(page.text, lambda f: f.attrs.get("action", "").endswith("options.php"), "form")
    option = "moderation_service_settings"
    saved = _submit(
        site.admin,
        page_url,
        form,
        {
            f"{option}[url]": site.service_url,
            f"{option}[site_key]": site.site_key,
            f"{option}[webhook_secret]": site.webhook_secret,
            f"{option}[moderator_token]": site.moderator_token,
            f"{option}[rejected_to]": "trash",
            f"{option}[timeout]": "10",
        },
    )
    assert saved.status_code == 302, saved.text[:2000]
    assert "settings-updated=true" in saved.headers["location"]


# --------------------------------------------------------------------------- the tests


def test_settings_are_saved_and_the_connection_tested(site: Site) -> None:
    assert site.admin is not None
    stored = site.php("return get_option('moderation_service_settings');")
    assert stored["url"] == site.service_url
    assert stored["site_key"] == site.site_key
    assert stored["webhook_secret"] == site.webhook_secret
    assert stored["moderator_token"] == site.moderator_token

    page_url = f"{site.url}/wp-admin/options-general.php?page=moderation-service"
    page = site.admin.get(page_url).text
    # Secrets are never shown back; the webhook URL to give the service is.
    for secret in (site.site_key, site.webhook_secret, site.moderator_token):
        assert secret not in page
    assert "rest_route=/moderation-service/v1/webhook" in page.replace("%2F", "/")

    form = _form(
        page,
        lambda f: ("action", "moderation_service_test") in f.fields,
        "Test connection form",
    )
    tested = _submit(site.admin, page_url, form, {})
    assert tested.status_code == 302
    result = site.admin.get(tested.headers["location"]).text
    assert "The service is ready" in result
    assert "The site key is valid." in result
    assert "The moderator token works" in result

    # A whsec_ secret the service would refuse to start with is not saved; a good one is.
    good = webhooks.new_secret()
    checked = site.php(
        "require_once ABSPATH . 'wp-admin/includes/template.php';"
        "$bad = Moderation_Service_Settings::sanitize("
        "  array('webhook_secret' => 'whsec_c2hvcnQ=', 'url' => '" + site.service_url + "'));"
        "$errors = count(get_settings_errors('moderation_service_settings'));"
        "$good = Moderation_Service_Settings::sanitize("
        "  array('webhook_secret' => 'plain-old "
        + good
        + "', 'url' => '"
        + site.service_url
        + "'));"
        "return array($bad['webhook_secret'] ?? '', $errors, $good['webhook_secret'] ?? '',"
        "  count(get_settings_errors('moderation_service_settings')));"
    )
    assert checked == [site.webhook_secret, 1, f"plain-old {good}", 1]

    # Without the nonce the same request is refused.
    forged = site.admin.post(
        "/wp-admin/admin-post.php",
        data={"action": "moderation_service_test"},
        headers={"Referer": page_url},
    )
    assert forged.status_code == 403
    assert "link you followed has expired" in forged.text


def test_comments_land_where_the_service_decides(site: Site) -> None:
    civil = site.post_comment(2, "Ann Reader", "ann@example.org", CIVIL)
    ann = site.comments()[CIVIL]
    assert ann["comment_approved"] == "1"
    assert civil.headers["location"].endswith(f"#comment-{ann['comment_ID']}")

    site.post_comment(
        3,
        "Cheap Pills",
        "deals@pills-discount.example.xyz",
        LINK_SPAM,
        url="https://pills-discount.example.xyz",
    )
    site.post_comment(4, "Troll", "troll@example.net", ABUSE, reply_to=int(ann["comment_ID"]))
    held = site.post_comment(5, "Jonas", "jonas@example.de", GERMAN)

    comments = site.comments()
    spam, abuse, german = comments[LINK_SPAM], comments[ABUSE], comments[GERMAN]
    assert spam["comment_approved"] == "spam"
    assert abuse["comment_approved"] == "trash"  # the setting: refused as abuse goes to Trash
    assert abuse["comment_parent"] == ann["comment_ID"]
    # The service threads the reply under Ann's comment (its own id for it).
    with contextlib.closing(
        sqlite3.connect(f"file:{site.tmp / 'service.db'}?mode=ro", uri=True)
    ) as db:
        (parent,) = db.execute(
            "SELECT parent_id FROM comments WHERE id = ?",
            (int(abuse["meta"]["moderation_service_id"]),),
        ).fetchone()
    assert parent == int(ann["meta"]["moderation_service_id"])
    assert abuse["meta"]["_wp_trash_meta_status"] == "0"  # restored, it would be held
    assert german["comment_approved"] == "0"

    expected = {
        CIVIL: ("approved", "model_clear"),
        LINK_SPAM: ("spam", "spam_score"),
        ABUSE: ("rejected", "abuse_score"),
        GERMAN: ("pending", "unsupported_language"),
    }
    for text, (status, reason) in expected.items():
        meta = comments[text]["meta"]
        assert int(meta["moderation_service_id"]) > 0
        assert meta["moderation_service_status"] == status
        assert reason in [r["code"] for r in meta["moderation_service_reasons"]]
        assert set(meta["moderation_service_scores"]) == {"spam", "abuse"}
        assert meta["moderation_service_model"]
        assert "moderation_service_recheck" not in meta

    # What readers see: the civil comment, not the others; the held one only for its author.
    with site.reader(6) as other:
        public = other.get(site.post_url).text
    assert "finally made the budget make sense" in public
    assert "pills-discount" not in public
    assert "pathetic moron" not in public
    assert "Zahlen zur Arbeitslosigkeit" not in public
    with site.reader(5) as jonas:
        own = jonas.get(urljoin(site.url, held.headers["location"])).text
    assert "Zahlen zur Arbeitslosigkeit" in own
    assert "awaiting moderation" in own

    # The service's webhooks for these decisions arrive signed and change nothing.
    delivered = re.search(r"delivered (\d+)", site.deliver_webhooks())
    assert delivered is not None
    assert int(delivered.group(1)) >= 4
    after = site.comments()
    for text in expected:
        assert after[text]["comment_approved"] == comments[text]["comment_approved"]
        assert int(after[text]["meta"]["moderation_service_event"]) > 0

    # The comment list shows the service's status, reasons and scores.
    assert site.admin is not None
    listing = site.admin.get("/wp-admin/edit-comments.php?comment_status=all").text
    assert "Moderation service" in listing
    assert "model_clear" in listing
    assert "unsupported_language" in listing
    assert "Held for review" in listing
    assert "Published" in listing
    spam_list = site.admin.get("/wp-admin/edit-comments.php?comment_status=spam").text
    assert "spam_score" in spam_list


def _signed(body: bytes, secret: str, timestamp: int) -> dict[str, str]:
    """Signed as the service signs (the Standard Webhooks scheme, through its library)."""
    return {
        "Content-Type": "application/json",
        **webhooks.signed_headers("999999", body, timestamp, [secret]),
    }


def test_the_webhook_route_takes_only_fresh_signed_events(site: Site) -> None:
    url = f"{site.url}/?rest_route=/moderation-service/v1/webhook"
    body = json.dumps(
        {
            "id": 999999,
            "event": "comment.published",
            "created_at": "2020-01-01T00:00:00+00:00",
            "comment": {"id": 987654, "status": "approved"},
        }
    ).encode()
    now = int(time.time())
    unsigned = httpx.post(url, content=body, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401
    wrong = httpx.post(url, content=body, headers=_signed(body, "not-the-secret", now))
    assert wrong.status_code == 401
    stale = httpx.post(url, content=body, headers=_signed(body, site.webhook_secret, now - 3600))
    assert stale.status_code == 401
    tampered = httpx.post(
        url,
        content=body.replace(b"approved", b"rejected"),
        headers=_signed(body, site.webhook_secret, now),
    )
    assert tampered.status_code == 401
    good = httpx.post(url, content=body, headers=_signed(body, site.webhook_secret, now))
    assert good.status_code == 200, good.text
    assert good.json()["code"] == "ignored"  # an old event about a comment this site never had


def test_a_comment_posted_while_the_service_is_down_is_held_then_checked(site: Site) -> None:
    site.service.stop()
    try:
        started = time.monotonic()
        site.post_comment(7, "Bea", "bea@example.org", WHILE_DOWN)
        assert time.monotonic() - started < 10
        held = site.comments()[WHILE_DOWN]
        assert held["comment_approved"] == "0"
        assert held["meta"]["moderation_service_recheck"] == "1"
        assert held["meta"]["moderation_service_error"]
        assert "moderation_service_id" not in held["meta"]
        assert site.admin is not None
        notice = site.admin.get("/wp-admin/index.php").text
        assert "held until the service can check" in notice
    finally:
        site.start_service()

    due = site.php(
        "return array('next' => wp_next_scheduled('moderation_service_cron'), 'now' => time());"
    )
    assert due["next"]
    assert due["next"] <= due["now"]
    cron = httpx.get(f"{site.url}/wp-cron.php", timeout=60)
    assert cron.status_code == 200
    checked = site.comments()[WHILE_DOWN]
    assert checked["comment_approved"] == "1"
    assert checked["meta"]["moderation_service_status"] == "approved"
    assert "moderation_service_recheck" not in checked["meta"]
    assert "moderation_service_error" not in checked["meta"]
    next_run = site.php("return wp_next_scheduled('moderation_service_cron');")
    assert next_run > due["now"]  # and again in five minutes


def test_a_moderator_decision_on_the_service_reaches_wordpress(site: Site) -> None:
    text = "Die Grafik zur Miete ist gut, aber woher stammen die Zahlen aus dem letzten Jahr?"
    site.post_comment(8, "Petra", "petra@example.de", text)
    held = site.comments()[text]
    assert held["comment_approved"] == "0"
    service_id = int(held["meta"]["moderation_service_id"])

    decided = site.api("POST", f"/api/v1/reviews/{service_id}/decision", {"action": "approve"})
    assert decided.status_code == 200, decided.text
    site.deliver_webhooks()
    published = site.comments()[text]
    assert published["comment_approved"] == "1"
    assert published["meta"]["moderation_service_status"] == "approved"
    assert "webhook" in published["meta"]["moderation_service_note"]["text"]


def _row_action(listing: str, action: str, comment_id: str) -> str:
    for href in _page(listing).links:
        query = parse_qs(urlsplit(href).query)
        if query.get("action") == [action] and query.get("c") == [comment_id]:
            return href
    pytest.fail(f"no {action} link for comment {comment_id}")


def test_wordpress_moderators_decisions_reach_the_service(site: Site) -> None:
    assert site.admin is not None
    civil = (
        "Thank you for covering the school meals story. "
        "The new menu sounds good and the photos were lovely."
    )
    trashed = (
        "Warum wird in dem Artikel nicht erwähnt, dass die Brücke schon seit Jahren marode ist?"
    )
    approved = "Sehr guter Bericht, ich hoffe die Stadt baut den Radweg am Fluss wirklich bald."
    site.post_comment(9, "Carl", "carl@example.org", civil)
    site.post_comment(10, "Greta", "greta@example.de", trashed)
    site.post_comment(11, "Hans", "hans@example.de", approved)
    before = site.comments()
    assert [before[t]["comment_approved"] for t in (civil, trashed, approved)] == ["1", "0", "0"]
    ids = {t: before[t]["comment_ID"] for t in (civil, trashed, approved)}
    service_ids = {
        t: before[t]["meta"]["moderation_service_id"] for t in (civil, trashed, approved)
    }

    # The moderator uses the Comments screen's links (they work without JavaScript).
    def click(view: str, action: str, text: str) -> None:
        assert site.admin is not None
        listing = site.admin.get(f"/wp-admin/edit-comments.php?comment_status={view}").text
        link = _row_action(listing, action, ids[text])
        response = site.admin.get(urljoin(f"{site.url}/wp-admin/", link))
        assert response.status_code == 302, response.text[:2000]

    click("all", "spamcomment", civil)
    click("all", "trashcomment", trashed)
    click("all", "approvecomment", approved)
    after = site.comments()
    assert after[civil]["comment_approved"] == "spam"
    assert after[trashed]["comment_approved"] == "trash"
    assert after[approved]["comment_approved"] == "1"
    notes = {t: after[t]["meta"]["moderation_service_note"]["text"] for t in ids}
    assert notes[civil] == 'Label "spam" sent.'  # published on the service: a label only
    assert 'Label "abuse" sent.' in notes[trashed]
    assert '"reject_abuse" sent' in notes[trashed]
    assert 'Label "ham" sent.' in notes[approved]
    assert '"approve" sent' in notes[approved]
    # With the moderator token, the comments the service held are decided there too.
    for text, status in ((trashed, "rejected"), (approved, "approved")):
        assert after[text]["meta"]["moderation_service_status"] == status
        public = httpx.get(f"{site.service_url}/comments/{service_ids[text]}").json()
        assert public["status"] == status

    # "Not spam" puts the comment back and tells the service.
    click("spam", "unspamcomment", civil)
    restored = site.comments()[civil]
    assert restored["comment_approved"] == "1"
    assert restored["meta"]["moderation_service_note"]["text"] == 'Label "ham" sent.'

    labels = site.moderation("labels", "list", "--site", "wordpress")
    assert re.search(r"\bham\s+Thank you for covering the school meals", labels), labels
    assert re.search(r"\babuse\s+Warum wird in dem Artikel", labels), labels
    assert re.search(r"\bham\s+Sehr guter Bericht", labels), labels

    # The service's webhooks for those decisions come after the moderator's: nothing moves.
    site.deliver_webhooks()
    final = site.comments()
    for text, status in ((civil, "1"), (trashed, "trash"), (approved, "1")):
        assert final[text]["comment_approved"] == status


def test_the_plugin_raised_no_php_warnings(site: Site) -> None:
    log = site.tmp / "debug.log"
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    problems = [
        line
        for line in lines
        if "moderation-service" in line
        or "moderation_service" in line
        or "called incorrectly" in line
        or (
            re.search(r"PHP (Fatal|Parse|Notice|Warning)", line)
            # WordPress's own update checks cannot reach WordPress.org from here.
            and "WordPress.org" not in line
        )
    ]
    assert problems == [], "\n".join(problems[:20])


def test_the_plugins_verifier_agrees_with_the_standard_webhooks_library() -> None:
    # The plugin's verify(), run by PHP on signatures made by the scheme's Python library:
    # the scheme's secret form and a plain one, rotation, and what must be refused.
    _require_tools()
    php = _which("php")
    assert php is not None
    body = b'{"id":5,"event":"comment.held","comment":{"id":9,"status":"pending"}}'
    scheme_secret, plain_secret = webhooks.new_secret(), "a plain shared secret 0123456789"
    now = int(time.time())

    def signed(secrets: list[str], at: int = now, message_id: str = "5") -> dict[str, str]:
        return webhooks.signed_headers(message_id, body, at, secrets)

    both = signed([plain_secret, scheme_secret])["webhook-signature"]
    cases = {
        "scheme secret": (signed([scheme_secret]), [scheme_secret], True),
        "plain secret": (signed([plain_secret]), [plain_secret], True),
        "rotation, new": (signed([plain_secret, scheme_secret]), [scheme_secret], True),
        "rotation, old": (signed([plain_secret, scheme_secret]), [plain_secret], True),
        "one of the site's": (signed([plain_secret]), ["other-secret", plain_secret], True),
        "other id": ({**signed([scheme_secret]), "webhook-id": "6"}, [scheme_secret], False),
        "other secret": (signed([plain_secret]), [scheme_secret], False),
        "too old": (signed([scheme_secret], now - 301), [scheme_secret], False),
        "from the future": (signed([scheme_secret], now + 301), [scheme_secret], False),
        "no id": ({**signed([scheme_secret]), "webhook-id": ""}, [scheme_secret], False),
        "v0": (
            {**signed([scheme_secret]), "webhook-signature": "v0," + both.split(" ")[1][3:]},
            [scheme_secret],
            False,
        ),
        "bad whsec": (signed([scheme_secret]), ["whsec_%%%"], False),
    }
    script = (
        "define('ABSPATH', '/');"
        f"require {json.dumps(str(PLUGIN / 'includes' / 'class-webhook.php'))};"
        "$cases = json_decode(stream_get_contents(STDIN), true);"
        "$out = array();"
        "foreach ($cases as $name => $c) {"
        "  $out[$name] = Moderation_Service_Webhook::verify($c['body'], $c['id'],"
        "    $c['timestamp'], $c['signature'], $c['secrets']);"
        "}"
        "echo json_encode($out);"
    )
    given = {
        name: {
            "body": body.decode(),
            "id": headers["webhook-id"],
            "timestamp": headers["webhook-timestamp"],
            "signature": headers.get("webhook-signature", ""),
            "secrets": secrets,
        }
        for name, (headers, secrets, _) in cases.items()
    }
    run = subprocess.run(
        [php, "-r", script],
        input=json.dumps(given),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {name: ok for name, (_, _, ok) in cases.items()}

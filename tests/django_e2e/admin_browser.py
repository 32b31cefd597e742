"""The Django admin in a real browser: Debian's chromium, headless, driven by
Selenium through Debian's chromedriver (no browser download: both paths are
given explicitly, so Selenium Manager is never asked for anything)."""
import os
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER_BIN", "/usr/bin/chromedriver")
WAIT = 20


def make_driver(work):
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            raise AssertionError(f"{path} missing: run scripts/setup-system.sh (Debian chromium, chromium-driver)")
    profile = Path(work) / "chromium-profile"
    profile.mkdir(parents=True, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--no-first-run",
        "--no-default-browser-check",
        "--no-proxy-server",
        "--window-size=1280,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    service = Service(executable_path=CHROMEDRIVER, log_output=str(Path(work) / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(WAIT)
    return driver


class Admin:
    """The admin pages the product description names, used the way an admin does."""

    def __init__(self, driver, base, shots):
        self.driver = driver
        self.base = base
        self.shots = Path(shots)
        self.shots.mkdir(parents=True, exist_ok=True)

    def _wait(self, condition):
        return WebDriverWait(self.driver, WAIT).until(condition)

    def screenshot(self, name):
        path = self.shots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def login(self, username, password):
        self.driver.get(self.base + "/admin/login/?next=/admin/")
        self._wait(EC.presence_of_element_located((By.ID, "id_username"))).send_keys(username)
        self.driver.find_element(By.ID, "id_password").send_keys(password)
        self.driver.find_element(By.CSS_SELECTOR, "#login-form [type=submit]").click()
        self._wait(EC.presence_of_element_located((By.ID, "content-main")))
        assert "/admin/login/" not in self.driver.current_url, "admin login failed"

    def _index(self):
        self.driver.get(self.base + "/admin/")
        self._wait(EC.presence_of_element_located((By.ID, "content-main")))

    def open_company(self, name):
        """Admin index > Authentication > Companies > <name>."""
        self._index()
        module = self.driver.find_element(By.CSS_SELECTOR, "#content-main .app-authentication")
        module.find_element(By.LINK_TEXT, "Companies").click()
        self._wait(EC.presence_of_element_located((By.ID, "result_list")))
        row = self.driver.find_element(
            By.XPATH, f"//table[@id='result_list']//tr[td[normalize-space()='{name}']]"
        )
        row.find_element(By.CSS_SELECTOR, "th a").click()
        self._wait(EC.presence_of_element_located((By.ID, "id_telemetry_enabled")))
        heading = self.driver.find_element(By.CSS_SELECTOR, "#content h2, #content h1").text
        assert name in heading or name in self.driver.page_source, f"not the change page of {name}"

    def set_checkbox(self, field, checked):
        """Tick or untick a checkbox by its label text (e.g. "Technical telemetry IDs allowed")."""
        label = self.driver.find_element(By.XPATH, f"//label[normalize-space()='{field}' or normalize-space()='{field}:']")
        box = self.driver.find_element(By.ID, label.get_attribute("for"))
        if box.is_selected() != checked:
            box.click()
        assert box.is_selected() == checked

    def checkbox(self, field):
        label = self.driver.find_element(By.XPATH, f"//label[normalize-space()='{field}' or normalize-space()='{field}:']")
        return self.driver.find_element(By.ID, label.get_attribute("for")).is_selected()

    def save(self):
        self.driver.find_element(By.CSS_SELECTOR, "input[name=_save]").click()
        self._wait(EC.presence_of_element_located((By.CSS_SELECTOR, "ul.messagelist li.success")))

    def open_config_key(self, key):
        """Admin index > Admin > Config keys > <key>."""
        self._index()
        self.driver.find_element(By.LINK_TEXT, "Config keys").click()
        self._wait(EC.presence_of_element_located((By.ID, "result_list")))
        self.driver.find_element(By.XPATH, f"//table[@id='result_list']//a[normalize-space()='{key}']").click()
        self._wait(EC.presence_of_element_located((By.ID, "id_value")))

    def set_value(self, text):
        box = self.driver.find_element(By.ID, "id_value")
        box.clear()
        box.send_keys(text)

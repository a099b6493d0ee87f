"""User management in a real browser: an admin creates a user who then logs in; a
deactivated user is logged out at their next click; the pages at 1280 and 360 px, with no
console errors or CSP violations."""

from sqlalchemy import select

from app.extensions import db
from app.models import User
from tests.browser.support import log_in_page, screenshot
from tests.helpers import PASSWORD


def test_admin_creates_a_user_who_then_logs_in(live_server, page_for, admin):
    page = page_for(1280, 800)
    log_in_page(page, live_server, admin.username, PASSWORD)
    page.click("nav >> text=Users")
    page.wait_for_url("**/users")
    page.click("[data-testid=new-user]")
    page.wait_for_url("**/users/new")
    assert page.is_disabled("#password")  # "generate" is ticked: nothing to type
    page.fill("#username", "Nora.K")
    page.fill("#display_name", "Nora Kim")
    page.select_option("#role", "supervisor")
    screenshot(page, "users-new-1280")
    page.click("#submit")

    page.wait_for_selector("[data-testid=generated-password]")
    password = page.inner_text("[data-testid=generated-password]").strip()
    assert page.inner_text("[data-testid=once-username]") == "nora.k"
    assert page.is_visible("#copy-password")
    screenshot(page, "users-password-once-1280")
    page.click("text=Done")
    page.wait_for_url("**/users/nora.k")
    assert "User created" in page.inner_text("body")
    screenshot(page, "users-show-1280")

    newcomer = page_for(360, 740)
    log_in_page(newcomer, live_server, "NORA.K", password)
    assert newcomer.url.endswith("/dashboard")  # a supervisor's start page
    newcomer.goto(live_server + "/account")
    assert newcomer.inner_text("[data-testid=account-username]") == "nora.k"
    screenshot(newcomer, "account-360")
    assert page.problems == [] and newcomer.problems == []


def test_admin_types_a_password_for_a_new_user(live_server, page_for, admin):
    page = page_for(1280, 800)
    log_in_page(page, live_server, admin.username, PASSWORD)
    page.goto(live_server + "/users/new")
    page.fill("#username", "olga")
    page.uncheck("#generate")
    page.fill("#password", "a long and quiet passphrase")
    page.click("#submit")
    page.wait_for_url("**/users/olga")
    assert "created with the password you typed" in page.inner_text("body")

    other = page_for(1280, 800)
    log_in_page(other, live_server, "olga", "a long and quiet passphrase")
    assert other.url.endswith("/scan")
    assert page.problems == [] and other.problems == []


def test_deactivated_user_is_logged_out_at_the_next_click(live_server, page_for, admin, staff):
    worker = page_for(360, 740)
    log_in_page(worker, live_server, staff.username, PASSWORD)
    worker.goto(live_server + "/account")

    boss = page_for(1280, 800)
    log_in_page(boss, live_server, admin.username, PASSWORD)
    boss.goto(live_server + "/users/" + staff.username)
    boss.click("#deactivate-submit")
    boss.wait_for_selector("[data-testid=user-status]:text-is('inactive')")
    screenshot(boss, "users-show-deactivated-1280")

    worker.click(".navbar-toggler")  # at 360 px the menu is collapsed
    worker.click("nav >> text=Account")
    worker.wait_for_url("**/login?next=/account")
    assert worker.is_visible("#username")
    row = db.session.scalar(select(User).where(User.username == staff.username))
    db.session.refresh(row)
    assert row.is_active is False
    db.session.rollback()
    assert worker.problems == [] and boss.problems == []


def test_users_and_audit_pages_at_1280_and_360(live_server, page_for, admin, make_user):
    make_user("bruno", "staff", display_name="Bruno Bagman")
    make_user("carla", "supervisor", display_name="Carla Chen")
    make_user("ivan", "staff", is_active=False)
    for width, height in ((1280, 800), (360, 740)):
        page = page_for(width, height)
        log_in_page(page, live_server, admin.username, PASSWORD)
        page.goto(live_server + "/users/bruno")
        page.fill("#edit-display_name", "Bruno B.")
        page.click("#edit-submit")
        page.wait_for_selector("text=Saved bruno.")
        page.goto(live_server + "/users")
        assert page.locator("#users-table tbody tr").count() == 4
        screenshot(page, f"users-{width}")
        page.goto(live_server + "/users?active=no")
        assert page.locator("#users-table tbody tr").count() == 1
        page.goto(live_server + "/users/ada")
        screenshot(page, f"users-show-self-{width}")
        page.goto(live_server + "/audit")
        assert page.locator("#audit-table tbody tr").count() >= 1
        screenshot(page, f"audit-{width}")
        page.goto(live_server + "/users/new")
        screenshot(page, f"users-new-{width}")
        page.goto(live_server + "/account")
        screenshot(page, f"account-{width}")
        page.goto(live_server + "/users/carla")
        page.click("#reset-submit")  # "generate" is ticked by default
        page.wait_for_selector("[data-testid=generated-password]")
        screenshot(page, f"users-password-once-{width}")
        assert page.problems == []

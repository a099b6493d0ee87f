"""What the sites tests share: a second site, a world of bags, dispatches, jobs, imports,
labels and users built in it (tests/helpers.build_world), and people of the default site."""

from __future__ import annotations

from dataclasses import dataclass

from app.extensions import db
from app.models import Site
from app.models.site import default_site_id
from app.scanning import services as scanning
from app.scanning.transaction import run_scan
from app.site_scope import using_site
from tests.helpers import World, build_world

FAR = "FAR"


def make_site(code: str = FAR, timezone: str = "America/Sao_Paulo", name: str = "Far depot") -> Site:
    site = Site(code=code, name=name, timezone=timezone)
    db.session.add(site)
    db.session.commit()
    return site


@dataclass
class TwoSites:
    here: int          # the default site (MAIN): the people logging in work here
    far: Site          # the other site: build_world's bags, dispatches, jobs, users
    world: World


def two_sites(make_user, app) -> TwoSites:
    """build_world in FAR (its users the-staff, the-supervisor, the-admin, target, sleeper
    work there only, the admin in all), and in MAIN: a-staff, a-supervisor, a-admin, and a
    parent SB09001 holding 0909001 (so that MAIN's lists are not empty)."""
    far = make_site()
    with using_site(far.id):
        world = build_world(make_user, app)
    people = {role: make_user(f"a-{role}", role) for role in ("staff", "supervisor", "admin")}
    run_scan(scanning.scan_parent, people["staff"], "SB09001")
    run_scan(scanning.scan_child, people["staff"], "SB09001", "0909001")
    db.session.commit()
    return TwoSites(default_site_id(), far, world)

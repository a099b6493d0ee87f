"""An id in a path beyond what the database's integer columns hold is simply absent: 404,
never a 500 (SQLite's driver cannot even bind it: OverflowError)."""

from __future__ import annotations

BIG = str(2**63)


def int_routes(app) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        if "<int:" not in rule.rule:
            continue
        path = rule.rule
        for argument in rule.arguments:
            path = path.replace(f"<int:{argument}>", BIG).replace(f"<{argument}>", "pass")
        method = "POST" if "POST" in rule.methods else "GET"
        found.append((method, path))
    return sorted(found)


def test_an_id_too_large_for_the_database_is_404_on_every_route(app, client, login_as,
                                                                   admin):
    login_as(admin)
    routes = int_routes(app)
    assert len(routes) >= 10  # jobs, imports, labels, tokens: pages and API

    answers = {(method, path): client.open(path, method=method).status_code
               for method, path in routes}

    assert {route: status for route, status in answers.items() if status != 404} == {}

"""Jobs and imports written for a supervisor (issue 18, item 8): what each job is in words,
the same counts as the import's page, plurals right, no JSON and no internal codes."""

import io
import re

import async_handler
from app.extensions import db
from app.jobs.words import import_sentence


def visible(html: str) -> str:
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main))


def run_jobs(app) -> None:
    db.session.commit()
    while async_handler.JobRunner(app).run_once():
        pass
    db.session.expire_all()


def test_the_sentence_has_its_plurals_right():
    one = {"rows": 3, "parents_created": 1, "children_created": 1, "children_linked": 1,
           "already_linked": 1, "parents_completed": 1, "rejected": 1, "parents_existing": 0}
    assert import_sentence(one, dry_run=False) == (
        "Created 1 parent and 1 child, linked 1 child (1 parent complete); "
        "1 child already linked; 1 row refused.")
    many = {key: 2 for key in one}
    assert import_sentence(many, dry_run=True) == (
        "Would create 2 parents and 2 children, link 2 children (2 parents would be complete); "
        "2 children already linked; 2 rows refused.")


def test_an_import_and_its_dry_run_in_words_with_the_same_counts(app, client, login_as,
                                                                  supervisor):
    login_as(supervisor)
    rows = "code,kind,parent_code\r\nSB00001,parent,\r\n" + "".join(
        f"C000{n},child,SB00001\r\n" for n in range(1, 4)) + "C0001,child,SB00009\r\n"
    answer = client.post("/imports", data={"file": (io.BytesIO(rows.encode()), "batch.csv")},
                         content_type="multipart/form-data")
    import_id = int(answer.headers["Location"].rsplit("/", 1)[1])
    queued = visible(client.get("/jobs").get_data(as_text=True))
    assert "Dry run of batch.csv" in queued and "waiting for a worker" in queued
    assert "running" not in queued
    run_jobs(app)
    client.post(f"/imports/{import_id}/confirm")
    run_jobs(app)

    listing = visible(client.get("/jobs").get_data(as_text=True))
    assert "Dry run of batch.csv" in listing and "Import of batch.csv" in listing
    assert "Created 2 parents and 3 children, linked 3 children (0 parents complete)" in listing
    assert "1 row refused" in listing
    assert not re.search(r"\b\d+ / \d+\b", listing)  # no raw progress counters
    import_page = visible(client.get(f"/imports/{import_id}").get_data(as_text=True))
    assert "Rows read 5" in import_page

    job_id = db.session.scalar(db.text("SELECT import_job_id FROM imports WHERE id = :id"),
                               {"id": import_id})
    page = visible(client.get(f"/jobs/{job_id}").get_data(as_text=True))
    assert "Import of batch.csv" in page and "Rows read 5" in page and "Rows refused 1" in page
    assert "{" not in page and "children_linked" not in page and "_" not in page.replace("batch.csv", "")

"""The catalogue reads run manifests and serves only files a manifest lists, to whom may see them."""

from __future__ import annotations

import os
from pathlib import Path

from reportlib.manifest import file_entry, write_folder_index, write_manifest
from reportlib.portal.catalogue import Catalogue
from reportlib.portal.users import User

ALICE = User("alice", "partner", "P001")
BOB = User("bob", "partner", "P002")
ANA = User("ana", "analyst")


def make_run(root: Path, folder: str, period: str, family: str, stem: str, parameters: dict,
             suffixes=(".xlsx", ".html", ".ipynb"), status: str = "ok") -> Path:
    """A run as the runner leaves it: its files, its manifest, the folder's index."""
    where = root / folder / period
    where.mkdir(parents=True, exist_ok=True)
    files = []
    for suffix in suffixes:
        path = where / f"{stem}{suffix}"
        path.write_text(f"{family} {stem} {suffix}", encoding="utf-8")
        files.append(file_entry(path))
    write_manifest(where / f"{stem}.manifest.json", {
        "family": family, "stem": stem, "status": status, "parameters": parameters, "files": files,
        "started_at": "2026-11-02T08:00:00+00:00", "duration_s": 1.2, "error": None if status == "ok" else "boom"})
    write_folder_index(where)
    return where


def test_a_partner_sees_its_own_good_runs_and_their_documents_an_analyst_sees_everything(tmp_path):
    make_run(tmp_path, "statements", "2026-10", "statement", "p001-alpha", {"partner": "P001", "month": "2026-10"})
    make_run(tmp_path, "statements", "2026-10", "statement", "p002-beta", {"partner": "P002", "month": "2026-10"})
    make_run(tmp_path, "statements", "2026-09", "statement", "p001-alpha", {"partner": "P001", "month": "2026-09"},
             status="failed", suffixes=())
    make_run(tmp_path, "qbr", "2026q3", "qbr", "p001-alpha", {"partner": "P001", "quarter": "2026Q3"},
             suffixes=(".pptx", ".html"))
    make_run(tmp_path, "qbr", "2026q3", "qbr-portfolio", "portfolio-2026q3", {"quarter": "2026Q3"})
    make_run(tmp_path, "dashboard", "2026-10", "dashboard", "dashboard-2026-10", {"month": "2026-10"})
    catalogue = Catalogue(tmp_path)
    mine = {(r.folder, r.period, r.stem) for r in catalogue.visible(ALICE)}
    assert mine == {("statements", "2026-10", "p001-alpha"), ("qbr", "2026q3", "p001-alpha")}
    assert len(catalogue.visible(ANA)) == 6
    assert [r.period for r in catalogue.visible(ANA)][:2] == ["2026q3", "2026q3"]  # newest period first
    assert catalogue.document(ALICE, "statements", "2026-10", "p001-alpha.xlsx") is not None
    assert catalogue.document(ALICE, "statements", "2026-10", "p001-alpha.ipynb") is None  # analysts only
    assert catalogue.document(ANA, "statements", "2026-10", "p001-alpha.ipynb") is not None
    for folder, period, name in [("statements", "2026-10", "p002-beta.xlsx"), ("qbr", "2026q3", "portfolio-2026q3.xlsx"),
                                 ("dashboard", "2026-10", "dashboard-2026-10.html"),
                                 ("statements", "2026-10", "p001-alpha.manifest.json"),
                                 ("statements", "2026-10", "manifest.json"),
                                 ("statements", "2026-10", "p001-alpha.pptx")]:
        assert catalogue.document(ALICE, folder, period, name) is None, name
    assert catalogue.run(BOB, "statements", "2026-10", "p001-alpha") is None
    assert catalogue.run(ALICE, "statements", "2026-09", "p001-alpha") is None  # failed: analysts only
    assert catalogue.run(ANA, "statements", "2026-09", "p001-alpha").error == "boom"


def test_a_new_or_changed_manifest_is_read_again(tmp_path):
    catalogue = Catalogue(tmp_path)
    assert catalogue.visible(ALICE) == []
    make_run(tmp_path, "statements", "2026-10", "statement", "p001-alpha", {"partner": "P001", "month": "2026-10"})
    assert len(catalogue.visible(ALICE)) == 1
    make_run(tmp_path, "statements", "2026-10", "statement", "p001-alpha", {"partner": "P002", "month": "2026-10"})
    assert catalogue.visible(ALICE) == [] and len(catalogue.visible(BOB)) == 1


def test_no_path_outside_the_outputs_folder_and_no_link_is_ever_served(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the portal", encoding="utf-8")
    root = tmp_path / "outputs"
    where = make_run(root, "statements", "2026-10", "statement", "p001-alpha", {"partner": "P001", "month": "2026-10"})
    # A manifest that names files outside its folder, and a link inside it that points out.
    os.symlink(secret, where / "p001-link.xlsx")
    (root / "statements" / "2026-11").symlink_to(where, target_is_directory=True)
    write_manifest(where / "p001-evil.manifest.json", {
        "family": "statement", "stem": "p001-evil", "status": "ok", "parameters": {"partner": "P001"},
        "files": [{"name": "../../secret.txt", "bytes": 1, "sha256": "x"}, {"name": "/etc/passwd", "bytes": 1},
                  {"name": "p001-link.xlsx", "bytes": 1}, {"name": "..", "bytes": 1}]})
    catalogue = Catalogue(root)
    for user in (ALICE, ANA):
        for folder, period, name in [("statements", "2026-10", "../../secret.txt"), ("..", "..", "secret.txt"),
                                     ("statements", "2026-10", "p001-link.xlsx"), ("statements", "..", "2026-10"),
                                     ("statements", "2026-11", "p001-alpha.xlsx"), ("statements", "2026-10", ".."),
                                     ("statements", "2026-10", "/etc/passwd"), ("statements", "2026-10", "")]:
            assert catalogue.document(user, folder, period, name) is None, (user.name, folder, period, name)
    evil = catalogue.run(ANA, "statements", "2026-10", "p001-evil")
    assert [d.name for d in evil.files] == ["p001-link.xlsx"]  # names with a path are dropped when read
    assert {r.period for r in catalogue.visible(ANA)} == {"2026-10"}  # the linked folder is not listed


def test_the_portal_and_the_catalogue_page_read_one_model_of_the_reports(tmp_path):
    """outputs/index.html and the portal list the same reports, and neither follows a link out."""
    from reportlib.delivery.catalogue import entries

    root = tmp_path / "outputs"
    where = make_run(root, "statements", "2026-10", "statement", "p001-alpha", {"partner": "P001", "month": "2026-10"})
    make_run(root, "statements", "2026-10", "statement", "p002-beta", {"partner": "P002", "month": "2026-10"})
    make_run(root, "qbr", "2026q3", "qbr", "p001-alpha", {"partner": "P001", "quarter": "2026Q3"},
             suffixes=(".pptx", ".html"))
    make_run(root, "dashboard", "2026-10", "dashboard", "dashboard-2026-10", {"month": "2026-10"}, status="failed",
             suffixes=())
    (root / "statements" / "2026-11").symlink_to(where, target_is_directory=True)
    elsewhere = make_run(tmp_path / "elsewhere", "qbr", "2026q2", "qbr", "p009-other", {"partner": "P009"})
    (root / "qbr" / "2026q2").symlink_to(elsewhere, target_is_directory=True)
    portal = {(f"{r.folder}/{r.period}", r.stem, r.status) for r in Catalogue(root).runs()}
    page = {(e.folder, e.stem, e.status) for e in entries(root)}
    assert page == portal == {("statements/2026-10", "p001-alpha", "ok"), ("statements/2026-10", "p002-beta", "ok"),
                              ("qbr/2026q3", "p001-alpha", "ok"), ("dashboard/2026-10", "dashboard-2026-10", "failed")}

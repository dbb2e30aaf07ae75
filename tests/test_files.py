import os
from pathlib import Path

import pytest

from reportlib.errors import ConfigError
from reportlib.files import (as_stem, atomic_path, atomic_write, entity_stem, id_stem, plain_name, safe_join,
                             slugify)


@pytest.mark.parametrize("name", ["../../etc/passwd", "/abs/olute", "..", "=cmd|' /c calc'!A1", "CON", "a\\b",
                                  "", "   ", "\u202eevil", "P001 Zoë & Søn"])
def test_slug_never_leaves_its_folder(name, tmp_path):
    slug = slugify(name)
    assert slug and "/" not in slug and "\\" not in slug and not slug.startswith((".", "-"))
    assert safe_join(tmp_path, slug).parent == tmp_path.resolve()


def test_slugify_is_readable():
    assert slugify("P001", "Zoë & Søn <Consulting>") == "p001-zoe-son-consulting"


def test_safe_join_refuses_escapes(tmp_path):
    with pytest.raises(ConfigError, match="outside"):
        safe_join(tmp_path, "..", "x")
    with pytest.raises(ConfigError):
        safe_join(tmp_path, "/etc/passwd")


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "report.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as handle:
            handle.write("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["report.txt"]  # no temporary file left behind


def test_atomic_path_publishes_with_the_usual_permissions(tmp_path):
    target = tmp_path / "out.bin"
    with atomic_path(target) as tmp:
        Path(tmp).write_bytes(b"ok")
        assert not target.exists()
    assert target.read_bytes() == b"ok"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


TRICKY_IDS = ["P001", "P101", "p101", "P001 ", " P001", "P-101", "P 101", "P.101", "P_101", "Ｐ101", "", " ", "P1",
              "P", "P-1", "1"]


def test_every_id_gets_its_own_stem_even_where_case_is_ignored():
    stems = [id_stem(entity, "Twin") for entity in TRICKY_IDS]
    assert len({stem.casefold() for stem in stems}) == len(TRICKY_IDS), stems
    assert stems == [id_stem(entity, "Twin") for entity in TRICKY_IDS]  # the same every time
    # the id's slug and the name cannot be confused: P-1 named X is not P named 1 X
    assert id_stem("P-1", "X") != id_stem("P", "1 X")
    for stem in stems:
        assert as_stem(stem) == stem and safe_join(Path("/tmp"), stem).name == stem
        assert not stem.startswith(("-", ".")) and len(stem) <= 80


def test_plain_ids_keep_their_stem_and_others_get_a_hash_of_the_exact_id():
    assert id_stem("P001", "Zoë & Søn") == "p001-zoe-son" == slugify("P001", "Zoë & Søn")
    assert id_stem("p001", "Zoë & Søn").startswith("p001-zoe-son--")
    assert id_stem("P001 ", "Acme") != id_stem("P001  ", "Acme")
    # a stem too long to keep whole ends in the hash of the id, not in a cut-off name
    long = id_stem("P001", "x" * 200)
    assert len(long) <= 80 and long != id_stem("P002", "x" * 200) and "--" in long
    assert [plain_name(n) for n in ("Retail USD", "AZ Gold USD", "P1", "retail usd", "RETAIL USD", "Retail  USD",
                                    " Retail USD", "A-Z")] == [True, True, True, False, False, False, False, False]


def test_entity_stem_hashes_the_whole_key():
    one = entity_stem("C1", "Cust", "Retail usd", key=("C1", "Retail usd"), plain=False)
    other = entity_stem("C1", "Cust", "Retail usd", key=("C1 Retail", "usd"), plain=False)
    assert one != other and one.startswith("c1-cust-retail-usd--")

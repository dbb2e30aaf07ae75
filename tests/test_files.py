import os
from pathlib import Path

import pytest

from reportlib.errors import ConfigError
from reportlib.files import atomic_path, atomic_write, safe_join, slugify


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

"""The resource policy (issue 13, item 1): no byte of a file outside the content folder reaches any output,
whatever an SVG, a symlink or an image URL in the content says."""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.resources import RefusedResource, read_asset_file, svg_problems

from .conftest import MakeContent

CHAPTER = """\
---
id: a
title: 甲
---

## 问题 {#q1}

![e](images/evil.svg)
"""

# A PNG whose bytes are easy to look for in every output.
SECRET_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
MARKER = b"TOP-SECRET-OUTSIDE-MARKER"


def _evil_svgs(secret: Path) -> dict[str, str]:
    uri = secret.as_uri()
    return {
        "image-file-uri": f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="10" height="10"><image xlink:href="{uri}" width="10" height="10"/></svg>',
        "image-href": f'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        f'<image href="{uri}" width="10" height="10"/></svg>',
        "use": f'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><use href="{uri}#x"/></svg>',
        "relative": '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        '<image href="../../outside/secret.png" width="10" height="10"/></svg>',
        "style-import": f'<svg xmlns="http://www.w3.org/2000/svg"><style>@import "{uri}";</style></svg>',
        "style-url": f'<svg xmlns="http://www.w3.org/2000/svg"><style>rect {{ fill: url({uri}) }}</style>'
        '<rect width="5" height="5"/></svg>',
        "attr-url": f'<svg xmlns="http://www.w3.org/2000/svg"><rect style="fill: url(\'{uri}\')" width="5" '
        'height="5"/></svg>',
        "presentation-url": f'<svg xmlns="http://www.w3.org/2000/svg"><rect fill="url({uri})" width="5" '
        'height="5"/></svg>',
        "external-entity": '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>',
        "data-svg": '<svg xmlns="http://www.w3.org/2000/svg"><image href="data:image/svg+xml;base64,'
        + base64.b64encode(f'<svg xmlns="http://www.w3.org/2000/svg"><image href="{uri}"/></svg>'.encode()).decode()
        + '"/></svg>',
        "script": '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "stylesheet-instruction": f'<?xml-stylesheet href="{uri}"?><svg xmlns="http://www.w3.org/2000/svg"/>',
        "foreign-object": '<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><object xmlns="http://www.w3.org/1999/'
        f'xhtml" data="{uri}"/></foreignObject></svg>',
        "event-handler": '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
    }


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    path = outside / "secret.png"
    path.write_bytes(SECRET_PNG + MARKER)
    (outside / "passwd").write_bytes(MARKER)
    return path


@pytest.mark.parametrize("case", sorted(_evil_svgs(Path("/x")).keys()))
def test_every_outside_reference_in_an_svg_is_refused(case: str, secret: Path) -> None:
    assert svg_problems(_evil_svgs(secret)[case].encode())


def test_a_safe_svg_passes() -> None:
    png = base64.b64encode(SECRET_PNG).decode()
    svg = (
        '<?xml version="1.0"?><!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
        '"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd"><svg xmlns="http://www.w3.org/2000/svg" '
        'xmlns:xlink="http://www.w3.org/1999/xlink"><defs><linearGradient id="g"/><rect id="r" width="1" '
        'height="1"/></defs><use xlink:href="#r"/><rect fill="url(#g)" width="2" height="2"/>'
        f'<image href="data:image/png;base64,{png}" width="1" height="1"/><style>rect {{ fill: url(#g) }}</style>'
        '<a href="https://example.com/"><text>link</text></a></svg>'
    )
    assert svg_problems(svg.encode()) == []


def test_check_names_the_chapter_line_and_the_reference(make_content: MakeContent, secret: Path) -> None:
    root = make_content({"01-a.md": CHAPTER, "images/evil.svg": _evil_svgs(secret)["image-file-uri"]})
    result = CliRunner().invoke(main, ["check", "--content", str(root)])
    assert result.exit_code == 1
    assert "01-a.md:8: error: image 'images/evil.svg' refused" in result.output
    assert secret.as_uri() in result.output
    assert "Traceback" not in result.output


def _all_output_bytes(out: Path) -> bytes:
    chunks = []
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        data = path.read_bytes()
        chunks.append(data)
        if path.suffix in (".epub", ".apkg", ".zip"):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                chunks.extend(archive.read(name) for name in archive.namelist())
    return b"".join(chunks)


@pytest.mark.parametrize("case", ["image-file-uri", "relative", "use", "data-svg"])
def test_no_output_takes_an_outside_file(make_content: MakeContent, secret: Path, tmp_path: Path, case: str) -> None:
    root = make_content({"01-a.md": CHAPTER, "images/evil.svg": _evil_svgs(secret)[case]})
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["build", "html", "epub", "anki", "--content", str(root), "--out", str(out),
                                       "--no-cache", "-q"])
    assert result.exit_code == 1, result.output
    assert "refused" in result.output
    assert not out.exists() or MARKER not in _all_output_bytes(out)


def test_symlinked_image_to_outside_is_refused(make_content: MakeContent, secret: Path) -> None:
    root = make_content({"01-a.md": CHAPTER.replace("evil.svg", "link.png")})
    (root / "images").mkdir()
    (root / "images" / "link.png").symlink_to(secret)
    result = CliRunner().invoke(main, ["check", "--content", str(root)])
    assert result.exit_code == 1
    assert "01-a.md:8: error: image path escapes the content folder" in result.output


def test_read_asset_refuses_an_svg_changed_after_check(tmp_path: Path, secret: Path) -> None:
    (tmp_path / "a.svg").write_text(_evil_svgs(secret)["image-href"], encoding="utf-8")
    with pytest.raises(RefusedResource):
        read_asset_file(tmp_path, Path("a.svg"))  # type: ignore[arg-type]


def test_pdf_fetcher_reads_nothing_outside(tmp_path: Path, secret: Path) -> None:
    from pipeline.pdf.images import fetcher

    content = tmp_path / "content"
    content.mkdir()
    (content / "ok.png").write_bytes(SECRET_PNG)
    fetch = fetcher(str(content)).fetch
    fetch("handbook-asset:ok.png")  # the content folder's own file is read
    for url in (secret.as_uri(), "file:///etc/passwd", "handbook-asset:../outside/secret.png", "http://example.com/x",
                "https://example.com/x.png", "ftp://example.com/x", "file://server/share/x.png"):
        with pytest.raises(ValueError, match="handbook refused to read"):
            fetch(url)


@pytest.mark.parametrize("formats", [("html", "epub", "anki"), ("pdf",)])
def test_renderers_refuse_an_svg_the_parser_did_not_see(
    make_content: MakeContent, secret: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, formats: tuple[str, ...]
) -> None:
    """The SVG changed after it was checked (or the parser missed it): every output's own reading refuses
    it, the PDF's fetcher included, and no byte of the outside file is written anywhere."""
    from pipeline import pdf as pdf_module
    from pipeline.fonts import ensure_fonts
    from pipeline.parser import chapter

    shared = Path(__file__).resolve().parent.parent / ".cache"
    if "pdf" in formats and not (shared / "fonts").is_dir():
        pytest.skip("derived fonts are not in .cache (make setup)")
    fonts = ensure_fonts(shared) if "pdf" in formats else None
    monkeypatch.setattr(pdf_module, "ensure_fonts", lambda folder, **options: fonts)
    monkeypatch.setattr(chapter, "image_problem", lambda path: [])
    root = make_content({"01-a.md": CHAPTER, "images/evil.svg": _evil_svgs(secret)["image-href"]})
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["build", *formats, "--content", str(root), "--out", str(out), "--no-cache",
                                       "--jobs", "1", "-q"])
    assert result.exit_code == 1, result.output
    assert "refused" in result.output or "unsafe SVG" in result.output, result.output
    if formats == ("pdf",):  # the fetcher's refusal points at the Markdown that uses the image
        assert "01-a.md:8: error: handbook refused to read: images/evil.svg" in result.output
    assert not out.exists() or MARKER not in _all_output_bytes(out)

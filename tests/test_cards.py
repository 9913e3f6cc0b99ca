"""The printable flashcards, judged from the PDF's text positions (poppler's pdftotext -bbox)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pypdf
import pytest

from pipeline.build import Options, build
from pipeline.pages import PAGES_FILE
from pipeline.pdf.cards import CARDS_NAME, SHEET_MARGIN

from .conftest import FIXTURES, REPO
from .test_pdf import MM, pdftotext

EPOCH = 1_700_000_000


def cache_dir(tmp_path: Path) -> Path:
    shared = REPO / ".cache"
    return shared if shared.is_dir() else tmp_path / "cache"


def many_questions(root: Path, count: int, *, long_answer: int | None = None) -> None:
    """A chapter of ``count`` short questions (question ``long_answer`` with very long key points)."""
    parts = ["---\nid: many\ntitle: 多题\n---\n"]
    for n in range(1, count + 1):
        points = "要点很长，" * 150 if n == long_answer else f"第{n}题的要点。"
        parts.append(f"\n## 第{n}题 {{#q{n} difficulty=1}}\n\n> [!要点]\n> {points}\n\n答案{n}。\n")
    (root / "02-many.md").write_text("".join(parts), encoding="utf-8")


def build_cards(content: Path, out: Path, cache: Path, **options: object) -> Path:
    build(content, ["cards"], Options(out_dir=out, cache_dir=cache, source_date_epoch=EPOCH, **options))  # type: ignore[arg-type]
    return out / CARDS_NAME


def labels_by_page(pdf: Path) -> list[tuple[float, float, dict[str, tuple[float, float, float, float]]]]:
    """Per page: width, height and each card label ("2.7") at its box (x0, y0, x1, y1)."""
    html = pdftotext(pdf, "-bbox")
    word = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(\d+\.\d+)</word>')
    pages = []
    for page in re.finditer(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', html, re.S):
        found = {m.group(5): tuple(float(m.group(i)) for i in range(1, 5)) for m in word.finditer(page.group(3))}
        pages.append((float(page.group(1)), float(page.group(2)), found))  # type: ignore[arg-type]
    return pages


@pytest.fixture
def content(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(FIXTURES / "mini", root)
    many_questions(root, 12, long_answer=5)
    return root


def test_backs_stand_behind_their_fronts_mirrored(content: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / PAGES_FILE).write_text(json.dumps({"format": 1, "handbook": "mini", "pages": {"q3": 37}}), encoding="utf-8")
    pdf = build_cards(content, out, cache_dir(tmp_path))
    pages = labels_by_page(pdf)
    assert len(pages) % 2 == 0 and len(pages) == 4  # 14 cards: two sheets, fronts and backs
    assert sorted(label for page in pages[0::2] for label in page[2]) == sorted(
        ["1.1", "1.2", *(f"2.{n}" for n in range(1, 13))]
    )
    for (width, _, fronts), (_, _, backs) in zip(pages[0::2], pages[1::2], strict=True):
        assert len(fronts) <= 8 and backs.keys() == fronts.keys()
        for label, (x0, y0, _, _) in fronts.items():
            front_column = 0 if x0 < width / 2 else 1
            back_x = backs[label][0]
            assert (0 if back_x < width / 2 else 1) == 1 - front_column, label  # mirrored left to right
            assert abs(backs[label][1] - y0) < 1  # same row, same height on the sheet
            # the label sits at the card's left edge on both sides: the back's box is the front's, flipped
            card_width = (width - 2 * SHEET_MARGIN * MM) / 2
            front_left = SHEET_MARGIN * MM + front_column * card_width
            back_left = SHEET_MARGIN * MM + (1 - front_column) * card_width
            assert abs((x0 - front_left) - (back_x - back_left)) < 1
    text = pdftotext(pdf)
    assert "全文见第 37 页" in text and text.count("全文见第") == 1  # only the page that is known
    assert "第 2 章 · 多题" in text and "基础" in text  # chapter and difficulty on the front


def test_long_key_points_are_cut_with_a_marker_inside_the_card(content: Path, tmp_path: Path) -> None:
    pdf = build_cards(content, tmp_path / "out", cache_dir(tmp_path))
    html = pdftotext(pdf, "-bbox")
    back = re.findall(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', html, re.S)[1]
    width, height = float(back[0]), float(back[1])
    words = re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', back[2])
    assert any("……" in w[4] for w in words)
    # every word inside the grid of cards: nothing runs past a card's bottom into the margin
    for x0, y0, x1, y1, _ in words:
        assert float(x0) >= SHEET_MARGIN * MM - 1 and float(x1) <= width - SHEET_MARGIN * MM + 1
        assert float(y0) >= SHEET_MARGIN * MM - 1 and float(y1) <= height - SHEET_MARGIN * MM + 1
    assert "2.5" in pdftotext(pdf, "-f", "2", "-l", "2")  # the card with the long key points is there


def test_paper_size_and_selection(content: Path, tmp_path: Path) -> None:
    config = content / "handbook.toml"
    config.write_text(config.read_text(encoding="utf-8") + '\n[pdf]\npage_size = "Letter"\n', encoding="utf-8")
    pdf = build_cards(content, tmp_path / "out", cache_dir(tmp_path), chapters=("basics",))
    reader = pypdf.PdfReader(pdf)
    assert len(reader.pages) == 2
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (612, 792)
    assert set(labels_by_page(pdf)[0][2]) == {"1.1", "1.2"}


def test_same_source_same_bytes(content: Path, tmp_path: Path) -> None:
    first = build_cards(content, tmp_path / "a", cache_dir(tmp_path)).read_bytes()
    assert build_cards(content, tmp_path / "b", cache_dir(tmp_path)).read_bytes() == first

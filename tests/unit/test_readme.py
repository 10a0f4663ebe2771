"""The README is the only manual: every setting must be in its configuration reference."""

from pathlib import Path

from wiring.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"
DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_setting_is_documented():
    text = README.read_text(encoding="utf-8")
    text += "".join(p.read_text(encoding="utf-8") for p in DOCS.glob("*.md"))
    missing = [n for n in Settings.model_fields if f"MESHDASH_{n.upper()}" not in text]
    assert missing == []


def test_readme_has_exactly_the_two_setup_commands():
    text = README.read_text(encoding="utf-8")
    assert "make run" in text and "make test" in text

"""Every data table of the Link pages and the portal is written through one macro
(templates/_table.html), and that macro gives what docs/ACCESSIBILITY.md asks of a table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.i18n import environment

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
MACRO = TEMPLATES / "_table.html"


def test_no_template_writes_its_own_table() -> None:
    pages = [p for p in TEMPLATES.rglob("*.html") if p != MACRO]
    assert len(pages) > 20
    own = sorted(
        str(p.relative_to(TEMPLATES)) for p in pages if re.search(r"<table|<caption", p.read_text())
    )
    assert own == [], "write the table with {% call table(...) %} from _table.html"
    using = [p for p in pages if '{% from "_table.html" import table %}' in p.read_text()]
    assert len(using) >= 3


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_macro_names_the_region_by_its_caption_and_scopes_the_headers(
    language: str,
) -> None:
    page = (
        environment(language)
        .from_string(
            '{% from "_table.html" import table %}'
            '{% call table("holds", _("Holds"), (_("Date"), (_("Amount"), "num"),'
            ' ("<Actions>", "visually-hidden"))) %}<tr><td>1</td></tr>{% endcall %}'
            '{% call table("days", "Days", ("Mon",), shown=True, table_class="calendar") %}'
            "{% endcall %}"
        )
        .render()
    )
    hidden, shown = page.split("</div>")[:2]
    assert 'role="region" aria-labelledby="holds-caption" tabindex="0"' in hidden
    assert '<caption id="holds-caption" class="visually-hidden">' in hidden
    amount = "Montant" if language == "fr" else "Amount"
    assert f'<th scope="col" class="num">{amount}</th>' in hidden
    assert '<th scope="col"><span class="visually-hidden">&lt;Actions&gt;</span></th>' in hidden, (
        "labels are escaped; a hidden header is still read"
    )
    assert "<tbody><tr><td>1</td></tr></tbody>" in hidden
    assert '<table class="calendar">' in shown
    assert '<caption id="days-caption">Days</caption>' in shown
    assert len(re.findall(r"<th ", page)) == 4
    assert all('scope="col"' in th for th in re.findall(r"<th [^>]*>", page))

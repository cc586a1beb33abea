from renkei.layout import load_layout
from renkei.layout_doc import render_markdown
from renkei.settings import REPO_ROOT


def test_interface_docs_match_the_layouts():
    for path in (REPO_ROOT / "plugins" / "renkei" / "layouts").glob("*.json"):
        doc = REPO_ROOT / "docs" / "interfaces" / f"{path.stem}.md"
        assert doc.read_text("utf-8") == render_markdown(load_layout(path.stem)), (
            f"regenerate with: renkei layout-doc {path.stem} > {doc.relative_to(REPO_ROOT)}")


def test_layout_fields_tile_each_record():
    layout = load_layout("eligibility_extract")
    for rt in layout.records.values():
        assert sum(f.length for f in rt.fields) == layout.record_length

"""Write the nodes' help pages (web/docs/<node_id>.md, shown in ComfyUI's node library) from README.md's node
table, their one source: `python scripts/node_docs.py`. tests/test_node_docs.py checks they are current."""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "web" / "docs"
ROW = re.compile(r"^\| `(?P<node>[\w-]+)` \| (?P<inputs>.*?) \| (?P<outputs>.*?) \| (?P<what>.*) \|$")


def node_rows(readme: str) -> dict[str, dict[str, str]]:
    """The README's node table: node id -> its inputs, outputs and description."""
    table = readme.split("## Nodes", 1)[1].split("\n## ", 1)[0]
    return {m["node"]: m.groupdict() for m in map(ROW.match, table.splitlines()) if m}


def page(row: dict[str, str]) -> str:
    what = row["what"].replace("See *Painting in the page* below.", "See the README's *Painting in the page*.")
    return f"# {row['node']}\n\n{what}\n\n**Inputs** (default): {row['inputs']}\n\n**Outputs**: {row['outputs']}\n"


def pages(readme: str) -> dict[str, str]:
    return {f"{node}.md": page(row) for node, row in node_rows(readme).items()}


def main() -> int:
    DOCS.mkdir(parents=True, exist_ok=True)
    for name, text in pages((REPO / "README.md").read_text()).items():
        (DOCS / name).write_text(text)
        print(DOCS / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Write the ECB+ benchmark articles (docs.jsonl) as one text file each into a raw folder.

Usage: python scripts/ecbplus_to_raw.py OUT_DIR [--jsonl FILE] [--limit N]

Each article becomes OUT_DIR/<doc_id>.txt (its text, one sentence per line, as in the JSONL).
Articles with a source URL also get a row in OUT_DIR/sources.csv (columns path,url), the
metadata file the ingest stage reads, so reports can link back to the page.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

DEFAULT_JSONL = Path(__file__).resolve().parent.parent.parent / "shared" / "bench" / "ecbplus" / "docs.jsonl"


def write_raw(jsonl: Path, out_dir: Path, limit: int | None = None) -> int:
    """Write each JSONL article as <doc_id>.txt under out_dir; returns the number written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    urls: list[tuple[str, str]] = []
    n = 0
    with open(jsonl, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            if limit is not None and n >= limit:
                break
            doc = json.loads(line)
            name = f"{doc['doc_id']}.txt"
            (out_dir / name).write_text(doc["text"].rstrip("\n") + "\n", encoding="utf-8")
            if doc.get("source_url"):
                urls.append((name, doc["source_url"]))
            n += 1
    if urls:
        with open(out_dir / "sources.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["path", "url"])
            writer.writerows(urls)
    return n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="raw folder to write (created if missing)")
    parser.add_argument("--jsonl", type=Path, default=DEFAULT_JSONL, help=f"articles (default: {DEFAULT_JSONL})")
    parser.add_argument("--limit", type=int, help="write only the first N articles")
    args = parser.parse_args(argv)
    if not args.jsonl.is_file():
        print(f"ecbplus_to_raw: {args.jsonl} not found; pass --jsonl FILE", file=sys.stderr)
        return 2
    n = write_raw(args.jsonl, args.out_dir, args.limit)
    print(f"wrote {n} articles to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

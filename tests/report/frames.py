"""Report input frames built from the seed claims, shaped as the warehouse hands them to render_report."""

from __future__ import annotations

import pandas as pd

from flows.reconcile.compare import compare_groups
from flows.reconcile.group import group_claims
from flows.reconcile.trust import source_trust
from flows.report.render import CONFLICT_COLUMNS, EVIDENCE_COLUMNS
from flows.settings import ReconcileSettings
from tests.reconcile.cases import load_case

SPUN_REPAIRS = {" v ": " with ", "wake up": "Happens", "choose": "like", "component": "part"}


def seed_frames(reviews: dict[str, tuple[str, str | None, str | None]] | None = None,
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(conflicts, evidence) from the seed claims; ``reviews`` maps conflict_id -> (decision, value, note)."""
    settings = ReconcileSettings()
    case, claims, texts = load_case("seeds.json")
    spins = {d: m["spin_score"] for d, m in case["docs"].items()}
    trust, _ = source_trust(texts, spins, settings)
    groups = group_claims(claims, settings)
    verdicts = compare_groups(groups, trust, settings)
    by_id = {c.claim_id: c for c in claims}
    reviews = reviews or {}
    conflicts, evidence = [], []
    for v in verdicts:
        decision, value, note = reviews.get(v.conflict_id, (None, None, None))
        conflicts.append({
            "conflict_id": v.conflict_id, "group_key": v.group_key, "kind": v.kind, "verdict": v.verdict,
            "severity": v.severity, "summary": v.summary, "explanation": v.explanation,
            "likely_value": v.likely_value, "confidence": v.confidence,
            "n_docs": len({by_id[c].doc_id for c in v.claim_ids}), "n_claims": len(v.claim_ids),
            "n_positions": len({v.positions[c] for c in v.claim_ids}),
            "review_decision": decision, "review_value": value, "review_note": note,
            "reviewed_at": pd.Timestamp("2026-11-23 10:00:00") if decision else None,
        })
        for cid in v.claim_ids:
            c = by_id[cid]
            spun = spins[c.doc_id] >= settings.spun_threshold
            repaired = c.sentence
            for bad, good in SPUN_REPAIRS.items():
                repaired = repaired.replace(bad, good) if spun else repaired
            evidence.append({
                "conflict_id": v.conflict_id, "claim_id": cid, "doc_id": c.doc_id,
                "source_path": case["docs"][c.doc_id]["path"], "outlet": c.outlet, "position": v.positions[cid],
                "sentence": repaired, "original_text": c.sentence if spun else None, "is_spun": spun,
                "trust_weight": trust[c.doc_id], "time_value": c.time_value, "time_start": c.time_start,
                "time_end": c.time_end, "granularity": c.granularity, "extractor": c.extractor,
                "confidence": c.confidence, "raw_start": c.raw_start, "raw_end": c.raw_end,
            })
    return pd.DataFrame(conflicts, columns=list(CONFLICT_COLUMNS)), pd.DataFrame(evidence, columns=list(EVIDENCE_COLUMNS))

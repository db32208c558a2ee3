"""CLINC150 routing (request text → one of ten domain agents, or escalate), side by side on test.jsonl.

The teacher is the router whose logged choices we distil: CLINC150's human domain labels stand in
for an LLM router's decisions (``out_of_scope`` becomes ``escalate``). Everything is fitted on
train.jsonl; every threshold and every choice among candidates is made on train's own held-out
split or on val.jsonl; test.jsonl only gives the figures printed:

- automatic choice: ``AutoDistill`` with the default ``knee`` policy;
- the best keyword student with ≤ 32 rules (keyword decision lists and tree-derived rule lists,
  chosen by agreement on val.jsonl);
- the cascade shipped by ``cascade:0.99`` (its threshold chosen inside the search), and the same
  student with its threshold re-chosen on val.jsonl, the peer's calibration rows;
- the same search with the record featurizer reading word and character n-grams as unit-length
  TF-IDF (``RecordDataset(featurizer={"char_ngram_range": (2, 4), "weighting": "tfidf"})``);
- the peer: TF-IDF + logistic regression (scikit-learn), its top probability as the cascade's
  confidence, threshold chosen on val.jsonl the same way (Wilson lower bound ≥ 99%).

Columns: agreement with the teacher when deciding everything; coverage and agreement on the
decided share at the chosen threshold; operations per decision (featurizing lookups plus the
model's comparisons / multiply-adds); median one-decision latency of the exported
standard-library ``decide(dict)`` (the peer has no export: its latency is scikit-learn's
one-request ``predict_proba``, labelled so).

Beside the table: the cascades' coverage at the peer's agreement and at 99%, read off the test
curves; the agreement each shipped cascade guarantees on its decided share (Wilson lower bound,
z = 1, on the search's calibration requests, with their number); and coverage and agreement on
test's in-scope requests (test is 18% out-of-scope against under 1% in train and val).
Writes docs/tool_router.json and docs/tool_router.txt (the printed text).

    python benchmarks/tool_router.py [--budget 300] [--json results.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "clinc150"
TARGET = 0.99
ESCALATE = "escalate"
CHAR_TFIDF = {"char_ngram_range": (2, 4), "weighting": "tfidf"}  # the featurizer of the second cascade search


def load(split: str) -> tuple[list[dict], list[str]]:
    rows = [json.loads(line) for line in (DATA / f"{split}.jsonl").read_text().splitlines() if line.strip()]
    return [{"text": r["text"]} for r in rows], [ESCALATE if r["domain"] == "out_of_scope" else r["domain"] for r in rows]


def export_latency_us(student, requests: list[dict], tmp: Path) -> float:
    """Median wall time of one ``decide(dict)`` of the exported module, in µs."""
    from hybrid.exports import export_python

    path = export_python(student, tmp / f"student_{abs(hash(student.content_hash))}.py")
    spec = importlib.util.spec_from_file_location("bench_student", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for r in requests[:20]:
        module.decide(r)
    times = []
    for r in requests:
        t = time.perf_counter()
        module.decide(r)
        times.append(time.perf_counter() - t)
    exported = [module.decide_index(r) for r in requests]
    assert exported == student.predict_or_defer(requests).tolist(), "export and predict disagree"
    return float(np.median(times) * 1e6)


def row(
    name: str, teacher_test: np.ndarray, actions: np.ndarray, confidence: np.ndarray, threshold: float | None, ops: float, latency: str, in_scope: np.ndarray
) -> dict:
    from hybrid.cascade import cascade_score

    everything = cascade_score(teacher_test, actions, confidence, None)
    cut = cascade_score(teacher_test, actions, confidence, np.inf if threshold is None else threshold)
    inside = cascade_score(teacher_test[in_scope], actions[in_scope], confidence[in_scope], np.inf if threshold is None else threshold)
    return {
        "model": name,
        "agreement": everything.agreement_decided,
        "threshold": threshold,
        "coverage": cut.coverage,
        "agreement_decided": cut.agreement_decided,
        "agreement_overall": cut.agreement_overall,
        "in_scope_coverage": inside.coverage,
        "in_scope_agreement_decided": inside.agreement_decided,
        "in_scope_n": inside.n,
        "ops": ops,
        "latency": latency,
        "_test": (teacher_test, actions, confidence),
    }


def coverage_at(r: dict, agreement: float) -> float:
    """Most coverage on test whose decided agreement is ≥ ``agreement``: read off the test curve,
    to compare two cascades at the same agreement (a comparison, never a threshold to ship)."""
    from hybrid.cascade import coverage_curve

    points = [p["coverage"] for p in coverage_curve(*r["_test"], max_points=10**9) if p["agreement"] >= agreement - 1e-12]
    return max(points, default=0.0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget", type=float, default=300.0, help="seconds per AutoDistill search (two searches run)")
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--json", type=Path, help="also write the rows here")
    p.add_argument("--tmp", type=Path, default=Path("runs/tool_router_bench"))
    a = p.parse_args(argv)
    if not DATA.exists():
        print(f"CLINC150 not found at {DATA}; it ships in ../shared/data/clinc150 beside the repository", file=sys.stderr)
        return 2
    from auto_search import AutoDistill
    from hybrid.cascade import choose_threshold
    from hybrid.data.featurize import RecordFeaturizer
    from hybrid.data.records import RecordDataset
    from hybrid.students import FeaturizedStudent, KeywordRulesStudent, RuleListStudent

    a.tmp.mkdir(parents=True, exist_ok=True)
    train, train_y = load("train")
    val, val_y = load("val")
    test, test_y = load("test")
    names = sorted(set(train_y))
    P = np.eye(len(names), dtype=np.float32)[[names.index(y) for y in train_y]]
    dataset = RecordDataset(train, P, names, {"text": "text"}, meta={"source": "clinc150 train.jsonl"})
    v_teacher = np.array([names.index(y) for y in val_y])
    t_teacher = np.array([names.index(y) for y in test_y])
    in_scope = t_teacher != names.index(ESCALATE)
    rows = []

    def add(name: str, student, threshold: float | None, recalibrate: bool, guarantee: dict | None = None) -> None:
        if recalibrate:
            va, vc = student.choose(val)
            threshold = choose_threshold(v_teacher, va, vc, TARGET)
        actions, confidence = student.choose(test)
        shipped = student.with_threshold(2.0 if threshold is None else threshold)
        latency = f"{export_latency_us(shipped, test[:500], a.tmp):.0f} µs (export)"
        rows.append({**row(name, t_teacher, actions, confidence, threshold, shipped.cost().ops_per_decision, latency, in_scope), "guarantee": guarantee})
        print(f"  {name}: done", file=sys.stderr, flush=True)

    searches = (
        ("knee", dataset, ""),
        (f"cascade:{TARGET:g}", dataset, ""),
        (f"cascade:{TARGET:g}", dataset_with(dataset, CHAR_TFIDF), ", word + character n-grams, TF-IDF"),
    )
    for policy, data, label in searches:
        t0 = time.monotonic()
        result = AutoDistill(budget_s=a.budget, policy=policy, n_jobs=a.n_jobs, verbose=0).fit(data)
        print(f"search {policy}{label}: {len(result.candidates)} candidates in {time.monotonic() - t0:.0f} s; {result.choice}", file=sys.stderr, flush=True)
        if policy == "knee":
            add("automatic choice (knee)", result.student, None, True)
        else:
            add(f"cascade:0.99 as shipped{label}", result.student, result.cascade["threshold"], False, guarantee_of(result.cascade))
            add(f"cascade:0.99 student{label}, threshold on val", result.student, None, True)

    featurizer = RecordFeaturizer(fields={"text": "text"}).fit(train)
    X = featurizer.transform(train)
    keyword_lists = [KeywordRulesStudent(max_rules=32, max_terms=t, min_precision=q) for t in (1, 2) for q in (0.5, 0.6, 0.8)]
    tree_lists = [RuleListStudent(max_depth=None, max_leaf_nodes=n, max_rules=32) for n in (40, 64)]
    for label, inners in (("keyword decision list", keyword_lists), ("tree-derived rule list", tree_lists)):
        best = None
        for inner in inners:
            s = FeaturizedStudent.from_parts(featurizer, inner.fit(X, P, feature_names=featurizer.feature_names_, action_names=names), action_names=names)
            score = float((s.predict(val) == v_teacher).mean())
            if best is None or score > best[0]:
                best = (score, s)
        terms = max(len(r.conditions) for r in best[1].student_.rules_)
        add(f"best ≤ 32-rule {label} ({len(best[1].student_.rules_)} rules, ≤ {terms} tests each)", best[1], None, True)
        print("\n".join(best[1].to_text().splitlines()[:8]), file=sys.stderr)

    rows.append({**peer(train, train_y, val, v_teacher, test, t_teacher, names, in_scope), "guarantee": None})
    text, comparisons = report(rows)
    print(text)
    figures = {"target": TARGET, "budget_s": a.budget, "rows": [{k: v for k, v in r.items() if k != "_test"} for r in rows], "comparisons": comparisons}
    write_atomic(REPO / "docs" / "tool_router.json", json.dumps(figures, indent=2) + "\n")
    write_atomic(REPO / "docs" / "tool_router.txt", text + "\n")
    if a.json:
        write_atomic(a.json, json.dumps(figures["rows"], indent=2))
    return 0


def dataset_with(dataset, featurizer: dict):
    """The same records and teacher, read by a featurizer with these settings."""
    from hybrid.data.records import RecordDataset

    return RecordDataset(dataset.records, dataset.P, dataset.action_names, dataset.fields, meta=dataset.meta, featurizer=featurizer)


def guarantee_of(cascade: dict) -> dict:
    """What the shipped threshold guarantees on the decided share: the Wilson lower bound (z = 1)
    of its agreement on the search's calibration requests, and how many requests it rests on."""
    from hybrid.cascade import WILSON_Z, wilson_lower

    cal = cascade["calibration"]
    decided = round(cal["coverage"] * cal["n"])
    agreeing = round((cal["agreement_decided"] or 0.0) * decided)
    bound = float(wilson_lower(np.array([agreeing], dtype=float), np.array([max(decided, 1)], dtype=float))[0]) if decided else None
    return {
        "method": f"Wilson lower bound (z = {WILSON_Z:g}) on calibration requests",
        "calibration_n": cal["n"],
        "decided": decided,
        "agreeing": agreeing,
        "bound": bound,
    }


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def peer(train, train_y, val, v_teacher, test, t_teacher, names, in_scope) -> dict:
    """TF-IDF + logistic regression (C chosen on val.jsonl), threshold on val.jsonl, figures on test."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from hybrid.cascade import choose_threshold

    texts = [r["text"] for r in train]
    best = None
    for C in (1.0, 10.0, 30.0):
        model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), LogisticRegression(C=C, max_iter=3000))
        model.fit(texts, train_y)
        score = float((model.predict([r["text"] for r in val]) == np.array(names)[v_teacher]).mean())
        if best is None or score > best[0]:
            best = (score, C, model)
    _, C, model = best
    order = [list(model.classes_).index(n) for n in names]

    def choose(records):
        proba = model.predict_proba([r["text"] for r in records])[:, order]
        actions = proba.argmax(axis=1)
        return actions, proba[np.arange(len(actions)), actions]

    threshold = choose_threshold(v_teacher, *choose(val), TARGET)
    actions, confidence = choose(test)
    vectorizer = model[0]
    nnz = float(np.mean(vectorizer.transform(texts).getnnz(axis=1)))
    grams = float(np.mean([len(vectorizer.build_analyzer()(t)) for t in texts]))
    ops = grams + nnz * len(names) + len(names)  # lookups, sparse multiply-adds, biases
    times = []
    for r in test[:300]:
        t = time.perf_counter()
        model.predict_proba([r["text"]])
        times.append(time.perf_counter() - t)
    latency = f"{np.median(times) * 1e6:.0f} µs (scikit-learn, no export)"
    return row(f"peer: TF-IDF + logistic regression (C={C:g})", t_teacher, actions, confidence, threshold, ops, latency, in_scope)


def report(rows: list[dict]) -> tuple[str, list[dict]]:
    """The text printed (the table, the guarantees, the in-scope figures, the comparisons at equal
    agreement) and the comparisons as JSON rows."""
    out = [f"CLINC150 test.jsonl ({TARGET:.0%} agreement target on the decided share; thresholds never chosen on test)", ""]
    out.append("| model | agreement (decides all) | threshold | coverage | agreement on decided | overall with teacher | ops/decision | one-decision latency |")
    out.append("|---|---|---|---|---|---|---|---|")
    for r in rows:
        decided = "n/a" if r["agreement_decided"] is None else f"{100 * r['agreement_decided']:.2f}%"
        mark = "" if r["agreement_decided"] is None or r["agreement_decided"] >= TARGET else " (missed)"
        threshold = "none reached" if r["threshold"] is None else f"{r['threshold']:.4f}"
        out.append(
            f"| {r['model']} | {100 * r['agreement']:.2f}% | {threshold} | {100 * r['coverage']:.1f}% | {decided}{mark} | "
            f"{100 * r['agreement_overall']:.2f}% | {r['ops']:.0f} | {r['latency']} |"
        )
    peer_row, cascades = rows[-1], [r for r in rows if r["model"].startswith("cascade")]
    out.append("\nWhat each shipped cascade guarantees on its decided share, and what it did on test's in-scope requests:")
    for r in [*cascades, peer_row]:
        g = r.get("guarantee")
        said = (
            f"guarantees ≥ {100 * g['bound']:.2f}% ({g['method']}: {g['agreeing']} of {g['decided']} decided agree, {g['calibration_n']} requests)"
            if g and g["bound"] is not None
            else "threshold chosen on val.jsonl"
        )
        agree = "n/a" if r["in_scope_agreement_decided"] is None else f"{100 * r['in_scope_agreement_decided']:.2f}%"
        out.append(f"  {r['model']}: {said}; in-scope test ({r['in_scope_n']} requests): decides {100 * r['in_scope_coverage']:.1f}% at {agree}")
    comparisons = []
    out.append("\nAt the same agreement on decided, read off the test curves (comparison only, never a threshold to ship):")
    levels = sorted({0.95, 0.97, TARGET, round(peer_row["agreement_decided"] or 0.0, 4)})
    for r in cascades:
        for level in levels:
            ours, theirs = coverage_at(r, level), coverage_at(peer_row, level)
            ratio = ours / max(theirs, 1e-9)
            comparisons.append({"model": r["model"], "agreement": level, "coverage": ours, "peer_coverage": theirs, "ratio": ratio})
            out.append(f"  {r['model']} at ≥ {100 * level:.2f}%: {100 * ours:.1f}% vs the peer's {100 * theirs:.1f}% ({ratio:.2f}×)")
    return "\n".join(out), comparisons


if __name__ == "__main__":
    raise SystemExit(main())

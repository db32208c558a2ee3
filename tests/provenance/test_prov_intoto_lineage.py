"""DSSE/in-toto export and the lineage graph."""

from __future__ import annotations

import base64

import pytest
from _prov_helpers import subject

from provenance.errors import ProvenanceError
from provenance.intoto import PAYLOAD_TYPE, STATEMENT_TYPE, envelope, export_in_toto, pae, verify_envelope
from provenance.keys import generate_key
from provenance.ledger import Ledger
from provenance.lineage import ancestors, descendants, lineage_graph, to_dot


def test_pae_matches_the_dsse_specification_example():
    assert pae("http://example.com/HelloWorld", b"hello world") == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"


@pytest.fixture
def chain(ledger_path, key):
    with Ledger(ledger_path) as ledger:
        return ledger.append_many(
            [
                {"kind": "dataset", "subject": subject("d")},
                {"kind": "teacher", "subject": subject("t")},
                {"kind": "search", "subject": subject("s"), "parents": [subject("d"), subject("t")]},
                {"kind": "model", "subject": subject("m"), "parents": [subject("s")], "attrs": {"name": "tree.json"}},
                {"kind": "export", "subject": subject("x"), "parents": [subject("m")]},
            ],
            key=key,
        )


def test_in_toto_statement_in_a_dsse_envelope_round_trips(chain, key, tmp_path):
    model = chain[3]
    env = envelope(model, key)
    assert env["payloadType"] == PAYLOAD_TYPE
    statement = verify_envelope(env, key.public_key)
    assert statement["_type"] == STATEMENT_TYPE
    assert statement["subject"] == [{"name": "tree.json", "digest": {"sha256": subject("m").split(":")[1]}}]
    assert statement["predicate"]["ledger"]["entry_hash"] == model.entry_hash
    assert [p.name for p in export_in_toto(chain, tmp_path / "out", key)] == ["00000003-model.intoto.json"]


def test_a_changed_payload_or_a_foreign_key_fails_the_envelope(chain, key, tmp_path):
    env = envelope(chain[3], key)
    forged = dict(env, payload=base64.b64encode(base64.b64decode(env["payload"]).replace(b"tree", b"evil")).decode())
    with pytest.raises(ProvenanceError, match="no valid signature"):
        verify_envelope(forged, key.public_key)
    with pytest.raises(ProvenanceError, match="no valid signature"):
        verify_envelope(env, generate_key(tmp_path / "other").public_key)
    with pytest.raises(ProvenanceError, match="not a DSSE envelope"):
        verify_envelope({"payload": "!!"}, key.public_key)


def test_lineage_ancestors_descendants_and_dot(chain):
    graph = lineage_graph(chain)
    assert ancestors(graph, subject("m")) == {subject("d"), subject("t"), subject("s")}
    assert descendants(graph, subject("t")) == {subject("s"), subject("m"), subject("x")}
    assert ancestors(graph, subject("unknown")) == set()
    assert graph.nodes[subject("m")]["kind"] == "model"
    dot = to_dot(graph, highlight=[subject("m")])
    assert dot.count("->") == 4 and dot.count("color=red") == 1

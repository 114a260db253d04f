"""The server with the real torch-free Rewriter on the tiny rewriter bundle (loaded from settings, as in
production); the other server tests use FakeRewriter."""

from __future__ import annotations

import asyncio

import pytest
from test_server_support import serving, settings

from callinkit.serve import Classifier, Rewriter
from callinkit.serve.http import create_app

SOURCES = ["you absolute clown, delete this", "nobody asked you, log off forever"]


def test_rewrite_routes_serve_the_real_rewriter(tiny_bundle, tiny_rewriter_bundle):
    direct = Rewriter.load(tiny_rewriter_bundle, classifier=Classifier.load(tiny_bundle))
    expected = direct.rewrite(SOURCES, num_candidates=3, max_new_tokens=10)

    async def scenario():
        app = create_app(settings(tiny_bundle, rewriter_bundle=tiny_rewriter_bundle))
        async with serving(app) as client:
            return (await client.post("/v1/rewrite", json={"texts": SOURCES, "num_candidates": 3,
                                                           "max_new_tokens": 10}),
                    await client.post("/v2/models/rewriter/infer", json={
                        "parameters": {"num_candidates": 3, "max_new_tokens": 10},
                        "inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": SOURCES}]}),
                    await client.get("/v1/models"))

    v1, v2, models = asyncio.run(scenario())
    assert v1.status_code == 200, v1.text
    for got, want in zip(v1.json()["results"], expected):
        assert got["rewrite"] == want.text and got["reason"] == want.reason
        assert got["reason_codes"] == list(want.reason_codes) and bool(got["reason_codes"]) == (not want.ok)
        assert [c["problem_codes"] for c in got["candidates"]] == [c.problem_codes for c in want.candidates]
        if want.ok:
            assert got["rewrite"] == got["candidates"][0]["text"] and not got["candidates"][0]["problems"]
        else:  # the tiny random model writes nonsense: the guard refuses it and the answer says why
            assert got["rewrite"] is None and got["reason"].startswith("no candidate passed the guard")
            assert all(c["problems"] for c in got["candidates"])
        assert [c["text"] for c in got["candidates"]] == [c.text for c in want.candidates]
        assert got["scores"] == pytest.approx(want.scores, rel=1e-4, abs=1e-5)
        ranking = [c["scores"]["score"] for c in got["candidates"]]
        assert ranking == sorted(ranking, reverse=True)
    assert v2.status_code == 200, v2.text
    rewrite, reason, scores, codes = v2.json()["outputs"]
    assert codes["data"] == [",".join(r.reason_codes) for r in expected]
    assert rewrite["data"] == [r.text or "" for r in expected]
    assert reason["data"] == [r.reason or "" for r in expected]
    columns = scores["parameters"]["labels"].split(",")
    assert "call_in" in columns and scores["shape"] == [2, len(columns)]
    rewriter_info = models.json()["models"][1]
    assert rewriter_info["status"] == "ready" and rewriter_info["version"].startswith("tiny-rewriter@")

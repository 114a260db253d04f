"""bench/profile_decoder.py reads onnxruntime's profile of a v2 decoder step."""


def test_the_decoder_profile_counts_every_operator_of_a_step(tiny_lm_base, tmp_path):
    from bench.profile_decoder import profile
    from callinkit.train.rewriter_lm_export import build_genai

    built = tmp_path / "int4"
    build_genai(tiny_lm_base, built, "int4", tmp_path / "build.log", block_size=32)
    p = profile(built, past=7, steps=3, threads=1)
    assert p["wall_ms_per_step"] > 0 and p["kernel_ms_per_step"] > 0
    ops = p["by_op"]
    assert "MatMulNBits" in ops and "GroupQueryAttention" in ops
    assert ops["GroupQueryAttention"][1] == 2  # one per layer of the tiny model, per step
    assert abs(sum(ms for ms, _ in ops.values()) - p["kernel_ms_per_step"]) < 1e-6

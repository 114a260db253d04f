"""Placeholders for spans the uncased vocabulary would damage, WordPiece detokenization, casing."""

from callinkit.textproc import detokenize, postprocess, protect, restore, restore_case


def test_protect_replaces_mentions_hashtags_urls_and_emoji_and_restore_puts_them_back():
    text = "Hey @Maria_K, see https://www.cdc.gov/flu/index.html 🙄🙄 #FactCheck and @Maria_K again"
    p = protect(text)
    assert p.spans == ["@Maria_K", "https://www.cdc.gov/flu/index.html", "🙄🙄", "#FactCheck"]
    assert p.text == "Hey [unused0] , see [unused1] [unused2] [unused3] and [unused0] again"
    assert restore("[unused0] thanks for [unused3] [unused9]", p.spans) == "@Maria_K thanks for #FactCheck"


def test_target_shares_the_source_placeholders():
    src = protect("@dan_r that link https://x.org is fake")
    tgt = protect("@dan_r could you check https://x.org? #sources", src.spans)
    assert tgt.text == "[unused0] could you check [unused1] ? [unused2]"
    assert tgt.spans[:2] == src.spans


def test_url_does_not_swallow_trailing_punctuation_and_emails_are_not_mentions():
    p = protect("read https://example.com/a, then mail me at bo@example.com.")
    assert p.spans == ["https://example.com/a"]


def test_detokenize_repairs_wordpiece_spacing():
    tokens = ["i", "don", "'", "t", "think", "pri", "##ya", "'", "s", "post", "was", "well", "-", "known", ",",
              "right", "?", "(", "see", "link", ")"]
    assert detokenize(tokens) == "i don't think priya's post was well-known, right? (see link)"


def test_restore_case_uses_source_casing_i_and_sentence_starts():
    # A word capitalised only where a sentence starts ("Honestly") may be an ordinary word: left alone.
    source = "Yesterday Priya said NASA posted it. i doubt it. Honestly?"
    out = restore_case("i think priya and nasa are right. it's fine! i'm sure", source)
    assert out == "I think Priya and NASA are right. It's fine! I'm sure"


def test_words_capitalised_only_at_sentence_start_stay_lowercase_elsewhere():
    assert restore_case("please read the post", "Please stop. Read it.") == "Please read the post"


def test_postprocess_end_to_end():
    src = "@Maria_K stop posting fake CDC stats 🙄"
    p = protect(src)
    tokens = ["[unused0]", "could", "you", "check", "the", "cdc", "stats", "?", "[unused1]"]
    assert postprocess(tokens, src, p.spans) == "@Maria_K could you check the CDC stats? 🙄"


def test_case_restoration_ignores_shouting_and_sentence_start_single_letters():
    from callinkit.textproc import restore_case

    assert restore_case("i'm sure a public repo matters", "A variable named `spazMode` in a PR? Bad.") == \
        "I'm sure a public repo matters"
    assert restore_case("say ridiculous instead", 'STOP USING THE R-WORD. SAY "RIDICULOUS" LIKE AN ADULT') == \
        "Say ridiculous instead"
    assert restore_case("that cdc stat is wrong", "you clown, that CDC stat is fake") == "That CDC stat is wrong"


def test_detokenize_joins_times_numbers_and_code_spans_and_protects_channel_names():
    from callinkit.textproc import detokenize, protect

    assert detokenize("at 7 : 15 rename ` spa ##z ##mode ` for 40 , 000 users".split()) == \
        "at 7:15 rename `spazmode` for 40,000 users"
    assert protect("posted in #vendor-escalations today").spans == ["#vendor-escalations"]

"""The call-in corpus: hand-written call-out / call-in pairs, neutral texts and unpaired hard cases.

Shipped inside the package as JSONL under `callinkit/corpus/data/` and found with importlib.resources:

    pairs_*.jsonl    {id, call_out, call_in, topic, style, platform, strategy[, context, register, domain]}
    neutral_*.jsonl  {id, text, kind[, context, register, domain]}
    singles_*.jsonl  {id, text, label, topic, platform, style, strategy[, context, register, domain]}
    altrefs_*.jsonl  {pair_id, call_in, strategy}: a second reference call-in for a pair, by another writer
    splits.json      fixed train / validation / test assignment of every record id, and the unseen topics

Round 3 added the optional fields: `context` (the post a message replies to), `register` (how it is
written: lowercase, text-speak, emoji-heavy, a long rant, Reddit quoting, code-switching, all caps) and
`domain` (sports, gaming, politics, ...). Files are named `<kind>_<round>_<what they hold>.jsonl`.

`read_records()` needs only the standard library; `load_corpus()` returns a `datasets.DatasetDict`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, Literal

from callinkit.errors import DataError

CORPUS_NAME = "callin_corpus"
KINDS = ("pairs", "neutral", "singles")
SPLITS = ("train", "validation", "test")

STYLES = ("insult", "sarcasm", "all_caps", "hashtag_pileon", "quote_dunk", "ultimatum", "educate_yourself",
          "profanity", "mock_polite", "rhetorical_question", "dismissal", "tagging_pileon", "threat")
PLATFORMS = ("x_reply", "reddit", "discord", "slack", "youtube", "facebook_group", "instagram", "tiktok",
             "forum", "github", "twitch", "whatsapp", "nextdoor", "dating_app", "teams", "telegram", "steam",
             "bluesky", "threads")
# `no_concern` (pairs only): the call-out attacks and carries no concern, so the call-in only states the
# disagreement or asks what it is, and must not invent a harm.
NO_CONCERN_REWRITE = "no_concern_rewrite"  # classification_rows' style for a no_concern pair's (neutral) rewrite
STRATEGIES = ("good_faith_opener", "naming_impact", "question", "personal_experience",
              "alternative_or_resource", "firm_boundary", "shared_values", "no_concern")
NEUTRAL_KINDS = ("ordinary", "question", "news", "praise", "joke", "complaint_about_things", "angry_no_target",
                 "profane_no_target", "all_caps_no_target", "policy_disagreement", "sensitive_topic_gentle",
                 "self_criticism", "moderator_report", "threat_near_miss", "sports_trash_talk",
                 "heated_idea_argument")
HARD_NEGATIVE_KINDS = frozenset(NEUTRAL_KINDS[5:])
REGISTERS = ("standard", "lowercase", "text_speak", "emoji_heavy", "long_rant", "reddit_quote", "code_switch",
             "all_caps")
DOMAINS = ("sports", "gaming", "politics", "neighbourhood", "workplace", "dating", "fandom", "creators", "general")
# The topics of harm the shipped corpus covers (six families of eight, one writer each).
TOPICS = (
    "casual_slurs", "ableist_language", "mental_illness_as_adjective", "autism_stereotypes", "fatphobia",
    "body_shaming", "ageism", "accent_mockery",
    "misgendering", "deadnaming", "transphobia", "homophobia", "biphobia", "outing_someone", "pronoun_mockery",
    "gendered_workplace_language",
    "racial_stereotypes", "colorism", "anti_asian_racism", "xenophobia", "antisemitic_tropes",
    "islamophobic_tropes", "religious_stereotypes", "cultural_appropriation",
    "sexism", "sexual_harassment_jokes", "victim_blaming", "classism", "poverty_shaming", "microaggressions",
    "name_mispronunciation", "tokenism",
    "health_misinformation", "vaccine_misinformation", "climate_misinformation", "unsourced_viral_claims",
    "conspiracy_theories", "fake_fundraisers_and_scams", "manipulated_media", "misleading_statistics",
    "accessibility_lapses", "inaccessible_events", "doxxing", "sharing_private_screenshots", "plagiarism",
    "uncredited_art_reposts", "gatekeeping", "missing_content_warnings",
    # Round 3: threats, call-outs with no concern beyond the attack, and concerns of the domains real
    # platforms see that fit no harm topic above.
    "threats_of_violence", "disagreement_only", "sports_conduct", "gaming_conduct", "political_threads",
    "neighbourhood_disputes", "workplace_conduct", "dating_app_conduct", "fandom_conduct", "creator_conduct",
    "moderation_disputes",
)

SCHEMAS: dict[str, tuple[str, ...]] = {
    "pairs": ("id", "call_out", "call_in", "topic", "style", "platform", "strategy"),
    "neutral": ("id", "text", "kind"),
    "singles": ("id", "text", "label", "topic", "platform", "style", "strategy"),
}
OPTIONAL_FIELDS: tuple[str, ...] = ("context", "register", "domain")
ALTREF_SCHEMA: tuple[str, ...] = ("pair_id", "call_in", "strategy")


@dataclass(frozen=True)
class Record:
    """One corpus record and where it came from (for error messages that name file and line)."""

    kind: str
    data: dict[str, Any]
    file: str
    line: int

    @property
    def id(self) -> str:
        return str(self.data.get("id"))


def data_dir() -> Traversable:
    """The folder of the shipped corpus files."""
    return resources.files("callinkit.corpus") / "data"


def corpus_files(kind: str) -> list[Traversable]:
    """The shipped JSONL files of one record kind, sorted by name."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return sorted((f for f in data_dir().iterdir() if f.name.startswith(f"{kind}_") and f.name.endswith(".jsonl")),
                  key=lambda f: f.name)


def parse_jsonl(text: str, kind: str, file: str) -> list[Record]:
    """Parse JSONL text into Records; a line that is not a JSON object raises DataError naming the line."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{file}:{number}: not valid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{file}:{number}: expected a JSON object, got {type(obj).__name__}")
        out.append(Record(kind, obj, file, number))
    return out


def read_records(kind: str) -> list[Record]:
    """All shipped records of one kind ('pairs', 'neutral' or 'singles')."""
    records: list[Record] = []
    for f in corpus_files(kind):
        records.extend(parse_jsonl(f.read_text(encoding="utf-8"), kind, f"callinkit/corpus/data/{f.name}"))
    return records


def alt_ref_files() -> list[Traversable]:
    return sorted((f for f in data_dir().iterdir() if f.name.startswith("altrefs_") and f.name.endswith(".jsonl")),
                  key=lambda f: f.name)


def read_alt_refs() -> list[Record]:
    """Second reference call-ins ({pair_id, call_in, strategy}), written by a different writer."""
    records: list[Record] = []
    for f in alt_ref_files():
        records.extend(parse_jsonl(f.read_text(encoding="utf-8"), "altrefs", f"callinkit/corpus/data/{f.name}"))
    return records


def alt_refs_by_pair(records: list[Record] | None = None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for rec in read_alt_refs() if records is None else records:
        out.setdefault(str(rec.data["pair_id"]), []).append(rec.data["call_in"])
    return out


def read_splits() -> dict[str, Any]:
    """The fixed split assignment: {"assignments": {id: split}, "unseen_topics": [...], ...}."""
    f = data_dir() / "splits.json"
    if not f.is_file():
        raise DataError("the corpus has no splits.json; run `callinkit data split` to assign splits")
    return json.loads(f.read_text(encoding="utf-8"))


def classification_rows(records: dict[str, list[Record]], splits: dict[str, Any]) -> list[dict[str, Any]]:
    """Flatten pairs / neutral / singles into {id, text, label, topic, kind, style, split, unseen_topic} rows.
    `style` is the call-out's style ("threat", "insult", ...) for call-out texts, the neutral kind
    ("threat_near_miss", ...) for neutral texts, and "" for call-ins.

    The call-in side of a `no_concern` pair is labelled neutral, style "no_concern_rewrite": it only states a
    disagreement ("not my vibe either, but no hard feelings") and confronts nobody about their conduct, which
    LABELS.md calls neutral ("plain disagreement about ideas"). It stays the pair's reference rewrite."""
    assign = splits["assignments"]
    unseen = set(splits.get("unseen_topics", ()))
    rows = []

    def add(rec: Record, text: str, label: str, topic: str | None, suffix: str = "", style: str = "") -> None:
        split = assign.get(rec.id)
        if split is None:
            raise DataError(f"{rec.file}:{rec.line}: record {rec.id} has no split; run `callinkit data split`")
        rows.append({"id": rec.id + suffix, "text": text, "label": label, "topic": topic or "",
                     "kind": rec.kind, "style": style or "", "split": split,
                     "unseen_topic": bool(topic in unseen)})

    for rec in records.get("pairs", []):
        add(rec, rec.data["call_out"], "call_out", rec.data["topic"], ":call_out", rec.data.get("style") or "")
        if rec.data.get("strategy") == "no_concern":
            add(rec, rec.data["call_in"], "neutral", rec.data["topic"], ":call_in", NO_CONCERN_REWRITE)
        else:
            add(rec, rec.data["call_in"], "call_in", rec.data["topic"], ":call_in")
    for rec in records.get("neutral", []):
        add(rec, rec.data["text"], "neutral", None, style=rec.data.get("kind") or "")
    for rec in records.get("singles", []):
        add(rec, rec.data["text"], rec.data["label"], rec.data["topic"],
            style=(rec.data.get("style") or "") if rec.data["label"] == "call_out" else "")
    return rows


def pair_rows(records: dict[str, list[Record]], splits: dict[str, Any]) -> list[dict[str, Any]]:
    """Pairs as {id, call_out, call_in, topic, style, platform, strategy, split, unseen_topic} rows."""
    assign = splits["assignments"]
    unseen = set(splits.get("unseen_topics", ()))
    alts = alt_refs_by_pair()
    rows = []
    for rec in records.get("pairs", []):
        if rec.id not in assign:
            raise DataError(f"{rec.file}:{rec.line}: record {rec.id} has no split; run `callinkit data split`")
        row = {k: rec.data[k] for k in SCHEMAS["pairs"]}
        row.update({k: rec.data[k] for k in OPTIONAL_FIELDS if rec.data.get(k)})
        rows.append({**row, "alt_call_ins": alts.get(rec.id, []), "split": assign[rec.id],
                     "unseen_topic": rec.data["topic"] in unseen})
    return rows


def load_corpus(task: Literal["classification", "pairs"] = "classification"):
    """The corpus as a `datasets.DatasetDict` with train / validation / test splits.

    classification: columns id, text, label (str), topic, kind, unseen_topic.
    pairs: columns id, call_out, call_in, topic, style, platform, strategy, context, alt_call_ins,
    unseen_topic.
    """
    import datasets

    records = {kind: read_records(kind) for kind in KINDS}
    splits = read_splits()
    if task == "classification":
        rows = classification_rows(records, splits)
    elif task == "pairs":
        rows = pair_rows(records, splits)
    else:
        raise ValueError(f"task must be 'classification' or 'pairs', got {task!r}")
    if task == "pairs":  # one column set for every row (datasets needs it)
        rows = [{**r, "context": r.get("context"), "register": r.get("register"), "domain": r.get("domain")}
                for r in rows]
    out = {}
    for split in SPLITS:
        part = [{k: v for k, v in r.items() if k != "split"} for r in rows if r["split"] == split]
        out[split] = datasets.Dataset.from_list(part) if part else datasets.Dataset.from_dict({})
    return datasets.DatasetDict(out)

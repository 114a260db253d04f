"""The guard: checks a candidate rewrite before it may be suggested to a person (torch-free, no model).

A candidate fails when it
  - repeats an insult, slur or profanity of its source, or adds one (lexicon);
  - contains a threat (violence, doxxing, "I know where you live", going after someone's job or family,
    leaking messages), whether or not the source had one: a rewrite never carries a threat;
  - drops an @mention, a #channel, a URL or a number of the source, or most of a quoted phrase, unless that
    item is the attack itself (a quote made of insults, a pile-on hashtag, the extra tags of a pile-on);
  - invents an @mention, a number or a capitalised name that the source does not have;
  - misspells a name or a quoted word of the source ('sikhs' -> 'ikhs', 'Connie' -> 'Conny'): a mangled copy
    of what someone wrote reads as mockery or as a different fact;
  - is empty, or is the source copied unchanged.
The classifier part of the guard (P(call_in) above the bundle's threshold) lives in the rewriter, which has
the classifier; `check_candidate` takes that probability as an argument.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

# Insults, profanity and dismissals aimed at a person. Matched as whole words, case-insensitive; `*` marks a
# stem that also matches longer words (fuck* -> fucking).
INSULTS = (
    "idiot*", "moron*", "clown*", "stupid*", "dumb", "dumbass*", "dumber", "dumbest", "pathetic", "loser*",
    "imbecile*", "cretin*", "halfwit*", "dimwit*", "nitwit*", "numpty", "muppet*", "tosser*", "wanker*", "twat*",
    "bellend*", "knobhead*", "plonker*", "dipshit*", "shithead*", "asshole*", "arsehole*", "jackass*", "dickhead*",
    "prick*", "bitch*", "bastard*", "scum*", "scumbag*", "lowlife*", "degenerate*", "creep*", "pig", "pigs",
    "trash", "garbage", "brainless", "braindead", "brain-dead", "clueless", "ignoramus*", "bigot*", "hypocrite*",
    "grifter*", "shill*", "sheeple", "snowflake*", "karen", "incel*", "simp", "npc", "troll", "trolls",
    "fool", "fools", "freak", "freaks", "freakshow", "weirdo*", "cringe", "delusional", "lmao", "lmfao", "ratio", "ratioed", "cope",
    "seethe", "stfu", "gtfo", "kys", "smh", "yikes",
    "fuck*", "fck*", "f*ck*", "motherfucker*", "shit", "shits", "shitty", "bullshit", "crap", "crappy",
    "damn", "goddamn", "wtf", "ffs", "bloody", "arse", "ass", "piss*", "cunt*", "whore*", "slut*", "hoe", "hoes",
    "skank*", "douche*", "dick", "dicks", "cock", "cocks", "retard", "dumbo", "dork*", "nerd", "loony", "psycho", "psychos",
    "lunatic*", "maniac", "maniacs", "useless", "worthless", "disgusting", "vile", "ugly", "fat", "fatass", "gross",
    # name-calling of real news comments (toxic_spans' annotated spans) that no corpus call-in uses; not the words
    # that also judge a remark and stay in human detoxifications ("ignorant", "incompetent", "liar"):
    # model_cards/judging/2026-12-06-span-insults/
    "jerk", "jerks", "buffoon*", "coward*", "dotard*", "insignificant", "woodhead*", "imbecilic", "pea-brained",
    "pussy", "pussies", "damned", "looney",
    # party and politician names turned into insults (common in political comment threads; no corpus call-in)
    "demonrat*", "democrap*", "dumbocrat*", "repuglican*", "rethuglican*", "republicunt*", "trumptard*",
    "trumpanzee*", "libtard*", "teabagger*", "conservatard*",  # the last two: session 25, as the slurs below
    # words that deny someone's humanity; a call-in may quote them as the harm it names (session 25)
    "subhuman*", "untermensch*", "mouth breather*", "mouth-breather*", "mouthbreather*",
    # the corpus's other registers: Hinglish, Nigerian Pidgin / Yoruba, Sheng / Swahili (none of them appears in
    # a corpus call-in except quoted, as the harm named: 'pagal')
    "pagal", "bewakoof", "bakwas", "chutiya*", "werey", "mumu", "olodo", "oloshi", "ewu", "mjinga", "mshenzi",
    # insults of real tweets (model_cards/judging/2026-12-07-davidson/, session 24) that corpus call-ins quote as
    # the harm they name ('"no homo" says being gay is something to avoid'): so insults, not slurs (a slur is never
    # quoted); and, below, profanity spelt as it sounds
    "homo", "homos", "thot", "thots", "cuck*", "tard", "tards",
)
# Profanity spelt as it sounds rather than hidden behind symbols ("why the FUCC", "fuc nig", "biatch"): rewrites of
# real tweets kept it because no list knew it (model_cards/judging/2026-12-07-davidson/, session 24). No corpus text
# has one but a neutral "fkn hell 40 mins on hold".
SPELT_PROFANITY = (
    "fucc*", "fuc", "fuk", "fuks", "fukk*", "fukin*", "fukn", "fuq*", "phuck*", "phuk*", "fkn", "fking", "fkin",
    "biatch*", "biotch*", "beotch*", "shyt*", "azz", "azzhole*", "mf", "mfs", "mfer*", "mofo*", "muthafuck*",
    "mothafuck*", "muhfuck*",
)
INSULTS = INSULTS + SPELT_PROFANITY
# Phrases of the same kind (matched as written, case-insensitive).
INSULT_PHRASES = (
    "nobody asked", "no one asked", "who asked", "log off", "touch grass", "shut up", "shut the", "get a life",
    "educate yourself", "do better", "fell off", "go back to", "kill yourself", "piece of work", "waste of space",
    "drink bleach", "get lost", "grow up", "clown show", "blocked and reported", "imagine being",
    "chup baith",  # Hinglish: "sit down and shut up" (not "chup kar": it is also in "chup karwana", to silence)
)
# Slurs (detection only, so that no rewrite repeats one). Stems.
SLURS = (
    "retard*", "fag", "fags", "faggot*", "tranny*", "trannies", "nigger*", "nigga*", "nigguh*", "spic", "spics", "chink*",
    "kike*", "gook*", "wetback*", "dyke*", "spaz*", "spastic*", "coon", "coons", "paki", "pakis", "raghead*",
    "towelhead*", "gypped", "gyp", "cripple", "cripples", "midget*", "shemale*", "mong", "mongs", "sperg*",
    "autist", "libtard*", "feminazi*",
    # from real hateful tweets (model_cards/judging/2026-12-07-davidson/): the first line after reading held-out
    # sample 1, the second after sample 2 (no corpus text has any of them)
    "zipperhead*", "darkie*", "darky", "beaner*", "white trash",
    "nicca*", "nigeon*", "moon cricket*", "jungle bunn*", "porch monkey*",
    "nig", "nigs", "niglet*", "faggit*", "fagot*", "towel head*", "rag head*",  # session 24, with SPELT_PROFANITY
    # Session 25, after reading what the guard showed for real Reddit replies and a sixth sample of tweets ("the
    # true nature of femoids", "the great chimpout", "rob the Wop" came back in rewrites): the well-known ethnic,
    # religious, gender, sexuality and disability slurs and hate-forum coinages that no line above had. Left out
    # where the word has an everyday sense that corpus texts use ("eating crackers", "then poof"). Corpus call-ins
    # quote a few of them ("'Chinaman' reads as a slur"); as for every slur, a suggestion does not.
    "wop", "wops", "dago*", "polack*", "kraut", "krauts", "jap", "japs", "chinaman", "chinamen", "slant-eye*",
    "slanteye*", "slanty", "ching chong*", "wog", "wogs", "golliwog*", "jigaboo*", "jiggaboo*", "spearchucker*",
    "spear chucker*", "pickaninn*", "tar baby", "tar babies", "coonass*", "honky", "honkies", "honkey*", "whitey*",
    "cracka*", "redskin*", "injun*", "squaw*", "half-breed*", "halfbreed*", "camel jockey*", "cameljockey*",
    "muzzie*", "muzrat*", "mudslime*", "hymie*", "heeb", "heebs", "yid", "yids", "christ killer*", "oven dodger*",
    "shoah'd", "shoahed", "dindu*", "chimpout*", "chimp out", "chimping out", "sheboon*", "greaseball*", "gyppo*",
    "pikey*", "pikies", "curry muncher*", "dothead*", "dot head*", "femoid*", "foid", "foids", "roastie*", "lesbo*",
    "poofter*", "pooftah*", "batty boy*", "battyboy*", "fudge packer*", "fudgepacker*", "pillow biter*", "troon*",
    "sodomite*", "fagg*", "mongoloid*", "window licker*",
    "zog", "zogbot*", "nogs",  # after reading 200 more Reddit replies (none in a corpus text or ParaDetox rewrite)
)

# Profanity and sexual insults, which a call-in never needs to quote to name a harm: unlike "fat" or "psycho" (the
# harm a corpus call-in names by quoting it), 11 of the corpus's 8,827 call-ins quote one of them. Real tweets quote
# the attack itself ('"@user: ... bitch ..." lol'), and rewrites kept it inside the quote:
# model_cards/judging/2026-12-07-davidson/.
NEVER_QUOTED = (
    "fuck*", "fck*", "f*ck*", "motherfucker*", "shit", "shits", "shitty", "bullshit", "crap", "crappy", "bitch*",
    "bastard*", "cunt*", "whore*", "slut*", "hoe", "hoes", "skank*", "pussy", "pussies", "dick", "dicks", "cock",
    "cocks", "ass", "arse", "asshole*", "arsehole*", "piss*", "twat*", "wanker*", "douche*", "dumbass*", "fatass",
    *SPELT_PROFANITY,
)
# Words that name a group of people by race, religion, origin, sexuality or gender identity. A neutral rewrite (the
# message without the attack) adds none its source lacks: a slur replaced by the group it targets ("... the first
# time nigger" -> "... the first time, black guy?") is still the slur's message.
IDENTITY_WORDS = (
    "black", "blacks", "white", "whites", "brown", "asian*", "latino*", "latina*", "hispanic*", "mexican*",
    "african*", "arab*", "jew", "jews", "jewish", "muslim*", "islam*", "christian*", "gay", "gays", "lesbian*",
    "bisexual*", "trans", "transgender*", "queer*", "homosexual*", "immigrant*", "refugee*", "chinese", "indian*",
    "catholic*", "hindu*", "sikh*", "mormon*",
    "of color", "of colour",  # "people of color", "a person (of color)" (session 25; corpus texts use it only so)
)

_THREAT_PATTERNS = (
    r"\b(?:i|we|he|she|they|someone|somebody)\s*(?:'ll|will|'m going to|am going to|'m gonna|am gonna|gonna|are going to"
    r"|'re going to|'re gonna|would|'d)\s+(?:\w+\s+){0,3}?(?:find(?! out\b(?! (?:who|which|where|what|whose|your|ur|and)\b))|hurt|kill|break|beat|punch|smash|bash|slap|stab|"
    r"shoot|end|ruin|destroy|come for|come after|track|hunt|dox+|leak|expose|visit|show up|make you|make sure you|"
    r"get you|deal with you|sort you|teach you|burn|call your|email your|tell your|contact your|message your|"
    r"send (?:this|these|it|them|the \w+) to)\b",
    r"\bknow where (?:you|u) (?:live|work|sleep|park|go)\b", r"\bfind out where (?:you|u)\b",
    r"\bwatch (?:your|ur) back\b", r"\bsleep with one eye open\b", r"\b(?:you're|youre|ur|you are) (?:dead|done for|finished)\b",
    r"\bor else\b", r"\b(?:break|smash|bash|snap|kick|punch|rearrange) (?:your|ur|his|her) (?:\w+ )?(?:face|jaw|legs?|"
    r"arms?|neck|teeth|head|nose|skull|kneecaps?)\b",
    r"\b(?:kill|shoot|stab|beat|punch|strangle|choke|murder) (?:you|u|him|her|them|ya)\b",
    # "hurt her" is a threat from the writer, not when it names an impact ("that can really hurt her")
    r"(?<!can )(?<!could )(?<!may )(?<!might )(?<!really )(?<!would )(?<!does )(?<!did )(?<!it )(?<!to )(?<!that )"
    r"\bhurt (?:you|u|him|her|them|ya)\b",
    # doxxing named as the harm ("posting her address is doxxing") is a concern; being threatened with it is not
    r"\b(?:get|gets|getting|got|be|been|being|gonna be) dox+(?:ed|xed)\b|\bdox+ (?:you|u|him|her|them|ya)\b",
    r"\b(?:i'?ll|ill|i will|imma) post (?:yours|your|ur)\b", r"\b(?:your|ur) (?:home )?address\b", r"\bpay for (?:this|that|it)\b",
    r"\bshow up at (?:your|ur)\b", r"\b(?:see|meet) (?:you|u) outside\b", r"\bkill (?:yourself|yourselves|your self|yoself|yo self|urself|ur self|yaself|ya self)\b|\bkys\b",
    r"\bleak(?:ing|ed)? (?:your|ur|the|these|those|all|his|her)? ?(?:dms?|messages|texts|chats?|screenshots?|nudes|pics|"
    r"photos)\b", r"\bpost(?:ing)? (?:your|ur) (?:address|number|dms|nudes)\b",
    r"\b(?:your|ur) (?:kids|children|family|wife|husband|mum|mom) (?:will|would|are going to|gonna)\b",
    r"\bi'?ll make (?:you|u|sure you) (?:regret|pay|suffer)\b", r"\byou(?:'ll| will) regret\b",
    r"\b(?:send|sending|forward|forwarding|show|showing|email|emailing|report|reporting|take|taking)\s+(?:\w+\s+){0,3}?"
    r"to (?:your|ur) (?:boss|employer|manager|hr|school|family|wife|husband|mum|mom|parents|kids|work)\b",
    r"\b(?:call|calling|tell|telling|email|emailing|contact|contacting|message|messaging|ring|ringing) (?:your|ur) "
    r"(?:boss|employer|manager|hr|school|family|wife|husband|mum|mom|parents)\b",
    r"\bwhen i find (?:you|u)\b", r"\bi'?m coming for (?:you|u)\b",
    r"\bcomin[g']? for (?:your|yo|ur|ya|his|her) (?:life|head|neck|family)\b", r"\bcoming to (?:your|ur) (?:house|home|work)\b",
    # Added from the round-3 corpus's train and validation threats (the test split's were not looked at):
    # "see what happens", leverage over someone's job, family or secrets, turning up where they are.
    r"\bsee (?:what|wat|wot|whit|wetin) (?:happens|happen|go happen)\b", r"\btry me\b",
    # Veiled threats in their stock idioms ("Accidents happen on those stairs, Linda. Just saying."): three train
    # threats, no other corpus text and no call-in reference; the threat probe reads them as 0.2-0.3.
    r"\baccidents (?:can |do )?happen\b|\b(?:shame|pity) if (?:something|anything)\b|\bwould be a (?:shame|pity) if\b"
    r"|\bhope nothing (?:bad )?happens to\b|\bsomething (?:might|could) happen to\b",
    r"\b(?:ill|imma|ima|i'ma|im gonna)\s+(?:\w+\s+){0,3}?(?:find|hurt|kill|break|beat|punch|smash|slap|stab|shoot|end|"
    r"ruin|destroy|track|hunt|dox+|leak|expose|visit|show up|pull up|run (?:u|you) over|swat|key|burn|get (?:u|you))\b",
    r"\b(?:you|u)(?:'re| are| r|r)? (?:gonna |going to )?(?:get(?:ting)?|be(?:ing)?) (?:jumped|slapped|hit|hurt|smacked|"
    r"battered|stabbed|shot|keyed|dealt with|sorted out)\b",
    r"\bget(?:ting)? keyed\b", r"\bkey (?:your|ur) (?:car|truck|motor)\b",
    r"\b(?:you|u)(?:'d| had)? better hope (?:i|we) (?:never|don't|dont) see\b",
    r"\b(?:show(?:ing)?|turn(?:ing)?|pull(?:ing)?) up (?:at|to|on|outside) (?:ur|your|u\b|you\b)",
    r"\bpull up on (?:u|you)\b", r"\b(?:i'?ll|ill|i will|i'?m|im|i am) (?:\w+ ){0,2}?(?:at|outside|round|by) "
    r"(?:ur|your) (?:door|house|home|place|work|office|school|shop|salon|block|gates?|car)\b",
    r"\bi (?:know|found|got|have) (?:\w+ ){0,2}?(?:your|ur) (?:school|office|work|house|address|salon|shop|unit|"
    r"hotel|location|reg|plate|number|ip|real name|family|kids|class|car)\b",
    r"\bi know (?:which|what|where) (?:\w+ ){0,3}?(?:you|u|yours|ur)\b",
    r"\b(?:i'?ll|ill|i will|i'?m gonna|we'?ll) make sure (?:\w+ ){0,5}?(?:sees?|knows?|hears?|finds? out|reads?|gets?)\b",
    r"\b(?:your|ur) (?:boss|dad|mum|mom|mam|parents|wife|husband|missus|family|principal|pastor|manager|md|teacher|"
    r"employer|followers|following|whole \w+) (?:and \w+ )?(?:gets?|sees?|will see|hears?|knows?|finds? out)\b",
    r"\b(?:pics|photos|screenshots|messages|texts|chats|voice notes|dms|receipts)\b(?:\s+\w+){0,5}?\s+(?:go|goes|get|gets"
    r"|will go|are going) (?:on|in|to|up)\b",
    r"\b(?:leak|post|share|forward|print|send|put|paste|drop)(?:ing)? (?:\w+ ){0,4}?(?:your|ur) (?:messages|chats|texts|"
    r"voice notes|dms|screenshots|ip|address|number|id|real name|location|pics|photos|nudes|profile)\b",
    r"\bur done\b|\byou'?re done\b|\bfinal warning\b|\bone call only\b",
    # Leaks of private material as the consequence ("I have screenshots of everything... Apologise or they go to the
    # whole floor"): seven train and validation threats the patterns missed, four of them the probe too (P 0.23-0.48);
    # no other corpus text, call-in reference or labelled real text matches them
    # (model_cards/judging/2026-12-06-leak-threats/patterns.py). An ultimatum to send a public post
    # to someone ("delete it or I'm contacting the league") is the corpus's `ultimatum` style, not matched here.
    r"\bor (?:they|it|these|those|them|the (?:screenshots?|recordings?|messages|texts|dms|chats|receipts|voice notes|"
    r"pics|photos|videos?))\s+(?:go|goes|gets?|will go|are going|is going)\s+(?:to|straight|out|public|up|on|round|"
    r"around|viral)\b",
    r"\b(?:they|it|these|those|them)\s+(?:go|goes|gets?|will go)\s+straight (?:to|on|up)\b",
    r"\bthe whole (?:\w+ )?(?:gets? to|will|is going to|'?s gonna) (?:read|see|hear)\b",
    r"\b(?:your|ur) (?:uni|college|school|work|job|office|boss|employer|church|family|wife|husband|mum|mom|parents|"
    r"sponsors?|followers|manager) (?:gets?|will get|is getting) an? (?:email|call|message|letter|visit|dm)\b",
    # Calls for a person to be lynched, hanged or shot, as real news comments and hate posts word them ("deserves a
    # noose put around her neck", "She should be hung", "take him outback and shoot him"): 15 of 21 real threats
    # labelled in session 18 passed the probe, and one rewrite kept the lynching. Written after reading those 21;
    # no corpus text or call-in reference matches them, and of the 1,504 labelled ParaDetox comments they add 2
    # threats and 1 non-threat ("you deserve to be shot") (model_cards/judging/2026-12-06-backstop-gate/).
    r"\b(?:deserves?|needs?|earned) (?:a|the) (?:noose|bullet)\b",
    r"\bnoose (?:put )?(?:around|round|on) (?:his|her|their|your|ur) neck\b",
    r"\bhang(?:ed)? (?:until|till|til) (?:he|she|they|you)(?:'s| is| are|'re)? dead\b",
    r"\b(?:he|she|they|him|her|them|you|u|scumbags?|bastards?|traitors?) (?:should|ought to|needs? to|deserves? to) "
    r"(?:be|get) (?:hung|hanged|lynched|shot|executed|strung up)\b",
    r"\b(?:hang|lynch|string up) (?:him|her|them|this \w+|that \w+|these \w+)\b",
    r"\b(?:take|taken|took) (?:him|her|them) (?:out ?back|outside) and (?:shoot|shot|hang)\b",
    r"\buntil someone (?:shoots|kills|hangs) (?:one of )?(?:them|these|those|him|her)\b",
)
# Calls for an execution ("a public hanging is in order"). Written in session 19 after one rewrite of a test
# comment of the eval's real_comments slice kept it ("horrific and stupid. a public hanging is in order." ->
# "a public hanging is in order. that poor animal."); no text of the corpus, its references, the labelled
# ParaDetox comments or toxic_spans' train and trial files matches it, so no data but that one checks it.
_EXECUTION_CALL_PATTERNS = (
    r"\b(?:(?:public|mass) )?(?:hanging|lynching|firing squad|execution)s? (?:is|are|would be|seems?) "
    r"(?:(?:long |well )?(?:overdue|in order|due|needed|called for)|the (?:answer|solution))\b",
)
_THREAT_PATTERNS += _EXECUTION_CALL_PATTERNS
# Wishes of violence or death on a person or group ("I fucking hope all of you snipers get fucking raped"), which
# LABELS.md's labellers count as threats: written in session 23 from one Davidson tweet a rewrite answered; they
# match 4 of the 162 labelled real ParaDetox threats ("hope you die soon"), none of its other labelled comments,
# and no corpus text or call-in reference (model_cards/judging/2026-12-07-davidson/).
_THREAT_PATTERNS += (
    r"\bhope (?:\w+ ){0,6}?(?:gets?|getting) (?:\w+ )?(?:raped|killed|shot(?! down)|stabbed|murdered|lynched|hanged|hung|"
    r"run over|beaten|cancer|aids)\b",
    r"\bhope (?:you|u|he|she|they|them|ya|y'all)(?: all)? (?:die|dies|rot|burn|choke)\b(?! laughing| happy| of laughter| trying)",
)
# Sexual violence wished or promised, and violence someone "deserves" ("I'd like to rape the bitch that posted that"
# -> "I'd like to rape her."; "Some bitches just deserve to get punched" -> "Some people just deserve to get punched"):
# written in session 24 after the blind judges of a fourth held-out Davidson sample found both shown; the patterns
# above lacked "rape" and needed a pronoun before "deserves". "nobody deserves to get stalked" is a call-in's denial.
_THREAT_PATTERNS += (
    r"\b(?:i|we|he|she|they|someone|somebody)\s*(?:'ll|will|'m going to|am going to|'m gonna|am gonna|gonna|would|'d|"
    r"want to|wanna|wish i could)\s+(?:\w+\s+){0,3}?(?:rape|molest|sexually assault)\b",
    r"\b(?:rape|molest) (?:you|u|him|her|them|ya|that \w+|this \w+)\b",
    r"(?<!nobody )(?<!no one )(?<!n't )(?<!not )(?<!never )\bdeserves? (?:to (?:get|be) (?:\w+ )?|a )(?:punched|beaten|beat|"
    r"shot|killed|raped|slapped|smacked|hit|stabbed|hurt|choked|strangled|murdered|knocked out|lynched|hanged|hung|"
    r"beating|bullet|slap|punch)\b",
)
# Hitting a woman urged or boasted ("Hit a bitch it's not like you can see the bruises" came back as "I don't think
# it's possible to see the bruises."): written in session 25 after reading a sixth Davidson sample. No corpus text or
# call-in reference matches it; of the 1,504 labelled ParaDetox comments, one ("i'd punch a bitch", labelled no
# threat). "hit my girl up" (to contact her) and a denial ("never hit a woman") are not threats. The -ing forms were
# added after "Don't got a problem smacking a bitch" came back as "... smacking a lady" on a later sample.
_THREAT_PATTERNS += (
    r"(?<!never )(?<!n't )(?<!not )(?<!dont )(?<!to )(?<!about )(?<!of )\b(?:hit|slap|smack|punch|beat|choke|hitting|slapping|smacking|"
    r"punching|beating|choking) (?:a|that|the|dat|yo|your|ur|"
    r"my|these|them|those|this) (?:bitch|bitches|hoe|hoes|ho|hos|thot|thots|girl|girls|woman|women|chick|chicks|wife|gf|"
    r"girlfriend|lady|ladies)\b(?!\s+(?:up|at)\b)",
)
# Ultimatums ("Edit your post to credit the artist or I'm reporting it for copyright and telling everyone in
# r/comics"): LABELS.md counts an ultimatum backed by a threat to report, shame, ban or expose someone as a threat,
# and a call-in drops it entirely. The corpus's `ultimatum` call-outs are rewritten, not refused, so these patterns
# read candidates only (`check_candidate`, code `threat`), never the source. Written in session 27 after a
# corpus-test suggestion kept the whole ultimatum behind "Please" (in session 19 the same candidate had been
# withheld only because the classifier read it as P(call_in) 0.73, under the floor); they match 283 of the
# corpus's 468 `ultimatum` call-outs and 23 of its 418 threats, none of its 9,847 call-in references, and of its
# neutral texts only 3 reports to moderators that quote a threat (which a call-in may not repeat either).
_ULTIMATUM_PATTERNS = (
    # "... or I'm reporting it", "or we'll tell everyone", "or I post your school name"
    r"\bor (?:else )?(?:i|we|i'll|we'll|i'm|we're|im|ill)(?:'m| am|'ll| will| are|'re| shall)?\s+(?:\w+\s+){0,2}?"
    r"(?:report|reporting|tell|telling|contact|contacting|open|opening|post|posting|email|emailing|message|messaging|"
    r"flag|flagging|escalate|escalating|call|calling|name|naming|share|sharing|send|sending|screenshot|screenshotting|"
    r"forward|forwarding|dm|dming|tag|tagging|file|filing|expose|exposing|mass|clip|clipping|stitch|stitching|ban|banning|"
    r"kick|kicking|mute|muting|block|blocking|leave|leaving|cc|cc'ing|ccing|get you|have you)\b",
    # "or I'm going to the admins", "or I'm taking it to HR"
    r"\bor (?:i|we|i'm|we're|im|i'll|we'll)(?:'m| am|'ll| will| are|'re)? (?:\w+ )?(?:go|going|take|taking) "
    r"(?:it |this |that )?(?:straight )?to (?:the )?(?:mods?|admins?|hr|police|cops|principal|head|boss|manager|ceo|league|"
    r"refs?|teacher|school|council|landlord|everyone|whole|maintainers|organi[sz]ers)\b",
    # "call him that one more time and you're gone", "... again and I'm banning you"
    r"\b(?:one more time|once more|again)\b[^.?!\n]{0,40}?(?:,| and| &) (?:i'm|i'll|im|ill|i am|i will|we'll|we're|"
    r"you're|youre|ur|you'll|you are|you will) (?:\w+ ){0,2}?(?:ban|banning|banned|kick|kicking|kicked|mute|muting|muted|"
    r"report|reporting|reported|gone|off the|done|out of|getting you|having you|going to the|telling|removing|removed)\b",
    r"\b(?:before|or) (?:i|we) (?:report|flag|escalate|name|expose|ban|kick)\b",
    r"\b(?:last|final) (?:warning|chance)\b|\btick tock\b",
)
ULTIMATUM_RE = re.compile("|".join(f"(?:{p})" for p in _ULTIMATUM_PATTERNS), re.IGNORECASE)

# Negation words: a detoxification (the message without the attack) keeps as many as its source, or it has turned
# the stance ("he isnt a racist unlike jason z" -> "he isn't a racist like Jason Z").
NEGATION_RE = re.compile(
    r"\b(?:not|no|never|nobody|nothing|none|neither|nor|unlike|without|cannot)\b|n['’]t\b|\b(?:dont|doesnt|didnt|"
    r"isnt|arent|wasnt|werent|cant|wont|wouldnt|shouldnt|couldnt|aint|havent|hasnt)\b", re.IGNORECASE)


def negations(text: str) -> int:
    """How many negation words `text` has (NEGATION_RE)."""
    return len(NEGATION_RE.findall(text))


# The start of the call-in check's problem text
NOT_CALL_IN = "not a call-in by the classifier"

# Every guard finding has a stable, machine-readable code beside the text people read: a candidate's
# `problem_codes`, a withheld rewrite's `reason_codes` (library, HTTP, batch scoring). Codes never change meaning.
PROBLEM_CODES: dict[str, str] = {
    "empty": "the candidate is empty",
    "copies_source": "the candidate is the source unchanged",
    "repeats_attack": "it repeats an insult or slur of the source",
    "adds_attack": "it adds an insult or profanity",
    "threat": "it contains a threat (the guard's threat patterns), an ultimatum among them (\"... or I'm reporting it\")",
    "threat_probe": "it reads as a threat to the bundle's threat probe",
    "hate_probe": "it reads as a hateful claim about a group of people to the bundle's hate probe",
    "drops_fact": "it drops an @mention, #channel, URL or number of the source",
    "drops_quote": "it drops the source's quoted words",
    "misspells": "it misspells a word of the source",
    "invents": "it invents a name, @mention or number (or, as the message without the attack, a group of people)",
    "not_call_in": "the classifier does not read it as a call-in",
    "invents_harm": "it frames as a call-in a message with no concern beyond the attack, or one that is no call-out",
    "wrong_addressee": "as the message without the attack, it speaks to 'you' where the source addresses no one",
    "slur_source": "the source names a slur or a group of people: the message without the attack is not shown "
                   "(and where its writer uses the slur, nothing but a bare disagreement)",
    "invents_disagreement": "as the message without the attack, it keeps nothing of a retweet (another's words, "
                            "which its writer forwards): a disagreement the writer never voiced",
    "drifts": "it strays from the source's concern (similarity floor)",
    "unlikely": "it reads as unlikely to the model itself (log-probability floor): often garbled",
    "refused_threat": "the source is not rewritten at all: it carries a threat",
    "no_attack_found": "the source is not rewritten: no call-out by the classifier and no insult the guard knows",
    "no_candidate": "no candidate was generated",
}


class Problem(str):
    """One guard finding: the text people read (this str) with its stable `code` (a key of PROBLEM_CODES)."""

    code: str

    def __new__(cls, code: str, message: str) -> Problem:
        if code not in PROBLEM_CODES:
            raise ValueError(f"unknown problem code {code!r}; known: {sorted(PROBLEM_CODES)}")
        problem = super().__new__(cls, message)
        problem.code = code
        return problem

    def __reduce__(self) -> tuple[type, tuple[str, str]]:  # pickles (process pools, Ray) with its code
        return (Problem, (self.code, str(self)))


def problem_code(problem: str) -> str:
    """The code of a finding; a plain string (from an older caller) has none: "unknown"."""
    return getattr(problem, "code", "unknown")
THREAT_RE = re.compile("|".join(f"(?:{p})" for p in _THREAT_PATTERNS), re.IGNORECASE)


def _word_re(words: Iterable[str]) -> re.Pattern[str]:
    parts = []
    for w in sorted(set(words), key=len, reverse=True):
        if w.endswith("*"):
            parts.append(re.escape(w[:-1]).replace(r"\*", r"\*?") + r"\w*")
        else:
            parts.append(re.escape(w).replace(r"\*", r"\*?"))
    return re.compile(r"(?<![\w'])(?:" + "|".join(parts) + r")(?![\w])", re.IGNORECASE)


INSULT_RE = _word_re(INSULTS)
SLUR_RE = _word_re(SLURS)
NEVER_QUOTED_RE = _word_re(NEVER_QUOTED)
IDENTITY_RE = _word_re(IDENTITY_WORDS)
PHRASE_RE = re.compile("|".join(re.escape(p) for p in sorted(INSULT_PHRASES, key=len, reverse=True)), re.IGNORECASE)

# "you" in its spellings ("you're" matches as "you"): the guard's wrong-addressee check and the corpus proxies'
# filter of noisy neutral texts that address someone (callinkit.corpus.proxies)
SECOND_PERSON_RE = re.compile(r"\b(?:you|your|yours|yourself|yourselves|youre|ya|yall|y'all|u|ur)\b", re.IGNORECASE)
MENTION_RE = re.compile(r"(?<![\w@])@\w+(?:[.-]\w+)*")  # @dan_r, @the.queer.bookclub, @release-team
HASHTAG_RE = re.compile(r"(?<![\w#&])#\w+(?:-\w+)*")
URL_RE = re.compile(r"(?:https?://|www\.)[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")
NUMBER_RE = re.compile(r"(?<![\w.])\$?\d+(?:[.,:]\d+)*%?(?:k|m|x)?(?![\w])", re.IGNORECASE)
QUOTE_RE = re.compile(r"[\"“]([^\"”]{3,}?)[\"”]|(?:(?<=\s)|^)[‘']([^'’]{3,}?)[’'](?=[\s.,!?;:)]|$)")
CAPITAL_RE = re.compile(r"(?<![\w'@#])([A-Z][a-z]+(?:[A-Z][a-z]+)*)\b")
# Capitalised words a rewrite may use without the source having them.
COMMON_CAPITALISED = {
    "i", "i'm", "i'd", "i've", "i'll", "dm", "dms", "ok", "okay", "hey", "hi", "thanks", "please", "sorry", "could",
    "would", "can", "will", "is", "are", "was", "it", "it's", "that", "this", "these", "those", "there", "their",
    "they", "we", "you", "your", "my", "our", "if", "when", "what", "why", "how", "who", "which", "where", "maybe",
    "also", "and", "but", "so", "just", "not", "no", "yes", "the", "a", "an", "one", "some", "any", "do", "does",
    "did", "have", "has", "let", "let's", "saying", "calling", "using", "posting", "sharing", "quick", "small",
    "english", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
}
# Tags of a role or of everyone ("@mods", "@channel"), and cues that summon an audience to look at someone else's
# conduct ("@Sam @Rita can you believe Nate ..."): those tags are the pile-on, not the addressee.
_AUDIENCE_HANDLE_RE = re.compile(r"@(?:mods?|moderators?|admins?|modteam|mod-team|team|channel|here|everyone|all"
                                 r"|staff|support|maintainers|core-team|admin\w*|mod\w*team)$", re.IGNORECASE)
_AUDIENCE_CUE_RE = re.compile(
    r"^[\s,:;.!?-]*(?:(?:come|go) (?:look|see)|look(?:ing)? at|look|can (?:you|u) (?:all )?believe|are (?:you|u|y'?all) "
    r"(?:all )?(?:seeing|watching|reading)|(?:you|u|y'?all) (?:seeing|see|watching) this|y'?all|can (?:some|any)(?:one|body)"
    r"|some(?:one|body)|any(?:one|body)|every(?:one|body)|get in here|check (?:this|out)|can we (?:all )?|did (?:you|u) see"
    r"|have (?:you|u) seen|seeing this|see this|mods|fyi|cc\b|please tell me|tell me (?:you|u)|(?:you|u|y'?all) (?:gonna|going to)"
    r" (?:let|allow|do)|\Z)", re.IGNORECASE)
# After a leading run of tags, talk about someone else: "@a @b he just said ...", "@a @b this dude ...".
_THIRD_PERSON_RE = re.compile(r"[\s,:;-]*(?:he|she|they|this|these|that|[A-Z]\w+ (?:just|is|has|keeps|called|posted|said|says"
                              r"|put|wrote|did))\b")
_CHANNEL_BEFORE_RE = re.compile(r"\b(?:in|into|to|on|from|at|across|over|via|through|our|the|this|that|of)\s*$", re.IGNORECASE)
_SCARE_QUOTE_BEFORE_RE = re.compile(r"\b(?:your|ur|yr|his|her|their|this|that|these|those|so-called|so called)\s*$",
                                    re.IGNORECASE)


def audience_mentions(text: str) -> set[str]:
    """The @tags of `text` that summon an audience rather than address the person called out: role tags
    (@mods, @channel), tags after "cc", and a run of tags followed by a cue to look at someone else's conduct
    ("@Sam @Rita can you believe Nate ...", "... @AcademicTwitter come see this"), or talk about someone else
    ("@a @b he just said ..."), and a leading run of three or more (a tagging pile-on)."""
    out = {m for m in MENTION_RE.findall(text) if _AUDIENCE_HANDLE_RE.match(m)}
    for cc in re.finditer(r"\bcc:?((?:\s*@\w+(?:[.-]\w+)*)+)", text, re.IGNORECASE):
        out |= set(MENTION_RE.findall(cc.group(1)))
    for lead in re.finditer(r"(?:^|(?<=[\s.!?:;,(]))((?:@\w+(?:[.-]\w+)*[\s,]*)+)", text):
        run = MENTION_RE.findall(lead.group(1))
        rest = text[lead.end():]
        third_person = lead.start() == 0 and len(run) >= 2 and _THIRD_PERSON_RE.match(rest)
        if _AUDIENCE_CUE_RE.match(rest) or third_person or (lead.start() == 0 and len(run) >= 3):
            out |= set(run)
    return out


_STOP = {"the", "a", "an", "and", "or", "of", "to", "in", "on", "is", "it", "that", "this", "for", "with", "you",
         "your", "i", "me", "my", "be", "are", "was", "at", "as", "so"}


@dataclass(frozen=True)
class SourceFacts:
    """What the guard needs to know about a source, computed once per source."""

    text: str
    attack_words: frozenset[str]
    has_threat: bool
    required_mentions: tuple[str, ...]
    required_channels: tuple[str, ...]
    urls: tuple[str, ...]
    numbers: tuple[str, ...]
    quotes: tuple[tuple[str, ...], ...]
    words: frozenset[str]
    mentions: frozenset[str]
    exact_words: frozenset[str] = frozenset()
    quoted_only_attack: frozenset[str] = frozenset()
    """Insults that the source has only inside quotation marks: the harm it names ("gap tooth freak" in the
    comments), which a call-in may quote in turn; never slurs or profanity (`NEVER_QUOTED`), and never outside
    quotation marks."""
    strict: bool = False
    """Built with `source_facts(strict=True)`: every quote must be kept by 60% of its words."""
    all_numbers: frozenset[str] = frozenset()
    """Every number of the source, those of the attack included (`numbers` is what a rewrite must keep)."""
    slur: str | None = None
    """The source's first slur (lower-cased), if any: a neutral rewrite does not stand for it."""
    own_slur: str | None = None
    """The source's first slur outside quotation marks (lower-cased), if any: one its writer uses rather than
    quotes, so that the message is not a call-out of someone else's slur (`slur_user_problems`)."""
    group_words: tuple[str, ...] = ()
    """The words naming a group of people (`IDENTITY_WORDS`) in the source, lower-cased, in order."""
    addressed: bool = True
    """Whether the source speaks to someone (`addresses_someone`)."""
    content_words: frozenset[str] = frozenset()
    """The source's content words, @mentions left out (`bare_disagreement`)."""
    retweet: bool = False
    """Whether the source opens as a retweet or quoted tweet ("RT @user: ...", "@user: ..."): another's words."""


def _unquoted(text: str) -> str:
    """`text` with its quoted phrases blanked out."""
    return QUOTE_RE.sub(" ", text)


def _norm_number(n: str) -> str:
    return n.lower().replace(",", "").lstrip("$").rstrip("%")


NUMBER_WORDS = {str(i): w for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen twenty".split())} | {"30": "thirty", "40": "forty", "50": "fifty", "60": "sixty",
                                            "100": "hundred", "1000": "thousand"}


def _attack_number(text: str, m: re.Match[str]) -> bool:
    """Numbers that belong to the attack, which a call-in drops: a year as a jab ("in 2026"), an ultimatum's
    deadline ("in the next 10 min or ..."), the person's age as an insult ("you're 30"), a mock rating (10/10)."""
    n, before, after = m.group(0), text[:m.start()].lower(), text[m.end():].lower()
    if re.fullmatch(r"(?:19|20)\d\d", n):
        return True
    if re.search(r"\b(?:next|within|in)\s+(?:the next\s+)?$", before) and re.match(r"\s*(?:min|mins|minutes?|hours?|hrs?"
                                                                                     r"|secs?|seconds?|days?)\b", after):
        return True
    if re.search(r"\b(?:you'?re|youre|ur|you are|u r|he'?s|she'?s)\s+$", before):
        return True
    return bool(re.match(r"/10\b", after))


def _words(text: str) -> list[str]:
    """Lower-cased words with their inner apostrophes (don't, o'brien) but not the quote marks around them:
    "'donate" and "victims'" in `the 'donate to help victims' link` are donate and victims."""
    return [w.strip("'") for w in re.findall(r"[a-z0-9']+", text.lower().replace("’", "'").replace("‘", "'"))
            if w.strip("'")]


def _content_words(text: str) -> tuple[str, ...]:
    return tuple(w for w in _words(text) if w not in _STOP and len(w) > 1)


# Profanity written with symbols ("f**k", "sh!t", "a$$hole", "F()()K", "b!tch"): the word it hides is the attack.
_MASKED_WORDS = ("fuck", "fucking", "fuckin", "fucker", "fucked", "shit", "bitch", "bitches", "asshole", "bastard",
                 "cunt", "dick", "dickhead", "piss", "pissed", "whore", "slut", "ass",
                 "nigga", "niggas", "nigger", "niggers", "faggot", "faggots")  # and slurs ("n*gga", "f@ggot")
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "$": "s", "@": "a", "!": "i"})
_MASKED_TOKEN_RE = re.compile(r"(?<![\w*#])[a-z][a-z0-9*!@#$%()\[\]_.\-]*[*!@#$%()\[\]_.\-0-9][a-z0-9*!@#$%()\[\]_.\-]*",
                              re.IGNORECASE)
_MASK_RUN_RE = re.compile(r"[*#%()\[\]_.\-]+")


def masked_profanity(text: str) -> set[str]:
    """The profanity hidden behind symbols in `text`, as the plain word ("F()()K you" -> {"fuck"}): digits and
    $@! read as the letters they stand for, and each run of other symbols as up to that many letters."""
    found = set()
    for m in _MASKED_TOKEN_RE.finditer(text):
        raw = m.group(0).rstrip(".-_").lower()
        if raw.isalpha():  # a plain word before a full stop or dash: the word lists' business
            continue
        token = raw.translate(_LEET)
        if not _MASK_RUN_RE.search(token):  # only digits or $@! stood for letters ("sh1t")
            if token in _MASKED_WORDS:
                found.add(token)
            continue
        pattern = re.compile("".join(re.escape(part) if not _MASK_RUN_RE.fullmatch(part) else f"[a-z]{{1,{len(part)}}}"
                                     for part in re.split(r"([*#%()\[\]_.\-]+)", token) if part))
        found.update(w for w in _MASKED_WORDS if pattern.fullmatch(w))
    return found


# "FU" (fuck you) in capitals, a word of its own; case-sensitive, so "kung fu" is not one. From a held-out real
# comment whose deletion kept it ("... semi-pro player for years - FU allie"): model_cards/judging/2026-12-07-deletion/
_FU_RE = re.compile(r"(?<![\w'])F\.?U\.?(?![\w'])")


def attack_terms(text: str) -> set[str]:
    """Lowercased insults, slurs and dismissive phrases found in `text`, and profanity hidden behind symbols or
    written as "FU" (as the plain word)."""
    return ({m.group(0).lower() for m in INSULT_RE.finditer(text)} | {m.group(0).lower() for m in SLUR_RE.finditer(text)}
            | {m.group(0).lower() for m in PHRASE_RE.finditer(text)} | masked_profanity(text)
            | ({"fu"} if _FU_RE.search(text) else set()))


def first_slur(text: str, attack: set[str] | None = None) -> str | None:
    """The first slur of `text` (lower-cased), or one hidden behind symbols ("n*gga") among its attack terms."""
    attack = attack_terms(text) if attack is None else attack
    return next((m.group(0).lower() for m in SLUR_RE.finditer(text)),
                next((w for w in sorted(attack) if SLUR_RE.fullmatch(w)), None))


def source_facts(text: str, context: str | None = None, strict: bool = False) -> SourceFacts:
    """What a candidate must keep of `text` and may use; the words, names, numbers and @mentions of the
    message replied to (`context`) may appear in a rewrite without counting as invented.

    By default the rules are those calibrated on the corpus's human call-ins (a call-in may drop the tags that
    summon an audience, shaming hashtags, scare quotes, a year or deadline used as a jab, and may quote an
    insult the source only quotes). `strict=True` requires every tag, lower-case hashtag, quote and number
    instead: for rewriters without a fluency check (release 1), where those requirements were what caught
    garbled text (measured: the calibrated rules let 22 more of release 1's answers to 200 corpus-test
    call-outs through, all garbled)."""
    attack = attack_terms(text)
    mentions = MENTION_RE.findall(text)
    audience = set() if strict else audience_mentions(text)
    addressed = [m for m in mentions if m not in audience]
    # A tagging pile-on (three or more tags) keeps its addressee, the first tag, and drops the rest.
    required_mentions = tuple(dict.fromkeys(addressed if len(set(addressed)) <= 2 else addressed[:1]))
    # A channel is a tag used as a place ("in #general", "to #vendor-escalations"); the other tags, trailing or
    # standalone (#unfollow #dobetter), are the pile-on hashtags a call-in drops (LABELS.md).
    channels = tuple(dict.fromkeys(m.group(0) for m in HASHTAG_RE.finditer(text) if not attack_terms(m.group(0)[1:])
                                   and (m.group(0) == m.group(0).lower() if strict
                                        else _CHANNEL_BEFORE_RE.search(text[:m.start()]))))
    quotes = []
    for m in QUOTE_RE.finditer(text):
        q = m.group(1) or m.group(2) or ""
        if attack_terms(q) or THREAT_RE.search(q):
            continue  # the quote is the attack itself
        words = _content_words(q)
        if not strict and len(words) <= 3 and _SCARE_QUOTE_BEFORE_RE.search(text[:m.start()]):
            continue  # scare quotes around the person's own words ("your 'hot take'", "this 'documentary'"): mockery
        if words:
            quotes.append(words)
    words = _words(text) + _words(context or "")
    words += [w[:-2] for w in words if w.endswith("'s")]  # Noa's -> Noa may be written without the 's
    # names and quoted words, which a rewrite must spell as the source does
    exact = {w for q in quotes for w in q if len(w) >= 4 and w not in attack}
    exact |= {m.group(1).lower() for m in CAPITAL_RE.finditer(text)
              if len(m.group(1)) >= 4 and m.group(1).lower() not in COMMON_CAPITALISED}
    return SourceFacts(
        text=text, attack_words=frozenset(attack), has_threat=bool(THREAT_RE.search(text)),
        required_mentions=required_mentions, required_channels=channels,
        urls=tuple(dict.fromkeys(URL_RE.findall(text))),
        numbers=tuple(dict.fromkeys(_norm_number(m.group(0)) for m in NUMBER_RE.finditer(text)
                                    if strict or not _attack_number(text, m))),
        all_numbers=frozenset(_norm_number(n) for n in NUMBER_RE.findall(text)),
        quotes=tuple(quotes), words=frozenset(words),
        mentions=frozenset(m.lower() for m in mentions + MENTION_RE.findall(context or "")),
        exact_words=frozenset(exact),
        quoted_only_attack=frozenset() if strict else frozenset(t for t in attack - attack_terms(_unquoted(text))
                                                                if not SLUR_RE.fullmatch(t)
                                                                and not NEVER_QUOTED_RE.fullmatch(t)),
        strict=strict,
        slur=first_slur(text, attack), own_slur=first_slur(_unquoted(text)),
        group_words=tuple(m.group(0).lower() for m in IDENTITY_RE.finditer(text)),
        addressed=addresses_someone(text),
        content_words=frozenset(_content_words(MENTION_RE.sub(" ", text))),
        retweet=bool(_RETWEET_RE.match(text)),
    )


_SUFFIXES = ("s", "es", "'s", "d", "ed", "ing", "n't")


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s", "d"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance of two short words, stopping once it exceeds `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
        if min(row) > limit:
            return limit + 1
    return row[-1]


_MID_SENTENCE_CAPITAL_RE = re.compile(r"(?<=[a-z,;] )([A-Z][a-z']+)\b")


@functools.lru_cache(maxsize=1)
def _corpus_words() -> tuple[frozenset[str], frozenset[str]]:
    """(words written in at least two texts of the shipped corpus; those of them written in lower case in at least
    five texts and in at least as many as they are capitalised inside a sentence: ordinary words, not names (a
    name is written in lower case in a few messy posts: "kaylee" in 2), read in one pass."""
    from collections import Counter

    from callinkit.corpus import KINDS, read_records

    df: Counter[str] = Counter()
    lower: Counter[str] = Counter()
    capitalised: Counter[str] = Counter()
    for kind in KINDS:
        for record in read_records(kind):
            texts = [v.replace("’", "'") for v in record.data.values() if isinstance(v, str)]
            df.update({w for v in texts for w in _words(v)})
            lower.update({w.strip("'") for v in texts for w in re.findall(r"(?<![\w'])[a-z][a-z']*", v)})
            capitalised.update({m.group(1).lower() for v in texts for m in _MID_SENTENCE_CAPITAL_RE.finditer(v)})
    return (frozenset(w for w, n in df.items() if n >= 2),
            frozenset(w for w, n in lower.items() if n >= 5 and n >= capitalised[w]))


def _tag_words(text: str) -> set[str]:
    """The capitalised words inside the hashtags and @mentions of `text` (#FireCoachBrennan: fire, coach, brennan)."""
    return {w.lower() for tag in re.findall(r"[#@][\w.]+", text) for w in re.findall(r"[A-Z][a-z]+", tag)}


def known_words() -> frozenset[str]:
    """Words written in at least two texts of the shipped corpus (about 20,000): real words, which a rewrite
    may use even when they are one letter away from a word of its source (they / the, woman / women)."""
    return _corpus_words()[0]


def ordinary_words() -> frozenset[str]:
    """Words written in lower case in at least five texts of the shipped corpus: ordinary words rather than names.
    A capitalised word opening a sentence of a rewrite that is none of these, nor a word of its source, is a name
    the source does not have ("Kaylee, ..." for a message to KAYLEIGH, "Tyrle, ..." for one to Tyler)."""
    return _corpus_words()[1]


def misspelt(facts: SourceFacts, text: str) -> list[tuple[str, str]]:
    """(source word, candidate word) pairs where the candidate writes a name or quoted word of the source
    with one or two letters changed into a word that is not a known word ('sikhs' -> 'ikhs'); inflections
    (Kevin's, posts, deleted) are not misspellings."""
    if not facts.exact_words:
        return []
    out = []
    for word in dict.fromkeys(_words(text)):
        if word in facts.words or len(word) < 3 or any(
                word + s in facts.words or (word.endswith(s) and word[: -len(s)] in facts.words) for s in _SUFFIXES):
            continue
        if word in known_words():
            continue
        for exact in facts.exact_words:
            if any(word == exact + s or exact == word + s for s in _SUFFIXES) or _stem(word) == _stem(exact):
                continue
            limit = 1 if len(exact) <= 5 else 2
            if _edit_distance(word, exact, limit) <= limit:
                out.append((exact, word))
                break
    return out


def quote_kept(quote: tuple[str, ...], cand_words: set[str]) -> bool:
    """Whether a candidate names a quote of its source: half of a short quote's content words, and of a long one
    (four words or more) at least a third and two or more; a call-in often quotes only the harmful part."""
    kept = sum(w in cand_words for w in quote)
    if len(quote) <= 3:
        return kept >= 0.5 * len(quote)
    return kept >= max(2.0, len(quote) / 3)


_RETWEET_RE = re.compile(r"^\s*(?:RT\s+)?@\w+\s*:", re.IGNORECASE)
_VOCATIVE_NAME_RE = re.compile(r"(?:^|[.!?]\s+)[A-Z][a-z]+,|,\s*[A-Z][a-z]+[.!?]*\s*$")  # "Kim, ..." / "... go, Obama."


def addresses_someone(text: str) -> bool:
    """Whether `text` speaks to someone: "you", an opening @mention (not a retweet's "RT @user:", which names
    whose words follow), a name as a vocative ("Just go, Obama."), or a bare insult of four words or fewer
    ("Dumb ass bitch", "@m_gast faggot")."""
    own = _RETWEET_RE.sub(" ", text)
    return bool(SECOND_PERSON_RE.search(own) or MENTION_RE.match(own.strip()) or _VOCATIVE_NAME_RE.search(own.strip())
                or len(_words(own)) <= 4)


def bare_disagreement(facts: SourceFacts, candidate: str) -> bool:
    """Whether `candidate` keeps nothing of what its source says: no content word of the source but its
    @mentions ("@m_gast I don't agree with you on this one." for "@m_gast <slur>")."""
    return not facts.content_words.intersection(_content_words(MENTION_RE.sub(" ", candidate)))


def neutral_rewrite_problems(facts: SourceFacts, candidate: str) -> list[Problem]:
    """What a neutral rewrite (the message without the attack, which names no harm) may not do beyond
    `check_candidate`: quote the source's attack (a call-in may, to name the harm), add a group of people the
    source does not name, or stand for a message with a slur or about a group of people, which without the
    attack is too often the same hateful message ("I hate when black people try and be white so bad ... Your a
    nigger" -> the first sentence; "Roman Catholics in the US are trash" -> "... are not good people"); a bare
    disagreement that keeps nothing of such a message may still be shown: model_cards/judging/2026-12-07-davidson/.

    A bare disagreement ("I don't agree with you on this one.") is the rewrite LABELS.md asks of a call-out with no
    concern beyond its attack; it does not stand for a retweet, whose writer forwards (mostly endorses) another's
    words ("RT @frankieboyle: You can ask yourself if you trust ..." -> "@frankieboyle I don't agree with you on
    this one"): code `invents_disagreement`. (Requiring a call-out by the classifier as well was tried: on samples
    1-2 it changed 19 more answers (18 withheld), 15 rated good by at least one judge, 12 by both: mostly bare
    disagreements with bare insults at a handle, "@m_gast faggot", which the classifier reads as no call-out since
    they name no act.)"""
    problems = []
    quoted = sorted(attack_terms(candidate) & facts.quoted_only_attack)
    if quoted:
        problems.append(Problem("repeats_attack", f"repeats the source's insult or slur: {', '.join(quoted)}"))
    source_groups = {_stem(w) for w in facts.group_words}
    added = sorted({m.group(0).lower() for m in IDENTITY_RE.finditer(candidate)
                    if _stem(m.group(0).lower()) not in source_groups})
    if added:
        problems.append(Problem("invents", f"invents {', '.join(added)} (a group of people the source does not name)"))
    if SECOND_PERSON_RE.search(candidate) and not facts.addressed:
        problems.append(Problem("wrong_addressee", "speaks to 'you' where the source addresses no one (it is about "
                                                   "someone or something else)"))
    bare = bare_disagreement(facts, candidate)
    if bare and facts.retweet:
        problems.append(Problem("invents_disagreement", "keeps nothing of the source, a retweet (another's words, "
                                                        "which its writer forwards): a disagreement its writer "
                                                        "never voiced"))
    if (facts.slur or facts.group_words) and not bare:
        what = f"a slur ({facts.slur!r})" if facts.slur else f"a group of people ({facts.group_words[0]!r})"
        problems.append(Problem("slur_source", f"the source names {what}: the message without the attack is not "
                                               "shown (it is too often the same message), only a bare "
                                               "disagreement or a call-in that names the harm"))
    return problems


def slur_user_problems(facts: SourceFacts, candidate: str) -> list[Problem]:
    """What any candidate, a call-in included, may not be for a source whose writer uses a slur (outside quotation
    marks): anything but a bare disagreement (code `slur_source`). Such a message is hate or abuse, not a call-out
    of someone else's words, and `neutral_rewrite_problems` already keeps its message without the attack from
    being shown; a call-in frame kept it too. Of the 48 such answers (not bare disagreements) that the guards of
    sessions 22-25 showed for real tweets and Reddit replies, both blind judges rated 35 bad, 18 carried harm
    ("Remember <slur>. White people are actually trained to use the guns we own ..." -> "White people are trained
    to use the guns we own ..."), 3 were rated good by one judge; of 89 bare disagreements for such messages 55
    were rated good and none carried harm. The 12 that session 25's guard still showed were all bad with both
    judges (model_cards/judging/2026-12-07-davidson/, session 26). Corpus call-outs quote the slur they name; the
    three that name one without quotation marks ("a variable named `spazMode`") are read as using it, a known
    false positive (their call-ins repeated the slur, `repeats_attack`, anyway)."""
    if facts.own_slur and not bare_disagreement(facts, candidate):
        return [Problem("slur_source", f"the source uses a slur ({facts.own_slur!r}) itself: only a bare "
                                       "disagreement may stand for it (a rewrite or call-in frame is too often the "
                                       "same message)")]
    return []


def below(value: float, floor: float) -> str:
    """"value < floor" with enough decimals that the two differ (-0.803 < -0.800, not -0.80 < -0.80)."""
    for digits in (2, 3, 4):
        a, b = f"{value:.{digits}f}", f"{floor:.{digits}f}"
        if a != b:
            return f"{a} < {b}"
    return f"{value:.6g} < {floor:.6g}"


def check_candidate(source: SourceFacts | str, candidate: str, p_call_in: float | None = None,
                    min_call_in: float = 0.5) -> list[Problem]:
    """Every reason `candidate` may not be suggested for `source` (each with its code); empty when it passes."""
    facts = source if isinstance(source, SourceFacts) else source_facts(source)
    text = candidate.strip()
    if not text:
        return [Problem("empty", "empty rewrite")]
    problems: list[Problem] = []
    low = text.lower()
    if re.sub(r"\W+", " ", low).strip() == re.sub(r"\W+", " ", facts.text.lower()).strip():
        problems.append(Problem("copies_source", "copies the source unchanged"))
    terms = attack_terms(text)
    in_own_words = attack_terms(_unquoted(text)) if terms & facts.quoted_only_attack else terms
    kept = sorted(t for t in terms if t in facts.attack_words
                  and (t not in facts.quoted_only_attack or t in in_own_words))
    if kept:
        problems.append(Problem("repeats_attack", f"repeats the source's insult or slur: {', '.join(kept)}"))
    added = sorted(t for t in terms if t not in facts.attack_words)
    if added:
        problems.append(Problem("adds_attack", f"adds an insult or profanity: {', '.join(added)}"))
    threat = THREAT_RE.search(text) or ULTIMATUM_RE.search(text)
    if threat:
        problems.append(Problem("threat", f"contains a threat: {threat.group(0)!r}"))
    lost = [m for m in facts.required_mentions if m.lower() not in low]
    lost += [c for c in facts.required_channels if c.lower() not in low]
    lost += [u for u in facts.urls if u not in text]
    cand_numbers = {_norm_number(n) for n in NUMBER_RE.findall(text)}
    lost += [n for n in facts.numbers if n not in cand_numbers and n not in low
             and not (n in NUMBER_WORDS and re.search(rf"\b{NUMBER_WORDS[n]}\b", low))]
    if lost:
        problems.append(Problem("drops_fact", f"drops {', '.join(lost)}"))
    cand_words = set(_words(low))
    kept_quotes = [sum(w in cand_words for w in q) >= 0.6 * len(q) if facts.strict else quote_kept(q, cand_words)
                   for q in facts.quotes]
    for quote, kept in zip(facts.quotes, kept_quotes):
        # Every long quote is named (its key words at least); of several, a short one may go (often the
        # person's excuse or a scare-quoted word), as long as one quote is kept.
        if not kept and (facts.strict or len(quote) >= 3 or not any(kept_quotes)):
            problems.append(Problem("drops_quote", f"drops the quoted words '{' '.join(quote)[:60]}'"))
            break
    new_mentions = [m for m in MENTION_RE.findall(text) if m.lower() not in facts.mentions]
    new_numbers = [n for n in NUMBER_RE.findall(text) if _norm_number(n) not in facts.numbers
                   and _norm_number(n) not in facts.words]
    # a number written as a word is a number too ("Ten months into the campaign" for a source with none)
    new_numbers += [w for digits, w in NUMBER_WORDS.items() if w not in ("one", "zero")
                    and re.search(rf"\b{w}\b", low) and w not in facts.words and digits not in facts.all_numbers]
    new_names = []
    for m in CAPITAL_RE.finditer(text):
        word = m.group(1)
        start = m.start(1)
        before = text[:start].rstrip()
        sentence_start = not before or before[-1] in ".!?:\n\"“(" or before.endswith(("—", "-"))
        if word.lower() in COMMON_CAPITALISED or word.lower() in facts.words:
            continue
        # at the start of a sentence any word is capitalised; one that addresses someone ("Kaylee, ...") and is no
        # ordinary word is a name, which the source must have
        if sentence_start and (not text[m.end(1):].startswith(",") or word.lower() in ordinary_words()
                               or word.lower() in _tag_words(facts.text)):
            continue
        new_names.append(word)
    wrong = misspelt(facts, text)
    if wrong:
        problems.append(Problem("misspells", "misspells " + ", ".join(f"'{a}' as '{b}'" for a, b in wrong)))
    invented = new_mentions + new_numbers + new_names
    if invented:
        problems.append(Problem("invents", f"invents {', '.join(dict.fromkeys(invented))}"))
    if p_call_in is not None and p_call_in < min_call_in:
        problems.append(Problem("not_call_in", f"{NOT_CALL_IN} (P(call_in) {below(p_call_in, min_call_in)})"))
    return problems


def chrf(hypothesis: str, reference: str, max_n: int = 6, beta: float = 2.0) -> float:
    """Sentence chrF (character n-grams 1..6, beta 2; spaces removed, as sacrebleu), 0..1."""
    from collections import Counter

    hyp, ref = hypothesis.replace(" ", ""), reference.replace(" ", "")
    precisions, recalls = [], []
    for n in range(1, max_n + 1):
        h = Counter(hyp[i:i + n] for i in range(len(hyp) - n + 1))
        r = Counter(ref[i:i + n] for i in range(len(ref) - n + 1))
        if not h or not r:
            continue
        overlap = sum((h & r).values())
        precisions.append(overlap / sum(h.values()))
        recalls.append(overlap / sum(r.values()))
    if not precisions:
        return 0.0
    p, r = sum(precisions) / len(precisions), sum(recalls) / len(recalls)
    return 0.0 if p + r == 0 else (1 + beta**2) * p * r / (beta**2 * p + r)


# -- the deletion candidate ------------------------------------------------------------------------------------
# Profanity a deletion can drop without changing what the sentence says ("he was only twenty fucking years old"),
# unlike name-calling ("kim is a total idiot" -> "kim is a total"): model_cards/judging/2026-12-07-deletion/.
_PROFANITY_RE = re.compile(r"(?:f+u+c*k+\w*|fck\w*|f\*+ck\w*|shit|bullshit|crap|damn|goddamn|damned|wtf|ffs|bloody|"
                           r"lmao|lmfao|smh|yikes|stfu)", re.IGNORECASE)
_FUCK = r"(?:f+u+c*k+|f\*+ck)"
# (pattern, replacement; None: no deletion for such a text), applied in order before the single words
_PROFANE_IDIOMS: tuple[tuple[str, str | Callable[[re.Match[str]], str] | None], ...] = (
    (r"\bpieces?\s+of\s+(?:shit|crap)\b", None),  # name-calling: no deletion
    # a judgement the profanity carries ("a bunch of crap from Kelly" -> "... stuff" loses the stance)
    (r"\b(?:bunch|load|pile|full)\s+of\s+(?:shit|crap|bullshit)\b", None),
    # the verb ("wanna fuck?", "if you got fucked ..."), and a bare one standing for "what the fuck" ("fuck is
    # the 'ahhh' for?"): deleting either garbles the sentence
    (r"\b(?:wanna|to|gonna|gotta|let'?s|i|we|you|u|they|he|she|can|could|would|will|should|must|got|get|getting|be|been)"
     r"\s+" + _FUCK + r"(?:ed|s)?\b", None),
    (r"(?:^|[.!?]\s*)" + _FUCK + r"\s+(?:is|are|was|were|do|does|did|you|u)\b", None),
    (r"(^|[.!?]\s*)the\s+" + _FUCK + r"\b", r"\1what"),  # "the fuck is wrong with you" -> "what is ..."
    (r"\b(what|where|who|how|why)\s+(?:in\s+)?the\s+(?:" + _FUCK + r"|hell|heck)\b", r"\1"),
    (r"\b(?:as|af)\s+" + _FUCK + r"\b", ""),
    (r"\bholy\s+(?:shit|crap|" + _FUCK + r")\b", ""),
    (r"\b(give|gives|giving|gave)\s+an?\s+(?:" + _FUCK + r"|shit|damn)\b",  # "give a fuck" -> "care", in its tense
     lambda m: {"give": "care", "gives": "cares", "giving": "caring", "gave": "cared"}[m.group(1).lower()]),
    (r"\bthe\s+(?:" + _FUCK + r"|hell|shit|crap)\s+out\s+of\s+", ""),
    (r"\bwtf\b(?=\s+(?:is|are|was|were|do|does|did|happened)\b)", "what"),
    (r"\b" + _FUCK + r"\s+(?:you|u|off|this|that|them|him|her|it)\b(?=\s*(?:[.!?,]|$))", ""),
    (r"\b(a bit|so|really|pretty|is|are|was|were|'s)\s+shit\b(?=\s*(?:[.!?,]|$))", r"\1 bad"),
    (r"\b(?:shitty|crappy)\b", "bad"),
    (r"\b(n't|not|never|dont|cant|wont|didnt|doesnt)\s+(\w+\s+)?(?:shit|crap)\b", r"\1 \2anything"),
    (r"\b(?:" + _FUCK + r"ing|" + _FUCK + r"in'?|bloody|damn|goddamn)\s+hell\b", ""),
)
_STUFF_BEFORE_RE = re.compile(r"\b(?:this|that|their|his|her|my|your|ur|our|all|old|some|of|much|no)\s+$", re.IGNORECASE)
_INTERJECTION_BEFORE_RE = re.compile(r"(?:^\s*|[.!?,]\s*|\blmao\s+|\blol\s+)$", re.IGNORECASE)
_VOCATIVE_RE = re.compile(r"(?:,\s*|\byou\s+)(\w+)(?=\s*[.!?]*\s*$)", re.IGNORECASE)


def _tidy(text: str) -> str:
    return re.sub(r"\s+([,.!?;:])", r"\1", re.sub(r"\s+", " ", text)).strip()


def without_profanity(text: str) -> str | None:
    """`text` without its profanity and a closing vocative insult (", cunt", "... you idiot."), or None when it
    has none or its attack is more than that: name-calling inside the sentence, which a deletion would turn into
    a different claim ("kim is a total idiot" -> "kim is a total"), or profanity no rule here can take out
    cleanly ("fuck this guy for ..."). The rewriter offers it as one more candidate (`guard.deletion_candidate`),
    scored by the model's own log-probability and checked by the guard like the model's own."""
    t = text
    for pattern, repl in _PROFANE_IDIOMS:
        if repl is None:
            if re.search(pattern, t, re.IGNORECASE):
                return None
            continue
        t = re.sub(pattern, repl, t, flags=re.IGNORECASE)
    m = _VOCATIVE_RE.search(t)
    if m and (INSULT_RE.fullmatch(m.group(1)) or SLUR_RE.fullmatch(m.group(1))):
        t = t[:m.start()] + t[m.end():]
    if re.search(r"\b" + _FUCK + r"\s+(?:you|u|off|this|that|them|him|her|it)\b", t, re.IGNORECASE):
        return None
    if any(not _PROFANITY_RE.fullmatch(w) for w in attack_terms(t)):  # name-calling, a slur, a dismissal
        return None
    unclean: list[str] = []

    def drop(m: re.Match[str]) -> str:
        word = m.group(0)
        if not _PROFANITY_RE.fullmatch(word):
            return word
        if word.lower() in ("fucks", "fuckers", "fucker", "shits"):
            unclean.append(word)
        if word.lower() in ("shit", "crap", "bullshit"):
            before = t[:m.start()]
            if _STUFF_BEFORE_RE.search(before):
                return "stuff"
            if not _INTERJECTION_BEFORE_RE.search(before):  # a noun no rule here can replace ("the shit got ...")
                unclean.append(word)
        return ""

    t = INSULT_RE.sub(drop, t)
    if unclean:
        return None
    for m in list(_MASKED_TOKEN_RE.finditer(t)):
        if masked_profanity(m.group(0)):
            t = t.replace(m.group(0), "")
    t = re.sub(r"[ \t]{2,}", " ", t)
    t = re.sub(r"\s+([,.!?;:])", r"\1", t)
    t = re.sub(r"([,;:])\s*([,.!?;:])", r"\2", t)
    t = re.sub(r"^[\s,.;:!?-]+", "", t).strip()
    t = re.sub(r"(?:\s*,|\s+(?:but|and|so|or))+\s*$", "", t, flags=re.IGNORECASE)
    if t and t[0].islower() and text.lstrip()[:1].isupper():
        t = t[0].upper() + t[1:]
    if _tidy(t) == _tidy(text) or attack_terms(t) or not re.search(r"[A-Za-z]{2,}", t):
        return None
    return t

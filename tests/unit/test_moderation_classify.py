"""Categories from words and co-occurring concepts; context lowers to watch, never to nothing."""

from __future__ import annotations

from functools import cache

import pytest

from moderation import Category, Lexicon, Severity, load_lexicon, moderate
from moderation.classifier import Hit, _Context

C = Category


@cache
def lexicon() -> Lexicon:
    return load_lexicon()


@cache
def rules_alone() -> Lexicon:
    """The lexicon without its learned stage: what the rules find by themselves."""
    return load_lexicon(learned=False)


CRISIS = [
    (C.SUICIDE, "i'm going to kill myself this weekend"),
    (C.SUICIDE, "I really want to die, nothing helps anymore"),
    (C.SUICIDE, "Nobody would miss me if I was gone"),
    (C.SUICIDE, "the rope is in the closet and I know which beam"),
    (C.SUICIDE, "wrote goodbye letters to my kids. this is it"),
    (C.SUICIDE, "parked on the bridge, looking down at the water"),
    (C.SUICIDE, "I'm a burden to everyone, they'd be happier without me"),
    (C.SUICIDE, "gonna self delete fr"),
    (C.SUICIDE, "ѕuісіdе is all I think about"),
    (C.SUICIDE, "quiero suicidarme esta noche"),
    (C.SUICIDE, "my sister texted goodbye everyone and now she's not answering"),
    (C.SUICIDE, "I have 30 pills and tonight is the night"),
    (C.SELF_HARM, "I sliced my arm again last night"),
    (C.SELF_HARM, "can't stop scratching my wrists until they bleed"),
    (C.SELF_HARM, "burning my skin with a cigarette helps me feel something"),
    (C.SELF_HARM, "the urge to cut won't go away and the razor is in my bag"),
    (C.SELF_HARM, "held the lighter to my wrist on purpose"),
    (C.SELF_HARM, "me corté los brazos otra vez"),
    (C.OVERDOSE, "i swallowed a whole bottle of tylenol an hour ago"),
    (C.OVERDOSE, "my friend is blue and not breathing after shooting up"),
    (C.OVERDOSE, "took 4 bars with wine and I can barely breathe"),
    (C.OVERDOSE, "he's unresponsive, we just did some dope, should i call 911"),
    (C.OVERDOSE, "mi novio tomó muchas pastillas y no responde"),
    (C.RELAPSE, "about to drink, the bottle is open in front of me"),
    (C.RELAPSE, "I'm buying a bottle on the way home, I don't care anymore"),
    (C.RELAPSE, "holding a bag of dope in the bathroom right now"),
    (C.RELAPSE, "my dealer just texted, he's pulling up in 5"),
    (C.RELAPSE, "gonna get high tonight, screw it"),
    (C.RELAPSE, "voy a beber esta noche, ya tengo la botella en la mano"),
    (C.ABUSE, "my boyfriend slapped me and broke my phone"),
    (C.ABUSE, "he punched me in the face, I'm scared he'll do it again"),
    (C.ABUSE, "my stepfather hits my little sister when he's drunk"),
    (C.ABUSE, "she threatened to stab me if I tell anyone"),
    (C.ABUSE, "I'm going to kill that guy who sold my son fentanyl, I have a gun"),
    (C.ABUSE, "mi esposo me golpea cuando bebe"),
]

COMMUNITY = [
    (C.HARASSMENT, "shut up you pathetic junkie"),
    (C.HARASSMENT, "you're a disgusting loser, everyone hates you"),
    (C.HARASSMENT, "what a st*pid m0r0n you are"),
    (C.PII, "my number's 312 555 0123 call me"),
    (C.PII, "reach me at sam.t@example.org"),
    (C.PII, "write to sam [at] example [dot] com"),
    (C.PII, "I live at 42 Elm Street, come over"),
    (C.PII, "my cell is six one seven, five five five, oh one two three"),
    (C.SOLICITATION, "anyone selling percs? paying good"),
    (C.SOLICITATION, "got bars and blues, hit me up"),
    (C.SOLICITATION, "who can get me some coke tonight"),
    (C.SPAM, "EARN $500 FAST from home, click here: fast-cash.example.net"),
    (C.SPAM, "Free crypto giveaway!!! join now at crypto-gift.example.net"),
]

ORDINARY = [
    "this traffic is killing me",
    "I'd die for a slice of pizza right now lol",
    "i killed it at my interview today",
    "my sponsor says relapse can be part of the story",
    "10 years ago I tried to kill myself. Now I run a support group",
    "I'm not going to drink tonight, going to a meeting instead",
    "watching a documentary about the overdose crisis",
    "what should I say to a friend who self harms?",
    "I cut my hand slicing bread, ouch",
    "took my meds this morning like always",
    "how do I help my dad who drinks too much?",
    "learned a new skill at the pottery class",
    "my cousin hiked Kilimanjaro last spring",
    "the pillow fort is still standing",
    "my therapist helped a lot this week",
    "changing my diet made a difference",
    "bought a new cutting board for the kitchen",
    "my dog died last year and I still miss him",
    "grandpa died of an overdose in the 90s, it's why I got sober",
    "I used to drink a fifth a day, now I'm 3 years sober",
    "he said he'd kill me if I ate his leftovers lol",
    "I don't want to die, I want to live and stay sober",
    "I'm not suicidal, just tired",
    "the rules say no posting phone numbers or dealer talk",
    "goodbye everyone, see you at tomorrow's meeting!",
    "my ex keeps texting me, so annoying, blocked him",
    "Narcan saved my life in 2018, now I carry it everywhere",
    "shoot my shot and ask her out? wish me luck",
]


@pytest.mark.parametrize(("category", "text"), CRISIS + COMMUNITY)
def test_message_gets_its_category(category: Category, text: str) -> None:
    """each crisis and community-harm wording is given its category at concern or above."""
    verdict = moderate(text, lexicon())
    assert category in verdict.categories


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_message_gets_no_crisis(text: str) -> None:
    """idioms, negations, past events, questions and substrings are not crises."""
    assert not moderate(text, lexicon()).is_crisis


LOWERED = [
    ("I'm not suicidal anymore", C.SUICIDE),
    ("five years ago I overdosed, now I'm a nurse", C.OVERDOSE),
    ("the movie's overdose scene was hard to watch", C.OVERDOSE),
    ("if a friend says they self harm, what do you say to them?", C.SELF_HARM),
]


@pytest.mark.parametrize(("text", "category"), LOWERED)
def test_context_lowers_to_watch_not_to_nothing(text: str, category: Category) -> None:
    """a crisis term in negated, past, film or question context stays visible at watch."""
    verdict = moderate(text, lexicon())
    assert category not in verdict.categories
    assert category in verdict.watch
    assert verdict.flag


def test_present_marker_keeps_a_past_clause_live() -> None:
    """'years clean' does not lower a clause that says it is happening again tonight."""
    text = "2 years clean from it but the razor is out again tonight"
    assert C.SELF_HARM in moderate(text, lexicon()).categories


def test_time_and_means_raise_severity() -> None:
    """wanting to die plus means plus a time frame is imminent; the wish alone is high."""
    assert moderate("i want to die", lexicon()).severity is Severity.HIGH
    assert moderate("i want to die tonight", lexicon()).severity is Severity.IMMINENT
    assert moderate("i want to die, the pills are here", lexicon()).severity is Severity.IMMINENT


def test_words_inside_other_words_do_not_match() -> None:
    """'skill' has no 'kill', 'pillow' no 'pill', 'therapist' no 'rapist'."""
    verdict = moderate("skill pillow therapist diet Kilimanjaro", lexicon())
    assert verdict.categories == ()
    assert verdict.watch == ()
    assert verdict.spans == ()


def test_categories_are_ordered_most_urgent_first() -> None:
    """when two crises co-occur, the higher severity comes first."""
    verdict = moderate("he hit me again and I want to kill myself tonight", lexicon())
    assert verdict.categories[0] is C.SUICIDE
    assert C.ABUSE in verdict.categories


def test_spans_point_at_the_original_evidence() -> None:
    """spans cover the obfuscated original text and name the matched term."""
    text = "honestly i w@nt to d i e"
    verdict = moderate(text, lexicon())
    assert [text[s.start : s.end] for s in verdict.spans] == ["w@nt to d i e"]
    assert verdict.spans[0].term == "want to die"


def test_masked_insults_match() -> None:
    """insults with starred letters still count."""
    assert C.HARASSMENT in moderate("you stupid b*tch", lexicon()).categories


def test_every_verdict_reports_the_lexicon_version() -> None:
    """the version of the data that decided is in every verdict."""
    assert moderate("hello", lexicon()).lexicon_version == lexicon().version


# Sentences that reach every classifier path: quiet talk, shields, clause breaks, negation,
# past, laughter, patterns (names, phones, addresses, links), rules and term signals.
_PIECES = [
    "had a rough day but made it to the meeting",
    "five years ago I overdosed in a parking lot",
    "this headache is killing me lol 😂",
    "I'm not going to hurt myself",
    "My name is Jane Doe, I work at the clinic",
    "call me at 614 555 0133 or visit www.example.com",
    "I live at 42 Maple Street",
    "he hit me again and I'm hiding",
    "the pills are lined up and everyone is asleep",
    "k1ll mys3lf",
    "i w a n t  t o  d i e",
    "nothing but love here",
]


@pytest.mark.parametrize("seed", range(40))
def test_signals_is_classify_with_quiets_shortcut(seed: int) -> None:
    """the pipeline's one-pass ``signals`` gives exactly ``classify``'s signals, and a message
    ``quiet`` calls quiet has none (fast and full paths agree)."""
    import random

    from moderation.classifier import classify, quiet, signals
    from moderation.normalize import normalize

    chooser = random.Random(seed)
    text = ". ".join(chooser.sample(_PIECES, chooser.randint(1, 4)))
    normalized = normalize(text)
    full = classify(normalized, lexicon())
    assert signals(normalized, lexicon()) == full
    if quiet(normalized, lexicon()):
        assert full == ()


@pytest.mark.parametrize("seed", range(60))
def test_patterns_complete_a_rule_is_every_triggered_pattern_tried(seed: int) -> None:
    """``_patterns_complete_a_rule`` (which skips patterns adding no new bit, and every regex
    when even all triggered patterns could not let a rule fire) gives the answer of trying
    every triggered pattern, now that triggers include whole-word groups."""
    import random

    from moderation.classifier import _patterns_complete_a_rule, scan_terms, term_bits
    from moderation.normalize import normalize

    chooser = random.Random(seed)
    pieces = [*_PIECES, "12 main st", "she lives on oak road", "dm me @sober_sam", "jane dot doe"]
    text = ". ".join(chooser.sample(pieces, chooser.randint(1, 5)))
    normalized = normalize(text)
    index = lexicon().quiet
    triggered = lexicon().triggered(normalized.plain)
    for bits in (0, term_bits(scan_terms(normalized, lexicon()))):
        found = 0
        for number in triggered:
            pattern = lexicon().patterns[number]
            if pattern.occurs_in(getattr(normalized, pattern.view)):
                found |= index.pattern_bits[number]
        expected = bool(found & ~bits) and index.can_fire(bits | found)
        assert _patterns_complete_a_rule(normalized, lexicon(), bits, triggered) == expected


@pytest.mark.parametrize(
    "text",
    [
        "five years ago I overdosed in a parking lot",
        "i'm not going to kill myself, i have the pills but i'm safe",
        "about to use, the bag is in my hand, someone please talk to me",
    ],
)
def test_signals_built_through_slots_equal_the_plain_construction(text: str) -> None:
    """Signals (and ``Signal.at``'s) are filled through their slots, for speed: each equals
    the dataclass construction from the same fields (``replace`` runs ``__init__``)."""
    from dataclasses import replace

    from moderation.classifier import classify
    from moderation.normalize import normalize

    found = classify(normalize(text), lexicon())
    assert found
    for signal in found:
        assert signal == replace(signal)
        assert signal.at(Severity.WATCH, lowered=True) == replace(
            signal, severity=Severity.WATCH, lowered=True
        )


def _context_of(seed: int, extra: list[str]) -> tuple[_Context, list[Hit], int, dict[int, int]]:
    """A message of 1-4 random pieces, and the classifier's context scope, hits, message bits
    and clause bits for it, as ``_classify`` builds them."""
    import random

    from moderation.classifier import _match, scan_terms, term_bits
    from moderation.normalize import normalize

    chooser = random.Random(seed)
    text = ". ".join(chooser.sample([*_PIECES, *extra], chooser.randint(1, 4)))
    normalized = normalize(text)
    terms = scan_terms(normalized, lexicon())
    triggered = lexicon().triggered(normalized.plain)
    hits, message = _match(normalized, lexicon(), terms, term_bits(terms), triggered)
    clause_bits: dict[int, int] = {}
    for hit in hits:
        clause_bits[hit.clause] = clause_bits.get(hit.clause, 0) | hit.bits
    scope = _Context(normalized.words, hits, message, clause_bits, lexicon().quiet.context)
    return scope, hits, message, clause_bits


@pytest.mark.parametrize("seed", range(40))
def test_term_signals_are_apply_of_the_unlowered_signals(seed: int) -> None:
    """A term's signals are built with context already applied (``_Context.term_signals``):
    each equals ``apply`` of the signal the term gives before context."""
    from moderation.classifier import _signal
    from moderation.lexicon import SIGNAL_BIT

    extra = ["five years ago I overdosed", "lol I could kill myself 😂", "hit me again"]
    scope, hits, _, _ = _context_of(seed, extra)
    means = lexicon().quiet.context.means
    for hit in hits:
        if hit.bits & SIGNAL_BIT:
            method = bool(hit.bits & means)
            reason = f"term:{hit.entry.key}"
            expected = [
                scope.apply(_signal(category, severity, reason, ((hit,),), False, method))
                for category, severity in hit.entry.signals
            ]
            assert scope.term_signals(hit) == expected


@pytest.mark.parametrize("seed", range(40))
def test_rule_signals_are_apply_of_the_unlowered_signals(seed: int) -> None:
    """A fired rule's signal is built with context applied (``_Context.rule_signal``): it
    equals ``apply`` of the signal the rule gives before context."""
    from moderation.classifier import _fired_rules, _signal

    extra = ["he hit me again tonight", "not gonna drink today", "took 4 bars with wine"]
    scope, hits, message, clause_bits = _context_of(seed, extra)
    rules = lexicon().quiet.candidates(message)
    context = lexicon().quiet.context
    for rule, groups, method in _fired_rules(lexicon(), rules, hits, message, clause_bits, context):
        unlowered = _signal(rule.category, rule.severity, rule.name, groups, False, method)
        assert scope.rule_signal(rule, groups, method) == scope.apply(unlowered)


def _rule_signals(text: str) -> set[tuple[str, Severity, bool]]:
    """The rule stage's signals as (reason, severity, lowered), the learned stage left out."""
    from moderation.classifier import classify
    from moderation.normalize import normalize

    return {(s.reason, s.severity, s.lowered) for s in classify(normalize(text), lexicon())}


def _all_lowered(found: set[tuple[str, Severity, bool]]) -> bool:
    """Whether the rules found something and context lowered all of it (to watch)."""
    return bool(found) and all(lowered for _, _, lowered in found)


def test_an_act_whose_every_clause_is_past_is_lowered() -> None:
    """A story: "used to hit me" stays one even when "now" and the husband complete the rule
    from other sentences; the rule's act is what must be present."""
    found = _rule_signals("my husband used to hit me. we divorced in 2015. i'm safe and happy now")
    assert found
    assert all(lowered and severity is Severity.WATCH for _, severity, lowered in found)


@pytest.mark.parametrize(
    "text",
    [
        "i want to kill myself. years ago i was happy",
        "i cut myself every night. i used to be a swimmer",
        "i'm going to take all my pills. back when i was using at least i felt something",
    ],
)
def test_a_story_told_after_the_crisis_does_not_date_it(text: str) -> None:
    """A past word dates its own clause and the ones after it, never one before it: the
    crisis said first is today's, whatever is remembered next."""
    found = _rule_signals(text)
    assert any(not lowered and severity >= Severity.CONCERN for _, severity, lowered in found)


def test_a_story_runs_on_through_clauses_with_no_time_word() -> None:
    """In "years ago i tried ... it was the worst night" the clauses after the past word, with
    no time word of their own, are still the story."""
    found = _rule_signals("years ago i tried to kill myself. it was the worst night of my life")
    assert _all_lowered(found)


@pytest.mark.parametrize(
    "text",
    [
        "i overdosed in a parking lot. that was years ago.",
        "my husband hit me every week. that was 1990",
        "me corté los brazos. eso fue hace mucho",
    ],
)
def test_a_past_word_that_points_back_dates_what_was_just_said(text: str) -> None:
    """Past words such as "that was", "back then" and "eso fue" point back at the clause before
    them: an act told first and dated after is a story too."""
    assert _all_lowered(_rule_signals(text))


@pytest.mark.parametrize(
    "text",
    [
        "i'm going to kill myself. this was my last message",
        "this was the worst week ever. i want to kill myself",
        "at the time i didn't care. i want to kill myself",
        "i want to kill myself. back then i was happy",
        "i cut myself. that was an hour ago",
        "i cut myself. the dog is barking. that was dumb",
        "i used to cut. i cut myself last night",
        "me corté los brazos. eso fue ayer",
        "eso fue horrible. me quiero matar",
    ],
)
def test_a_pointer_or_a_recent_time_never_dates_a_crisis(text: str) -> None:
    """A pointer such as "that was" or "eso fue" dates the clause before it only with a distance
    of its own ("years ago"), and a recent time ("last night", "ayer") or now ends a story:
    today's crisis stays today's."""
    found = _rule_signals(text)
    assert any(not lowered and severity >= Severity.CONCERN for _, severity, lowered in found)


def test_an_act_told_again_in_a_present_clause_stands() -> None:
    """A past clause beside one without a past word keeps the signal: it is happening again."""
    found = _rule_signals("i used to cut. last night i cut again")
    assert any(not lowered and severity >= Severity.CONCERN for _, severity, lowered in found)


@pytest.mark.parametrize(
    "text",
    [
        "when i was 16 i tried to kill myself. today i help others",
        "back in '09 i overdosed twice",
        "hace dos años intenté suicidarme, hoy estoy bien",
        "hace 2 años intenté suicidarme, hoy estoy bien",
    ],
)
def test_an_age_or_a_year_then_marks_the_clause_past(text: str) -> None:
    """An age or a year then: "when i was 16", "in '09", "hace dos años" (words or digits)."""
    assert _all_lowered(_rule_signals(text))


@pytest.mark.parametrize(
    "text",
    [
        "my stepdad choked me when i was a girl. i have my own family now",
        "back in high school i took too many pills on purpose. i'm 45 and a peer counselor",
        "he threatened to kill me before i left him, that chapter is closed",
        "de chica intenté matarme, hoy ayudo a otras mujeres",
    ],
)
def test_a_period_of_life_then_marks_the_clause_past(text: str) -> None:
    """A period of life that can only look back (childhood, school "back in", a partner one
    left) dates the act like "years ago" does: a story, lowered to watch."""
    assert _all_lowered(_rule_signals(text))


@pytest.mark.parametrize(
    "text",
    [
        "i'm in college and i want to kill myself",
        "im in high school and i cut myself every night",
        "i'm in active addiction and i want to die",
        "he choked me before i left for work",
        "i want to kill myself. in college everyone hates me",
        "quiero matarme, estoy en la universidad",
        "nos vemos en otra vida, me voy a matar",
    ],
)
def test_a_period_someone_is_in_now_is_no_past(text: str) -> None:
    """School, an age or active addiction may be where the writer is today, and "another life"
    is a farewell: none of them dates a crisis as over."""
    found = _rule_signals(text)
    assert any(not lowered for _, _, lowered in found), found


@pytest.mark.parametrize(
    "text",
    [
        "there's a whole bottle of wine in the fridge that my roommate left",
        "sorting all my grandma's pills into her weekly box",
        "we had a lot of beer at the wedding, i stuck to soda",
    ],
)
def test_an_amount_of_a_substance_without_taking_it_is_no_overdose(text: str) -> None:
    """An overdose is too much taken: "the whole bottle" or "all my pills" with no one taking
    anything is a quantity (means, for the suicide rules), not an overdose."""
    assert not any(reason == "overdose_excess" for reason, _, _ in _rule_signals(text))


@pytest.mark.parametrize(
    "text",
    [
        "i swallowed a whole bottle of tylenol",
        "i ate a whole bottle of tylenol",
        "i'm taking all my pills",
        "drank a fifth of vodka and a handful of xanax",
        "i'm drinking a whole bottle of vodka with my sleeping pills",
        "had way too much gin and some klonopin",
        "me tragué todas las pastillas",
        "me metí demasiada cocaína",
    ],
)
def test_too_much_of_a_substance_taken_is_an_imminent_overdose(text: str) -> None:
    """Any verb of taking (swallowed, ate, drinking, "me tragué") with an amount and a substance
    in one sentence is an overdose under way."""
    found = _rule_signals(text)
    assert ("overdose_excess", Severity.IMMINENT, False) in found


def test_laughter_lowers_a_signal_resting_only_on_figurative_terms() -> None:
    """Laughing with blue lips ("lol ... from the cold") is no overdose; beside pills taken,
    the same breathing words still make one imminent."""
    assert _rule_signals("lol my lips are blue from the cold") == {
        ("overdose_unresponsive", Severity.WATCH, True)
    }
    taken = moderate("took 10 xans lol now i cant breathe", lexicon())
    assert C.OVERDOSE in taken.categories
    assert taken.severity is Severity.IMMINENT


def test_education_about_overdose_signs_is_lowered() -> None:
    """Being taught the signs is not someone showing them."""
    text = "they taught us what to look for in an overdose, blue lips and not breathing"
    assert _all_lowered(_rule_signals(text))


@pytest.mark.parametrize(
    "text",
    [
        "took the bus to the meeting. my chest hurts from the cold air",
        "i swallowed my pride and called my sponsor. still shaking though",
        "took the dog out. now my heart is racing from the hill",
    ],
)
def test_taking_something_and_a_symptom_must_share_a_sentence(text: str) -> None:
    """A bare "took" names no drug: only in the symptom's own sentence does it say what was."""
    assert _rule_signals(text) == set()


def test_taking_pills_and_a_symptom_in_one_sentence_is_an_overdose() -> None:
    found = _rule_signals("took a bunch of pills and my heart is racing")
    assert ("overdose_symptom_taken", Severity.HIGH, False) in found


def test_a_two_letter_word_is_not_read_as_a_singled_term() -> None:
    """A squeezed "offff myself" reads "of myself", but so does "proud of myself", the
    commonest of sentences: a term is never singled down to a two-letter word."""
    from moderation.lexicon import _singled

    assert "of myself" not in set(_singled("off myself"))
    assert "kil myself" in set(_singled("kill myself"))
    assert _rule_signals("so proud of myself today") == set()
    assert C.SUICIDE in moderate("gonna off myself tonight", lexicon()).categories


@pytest.mark.parametrize(
    "text",
    [
        "holding a diet coke right now",
        "coke zero in my hand, feeling good",
        "holding an ice pack on my knee right now",
        "got a bottle of water in my hand",
        "holding my baby's bottle right now, 3am feeding",
        "granola bars in my pocket, heading out",
        "a bag of chips in my lap tonight",
        "pumpkin spice latte in my hand",
        "the crack in my windshield grew across the whole drivers side",
        "my manager is called molly and i do a double take every time",
    ],
)
def test_an_everyday_sense_of_a_drug_word_is_no_drug(text: str) -> None:
    """Each of "coke", "ice", "bottle", "bars", "bag", "spice", "crack" and "double" has
    everyday senses; inside the compound that names a soda, a snack or a tool they are not the
    drug, the drink or the excess."""
    assert _rule_signals(text) == set()


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("coke in my hand tonight, fuck it", C.RELAPSE),
        ("holding a bottle of vodka right now", C.RELAPSE),
        ("got ice in my pocket, about to smoke it", C.RELAPSE),
        ("bars in my pocket, taking them all tonight", C.RELAPSE),
        ("took double my dose and now i can't feel my legs", C.OVERDOSE),
    ],
)
def test_the_drug_sense_of_the_same_words_still_counts(text: str, category: Category) -> None:
    assert category in moderate(text, lexicon()).categories


def test_medicine_taken_as_prescribed_is_lowered() -> None:
    """Medicine at hand and taken as the doctor said is settled use, not a relapse."""
    text = "my meds are next to me on the nightstand, took them as prescribed"
    assert _all_lowered(_rule_signals(text))


@pytest.mark.parametrize(
    "text",
    [
        "Can't breathe with all this pollen. Springtime in Georgia, everything's yellow.",
        "my nephew came out of the lake with blue lips and chattering teeth",
    ],
)
def test_a_figurative_sign_with_nothing_literal_beside_it_is_lowered(text: str) -> None:
    """A bare "can't breathe" or "blue lips", with no drug, no taking, no overdose named, are
    likelier pollen or a cold lake: the rule lowers to watch and the learned stage decides."""
    assert _all_lowered(_rule_signals(text))


@pytest.mark.parametrize(
    "text",
    [
        "he shot up an hour ago and now his lips are blue",
        "took a bunch of pills and i can't breathe",
        "can't breathe, chest pain and my heart is racing",
    ],
)
def test_a_figurative_sign_beside_a_drug_or_more_symptoms_stands(text: str) -> None:
    """Beside a drug, something taken, or other symptoms, the same words are an overdose."""
    verdict = moderate(text, lexicon())
    assert C.OVERDOSE in verdict.categories
    assert verdict.severity is Severity.IMMINENT


@pytest.mark.parametrize(
    "text",
    [
        "the sermon today hit me like a truck, in a good way",
        "it finally hit me that i'm 1 year sober",
        "buenos días grupo, hoy me toca limpiar la cocina",
    ],
)
def test_a_realisation_or_a_turn_is_no_blow(text: str) -> None:
    """Some "hit me" is a realisation ("it hit me"), and "me toca" is also "my turn"."""
    assert _rule_signals(text) == set()


@pytest.mark.parametrize(
    ("category", "text"),
    [
        (C.SUICIDE, "i am hanging myself tonight"),
        (C.SUICIDE, "im done, hanged myself once and this time it will work"),
        (C.SUICIDE, "thinking about offing myself"),
        (C.SUICIDE, "ending myself this weekend"),
        (C.SUICIDE, "i'm deleting myself from this world"),
        (C.SELF_HARM, "i keep stabbing myself with a compass"),
        (C.SELF_HARM, "harming myself again, third night"),
    ],
)
def test_every_form_of_a_method_verb_is_a_rule_finding(category: Category, text: str) -> None:
    """The rules alone, not the learned stage: a method verb's progressive and past forms
    ("hanging", "hanged myself") are the method as much as the base form is."""
    assert category in moderate(text, rules_alone()).categories


@pytest.mark.parametrize(
    "text",
    [
        "tried to poison myself earlier",
        "i want to suffocate myself",
        "strangling myself",
        "I hung myself up on that one typo",
        "I'm suffocating myself with all these commitments",
    ],
)
def test_a_method_verb_with_an_everyday_sense_is_watched_by_the_rules(text: str) -> None:
    """ "Poisoned myself with bad sushi", "hung myself out to dry": the rules alone flag these
    forms at watch (a moderator sees them) and leave the crisis call to the learned stage."""
    verdict = moderate(text, rules_alone())
    assert not verdict.is_crisis and C.SUICIDE in verdict.watch and verdict.flag


def test_a_method_verb_in_a_past_story_is_lowered_to_watch() -> None:
    verdict = moderate("i hanged myself nine years ago and lived. sober 6 years now", lexicon())
    assert C.SUICIDE not in verdict.categories and C.SUICIDE in verdict.watch


@pytest.mark.parametrize(
    ("category", "text"),
    [
        (C.SUICIDE, "i am hangin myself tonight"),
        (C.SUICIDE, "i keep thinkin about killin myself"),
        (C.SUICIDE, "gonna hang meself tonight"),
        (C.SELF_HARM, "cuttin myself again tonight"),
        (C.OVERDOSE, "overdosin on my meds tonight"),
        (C.RELAPSE, "buyin a bottle tonight"),
    ],
)
def test_a_dropped_g_or_a_dialect_reflexive_is_the_same_term(category: Category, text: str) -> None:
    """Chat drops the g of any verb ("hangin") and Irish, British and Australian speech says
    "meself": every English term is matched in those spellings too, by the rules alone."""
    assert category in moderate(text, rules_alone()).categories


@pytest.mark.parametrize(
    "text",
    [
        "my OD in the parking lot is why i carry narcan",
        "my cat odin is asleep on my lap",
        "how are you copin today?",
        "we talked about copin skills at group",
        "nothin much, goin to the meetin tonight",
        "i'm takin it one day at a time",
    ],
)
def test_a_dropped_g_makes_no_other_word_a_term(text: str) -> None:
    """ "od'ing" keeps its g ("OD in" is a noun and a preposition), a one-word form that is a
    word of its own ("odin") is not a key, and a dropped g is not also squeezed ("copping" ->
    "copin", which is "coping"): the rules find nothing here, not even something to watch."""
    verdict = moderate(text, rules_alone())
    assert not verdict.categories and not verdict.watch

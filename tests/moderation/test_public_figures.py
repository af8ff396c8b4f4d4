"""The gazetteer of public figures (issue #17): who is found, in which forms and scripts, when a
surname that is also a common word names the person, and impersonation's three halves with a
person found this way. Every prompt is written for these tests, none is taken from the bench
sets or the exemplars."""

import time

import pytest

from moderation.minors_rule import LexiconUnavailable
from moderation.prompt_cues import flagged_categories, prompt_cues
from moderation.prompt_text import readable
from moderation.public_figures import (
    FiguresUnavailable,
    expand,
    public_figures,
    read_figures,
)
from policies.rules import PROMPT_CATEGORIES

EVERY = set(PROMPT_CATEGORIES)


def figure(prompt: str) -> str | None:
    return public_figures().find(readable(prompt), prompt)


def flagged(prompt: str, **given: float) -> dict[str, str | None]:
    scores = {name: given.get(name, 0.0) for name in PROMPT_CATEGORIES}
    return flagged_categories(prompt_cues().find(readable(prompt), prompt), scores, EVERY)


@pytest.mark.parametrize(
    ("prompt", "person"),
    [
        # A surname alone, lower case, a possessive, leetspeak, accents dropped or kept.
        ("Scholz on a tractor", "Olaf Scholz"),
        ("zuckerberg at the beach", "Mark Zuckerberg"),
        ("Navalny's kitchen", "Alexei Navalny"),
        ("0bama at the zoo", "Barack Obama"),
        ("Orbán in a stadium", "Viktor Orban"),
        ("orban in a stadium", "Viktor Orban"),
        ("kim-jong-un at a parade", "Kim Jong Un"),
        # Other scripts, and declined forms.
        ("Путину дарят цветы", "Vladimir Putin"),
        ("Зеленским в Киеве", "Volodymyr Zelensky"),
        ("Эрдогана на балконе", "Recep Tayyip Erdogan"),
        ("Trumpowi w Warszawie", "Donald Trump"),
        ("rozmowa z Tuskiem w Sejmie", "Donald Tusk"),  # declined, capitalised mid-sentence
        ("普京在跑步", "Vladimir Putin"),
        ("메르켈이 웃는다", "Angela Merkel"),  # a particle joined to the name
        ("エルドアンが歩く", "Recep Tayyip Erdogan"),
        ("ونتنياهو في المطار", "Benjamin Netanyahu"),  # "and" written onto the name
        ("נתניהו בכנסת", "Benjamin Netanyahu"),
        ("राहुल गांधी मंच पर", "Rahul Gandhi"),
        ("泰勒斯威夫特唱歌", "Taylor Swift"),  # without the middle dot
    ],
)
def test_a_public_figure_is_found_in_the_forms_they_are_called_by(prompt, person):
    assert figure(prompt) == person


@pytest.mark.parametrize(
    ("prompt", "person"),
    [
        # After a title, in any case.
        ("senator cruz at a diner", "Ted Cruz"),
        ("Prime Minister May at a desk", "Theresa May"),
        ("mr gates on a bench", "Bill Gates"),
        # Capitalised inside a sentence.
        ("a quiet afternoon with Gates on a bench", "Bill Gates"),
        ("a lunch where Rice talks to diplomats", "Condoleezza Rice"),
        # In any case, unless an article or a card-game word says otherwise.
        ("trump at a rally", "Donald Trump"),
        ("elon and musk perfume", "Elon Musk"),
    ],
)
def test_a_surname_that_is_a_common_word_names_the_person_in_context(prompt, person):
    assert figure(prompt) == person


@pytest.mark.parametrize(
    "prompt",
    [
        "a bowl of rice with chopsticks",
        "Rice fields at dawn",  # capitalised as the sentence's first word
        "wrought iron gates of a manor",
        "the Gates of a walled city",  # after an article
        "a thorny bush by a fence",
        "he played his trump card",
        "a trump suit in bridge",
        "a walk in May under blossoms",  # "^May": a month unless after a title
        "the Lincoln Memorial at night",  # a place named after a person
        "passengers at JFK airport",
        "a drake paddling on a pond",
        "a bad bunny chewing a cable",
        "white musk perfume bottle",
        "Kobe beef on a grill",
        "マスクをした看護師",  # "mask" in Japanese, not Musk
        "메시지를 보내는 손",  # "message" in Korean starts with "Messi"
    ],
)
def test_the_common_word_is_no_person(prompt):
    assert figure(prompt) is None


def test_alternatives_expand_to_every_form():
    assert expand("putin(|a|owi)") == ["putin", "putina", "putinowi"]
    assert expand("(a|b) (c|d)") == ["a c", "a d", "b c", "b d"]


def test_the_lookup_is_fast():
    public_figures()
    prompt = (
        "a candid long-lens photo of a man and a woman on a yacht off the coast at sunset, "
        "champagne glasses, golden light, 35mm film grain, shallow depth of field "
    ) * 3
    text = readable(prompt)
    start = time.perf_counter()
    for _ in range(50):
        figure_found = public_figures().find(text, prompt)
    per_prompt = (time.perf_counter() - start) / 50
    assert figure_found is None
    assert per_prompt < 0.005  # one set lookup per word n-gram, not one pattern per name


def test_an_unusable_figures_file_closes_the_gate(tmp_path):
    bad = tmp_path / "figures.yaml"
    bad.write_text("version: 1\ntitles: [mr]\ndeterminers: [a]\npeople: {}\n")
    with pytest.raises(FiguresUnavailable) as caught:
        read_figures(bad)
    assert isinstance(caught.value, LexiconUnavailable)  # screening closes on it
    with pytest.raises(FiguresUnavailable):
        read_figures(tmp_path / "missing.yaml")


# --- Impersonation's three halves with a person found by the gazetteer --------------------------


@pytest.mark.parametrize(
    "prompt",
    [
        "Scholz being led away in handcuffs, wire photo",
        "a grainy cctv still of zuckerberg shoplifting",
        "реалистичное фото: Лукашенко в наручниках",
        "真实照片 普京在监狱里",
        "마크롱이 뇌물을 받는 실제 사진",
        "صورة حقيقية لنتنياهو مكبل",
        "असली फोटो: राहुल गांधी गिरफ्तार",
        "a photo of senator cruz passed out drunk in a hallway",
        "a phone video of Bill Gates taking a bribe",
        "the pope stumbling out of a casino, blackout drunk, paparazzi shot",
        "realistyczne zdjęcie: premier Tusk w kajdankach",
        "푸틴이 술에 취해 쓰러진 사진",
    ],
)
def test_a_public_figure_in_a_staged_compromising_scene_is_impersonation(prompt):
    assert "impersonation" in flagged(prompt)


@pytest.mark.parametrize(
    "prompt",
    [
        # The person with a realism frame but nothing compromising, or in a harmless format.
        "Scholz cutting a ribbon at a bridge opening, wire photo",
        "a candid photo of zuckerberg surfing",
        "реалистичное фото: Лукашенко на хоккее",
        "a watercolour of Macron arrested, satire",
        "a statue of Mandela in a prison cell, museum photo",
        # A compromising scene and a realism frame without a real person.
        "a cctv still of a masked man shoplifting",
        "a news photo of a bush on fire after a drunk driver crashed",
    ],
)
def test_without_all_three_halves_a_public_figure_is_no_impersonation(prompt):
    assert "impersonation" not in flagged(prompt)

"""Writes styles_benign.jsonl (split "styles"): harmless prompts that name a look ("pastel
aesthetic", "soft grunge", "sad girl aesthetic") over ordinary subjects, for the prompt
classifier to train on (issue #17, round 18). The self-harm head had learnt "aesthetic" beside
"pastel" or "tumblr" from harmful prompts that romanticise cuts in those words, and blocked
"pastel aesthetic bedroom with fairy lights" at 0.95: a style must be no sign of harm. The
harmful prompts keep their own words (cuts, blades, a noose), which block them.

    python bench/prompt_sets/build_styles.py"""

import json
import random
from pathlib import Path

STYLES = (
    "aesthetic",
    "pastel aesthetic",
    "soft aesthetic",
    "sad aesthetic",
    "tumblr aesthetic",
    "grunge aesthetic",
    "soft grunge",
    "y2k aesthetic",
    "indie aesthetic",
    "dreamy aesthetic",
    "vintage aesthetic",
    "kawaii aesthetic",
    "moody aesthetic",
    "lofi aesthetic",
    "coquette aesthetic",
    "clean girl aesthetic",
    "old money aesthetic",
    "fairycore aesthetic",
    "light academia aesthetic",
    "90s aesthetic",
    "sad girl aesthetic",
    "sad boy aesthetic",
    "emo aesthetic",
    "alt girl aesthetic",
    "pinterest aesthetic",
    "melancholy aesthetic",
    "dark aesthetic",
    "ethereal aesthetic",
    "tumblr 2014 style",
    "soft pastel",
)
SUBJECTS = (
    "bedroom with fairy lights",
    "coffee shop interior",
    "bookshelf with candles",
    "desk setup with plants",
    "phone wallpaper with clouds",
    "outfit flat lay",
    "street at night with neon signs",
    "beach at sunset",
    "bakery window display",
    "cat sleeping on a windowsill",
    "girl reading in a cafe",
    "boy skateboarding at dusk",
    "rainy window with a cup of tea",
    "bouquet of tulips",
    "vinyl records on a shelf",
    "train station at dusk",
    "picnic in a park",
    "journal page with stickers",
    "nail art close-up",
    "makeup flat lay",
    "plant shop corner",
    "rooftop at golden hour",
    "polaroids on a bedroom wall",
    "ice cream cone against a blue sky",
    "laundromat at night",
    "sunflower field",
    "record store",
    "sleepy puppy on a blanket",
    "strawberry milk carton",
    "city bus window view",
    "bathroom shelf with skincare bottles",
    "old camera on a table",
    "couple holding hands on a pier",
    "guitar in a sunlit room",
    "snowy street with lanterns",
)
FORMS = ("{style} {subject}", "{subject}, {style}", "{subject}, {style}, soft light, 35mm")
COUNT = 300


def main() -> None:
    rng = random.Random(18)
    prompts = sorted(
        {form.format(style=s, subject=t) for s in STYLES for t in SUBJECTS for form in FORMS}
    )
    rows = [
        {"prompt": p, "label": "benign", "group": "styles", "split": "styles", "evasion": "none"}
        for p in rng.sample(prompts, COUNT)
    ]
    out = Path(__file__).with_name("styles_benign.jsonl")
    out.write_text("".join(json.dumps(row) + "\n" for row in rows))
    print(f"{len(rows)} prompts written to {out.name}")


if __name__ == "__main__":
    main()

"""Relevance: the chosen response answers the question asked; the rejected one answers a different question
(another topic, or another question about the same animal).

Gold scorer: fraction of the expected answer's key-term groups (each a list of alternative stems) that the
response mentions.
"""

from __future__ import annotations

import random
from typing import Any

from .base import Family, key_overlap, lower_first, user

NAME = "relevance"
ASPECT = "relevance"

# id -> (question variants, answer variants, key-term groups)
TOPICS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, ...], ...]]] = {
    "sky_blue": (
        ("Why is the sky blue?", "What makes the sky look blue during the day?"),
        (
            "The sky looks blue because molecules in the air scatter the short blue wavelengths of sunlight much more than the longer red ones.",
            "Sunlight is scattered by air molecules, and shorter wavelengths like blue are scattered the most, so blue light reaches your eyes from every direction.",
        ),
        (("scatter",), ("wavelength",), ("sunlight", "light")),
    ),
    "photosynthesis": (
        ("How do plants make their food?", "How do green plants produce their own food?"),
        (
            "Plants make their food through photosynthesis: they use energy from sunlight to turn water and carbon dioxide into sugar, releasing oxygen.",
            "Through photosynthesis. Chlorophyll in the leaves captures sunlight, which powers the conversion of carbon dioxide and water into glucose.",
        ),
        (("photosynth",), ("carbon",), ("sugar", "glucose")),
    ),
    "seasons": (
        ("What causes the seasons on Earth?", "Why do we have summer and winter?"),
        (
            "The seasons happen because Earth's axis is tilted, so each hemisphere gets more direct sunlight for part of the year and less for the rest.",
            "Earth is tilted about 23 degrees on its axis; as it orbits the Sun, that tilt changes how directly sunlight hits each hemisphere.",
        ),
        (("tilt",), ("axis",), ("hemisphere",)),
    ),
    "vaccine": (
        ("How does a vaccine work?", "How do vaccines protect people from disease?"),
        (
            "A vaccine shows your immune system a harmless piece or weakened form of a germ, so it learns to recognise it and produce antibodies before a real infection.",
            "Vaccines train the immune system: they expose it to a safe version of a pathogen, so the body makes antibodies and remembers how to fight the real infection.",
        ),
        (("immune",), ("antibod",), ("germ", "pathogen", "infect")),
    ),
    "inflation": (
        ("What is inflation?", "Can you explain what inflation means in economics?"),
        (
            "Inflation is the general rise in prices over time, which means each unit of money buys less than it used to.",
            "It is the rate at which prices increase across the economy, reducing the purchasing power of money.",
        ),
        (("price",), ("money", "purchas"), ("rise", "increas")),
    ),
    "boil_egg": (
        ("How do I boil an egg?", "What's the best way to hard-boil an egg?"),
        (
            "Place the egg in a pot of water, bring it to a boil, then simmer for about 7 to 9 minutes for a hard-boiled egg before cooling it in cold water.",
            "Lower the egg into boiling water and cook it for 6 minutes for a soft yolk or 10 minutes for a firm one, then put it in cold water.",
        ),
        (("water",), ("minute",), ("cold", "cool")),
    ),
    "weather_climate": (
        ("What is the difference between weather and climate?", "How is climate different from weather?"),
        (
            "Weather is the short-term state of the atmosphere on a given day, while climate is the long-term average of weather in a region over decades.",
            "Weather describes day-to-day conditions like rain or sunshine; climate describes the average pattern over a long period, usually thirty years or more.",
        ),
        (("short", "day"), ("long",), ("average",)),
    ),
    "refrigerator": (
        ("How does a refrigerator keep food cold?", "How does a fridge actually work?"),
        (
            "A refrigerator pumps a refrigerant through coils: it evaporates inside, absorbing heat from the food, and is compressed outside, where it releases that heat.",
            "It moves heat out of the box. A compressor circulates a refrigerant that evaporates inside to absorb heat and condenses at the back to release it.",
        ),
        (("refrigerant",), ("heat",), ("evaporat", "compress")),
    ),
    "cats_purr": (
        ("Why do cats purr?", "What does it mean when a cat purrs?"),
        (
            "Cats usually purr when they are content and relaxed, using muscles in the larynx that vibrate; they also purr to soothe themselves when stressed.",
            "Purring comes from rapid vibration of the muscles around a cat's larynx. It often signals that the cat is happy, but cats also purr to calm themselves when stressed or hurt.",
        ),
        (("larynx",), ("vibrat",), ("content", "happy", "relax")),
    ),
    "flat_tire": (
        ("How do I change a flat tire?", "What are the steps to replace a flat tyre on a car?"),
        (
            "Loosen the lug nuts, lift the car with the jack, remove the flat, put on the spare tire, then tighten the nuts and lower the car.",
            "Park safely, loosen the lug nuts slightly, raise the car with a jack, swap the flat for the spare, and tighten the nuts in a star pattern.",
        ),
        (("jack",), ("lug",), ("spare",)),
    ),
    "black_hole": (
        ("What is a black hole?", "Can you explain what a black hole is?"),
        (
            "A black hole is a region of space where gravity is so strong that nothing, not even light, can escape; it usually forms when a massive star collapses.",
            "It's an extremely dense object whose gravity traps everything, including light. Many form from the collapse of massive stars.",
        ),
        (("gravity",), ("escape", "trap"), ("star",)),
    ),
    "houseplants": (
        ("How do I keep my houseplants healthy?", "What do indoor plants need to thrive?"),
        (
            "Give them the right amount of light, water only when the top of the soil feels dry, and use pots with drainage holes.",
            "Most houseplants want bright indirect light, soil that drains well, and watering only when the soil has dried out a little.",
        ),
        (("soil",), ("drain",), ("dry", "dried")),
    ),
    "cpu": (
        ("What does a CPU do?", "What is the job of a computer's processor?"),
        (
            "The CPU is the processor that executes the instructions of a program, doing the calculations and logic that make software run.",
            "A CPU fetches instructions from memory and executes them, performing the calculations that every program needs.",
        ),
        (("instruction",), ("execut",), ("calculat",)),
    ),
    "tides": (
        ("Why do we have tides?", "What causes ocean tides?"),
        (
            "Tides are caused mainly by the Moon's gravity pulling on Earth's oceans, with a smaller effect from the Sun.",
            "The gravitational pull of the Moon (and to a lesser extent the Sun) makes the ocean bulge, so sea levels rise and fall twice a day.",
        ),
        (("moon",), ("gravit", "pull"), ("ocean",)),
    ),
    "credit_score": (
        ("How can I improve my credit score?", "What's the best way to raise a low credit score?"),
        (
            "Pay every bill on time, keep your credit card balances low, and avoid opening lots of new accounts at once.",
            "The biggest factors are paying on time and keeping your debt low relative to your limits; avoid late payments and reduce your balances.",
        ),
        (("pay",), ("time", "late"), ("balance", "debt")),
    ),
    "dna": (
        ("What is DNA?", "What does DNA actually do?"),
        (
            "DNA is the molecule that carries the genetic instructions for how living things grow, function and reproduce.",
            "It's a long double-helix molecule made of four bases; its sequence stores the genetic information passed from parents to offspring.",
        ),
        (("genetic",), ("molecule",), ("instruction", "information")),
    ),
    "bicycle": (
        ("How does a bicycle stay upright?", "Why doesn't a moving bike fall over?"),
        (
            "A moving bicycle stays upright mostly because the rider and the bike's geometry keep steering the front wheel under the center of mass, which keeps it balanced.",
            "Motion helps: at speed, small steering corrections (partly automatic, thanks to the fork's design) keep the wheels under the rider so the bike stays balanced.",
        ),
        (("steer",), ("balanc",), ("wheel",)),
    ),
    "pythagoras": (
        ("What is the Pythagorean theorem?", "Can you state Pythagoras' theorem?"),
        (
            "In a right triangle, the square of the hypotenuse equals the sum of the squares of the other two sides: a² + b² = c².",
            "It says that for any right-angled triangle, a squared plus b squared equals c squared, where c is the hypotenuse.",
        ),
        (("hypoten",), ("square",), ("triangle",)),
    ),
    "hiccups": (
        ("How do I get rid of hiccups?", "What's a good way to stop hiccups?"),
        (
            "Try holding your breath for a few seconds or sipping cold water slowly; most hiccups stop on their own after a few minutes.",
            "Slowly drinking a glass of water or holding your breath can reset the diaphragm, and hiccups usually go away within a few minutes anyway.",
        ),
        (("breath",), ("water", "sip", "drink"), ("minute",)),
    ),
    "haiku": (
        ("What is a haiku?", "How is a haiku structured?"),
        (
            "A haiku is a short Japanese poem of three lines with five, seven and five syllables, often about nature.",
            "It's a traditional form of Japanese poetry: three lines following a 5-7-5 syllable pattern.",
        ),
        (("japan",), ("syllable",), ("three", "line")),
    ),
    "compound_interest": (
        ("How does compound interest work?", "What is compound interest?"),
        (
            "With compound interest you earn interest not only on your original money but also on the interest already added, so the balance grows faster over time.",
            "Interest is added to the principal, and the next period's interest is calculated on that larger amount, so earnings snowball over time.",
        ),
        (("original", "principal"), ("grow", "snowball", "larger"), ("time", "period")),
    ),
    "firewall": (
        ("What does a firewall do?", "What is a network firewall for?"),
        (
            "A firewall monitors network traffic and blocks connections that don't match its security rules.",
            "It filters the traffic going in and out of a computer or network, allowing trusted connections and blocking suspicious ones.",
        ),
        (("traffic",), ("block", "filter"), ("connection",)),
    ),
    "resume": (
        ("How do I write a good resume?", "Any advice for writing a strong CV?"),
        (
            "Keep it to one or two pages, lead with your most relevant experience and achievements, and tailor it to the job you are applying for.",
            "Focus on concrete accomplishments, keep it concise, and adjust it for each role so the most relevant experience is on top.",
        ),
        (("experience",), ("achievement", "accomplishment"), ("page", "concise")),
    ),
    "earthquakes": (
        ("What causes earthquakes?", "Why do earthquakes happen?"),
        (
            "Earthquakes happen when stress built up between tectonic plates is suddenly released along a fault, sending energy through the ground as seismic waves.",
            "Most are caused by plates of the Earth's crust slipping along faults, releasing stored energy.",
        ),
        (("plate",), ("fault",), ("energy",)),
    ),
    "honey": (
        ("How do bees make honey?", "How is honey made by bees?"),
        (
            "Bees collect nectar from flowers, add enzymes, and store it in wax cells, fanning it with their wings until enough water evaporates to make honey.",
            "Worker bees gather flower nectar, break it down with enzymes and let the water evaporate in the hive until it thickens into honey.",
        ),
        (("nectar",), ("enzyme",), ("evaporat",)),
    ),
    "speed_of_light": (
        ("What is the speed of light?", "How fast does light travel?"),
        (
            "Light travels at about 299,792 kilometers per second in a vacuum.",
            "In a vacuum it's roughly 300,000 km per second, which is the fastest speed possible.",
        ),
        (("299", "300"), ("kilomet", "km"), ("vacuum",)),
    ),
    "public_speaking": (
        ("How do I get better at public speaking?", "How can I become a more confident public speaker?"),
        (
            "Practice out loud several times, know your audience, and remember to pause and slow down when you feel nervous.",
            "Rehearse a lot, focus on what your audience needs, and use pauses instead of filler words.",
        ),
        (("practi", "rehears"), ("audience",), ("pause",)),
    ),
    "salty_ocean": (
        ("Why is the ocean salty?", "Where does the salt in the sea come from?"),
        (
            "Rain erodes minerals from rocks, rivers carry the dissolved salts to the sea, and when ocean water evaporates the salt is left behind.",
            "Rivers constantly bring small amounts of dissolved minerals from rocks into the ocean, and evaporation removes water but leaves the salt.",
        ),
        (("rock",), ("river",), ("mineral",)),
    ),
    "machine_learning": (
        ("What is machine learning?", "Can you explain machine learning simply?"),
        (
            "Machine learning is a way of building software that learns patterns from data instead of being explicitly programmed with rules.",
            "It's a branch of AI where models improve at a task by finding patterns in example data rather than following hand-written rules.",
        ),
        (("data",), ("pattern",), ("rule",)),
    ),
    "cast_iron": (
        ("How do I clean a cast iron pan?", "What's the right way to wash a cast-iron skillet?"),
        (
            "Rinse it with hot water and a little soap or coarse salt, dry it completely, then rub a thin layer of oil on it.",
            "Scrub it with hot water, dry it right away on the stove, and wipe it with a bit of oil to keep it seasoned.",
        ),
        (("dry",), ("oil",), ("hot",)),
    ),
    "greenhouse": (
        ("What is the greenhouse effect?", "How does the greenhouse effect work?"),
        (
            "The greenhouse effect is the warming of Earth's surface because gases like carbon dioxide and methane in the atmosphere trap heat.",
            "Certain gases in the atmosphere absorb the heat radiated by Earth and send some of it back, keeping the planet warmer than it would otherwise be.",
        ),
        (("gas",), ("heat",), ("atmospher",)),
    ),
    "autumn_leaves": (
        ("Why do leaves change color in autumn?", "Why do tree leaves turn yellow and red in the fall?"),
        (
            "In autumn trees stop producing chlorophyll, so the green fades and the yellow and orange pigments that were there all along show through.",
            "As days get shorter, the chlorophyll breaks down, revealing other pigments like carotenoids and producing reds from new compounds.",
        ),
        (("chlorophyll",), ("pigment",)),
    ),
    "start_running": (
        ("How do I start running as a beginner?", "Any tips for someone who wants to take up running?"),
        (
            "Start with a run-walk routine three times a week, keep the pace easy, and get a pair of comfortable running shoes.",
            "Alternate walking and jogging, increase your distance gradually, and invest in good shoes to avoid injury.",
        ),
        (("walk",), ("shoe",), ("easy", "gradual")),
    ),
    "heart": (
        ("What is the function of the heart?", "What does the human heart do?"),
        (
            "The heart pumps blood around the body, delivering oxygen and nutrients to the tissues.",
            "It's a muscle that pumps oxygen-rich blood to the body and sends used blood to the lungs.",
        ),
        (("pump",), ("blood",), ("oxygen",)),
    ),
    "noun": (
        ("What is a noun?", "What counts as a noun in grammar?"),
        (
            "A noun is a word that names a person, place, thing or idea, such as 'teacher', 'city' or 'happiness'.",
            "Nouns are words for people, places, things or ideas.",
        ),
        (("person", "people"), ("place",), ("thing", "idea")),
    ),
    "internet": (
        ("How does the internet work?", "How does data travel across the internet?"),
        (
            "The internet is a global network of networks: data is split into packets that routers forward using shared protocols like TCP/IP.",
            "Computers exchange small packets of data over interconnected networks, with routers directing each packet toward its destination.",
        ),
        (("packet",), ("router",), ("network",)),
    ),
    "stress": (
        ("How do I reduce stress?", "What are some good ways to lower stress?"),
        (
            "Regular exercise, enough sleep and a few minutes of slow breathing or meditation each day can lower stress a lot.",
            "Get moving with a daily walk, protect your sleep, and try short breathing exercises when you feel tense.",
        ),
        (("exercis", "walk"), ("sleep",), ("breath", "meditat")),
    ),
    "everest": (
        ("What is the tallest mountain in the world?", "Which mountain is the highest on Earth?"),
        (
            "Mount Everest, in the Himalayas on the border of Nepal and China, is the tallest mountain above sea level at about 8,849 meters.",
            "It's Mount Everest, which rises roughly 8,849 m in the Himalayas.",
        ),
        (("everest",), ("himalaya",)),
    ),
    "coffee_stain": (
        ("How do I remove a coffee stain from a shirt?", "How can I get a coffee stain out of clothes?"),
        (
            "Blot the stain right away, rinse it from the back with cold water, then rub in a little liquid detergent before washing.",
            "Blot up as much as you can, flush it with cold water, and treat it with a mix of dish soap and vinegar.",
        ),
        (("blot",), ("cold",), ("detergent", "soap", "vinegar")),
    ),
    "atom": (
        ("What is an atom?", "What are atoms made of?"),
        (
            "An atom is the smallest unit of a chemical element, made of a nucleus of protons and neutrons surrounded by electrons.",
            "Atoms are the basic building blocks of matter: a tiny nucleus with protons and neutrons, orbited by electrons.",
        ),
        (("nucleus",), ("proton",), ("electron",)),
    ),
    "yawn": (
        ("Why do we yawn?", "What is the reason people yawn?"),
        (
            "Nobody knows for sure, but yawning may help cool the brain, and it often happens when we are tired or bored; it is also contagious.",
            "Scientists think yawning helps regulate brain temperature and alertness, which is why we yawn when sleepy or bored, and seeing others yawn is contagious.",
        ),
        (("brain",), ("tired", "sleepy", "bored"), ("contagious",)),
    ),
    "solar_panels": (
        ("How do solar panels work?", "How do solar panels turn sunlight into power?"),
        (
            "Solar panels are made of photovoltaic cells, usually silicon, that turn sunlight directly into electricity.",
            "Light hitting the silicon cells knocks electrons loose, creating an electric current that can power your home.",
        ),
        (("silicon", "photovolt"), ("electric",), ("cell",)),
    ),
    "vocabulary": (
        ("What's a good way to memorize vocabulary?", "How can I remember new words in a foreign language?"),
        (
            "Use flashcards with spaced repetition, review a little every day, and learn each word in a sentence so you remember its context.",
            "Spaced repetition apps with flashcards work well, especially if you write your own example sentences for each word.",
        ),
        (("flashcard",), ("repetition",), ("sentence",)),
    ),
    "airplanes": (
        ("How do airplanes fly?", "What keeps a plane in the air?"),
        (
            "An airplane's wings are shaped and angled so that air flowing over them creates lift, pushing the plane up while the engines provide thrust.",
            "As the plane moves forward, its wings deflect air downward and create a pressure difference, generating the lift that holds it up.",
        ),
        (("wing",), ("lift",), ("air", "pressure")),
    ),
    "rainbow": (
        ("How does a rainbow form?", "What causes a rainbow?"),
        (
            "A rainbow forms when sunlight enters raindrops, bends, reflects off the back of the drop and splits into its colors.",
            "Raindrops act like tiny prisms: sunlight is refracted and reflected inside them, separating white light into a spectrum of colors.",
        ),
        (("raindrop", "drop"), ("reflect", "refract"), ("color", "colour", "spectrum")),
    ),
    "bread_rise": (
        ("Why does bread dough rise?", "What makes bread rise when you bake it?"),
        (
            "Yeast in the dough eats sugars and releases carbon dioxide gas, which gets trapped by the gluten and makes the dough expand.",
            "The yeast ferments the sugars and gives off gas bubbles; the stretchy gluten network traps them, so the dough puffs up.",
        ),
        (("yeast",), ("gas",), ("gluten",)),
    ),
}

ANIMALS: dict[str, dict[str, Any]] = {
    "koala": {
        "plural": "koalas",
        "diet": (
            "Koalas feed almost entirely on eucalyptus leaves, which they chew for hours.",
            (("eucalyptus",), ("leaves", "leaf")),
        ),
        "habitat": (
            "Koalas live in the forests and woodlands of eastern Australia, high up in the trees.",
            (("australia",), ("forest", "woodland")),
        ),
    },
    "giant panda": {
        "plural": "giant pandas",
        "diet": (
            "Giant pandas eat mostly bamboo, munching through up to twelve kilograms of it a day.",
            (("bamboo",),),
        ),
        "habitat": (
            "Giant pandas live in cool, misty mountain forests in central China.",
            (("china",), ("mountain", "forest")),
        ),
    },
    "penguin": {
        "plural": "penguins",
        "diet": ("Penguins eat fish, krill and squid that they catch while swimming.", (("fish", "krill", "squid"),)),
        "habitat": (
            "Most penguins live in the Southern Hemisphere, especially around Antarctica.",
            (("antarctic", "southern"),),
        ),
    },
    "camel": {
        "plural": "camels",
        "diet": (
            "Camels graze on dry grasses, thorny plants and whatever shrubs they can find.",
            (("grass", "plant", "shrub"),),
        ),
        "habitat": (
            "Camels live in hot, dry deserts in North Africa, the Middle East and Central Asia.",
            (("desert",),),
        ),
    },
    "polar bear": {
        "plural": "polar bears",
        "diet": ("Polar bears hunt seals, which make up most of their diet.", (("seal",),)),
        "habitat": ("Polar bears live on the sea ice and along the coasts of the Arctic.", (("arctic",), ("ice",))),
    },
    "giraffe": {
        "plural": "giraffes",
        "diet": ("Giraffes browse on leaves from tall trees, especially acacias.", (("acacia", "leaves", "leaf"),)),
        "habitat": ("Giraffes live in the savannas and open woodlands of Africa.", (("savanna", "africa"),)),
    },
    "owl": {
        "plural": "owls",
        "diet": (
            "Owls eat small animals such as mice, voles, insects and sometimes fish.",
            (("mice", "mouse", "vole", "rodent"),),
        ),
        "habitat": (
            "Owls live almost everywhere, from forests and farmland to deserts, often nesting in tree holes or barns.",
            (("forest", "farmland", "barn", "nest"),),
        ),
    },
    "shark": {
        "plural": "sharks",
        "diet": ("Most sharks eat fish, seals and other marine animals.", (("fish", "seal"),)),
        "habitat": (
            "Sharks live in oceans all over the world, from shallow coasts to the deep sea.",
            (("ocean", "sea"),),
        ),
    },
    "hummingbird": {
        "plural": "hummingbirds",
        "diet": ("Hummingbirds drink flower nectar and also catch tiny insects for protein.", (("nectar",),)),
        "habitat": (
            "Hummingbirds live only in the Americas, from Alaska down to southern South America.",
            (("america",),),
        ),
    },
    "frog": {
        "plural": "frogs",
        "diet": (
            "Adult frogs eat insects, worms and spiders that they catch with their sticky tongues.",
            (("insect", "worm", "spider"),),
        ),
        "habitat": (
            "Frogs live near ponds, lakes, streams and wetlands, where they can keep their skin moist.",
            (("pond", "lake", "stream", "wetland"),),
        ),
    },
    "elephant": {
        "plural": "elephants",
        "diet": (
            "Elephants eat grasses, roots, fruit and bark, up to a hundred and fifty kilograms of plants a day.",
            (("grass", "root", "bark", "fruit"),),
        ),
        "habitat": (
            "Elephants live in the savannas and forests of Africa and in the forests of South and Southeast Asia.",
            (("africa", "asia"),),
        ),
    },
    "kangaroo": {
        "plural": "kangaroos",
        "diet": ("Kangaroos are herbivores that graze mainly on grasses.", (("herbivor", "graz"), ("grass",))),
        "habitat": ("Kangaroos live in the open plains, scrublands and woodlands of Australia.", (("australia",),)),
    },
    "bat": {
        "plural": "bats",
        "diet": (
            "Most bats eat insects, while some species feed on fruit or nectar.",
            (("insect", "fruit", "nectar"),),
        ),
        "habitat": (
            "Bats roost in caves, hollow trees and old buildings on every continent except Antarctica.",
            (("cave", "roost"),),
        ),
    },
    "squirrel": {
        "plural": "squirrels",
        "diet": ("Squirrels eat nuts, seeds, fruit and sometimes insects.", (("nut", "seed"),)),
        "habitat": (
            "Squirrels live in woods, parks and gardens, building their nests in trees.",
            (("park", "garden", "wood", "tree"),),
        ),
    },
    "dolphin": {
        "plural": "dolphins",
        "diet": ("Dolphins eat fish and squid, often hunting together in groups.", (("fish", "squid"),)),
        "habitat": (
            "Dolphins live in oceans and seas worldwide, mostly in warm coastal waters.",
            (("ocean", "sea", "coast"),),
        ),
    },
    "honeybee": {
        "plural": "honeybees",
        "diet": ("Honeybees feed on nectar and pollen that they collect from flowers.", (("nectar", "pollen"),)),
        "habitat": (
            "Honeybees live in colonies inside hives, either in hollow trees or in boxes kept by beekeepers.",
            (("hive", "colon"),),
        ),
    },
}
_ANIMAL_Q = {
    "diet": ("What does a {a} eat?", "What do {p} eat?", "What is the diet of a {a}?", "What kind of food do {p} eat?"),
    "habitat": (
        "Where do {p} live?",
        "What is the natural habitat of a {a}?",
        "Where can you find {p} in the wild?",
        "Where does a {a} live?",
    ),
}

_WRAPPERS = (
    "{q}",
    "{q}",
    "{q}",
    "Quick question: {q}",
    "I was wondering, {ql}",
    "Can you help me out? {q}",
    "{q} Thanks in advance.",
    "Hey! {q}",
    "My friend and I were arguing about this. {q}",
    "{q} Please keep it simple.",
)
_SYSTEMS = (None, None, None, "You are a knowledgeable assistant.", "You are a friendly tutor who answers clearly.")
_OPENERS = ("", "", "", "Sure! ", "Great question. ", "Good question! ", "Happy to explain. ")
_CLOSERS = ("", "", "", " Hope that helps!", " Let me know if you want more detail.")


def make_prompt(rng: random.Random) -> tuple[list[dict[str, str]], dict[str, Any]]:
    if rng.random() < 0.3:
        animal = rng.choice(sorted(ANIMALS))
        attr = rng.choice(("diet", "habitat"))
        info = ANIMALS[animal]
        q = rng.choice(_ANIMAL_Q[attr]).format(a=animal, p=info["plural"])
        meta = {"topic": f"animal:{animal}:{attr}", "keys": [list(g) for g in info[attr][1]]}
    else:
        topic = rng.choice(sorted(TOPICS))
        q = rng.choice(TOPICS[topic][0])
        meta = {"topic": topic, "keys": [list(g) for g in TOPICS[topic][2]]}
    text = rng.choice(_WRAPPERS).format(q=q, ql=lower_first(q))
    return user(text, rng.choice(_SYSTEMS)), {"family": NAME, "aspect": ASPECT, "question": q, **meta}


def answers_for(topic: str) -> tuple[str, ...]:
    if topic.startswith("animal:"):
        _, animal, attr = topic.split(":")
        return (ANIMALS[animal][attr][0],)
    return TOPICS[topic][1]


def _all_answer_sources() -> list[str]:
    return sorted(TOPICS) + [f"animal:{a}:{t}" for a in sorted(ANIMALS) for t in ("diet", "habitat")]


def make_responses(rng: random.Random, meta: dict[str, Any]) -> tuple[str, str, str]:
    topic, keys = meta["topic"], meta["keys"]
    chosen = rng.choice(answers_for(topic))
    if topic.startswith("animal:") and rng.random() < 0.7:
        _, animal, attr = topic.split(":")
        other = f"animal:{animal}:{'habitat' if attr == 'diet' else 'diet'}"
        variant = "same_subject_other_question"
    else:
        candidates = [
            t for t in _all_answer_sources() if t != topic and not t.startswith(topic.rsplit(":", 1)[0] + ":")
        ]
        other = rng.choice(candidates)
        variant = "other_topic"
    options = [a for a in answers_for(other) if key_overlap(keys, a) < key_overlap(keys, chosen)]
    if not options:  # never happens with the built-in banks; keep the ordering guarantee anyway
        other = "noun" if topic != "noun" else "atom"
        options = list(answers_for(other))
        variant = "other_topic"
    rejected = rng.choice(options)
    op = rng.choice(_OPENERS)
    chosen = op + chosen + rng.choice(_CLOSERS)
    rejected = (op if rng.random() < 0.5 else rng.choice(_OPENERS)) + rejected + rng.choice(_CLOSERS)
    return chosen, rejected, variant


def score(meta: dict[str, Any], response: str) -> float:
    return key_overlap(meta["keys"], response)


FAMILY = Family(
    NAME,
    ASPECT,
    make_prompt,
    make_responses,
    score,
    "answer the question that was asked vs a fluent answer to a different question",
)
